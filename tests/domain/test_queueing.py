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


BOTH_SERVE_A = [{"id": "1", "services": ["A"]}, {"id": "2", "services": ["A"]}]


def serve(branch: Any, counter: str) -> str:
    """Call, start and finish the next visitor at ``counter``; their number."""
    number: str = branch.call(counter)
    branch.act(counter, "start", number)
    branch.act(counter, "done", number)
    return number


def test_a_party_passed_over_for_too_long_has_the_room_kept_for_it(
    new_branch: NewBranch,
) -> None:
    branch = new_branch(counters=BOTH_SERVE_A, capacity={"reserve_after_minutes": 10})
    branch.open("1", "2")
    first = branch.issue("A")
    pair = branch.issue("A", 2)
    second = branch.issue("A")
    third = branch.issue("A")
    assert branch.status(second) is Status.ADMITTED, "the pair does not fit; the next one does"

    assert serve(branch, "1") == first
    assert branch.admitted_now() == [third], "within ten minutes the pair is still passed over"

    branch.advance(11 * 60)
    fourth = branch.issue("A")
    assert branch.status(fourth) is Status.WAITING, "the room is kept for the pair now"
    assert serve(branch, "2") == second
    assert branch.admitted_now() == []
    assert (branch.inside, branch.limit) == (1, 2)
    assert serve(branch, "1") == third
    assert branch.admitted_now() == [pair]
    assert branch.status(fourth) is Status.WAITING


def test_a_single_who_waits_only_for_a_full_room_keeps_no_room(new_branch: NewBranch) -> None:
    branch = new_branch(capacity={"reserve_after_minutes": 10})
    branch.open("1", "2")
    branch.issue("A")
    branch.call("1")
    branch.apply_config(capacity={"reserve_after_minutes": 10, **HOLD})
    first = branch.issue("A")
    second = branch.issue("A")
    branch.advance(11 * 60)
    contract = branch.issue("B")
    branch.apply_config(capacity={"reserve_after_minutes": 10, **RELEASE})
    assert branch.admitted_now() == [contract], "idle counter 2 is fed; nobody is passed over"
    assert branch.status(first) is Status.WAITING
    assert branch.status(second) is Status.WAITING


def test_a_party_larger_than_the_limit_keeps_no_room(new_branch: NewBranch) -> None:
    branch = new_branch(counters=BOTH_SERVE_A, capacity={"reserve_after_minutes": 0})
    branch.open("1", "2")
    crowd = branch.issue("A", 3)
    single = branch.issue("A")
    assert branch.status(single) is Status.ADMITTED, "three will never fit a limit of two"
    assert branch.status(crowd) is Status.WAITING


def test_without_reservations_a_party_is_passed_over_however_long_it_waits(
    new_branch: NewBranch,
) -> None:
    branch = new_branch(counters=BOTH_SERVE_A, capacity={"reserve_after_minutes": None})
    branch.open("1", "2")
    branch.issue("A")
    pair = branch.issue("A", 2)
    branch.advance(3 * 60 * 60)
    single = branch.issue("A")
    assert branch.status(single) is Status.ADMITTED
    assert branch.status(pair) is Status.WAITING


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
