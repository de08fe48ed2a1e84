"""The checker itself: quiet on a correct log, loud on each kind of broken one.

Logs are made by the real engine (``decide``) and then tampered with, the way
a store or a race that lost an update would corrupt them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from invariants import Ack, can_become, check_log
from system_clients import tight_demo_config

from queueapp.domain import commands as cmd
from queueapp.domain import events as ev
from queueapp.domain.decide import decide
from queueapp.domain.state import BranchState, apply_all
from queueapp.store import StoredEvent

NOW = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
DAY = "2024-03-04"


def engine_log() -> list[dict[str, Any]]:
    """Two counters open (limit 2), four visitors, one served, one called, two outside."""
    state = BranchState("demo", DAY)
    log: list[dict[str, Any]] = []
    commands: list[cmd.Command] = [
        cmd.OpenDay(tight_demo_config()),
        cmd.SetCounter("1", "open"),
        cmd.SetCounter("2", "open"),
        *(cmd.IssueTicket(token=f"token-{n}", service="A") for n in range(4)),
        cmd.CallNext("1"),
        cmd.CounterAction("1", "start", "A001"),
        cmd.CounterAction("1", "done", "A001"),
        cmd.CallNext("2"),
    ]
    for command in commands:
        events = decide(state, command, NOW)
        state = apply_all(state, events)
        log += [ev.to_dict(event) for event in events]
    return log


def stored(log: list[dict[str, Any]]) -> list[StoredEvent]:
    return [StoredEvent(version, data) for version, data in enumerate(log, start=1)]


def check(log: list[dict[str, Any]], *acks: Ack) -> list[str]:
    return check_log("demo", DAY, stored(log), acks)


def at(log: list[dict[str, Any]], kind: str, number: str) -> int:
    return next(i for i, e in enumerate(log) if e["type"] == kind and e.get("number") == number)


def test_a_log_made_by_the_engine_is_fine() -> None:
    log = engine_log()
    acks = [
        Ack(DAY, "A001", frozenset({"done"}), "token-0"),
        Ack(DAY, "A004", frozenset({"waiting"})),
    ]
    assert check(log, *acks) == []


def test_an_admission_above_the_limit() -> None:
    log = engine_log()
    log.append(
        {
            "type": "ticket_admitted",
            "at": NOW.timestamp(),
            "number": "A004",
            "inside": 3,
            "limit": 3,
        }
    )
    found = check(log)
    assert any("took inside to 3 > the limit 2 of that moment" in v for v in found), found
    log[-1]["limit"] = 2
    assert any("took inside to 3 > limit 2" in v for v in check(log))


def test_a_call_to_a_busy_counter_and_a_ticket_at_two_counters() -> None:
    log = engine_log()
    log.append({"type": "ticket_called", "at": NOW.timestamp(), "number": "A003", "counter": "2"})
    assert any("counter 2 called A003 while it still had A002" in v for v in check(log))
    log[-1] = {"type": "ticket_called", "at": NOW.timestamp(), "number": "A002", "counter": "1"}
    found = check(log)
    assert any("A002 called to counter 1 while called at counter 2" in v for v in found), found
    assert any("A002 is at counters ['1', '2']" in v for v in found), found


def test_a_number_issued_twice_and_a_lost_or_rolled_back_ticket() -> None:
    log = engine_log()
    duplicate = dict(log[at(log, "ticket_issued", "A004")], token="token-other")
    assert any("ticket number A004 issued twice" in v for v in check([*log, duplicate]))
    assert any("A009 is not in the log" in v for v in check(log, Ack(DAY, "A009")))
    wrong_token = Ack(DAY, "A001", token="token-3")
    assert any("token of A001 belongs to A004" in v for v in check(log, wrong_token))
    never = Ack(DAY, "A003", frozenset({"serving"}))
    assert any("acknowledged as serving" in v for v in check(log, never))


def test_a_gap_in_the_versions() -> None:
    records = stored(engine_log())
    del records[5]
    assert any("expected version 6 next" in v for v in check_log("demo", DAY, records))


@pytest.mark.parametrize(
    ("earlier", "later", "possible"),
    [
        ("waiting", "done", True),
        ("called", "waiting", True),  # a no-show put back in the queue
        ("done", "done", True),
        ("done", "serving", False),
        ("cancelled", "waiting", False),
        ("serving", "cancelled", True),  # transferred, then cancelled
        ("no_show", "admitted", False),
    ],
)
def test_lifecycle_order(earlier: str, later: str, possible: bool) -> None:
    assert can_become(earlier, later) is possible
