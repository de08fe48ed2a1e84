"""The capacity rule, scheduled rules and opening hours, all in the branch's local time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from queueapp.domain.capacity import is_open, limit, local_day, rule_in_force
from queueapp.domain.config import BranchConfig, CapacityRule

MakeConfig = Callable[..., BranchConfig]
PRAGUE = ZoneInfo("Europe/Prague")


def local(day: str, clock: str) -> datetime:
    """An aware UTC instant given as a Prague date and wall-clock time."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=PRAGUE).astimezone(UTC)


# 2024-03-04 is a Monday; 2024-03-08 a Friday; Prague moves to summer time on 2024-03-31.
MONDAY, TUESDAY, FRIDAY, SATURDAY = "2024-03-04", "2024-03-05", "2024-03-08", "2024-03-09"

EPIDEMIC = {"people_per_counter": 1, "maximum": 4}
NORMAL = {"people_per_counter": 3, "extra": 2}


@pytest.mark.parametrize(
    ("rule", "open_counters", "expected"),
    [
        (CapacityRule(people_per_counter=2, extra=1), 3, 7),
        (CapacityRule(people_per_counter=1), 0, 0),
        (CapacityRule(people_per_counter=0, extra=5), 4, 5),
    ],
)
def test_limit_is_people_per_counter_times_open_counters_plus_extra(
    rule: CapacityRule, open_counters: int, expected: int
) -> None:
    assert rule.limit(open_counters) == expected


def test_limit_is_raised_to_the_minimum() -> None:
    rule = CapacityRule(people_per_counter=1, extra=-5, minimum=2)
    assert rule.limit(1) == 2
    assert rule.limit(10) == 5


def test_limit_is_capped_at_the_room_maximum() -> None:
    rule = CapacityRule(people_per_counter=3, maximum=5)
    assert rule.limit(1) == 3
    assert rule.limit(4) == 5


def test_negative_extra_never_makes_a_negative_limit() -> None:
    assert CapacityRule(people_per_counter=0, extra=-3).limit(2) == 0


@pytest.mark.parametrize(
    "values",
    [
        {"people_per_counter": -1},
        {"people_per_counter": 101},
        {"extra": 1001},
        {"minimum": -1},
        {"minimum": 5, "maximum": 4},
        {"maximum": 10001},
    ],
)
def test_out_of_range_rules_are_refused(values: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        CapacityRule(**values)


def test_scheduled_rule_applies_on_its_weekdays_inside_its_window(make_config: MakeConfig) -> None:
    config = make_config(
        capacity={
            "default": NORMAL,
            "schedule": [{"rule": EPIDEMIC, "days": ["mon"], "start": "08:00", "end": "12:00"}],
        }
    )
    assert limit(config, 2, local(MONDAY, "08:00")) == 2
    assert limit(config, 2, local(MONDAY, "11:59")) == 2
    assert limit(config, 2, local(MONDAY, "12:00")) == 8, "the end of a window is exclusive"
    assert limit(config, 2, local(MONDAY, "07:59")) == 8
    assert limit(config, 2, local(TUESDAY, "10:00")) == 8, "not on a day the rule does not list"


def test_scheduled_rule_without_times_covers_the_whole_day(make_config: MakeConfig) -> None:
    config = make_config(
        capacity={"default": NORMAL, "schedule": [{"rule": EPIDEMIC, "days": ["mon"]}]}
    )
    assert rule_in_force(config, local(MONDAY, "00:00")).maximum == 4
    assert rule_in_force(config, local(MONDAY, "23:59")).maximum == 4
    assert rule_in_force(config, local(TUESDAY, "00:00")).maximum is None


def test_overnight_window_runs_from_its_start_day_into_the_next_day(
    make_config: MakeConfig,
) -> None:
    config = make_config(
        capacity={
            "default": NORMAL,
            "schedule": [{"rule": EPIDEMIC, "days": ["fri"], "start": "22:00", "end": "06:00"}],
        }
    )

    def epidemic_at(day: str, clock: str) -> bool:
        return rule_in_force(config, local(day, clock)).maximum == 4

    assert epidemic_at(FRIDAY, "22:00")
    assert epidemic_at(FRIDAY, "23:59")
    assert epidemic_at(SATURDAY, "02:00"), "Friday night continues after midnight"
    assert not epidemic_at(SATURDAY, "06:00")
    assert not epidemic_at(FRIDAY, "02:00"), "Thursday night is not Friday's window"
    assert not epidemic_at(SATURDAY, "23:00"), "Saturday is not listed"


def test_overnight_window_from_sunday_reaches_into_monday(make_config: MakeConfig) -> None:
    config = make_config(
        capacity={
            "default": NORMAL,
            "schedule": [{"rule": EPIDEMIC, "days": ["sun"], "start": "20:00", "end": "02:00"}],
        }
    )
    assert rule_in_force(config, local(MONDAY, "01:00")).maximum == 4
    assert rule_in_force(config, local(MONDAY, "20:30")).maximum is None


def test_the_first_scheduled_rule_in_force_wins(make_config: MakeConfig) -> None:
    config = make_config(
        capacity={
            "default": NORMAL,
            "schedule": [
                {"rule": {"people_per_counter": 0, "extra": 1}, "days": ["mon"]},
                {"rule": EPIDEMIC, "days": ["mon", "tue"]},
            ],
        }
    )
    assert limit(config, 3, local(MONDAY, "10:00")) == 1
    assert limit(config, 3, local(TUESDAY, "10:00")) == 3


def test_schedules_follow_local_time_across_the_summer_time_change(make_config: MakeConfig) -> None:
    config = make_config(
        capacity={
            "default": NORMAL,
            "schedule": [{"rule": EPIDEMIC, "days": ["mon"], "start": "08:00", "end": "09:00"}],
        }
    )
    winter_0730_utc = datetime(2024, 3, 25, 7, 30, tzinfo=UTC)  # 08:30 CET
    summer_0730_utc = datetime(2024, 4, 1, 7, 30, tzinfo=UTC)  # 09:30 CEST
    summer_0630_utc = datetime(2024, 4, 1, 6, 30, tzinfo=UTC)  # 08:30 CEST
    assert rule_in_force(config, winter_0730_utc).maximum == 4
    assert rule_in_force(config, summer_0730_utc).maximum is None
    assert rule_in_force(config, summer_0630_utc).maximum == 4


def test_branch_is_open_only_within_its_hours(make_config: MakeConfig) -> None:
    config = make_config(hours={"mon": [{"open": "08:00", "close": "12:00"}]})
    assert is_open(config, local(MONDAY, "08:00"))
    assert not is_open(config, local(MONDAY, "12:00"))
    assert not is_open(config, local(MONDAY, "07:59"))
    assert not is_open(config, local(TUESDAY, "10:00")), "a day without hours is closed"


def test_hours_closing_at_midnight_run_to_the_end_of_the_day(make_config: MakeConfig) -> None:
    config = make_config(hours={"mon": [{"open": "18:00", "close": "00:00"}]})
    assert is_open(config, local(MONDAY, "23:59"))
    assert not is_open(config, local(TUESDAY, "00:00"))


def test_branch_day_is_the_local_date(make_config: MakeConfig) -> None:
    late_evening_utc = datetime(2024, 3, 4, 23, 30, tzinfo=UTC)  # 00:30 on Tuesday in Prague
    assert local_day(make_config(), late_evening_utc) == "2024-03-05"
