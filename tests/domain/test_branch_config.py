"""A configuration document is validated whole, and every problem names its place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from queueapp.domain.config import BranchConfig, ConfigError, dump_config, parse_config

MakeDoc = Callable[..., dict[str, Any]]


def problems_of(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        parse_config(doc)
    return refused.value.problems


def test_a_valid_document_parses(make_doc: MakeDoc) -> None:
    config = parse_config(make_doc())
    assert isinstance(config, BranchConfig)
    assert [c.id for c in config.counters] == ["1", "2"]
    assert config.service("A") is not None and config.service("Z") is None
    assert config.services_of("2") == ("B",)


def test_a_bad_service_names_its_index(make_doc: MakeDoc) -> None:
    doc = make_doc(services=[{"letter": "a", "names": {"en": "Payments"}}])
    problems = problems_of(doc)
    assert len(problems) == 1
    assert problems[0].startswith("services.0")
    assert "capital letter" in problems[0]


def test_a_bad_nested_value_names_its_path(make_doc: MakeDoc) -> None:
    problems = problems_of(make_doc(capacity={"default": {"people_per_counter": -1}}))
    assert problems == [
        "capacity.default: people_per_counter must be between 0 and 100",
    ]


def test_every_problem_is_listed_at_once(make_doc: MakeDoc) -> None:
    doc = make_doc(
        services=[
            {"letter": "A", "names": {"en": "Payments"}},
            {"letter": "b", "names": {"en": "Contracts"}},
        ],
        grace={"call_seconds": 5},
    )
    places = sorted(problem.split(":")[0] for problem in problems_of(doc))
    assert places == ["grace", "services.1"]


def test_unknown_keys_are_refused_by_name(make_doc: MakeDoc) -> None:
    doc = make_doc()
    doc["capacty"] = {"hold": True}
    problems = problems_of(doc)
    assert any(problem.startswith("capacty") for problem in problems)


def test_unknown_time_zone_is_refused(make_doc: MakeDoc) -> None:
    problems = problems_of(make_doc(timezone="Europe/Atlantis"))
    assert any("timezone" in p and "Europe/Atlantis" in p for p in problems)


def test_counter_serving_an_unknown_service_is_refused(make_doc: MakeDoc) -> None:
    doc = make_doc(counters=[{"id": "1", "services": ["A", "Z"]}])
    assert any("counters.1: unknown services Z" in p for p in problems_of(doc))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"counters": [{"id": "1", "services": ["A"]}, {"id": "1", "services": ["B"]}]},
            "each id once",
        ),
        (
            {
                "services": [
                    {"letter": "A", "names": {"en": "x"}},
                    {"letter": "A", "names": {"en": "y"}},
                ]
            },
            "each letter once",
        ),
        ({"counters": []}, "at least one counter"),
        ({"services": []}, "at least one service"),
        ({"languages": ["en", "de"]}, "languages"),
        ({"max_party_size": 0}, "max_party_size"),
        ({"id": "Main Street"}, "id:"),
        ({"capacity": {"reserve_after_minutes": -1}}, "capacity: reserve_after_minutes"),
    ],
)
def test_inconsistent_branches_are_refused(
    make_doc: MakeDoc, overrides: dict[str, Any], expected: str
) -> None:
    assert any(expected in problem for problem in problems_of(make_doc(**overrides)))


def test_a_counter_must_serve_something(make_doc: MakeDoc) -> None:
    problems = problems_of(make_doc(counters=[{"id": "1", "services": []}]))
    assert problems == ["counters.0: a counter must serve at least one service"]


def test_opening_hours_must_close_after_they_open(make_doc: MakeDoc) -> None:
    problems = problems_of(make_doc(hours={"mon": [{"open": "12:00", "close": "08:00"}]}))
    assert len(problems) == 1 and problems[0].startswith("hours.mon.0")
    assert parse_config(make_doc(hours={"mon": [{"open": "18:00", "close": "00:00"}]}))


def test_grace_times_are_bounded(make_doc: MakeDoc) -> None:
    assert problems_of(make_doc(grace={"enter_seconds": 3601}))[0].startswith("grace")
    assert problems_of(make_doc(grace={"delay_places": 0}))[0].startswith("grace")


def test_dump_then_parse_gives_an_equal_config(make_doc: MakeDoc) -> None:
    config = parse_config(
        make_doc(
            address="Main street 1, Prague",
            languages=["en", "cs", "vi"],
            services=[
                {"letter": "A", "names": {"en": "Payments"}, "priority": 2, "daily_cap": 40},
                {
                    "letter": "B",
                    "names": {"en": "Contracts", "cs": "Smlouvy"},
                    "minutes_per_visit": 12.5,
                    "suspended": {
                        "reason": {"en": "Online only", "cs": "Jen online"},
                        "online_url": "https://example.org/contracts",
                    },
                },
            ],
            hours={
                "mon": [{"open": "08:00", "close": "12:00"}, {"open": "13:00", "close": "17:30"}],
                "sat": [{"open": "09:00", "close": "00:00"}],
            },
            capacity={
                "default": {"people_per_counter": 2, "extra": 1, "minimum": 1, "maximum": 9},
                "schedule": [
                    {
                        "rule": {"people_per_counter": 1},
                        "days": ["mon", "fri"],
                        "start": "22:00",
                        "end": "06:00",
                        "name": "epidemic",
                    }
                ],
                "hold": True,
            },
            grace={"enter_seconds": 120, "requeue_no_show_once": False},
            door_confirmation=True,
            max_party_size=4,
            revision=7,
        )
    )
    dumped = dump_config(config)
    assert parse_config(dumped) == config
    assert dump_config(parse_config(dumped)) == dumped
