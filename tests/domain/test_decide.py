"""The rules of a ticket's life, one command at a time.

The default test branch has counter 1 serving A and counter 2 serving B, all
counters closed at the start, one person per open counter, and is open all
day; ``new_branch`` starts it on Monday 10:00 in Prague.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from queueapp.domain import commands as cmd
from queueapp.domain import events as ev
from queueapp.domain.errors import Conflict, Invalid, NotFound
from queueapp.domain.state import Status
from queueapp.domain.views import branch_snapshot

NewBranch = Callable[..., Any]
ROOMY = {"default": {"people_per_counter": 0, "extra": 20}}
"""Room for everyone: admission never gets in the way of the rule under test."""


def waiting_queue(branch: Any) -> list[str]:
    """Numbers of waiting tickets in queue order (everyone here shares one priority class)."""
    waiting = [t for t in branch.state.tickets.values() if t.status is Status.WAITING]
    return [t.number for t in sorted(waiting, key=lambda t: (not t.priority, t.order, t.seq))]


# -- issuing ----------------------------------------------------------------


def test_numbers_run_per_service_from_001(new_branch: NewBranch) -> None:
    branch = new_branch()
    numbers = [branch.issue(letter) for letter in "AABAB"]
    assert numbers == ["A001", "A002", "B001", "A003", "B002"]
    assert {t.token for t in branch.state.tickets.values()} == set(branch.state.tokens)


def test_opening_a_day_twice_changes_nothing(new_branch: NewBranch, make_config: Any) -> None:
    branch = new_branch()
    assert branch.do(cmd.OpenDay(make_config(capacity={"hold": True}))) == []
    assert branch.state.config.capacity.hold is False


def test_same_idempotency_key_and_body_issue_one_ticket(new_branch: NewBranch) -> None:
    branch = new_branch()
    request = cmd.IssueTicket("token-1", "A", party_size=2, idempotency_key="retry-me")
    first = branch.do(request)
    assert [e.type for e in first] == ["ticket_issued"]
    assert branch.do(request) == []
    assert branch.do(cmd.IssueTicket("token-2", "A", 2, idempotency_key="retry-me")) == []
    assert list(branch.state.tickets) == ["A001"]


def test_reusing_an_idempotency_key_for_another_body_is_refused(new_branch: NewBranch) -> None:
    branch = new_branch()
    branch.issue("A", 2, key="retry-me")
    refusal = branch.refuse(cmd.IssueTicket("token-x", "A", 3, idempotency_key="retry-me"))
    assert isinstance(refusal, Invalid) and refusal.code == "idempotency_key_reused"


@pytest.mark.parametrize("party_size", [0, -1, 7, 99])
def test_party_size_outside_one_to_the_maximum_is_refused(
    new_branch: NewBranch, party_size: int
) -> None:
    branch = new_branch()
    refusal = branch.refuse(cmd.IssueTicket("token-1", "A", party_size))
    assert refusal.code == "invalid_party_size"
    assert refusal.details == {"max_party_size": 6}


def test_unknown_service_and_language_are_refused(new_branch: NewBranch) -> None:
    branch = new_branch()
    assert branch.refuse(cmd.IssueTicket("token-1", "Z")).code == "unknown_service"
    refusal = branch.refuse(cmd.IssueTicket("token-1", "A", lang="vi"))
    assert refusal.code == "unsupported_language"
    assert refusal.details == {"languages": ["en", "cs"]}


def test_a_token_is_used_once(new_branch: NewBranch) -> None:
    branch = new_branch()
    branch.do(cmd.IssueTicket("token-1", "A"))
    assert branch.refuse(cmd.IssueTicket("token-1", "B")).code == "token_taken"


def test_a_suspended_service_is_refused_with_its_reason_and_online_url(
    new_branch: NewBranch,
) -> None:
    branch = new_branch(
        services=[
            {"letter": "A", "names": {"en": "Payments"}},
            {
                "letter": "B",
                "names": {"en": "Contracts"},
                "suspended": {
                    "reason": {"en": "Contracts are online only.", "cs": "Smlouvy jen online."},
                    "online_url": "https://example.org/contracts",
                },
            },
        ]
    )
    refusal = branch.refuse(cmd.IssueTicket("token-1", "B", lang="cs"))
    assert isinstance(refusal, Conflict) and refusal.code == "service_suspended"
    assert refusal.message == "Smlouvy jen online."
    assert refusal.details == {"online_url": "https://example.org/contracts"}
    assert branch.issue("A") == "A001", "other services are unaffected"


def test_the_daily_cap_stops_issuing_for_that_service_only(new_branch: NewBranch) -> None:
    branch = new_branch(
        services=[
            {"letter": "A", "names": {"en": "Payments"}, "daily_cap": 2},
            {"letter": "B", "names": {"en": "Contracts"}},
        ]
    )
    branch.issue("A")
    cancelled = branch.issue("A")
    branch.do(cmd.CancelTicket(cancelled))
    assert branch.refuse(cmd.IssueTicket("token-x", "A")).code == "daily_cap_reached"
    assert branch.issue("B") == "B001"


def test_no_tickets_outside_opening_hours(new_branch: NewBranch) -> None:
    branch = new_branch(hours={"mon": [{"open": "08:00", "close": "12:00"}]})  # now: Mon 10:00
    assert branch.issue("A") == "A001"
    branch.advance(2 * 3600)  # 12:00
    refusal = branch.refuse(cmd.IssueTicket("token-x", "A"))
    assert isinstance(refusal, Conflict) and refusal.code == "branch_closed"


# -- counters -------------------------------------------------------------------


def test_call_next_calls_the_first_admitted_ticket_the_counter_serves(
    new_branch: NewBranch,
) -> None:
    branch = new_branch(capacity=ROOMY)
    branch.open("1", "2")
    contract = branch.issue("B")
    payment = branch.issue("A")
    assert branch.call("1") == payment
    assert branch.state.counters["1"].ticket == payment
    assert branch.ticket(payment).counter == "1"
    assert branch.status(payment) is Status.CALLED
    assert branch.status(contract) is Status.ADMITTED


def test_call_next_needs_an_open_idle_counter_and_someone_inside(new_branch: NewBranch) -> None:
    branch = new_branch(capacity=ROOMY)
    assert branch.refuse(cmd.CallNext("1")).code == "counter_not_open"
    assert branch.refuse(cmd.CallNext("9")).code == "unknown_counter"
    branch.open("1")
    assert branch.refuse(cmd.CallNext("1")).code == "nobody_to_call"
    branch.issue("A")
    branch.issue("A")
    held = branch.call("1")
    refusal = branch.refuse(cmd.CallNext("1"))
    assert refusal.code == "counter_busy" and refusal.details == {"ticket": held}


def test_a_ticket_goes_called_serving_done_and_frees_the_counter(new_branch: NewBranch) -> None:
    branch = new_branch()
    branch.open("1")
    number = branch.issue("A")
    branch.call("1")
    branch.advance(30)
    assert [e.type for e in branch.act("1", "start", number)] == ["service_started"]
    assert branch.status(number) is Status.SERVING
    branch.advance(240)
    branch.act("1", "done", number)
    ticket = branch.ticket(number)
    assert ticket.status is Status.DONE
    assert ticket.finished_at - ticket.started_at == 240
    assert branch.state.counters["1"].ticket is None
    assert branch.inside == 0


def test_done_twice_is_a_no_op(new_branch: NewBranch) -> None:
    branch = new_branch()
    branch.open("1")
    number = branch.issue("A")
    branch.call("1")
    branch.act("1", "done", number)
    before = branch.state
    assert branch.act("1", "done", number) == []
    assert branch.state == before


def test_acting_on_a_ticket_the_counter_does_not_hold_is_refused(new_branch: NewBranch) -> None:
    branch = new_branch(capacity=ROOMY)
    branch.open("1")
    called = branch.issue("A")
    other = branch.issue("A")
    branch.call("1")
    for action in ("recall", "start", "done", "no-show"):
        refusal = branch.refuse(cmd.CounterAction("1", action, other))
        assert isinstance(refusal, Conflict) and refusal.code == "unexpected_ticket"
        assert refusal.details == {"current": called}
    assert branch.refuse(cmd.CounterAction("1", "done", "A999")).code == "unknown_ticket"
    assert branch.refuse(cmd.CounterAction("1", "wave", called)).code == "invalid_action"


def test_a_served_ticket_cannot_be_recalled_or_missed(new_branch: NewBranch) -> None:
    branch = new_branch()
    branch.open("1")
    number = branch.issue("A")
    branch.call("1")
    branch.act("1", "start", number)
    assert branch.act("1", "start", number) == []
    assert branch.refuse(cmd.CounterAction("1", "recall", number)).code == "being_served"
    assert branch.refuse(cmd.CounterAction("1", "no-show", number)).code == "being_served"


def test_a_counter_with_an_active_ticket_cannot_close(new_branch: NewBranch) -> None:
    branch = new_branch()
    branch.open("1")
    number = branch.issue("A")
    branch.call("1")
    refusal = branch.refuse(cmd.SetCounter("1", "closed"))
    assert refusal.code == "counter_busy" and refusal.details == {"ticket": number}
    branch.act("1", "done", number)
    branch.set_counters("closed", "1")
    assert branch.state.counters["1"].status == "closed"


def test_counter_status_must_be_known(new_branch: NewBranch) -> None:
    branch = new_branch()
    assert branch.refuse(cmd.SetCounter("1", "lunch")).code == "invalid_status"
    branch.open("1")
    assert branch.do(cmd.SetCounter("1", "open")) == []


# -- grace times and no-shows ------------------------------------------------------


def test_a_missed_call_returns_to_the_queue_once_then_is_final(new_branch: NewBranch) -> None:
    branch = new_branch(grace={"call_seconds": 120, "requeue_no_show_once": True})
    branch.open("1")
    number = branch.issue("A")
    branch.call("1")
    assert branch.tick(119) == []
    first_miss = branch.tick(1)
    assert first_miss[0] == ev.TicketNoShow(at=branch.now.timestamp(), number=number, requeued=True)
    assert branch.state.counters["1"].ticket is None
    assert branch.ticket(number).requeued
    assert branch.status(number) is Status.ADMITTED, "back in the queue, and there is room"

    branch.call("1")
    branch.tick(120)
    assert branch.status(number) is Status.NO_SHOW
    assert branch.inside == 0


def test_without_the_requeue_policy_a_missed_call_is_final(new_branch: NewBranch) -> None:
    branch = new_branch(grace={"requeue_no_show_once": False})
    branch.open("1")
    number = branch.issue("A")
    branch.call("1")
    branch.act("1", "no-show", number)
    assert branch.status(number) is Status.NO_SHOW


def test_a_requeued_ticket_goes_behind_everyone_and_stays_ahead_of_newcomers(
    new_branch: NewBranch,
) -> None:
    branch = new_branch(capacity={"hold": True})
    branch.open("1")
    missed = [branch.issue("A") for _ in range(2)]
    queued = branch.issue("A")
    branch.apply_config(capacity={"hold": False, "default": {"people_per_counter": 2}})
    for number in missed:
        assert branch.call("1") == number
        branch.act("1", "no-show", number)
        branch.apply_config(capacity={"hold": True, "default": {"people_per_counter": 2}})
    newcomer = branch.issue("A")
    assert waiting_queue(branch) == [*missed, newcomer]
    assert branch.status(queued) is Status.ADMITTED


def test_repeating_a_no_show_does_nothing(new_branch: NewBranch) -> None:
    branch = new_branch()
    branch.open("1")
    number = branch.issue("A")
    branch.call("1")
    branch.act("1", "no-show", number)
    before = branch.state
    assert branch.act("1", "no-show", number) == []
    assert branch.state == before


def test_a_recall_restarts_the_call_grace(new_branch: NewBranch) -> None:
    branch = new_branch(grace={"call_seconds": 120})
    branch.open("1")
    number = branch.issue("A")
    branch.call("1")
    branch.advance(100)
    branch.act("1", "recall", number)
    assert branch.state.calls[0] == (number, "1", branch.now.timestamp())
    assert branch.tick(100) == []
    assert [e.type for e in branch.tick(20)][:1] == ["ticket_no_show"]


def test_with_door_confirmation_an_unconfirmed_entry_expires(new_branch: NewBranch) -> None:
    branch = new_branch(
        door_confirmation=True,
        capacity=ROOMY,
        grace={"enter_seconds": 300, "requeue_no_show_once": False},
    )
    branch.open("1")
    came_in = branch.issue("A")
    stayed_away = branch.issue("A")
    branch.do(cmd.ConfirmEntry(came_in))
    assert branch.do(cmd.ConfirmEntry(came_in)) == []
    assert branch.tick(299) == []
    branch.tick(1)
    assert branch.status(stayed_away) is Status.NO_SHOW
    assert branch.status(came_in) is Status.ADMITTED


def test_without_door_confirmation_nobody_expires_before_being_called(
    new_branch: NewBranch,
) -> None:
    branch = new_branch(grace={"enter_seconds": 60})
    branch.open("1")
    number = branch.issue("A")
    assert branch.tick(3600) == []
    assert branch.status(number) is Status.ADMITTED


def test_only_an_admitted_ticket_can_confirm_entry(new_branch: NewBranch) -> None:
    branch = new_branch()
    number = branch.issue("A")
    assert branch.refuse(cmd.ConfirmEntry(number)).code == "not_admitted"
    assert isinstance(branch.refuse(cmd.ConfirmEntry("A999")), NotFound)


# -- delay -----------------------------------------------------------------------


def test_delay_moves_a_ticket_delay_places_back_and_only_once(new_branch: NewBranch) -> None:
    branch = new_branch(grace={"delay_places": 3})  # counters closed: everyone waits
    numbers = [branch.issue("A") for _ in range(6)]
    branch.do(cmd.RequestDelay(numbers[0]))
    assert waiting_queue(branch) == [*numbers[1:4], numbers[0], *numbers[4:]]
    refusal = branch.refuse(cmd.RequestDelay(numbers[0]))
    assert refusal.code == "already_delayed"


def test_delay_near_the_end_moves_to_the_back(new_branch: NewBranch) -> None:
    branch = new_branch(grace={"delay_places": 3})
    numbers = [branch.issue("A") for _ in range(3)]
    branch.do(cmd.RequestDelay(numbers[1]))
    assert waiting_queue(branch) == [numbers[0], numbers[2], numbers[1]]
    newcomer = branch.issue("A")
    assert waiting_queue(branch)[-2:] == [numbers[1], newcomer]


def test_delay_counts_places_within_the_priority_class(new_branch: NewBranch) -> None:
    branch = new_branch(grace={"delay_places": 2})
    asking = branch.issue("A")
    helped = [branch.issue("A", priority=True) for _ in range(2)]
    others = [branch.issue("A") for _ in range(3)]
    branch.do(cmd.RequestDelay(asking))
    assert waiting_queue(branch) == [*helped, others[0], others[1], asking, others[2]]


def test_delay_is_only_for_tickets_still_waiting_outside(new_branch: NewBranch) -> None:
    branch = new_branch()
    branch.open("1")
    admitted = branch.issue("A")
    assert branch.refuse(cmd.RequestDelay(admitted)).code == "not_waiting"


def test_delays_between_tied_neighbours_still_move_the_full_distance(
    new_branch: NewBranch,
) -> None:
    """Found by the stateful test: a newcomer's order tied with a delayed ticket's."""
    branch = new_branch(grace={"delay_places": 4})
    first, second = branch.issue("A"), branch.issue("B")
    branch.do(cmd.RequestDelay(first))
    later = [branch.issue(letter) for letter in "AAB"]
    branch.do(cmd.RequestDelay(later[0]))
    branch.issue("A")
    before = waiting_queue(branch)
    branch.do(cmd.RequestDelay(second))
    after = waiting_queue(branch)
    assert after.index(second) == before.index(second) + 4


# -- transfer ----------------------------------------------------------------------


def test_transfer_keeps_the_original_order_and_the_place_inside(new_branch: NewBranch) -> None:
    branch = new_branch(capacity=ROOMY)
    branch.open("1", "2")
    moved = branch.issue("A")
    contract = branch.issue("B")
    branch.call("1")
    inside = branch.inside
    events = branch.do(cmd.Transfer("1", moved, "B"))
    assert [e.type for e in events] == ["ticket_transferred"]
    ticket = branch.ticket(moved)
    assert (ticket.status, ticket.service, ticket.transferred) == (Status.ADMITTED, "B", True)
    assert branch.inside == inside
    assert branch.state.counters["1"].ticket is None
    assert branch.call("2") == moved, "issued before B001, so called before it"
    assert branch.status(contract) is Status.ADMITTED


def test_a_transferred_visitor_is_inside_and_never_expires_at_the_door(
    new_branch: NewBranch,
) -> None:
    branch = new_branch(door_confirmation=True, capacity=ROOMY, grace={"enter_seconds": 300})
    branch.open("1", "2")
    number = branch.issue("A")
    branch.advance(60)
    branch.call("1")  # the door never confirmed the entry, but the counter met the visitor
    branch.act("1", "start", number)
    branch.advance(400)
    branch.do(cmd.Transfer("1", number, "B"))
    assert number not in branch_snapshot(branch.state, branch.now)["may_enter"]
    assert branch.tick(1) == []
    assert branch.status(number) is Status.ADMITTED


def test_transfer_repeated_does_nothing_and_bad_targets_are_refused(
    new_branch: NewBranch,
) -> None:
    branch = new_branch()
    branch.open("1")
    number = branch.issue("A")
    branch.call("1")
    assert branch.refuse(cmd.Transfer("1", number, "A")).code == "same_service"
    assert branch.refuse(cmd.Transfer("1", number, "Z")).code == "unknown_service"
    branch.do(cmd.Transfer("1", number, "B"))
    assert branch.do(cmd.Transfer("1", number, "B")) == []
    assert branch.refuse(cmd.Transfer("2", number, "A")).code == "unexpected_ticket"


# -- cancel, occupancy, configuration -------------------------------------------


def test_cancel_frees_the_place_and_the_counter(new_branch: NewBranch) -> None:
    branch = new_branch()
    branch.open("1")
    called = branch.issue("A")
    waiting = branch.issue("A")
    branch.call("1")
    events = branch.do(cmd.CancelTicket(called, by_staff=True))
    assert [e.type for e in events] == ["ticket_cancelled", "ticket_admitted"]
    assert branch.state.counters["1"].ticket is None
    assert branch.status(waiting) is Status.ADMITTED
    assert branch.do(cmd.CancelTicket(called)) == []


def test_a_ticket_being_served_or_finished_cannot_be_cancelled(new_branch: NewBranch) -> None:
    branch = new_branch()
    branch.open("1")
    number = branch.issue("A")
    branch.call("1")
    branch.act("1", "start", number)
    assert branch.refuse(cmd.CancelTicket(number)).code == "being_served"
    branch.act("1", "done", number)
    assert branch.refuse(cmd.CancelTicket(number)).code == "ticket_finished"
    assert isinstance(branch.refuse(cmd.CancelTicket("A999")), NotFound)


def test_occupancy_adjustments_count_inside_and_block_admission(new_branch: NewBranch) -> None:
    branch = new_branch(capacity={"default": {"people_per_counter": 2}})
    branch.open("1")
    branch.do(cmd.AdjustOccupancy(2, "  two couriers  "))
    assert branch.last[0].reason == "two couriers"
    waiting = branch.issue("A")
    assert (branch.inside, branch.status(waiting)) == (2, Status.WAITING)
    branch.do(cmd.AdjustOccupancy(-1, "one left"))
    assert branch.status(waiting) is Status.ADMITTED


@pytest.mark.parametrize(
    ("delta", "reason", "code"),
    [
        (0, "nothing", "invalid_delta"),
        (51, "a bus", "invalid_delta"),
        (1, "   ", "invalid_reason"),
        (1, "x" * 201, "invalid_reason"),
        (-1, "nobody was counted", "adjustment_below_zero"),
    ],
)
def test_invalid_occupancy_adjustments_are_refused(
    new_branch: NewBranch, delta: int, reason: str, code: str
) -> None:
    branch = new_branch()
    assert branch.refuse(cmd.AdjustOccupancy(delta, reason)).code == code


def test_config_for_another_branch_is_refused(new_branch: NewBranch, make_config: Any) -> None:
    branch = new_branch()
    refusal = branch.refuse(cmd.ApplyConfig(make_config(id="elsewhere")))
    assert isinstance(refusal, Invalid) and refusal.code == "wrong_branch"
    assert branch.do(cmd.ApplyConfig(branch.state.config)) == []


def test_a_service_with_open_tickets_cannot_be_removed(
    new_branch: NewBranch, make_config: Any
) -> None:
    branch = new_branch()
    contract = branch.issue("B")
    only_payments = make_config(
        counters=[{"id": "1", "services": ["A"]}, {"id": "2", "services": ["A"]}],
        services=[{"letter": "A", "names": {"en": "Payments"}}],
    )
    assert branch.refuse(cmd.ApplyConfig(only_payments)).code == "service_in_use"
    branch.do(cmd.CancelTicket(contract))
    assert [e.type for e in branch.do(cmd.ApplyConfig(only_payments))] == ["config_applied"]


def test_a_counter_holding_a_ticket_cannot_be_removed(
    new_branch: NewBranch, make_config: Any
) -> None:
    branch = new_branch()
    branch.open("2")
    number = branch.issue("B")
    branch.call("2")
    one_counter = make_config(counters=[{"id": "1", "services": ["A", "B"]}])
    assert branch.refuse(cmd.ApplyConfig(one_counter)).code == "counter_in_use"
    branch.act("2", "done", number)
    branch.do(cmd.ApplyConfig(one_counter))
    assert list(branch.state.counters) == ["1"]


def test_a_raised_limit_admits_at_once(new_branch: NewBranch) -> None:
    branch = new_branch()
    branch.open("1")
    branch.issue("A")
    second = branch.issue("A")
    branch.apply_config(capacity={"default": {"people_per_counter": 2}})
    assert branch.admitted_now() == [second]


# -- access records -----------------------------------------------------------


def test_an_access_change_is_recorded_and_changes_no_queue(new_branch: NewBranch) -> None:
    branch = new_branch()
    branch.open("1")
    branch.issue("A")
    before = branch.state
    change = cmd.RecordAccess("device", "created", "a1b2c3", label="Front door", kind="kiosk")

    events = branch.do(change)

    assert events == [
        ev.AccessChanged(
            at=branch.now.timestamp(),
            subject="device",
            action="created",
            id="a1b2c3",
            label="Front door",
            kind="kiosk",
        )
    ]
    assert branch.state.version == before.version + 1
    assert (branch.state.tickets, branch.state.counters) == (before.tickets, before.counters)
    assert ev.from_dict(ev.to_dict(events[0])) == events[0]


@pytest.mark.parametrize(
    "change",
    [
        cmd.RecordAccess("token", "paired", "a1b2c3d4e5f6"),
        cmd.RecordAccess("printer", "created", "p1"),
        cmd.RecordAccess("user", "created", ""),
        cmd.RecordAccess("user", "created", "ada", label="x" * 101),
        cmd.RecordAccess("token", "created", "a1b2c3d4e5f6", branches=("x" * 101,)),
    ],
)
def test_a_malformed_access_change_is_refused(
    new_branch: NewBranch, change: cmd.RecordAccess
) -> None:
    branch = new_branch()
    assert branch.refuse(change).code == "invalid_access_change"
