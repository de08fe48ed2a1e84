"""Automatic admission: who may enter, in which order, and never above the limit.

The default test branch has counter 1 serving A and counter 2 serving B, all
counters closed at the start, and one person per open counter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from queueapp.domain import commands as cmd
from queueapp.domain.events import TicketAdmitted
from queueapp.domain.state import Status

NewBranch = Callable[..., Any]
HOLD = {"hold": True}
RELEASE = {"hold": False}


def test_admission_fills_the_room_in_issue_order_and_stops_at_the_limit(
    new_branch: NewBranch,
) -> None:
    branch = new_branch(capacity={"default": {"people_per_counter": 2}})
    branch.open("1")
    first = branch.issue("A")
    assert branch.last[1:] == [
        TicketAdmitted(at=branch.now.timestamp(), number=first, inside=1, limit=2)
    ]
    second = branch.issue("A")
    assert branch.admitted_now() == [second]
    third = branch.issue("A")
    assert branch.admitted_now() == []
    assert (branch.status(first), branch.status(second), branch.status(third)) == (
        Status.ADMITTED,
        Status.ADMITTED,
        Status.WAITING,
    )
    assert branch.inside == branch.limit == 2


def test_admitted_events_carry_inside_and_the_limit_in_force(new_branch: NewBranch) -> None:
    branch = new_branch(capacity={"default": {"people_per_counter": 0, "extra": 5}, **HOLD})
    branch.open("1")
    branch.issue("A", 2)
    branch.issue("A", 3)
    branch.apply_config(capacity={"default": {"people_per_counter": 0, "extra": 5}, **RELEASE})
    admitted = [e for e in branch.last if isinstance(e, TicketAdmitted)]
    assert [(e.number, e.inside, e.limit) for e in admitted] == [("A001", 2, 5), ("A002", 5, 5)]


def test_hold_stops_admission_until_it_is_released(new_branch: NewBranch) -> None:
    branch = new_branch(capacity=HOLD)
    branch.open("1")
    waiting = branch.issue("A")
    assert branch.status(waiting) is Status.WAITING
    assert branch.inside < branch.limit
    branch.tick(60)
    assert branch.status(waiting) is Status.WAITING
    branch.apply_config(capacity=RELEASE)
    assert branch.admitted_now() == [waiting]


def test_a_lowered_limit_never_throws_anyone_out(new_branch: NewBranch) -> None:
    branch = new_branch(capacity={"default": {"people_per_counter": 3}})
    branch.open("1")
    inside = [branch.issue("A") for _ in range(3)]
    branch.apply_config(capacity={"default": {"people_per_counter": 1}})
    assert [branch.status(n) for n in inside] == [Status.ADMITTED] * 3
    assert (branch.inside, branch.limit) == (3, 1)

    later = branch.issue("A")
    for expected_status in (Status.WAITING, Status.WAITING, Status.ADMITTED):
        number = branch.call("1")
        branch.act("1", "done", number)
        assert branch.status(later) is expected_status
    assert branch.inside <= branch.limit


def test_a_priority_need_goes_before_issue_time(new_branch: NewBranch) -> None:
    branch = new_branch(capacity=HOLD)
    branch.open("1")
    branch.issue("A")
    needs_help = branch.issue("A", priority=True)
    branch.apply_config(capacity=RELEASE)
    assert branch.admitted_now() == [needs_help]


def test_a_higher_priority_service_goes_first_at_a_shared_counter(new_branch: NewBranch) -> None:
    branch = new_branch(
        counters=[{"id": "1", "services": ["A", "B"]}],
        services=[
            {"letter": "A", "names": {"en": "Payments"}},
            {"letter": "B", "names": {"en": "Outages"}, "priority": 5},
        ],
        capacity={"default": {"people_per_counter": 2}, **HOLD},
    )
    branch.open("1")
    payment = branch.issue("A")
    outage = branch.issue("B")
    branch.apply_config(
        counters=[{"id": "1", "services": ["A", "B"]}],
        services=[
            {"letter": "A", "names": {"en": "Payments"}},
            {"letter": "B", "names": {"en": "Outages"}, "priority": 5},
        ],
        capacity={"default": {"people_per_counter": 1}, **RELEASE},
    )
    assert branch.admitted_now() == [outage]
    assert branch.status(payment) is Status.WAITING


def test_a_party_that_does_not_fit_is_passed_over_but_keeps_its_place(
    new_branch: NewBranch,
) -> None:
    branch = new_branch(capacity={"default": {"people_per_counter": 3}, **HOLD})
    branch.open("1")
    branch.do(cmd.AdjustOccupancy(1, "courier"))
    family = branch.issue("A", 3)
    single = branch.issue("A", 1)
    another = branch.issue("A", 1)
    branch.apply_config(capacity={"default": {"people_per_counter": 3}, **RELEASE})
    assert branch.admitted_now() == [single, another]
    assert branch.status(family) is Status.WAITING

    branch.do(cmd.CancelTicket(single))
    branch.do(cmd.AdjustOccupancy(-1, "courier left"))
    assert branch.status(family) is Status.WAITING, "two places are not enough for three"
    branch.do(cmd.CancelTicket(another))
    assert branch.admitted_now() == [family]


def test_an_idle_counter_is_fed_before_the_queue_fills_the_room(new_branch: NewBranch) -> None:
    branch = new_branch()
    branch.open("1", "2")
    branch.issue("A")
    branch.call("1")
    branch.apply_config(capacity=HOLD)
    earlier = branch.issue("A")
    later = branch.issue("B")
    branch.apply_config(capacity=RELEASE)
    assert branch.admitted_now() == [later], "counter 2 is idle and nobody inside is for it"
    assert branch.status(earlier) is Status.WAITING


def test_an_idle_counter_gets_a_party_that_fits_when_its_first_does_not(
    new_branch: NewBranch,
) -> None:
    room_of_three = {"default": {"people_per_counter": 0, "extra": 3}}
    branch = new_branch(capacity={**room_of_three, **HOLD})
    branch.open("1", "2")
    too_big = branch.issue("B", 4)
    payments = [branch.issue("A") for _ in range(3)]
    small = branch.issue("B", 1)
    branch.apply_config(capacity={**room_of_three, **RELEASE})
    assert small in branch.admitted_now(), "counter 2 must not stay idle while B002 fits"
    assert sorted(branch.admitted_now()) == sorted([payments[0], payments[1], small])
    assert branch.status(too_big) is Status.WAITING
    assert branch.inside == branch.limit == 3


def test_visitors_no_open_counter_serves_wait_outside(new_branch: NewBranch) -> None:
    branch = new_branch(capacity={"default": {"people_per_counter": 0, "extra": 5}})
    branch.open("1")
    contract = branch.issue("B")
    assert branch.status(contract) is Status.WAITING
    payment = branch.issue("A")
    assert branch.status(payment) is Status.ADMITTED
    branch.open("2")
    assert branch.admitted_now() == [contract]


def test_leaving_makes_room_for_the_next_in_the_same_step(new_branch: NewBranch) -> None:
    branch = new_branch()
    branch.open("1")
    first = branch.issue("A")
    second = branch.issue("A")
    branch.call("1")
    events = branch.act("1", "done", first)
    assert [e.type for e in events] == ["service_finished", "ticket_admitted"]
    assert branch.status(second) is Status.ADMITTED
