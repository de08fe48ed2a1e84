"""Random command sequences against one branch day, checking the invariants in the README.

The machine draws a valid configuration (2-4 counters serving random subsets
of 2-3 services, a random capacity rule, sometimes a schedule, a hold, door
confirmation, the requeue policy, now and then a branch that is closed all
day), then issues, calls, finishes, transfers, adjusts, reconfigures and lets
time pass, including commands that must be refused: a refusal must leave the
very same state. After every step the invariants below check what must always
hold, from the state and from the events the step produced.

The clock can move without a decision (``wait``), and a scheduled rule may
change the limit meanwhile; admission only happens when something is decided,
so "nobody who fits is left outside" is judged at the moment of the last
decision (``settled_at``). For the same reason a retry that finds its own
effect produces no events of its own, though admissions may follow it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import hypothesis
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from queueapp.domain import commands as cmd
from queueapp.domain import events as ev
from queueapp.domain.config import WEEKDAYS, ConfigError, parse_config
from queueapp.domain.decide import fingerprint
from queueapp.domain.errors import DomainError
from queueapp.domain.queueing import current_limit
from queueapp.domain.state import (
    FINAL,
    INSIDE,
    BranchState,
    CounterStatus,
    Status,
    Ticket,
    apply,
    apply_all,
)
from queueapp.domain.views import branch_snapshot, ticket_view

LETTERS = ("A", "B", "C")
KEYS = ("key-1", "key-2", "key-3", "key-4")
UNKNOWN_TICKET = "A999"
UNKNOWN_COUNTER = "9"
WEEK_START = datetime.fromisoformat("2024-03-04T00:00:00+00:00")

# -- strategies for configuration documents ------------------------------------


@st.composite
def capacity_rules(draw: st.DrawFn) -> dict[str, Any]:
    minimum = draw(st.sampled_from([1, 0, 1, 2, 3]))
    maximum = draw(st.none() | st.integers(minimum, minimum + 6))
    return {
        "people_per_counter": draw(st.sampled_from([1, 2, 1, 3, 0])),
        "extra": draw(st.sampled_from([0, 1, 2, 0, 1, 3, -1, -2])),
        "minimum": minimum,
        "maximum": maximum,
    }


def clock_times() -> st.SearchStrategy[str]:
    return st.builds("{:02d}:{:02d}".format, st.integers(0, 23), st.sampled_from([0, 30]))


@st.composite
def scheduled_rules(draw: st.DrawFn) -> dict[str, Any]:
    days = draw(st.sets(st.sampled_from(WEEKDAYS), min_size=1))
    return {
        "rule": draw(capacity_rules()),
        "days": [day for day in WEEKDAYS if day in days],
        "start": draw(clock_times()),
        "end": draw(clock_times()),
    }


@st.composite
def capacities(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "default": draw(capacity_rules()),
        "schedule": draw(st.lists(scheduled_rules(), max_size=2)),
        "hold": draw(st.sampled_from([False] * 5 + [True])),
        "reserve_after_minutes": draw(st.sampled_from([10, None, 0, 1, 5])),
    }


@st.composite
def graces(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "enter_seconds": draw(st.integers(30, 600)),
        "call_seconds": draw(st.integers(30, 600)),
        "requeue_no_show_once": draw(st.booleans()),
        "delay_places": draw(st.integers(1, 4)),
    }


@st.composite
def services(draw: st.DrawFn, letters: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            "letter": letter,
            "names": {"en": f"Service {letter}", "cs": f"Služba {letter}"},
            "priority": draw(st.sampled_from([0, 0, 1, -1])),
            "daily_cap": draw(st.none() | st.none() | st.integers(1, 6)),
            "suspended": draw(
                st.sampled_from(
                    [None] * 7
                    + [{"reason": {"en": "Online only"}, "online_url": "https://example.org"}]
                )
            ),
        }
        for letter in letters
    ]


@st.composite
def branch_overrides(draw: st.DrawFn) -> dict[str, Any]:
    """Everything random about a branch, as overrides of the base document."""
    letters = LETTERS[: draw(st.integers(2, 3))]
    counters = [
        {
            "id": str(number),
            "services": sorted(draw(st.sets(st.sampled_from(letters), min_size=1))),
        }
        for number in range(1, draw(st.integers(2, 4)) + 1)
    ]
    closed = {"hours": {}} if draw(st.integers(0, 7)) == 0 else {}
    return {
        **closed,
        "counters": counters,
        "services": draw(services(letters)),
        "capacity": draw(capacities()),
        "grace": draw(graces()),
        "door_confirmation": draw(st.booleans()),
        "max_party_size": draw(st.integers(2, 6)),
    }


@st.composite
def config_changes(draw: st.DrawFn) -> dict[str, Any]:
    """What a manager edits during the day; ``drop`` removes a counter or a service."""
    changes: dict[str, Any] = {}
    if draw(st.booleans()):
        changes["capacity"] = draw(capacities())
    if draw(st.booleans()):
        changes["grace"] = draw(graces())
    if draw(st.booleans()):
        changes["door_confirmation"] = draw(st.booleans())
    changes["reprioritise"] = draw(
        st.none() | st.lists(st.sampled_from([0, 1, -1]), min_size=3, max_size=3)
    )
    changes["drop"] = draw(st.sampled_from([None, None, None, "counter", "service"]))
    return changes


VisitorRequest = tuple[int, int, bool, str | None, str]


def visitor_requests() -> st.SearchStrategy[VisitorRequest]:
    """(service pick, party size, priority need, Idempotency-Key, language): all well-formed."""
    return st.tuples(
        st.integers(0, 99),
        st.sampled_from([1, 1, 1, 2, 2, 3]),
        st.sampled_from([False, False, False, True]),
        st.sampled_from((None, None, *KEYS)),
        st.sampled_from(["en", "en", "cs"]),
    )


def queue_key(ticket: Ticket, priorities: dict[str, int]) -> tuple[int, int, float, int]:
    """Priority need first, then the service's priority, then order, then issue sequence."""
    return (
        0 if ticket.priority else 1,
        -priorities.get(ticket.service, 0),
        ticket.order,
        ticket.seq,
    )


# -- the machine ---------------------------------------------------------------


class BranchMachine(RuleBasedStateMachine):
    def __init__(self, make_doc: Callable[..., dict[str, Any]], new_branch: Any) -> None:
        super().__init__()
        self.make_doc = make_doc
        self.new_branch = new_branch
        self.step_start: BranchState | None = None
        self.step_events: list[ev.Event] = []
        self.settled_at: datetime | None = None

    # -- plumbing --------------------------------------------------------

    @property
    def state(self) -> BranchState:
        return self.branch.state

    @property
    def now(self) -> datetime:
        return self.branch.now

    def begin(self) -> None:
        self.step_start = self.state
        self.step_events = []

    def attempt(self, command: cmd.Command) -> list[ev.Event] | DomainError:
        """Run a command; a refusal must leave the very same state, untouched."""
        before = self.state
        snapshot = (
            before.version,
            dict(before.tickets),
            dict(before.counters),
            dict(before.idempotency),
            before.adjustment,
            before.config,
        )
        try:
            events = self.branch.do(command)
        except DomainError as refusal:
            assert self.state is before
            assert snapshot == (
                before.version,
                before.tickets,
                before.counters,
                before.idempotency,
                before.adjustment,
                before.config,
            )
            return refusal
        admissions = [isinstance(e, ev.TicketAdmitted) for e in events]
        assert admissions == sorted(admissions), "admissions follow the command's own events"
        assert all(e.at == self.now.timestamp() for e in events)
        self.step_events.extend(events)
        self.settled_at = self.now
        return events

    def status(self, number: str) -> Status:
        return self.state.tickets[number].status

    def held_by(self, counter: str) -> str | None:
        held = self.state.counters.get(counter)
        return None if held is None else held.ticket

    def pick_ticket(self, pick: int) -> str:
        """Mostly a ticket still in play, sometimes any ticket, rarely an unknown one."""
        if pick % 10 == 9 or not self.state.tickets:
            return UNKNOWN_TICKET
        active = sorted(n for n, t in self.state.tickets.items() if t.status not in FINAL)
        numbers = active if active and pick % 4 else sorted(self.state.tickets)
        return numbers[pick % len(numbers)]

    def pick_counter(self, pick: int) -> str:
        """Mostly a counter of the branch, rarely an unknown one."""
        if pick % 10 == 9:
            return UNKNOWN_COUNTER
        ids = [c.id for c in self.state.require_config().counters]
        return ids[pick % len(ids)]

    def pick_busy_counter(self, pick: int) -> str:
        """Half the time a counter holding a ticket, if there is one."""
        busy = sorted(c.id for c in self.state.counters.values() if c.ticket is not None)
        return busy[pick % len(busy)] if busy and pick % 2 else self.pick_counter(pick)

    def priorities(self) -> dict[str, int]:
        return {s.letter: s.priority for s in self.state.require_config().services}

    @staticmethod
    def primary(events: list[ev.Event]) -> list[ev.Event]:
        """The command's own events, without the admissions that follow them."""
        return [e for e in events if not isinstance(e, ev.TicketAdmitted)]

    def fold_primary(self, before: BranchState, events: list[ev.Event]) -> BranchState:
        """The state after the command's own events, before automatic admissions."""
        state = before
        for event in events:
            if isinstance(event, ev.TicketAdmitted):
                break
            state = apply(state, event)
        return state

    # -- setting up ------------------------------------------------------

    @initialize(
        overrides=branch_overrides(),
        minutes=st.integers(0, 7 * 24 * 60 - 1),
        opened=st.sets(st.sampled_from(["1", "2", "3", "4"]), min_size=1),
        visitors=st.lists(visitor_requests(), max_size=8),
    )
    def open_day(
        self,
        overrides: dict[str, Any],
        minutes: int,
        opened: set[str],
        visitors: list[VisitorRequest],
    ) -> None:
        """Open the day at some moment of the week, some counters open, a crowd at the door."""
        self.overrides = overrides
        config = parse_config(self.make_doc(**overrides))
        self.branch = self.new_branch(config=config, now=WEEK_START + timedelta(minutes=minutes))
        self.replayed = BranchState(branch=self.state.branch, day=self.state.day)
        self.replayed_upto = 0
        self.begin()
        self.settled_at = self.now
        for counter in sorted(opened & set(self.state.counters)):
            assert self.attempt(cmd.SetCounter(counter, "open"))
        for visitor in visitors:
            self.issue_one(*visitor)

    # -- visitors ----------------------------------------------------------

    @rule(visitors=st.lists(visitor_requests(), min_size=1, max_size=3))
    def issue(self, visitors: list[VisitorRequest]) -> None:
        """Well-formed requests; an Idempotency-Key from a small pool sometimes repeats."""
        self.begin()
        for pick, party_size, priority, key, lang in visitors:
            self.issue_one(pick, party_size, priority, key, lang)

    def issue_one(
        self, pick: int, party_size: int, priority: bool, key: str | None, lang: str
    ) -> None:
        before = self.state
        letters = [s.letter for s in before.require_config().services]
        service = letters[pick % len(letters)]
        command = cmd.IssueTicket(
            self.branch.next_token(), service, party_size, priority, lang, key
        )
        result = self.attempt(command)
        seen = before.idempotency.get(key) if key is not None else None
        if isinstance(result, DomainError):
            if seen is not None:
                assert result.code == "idempotency_key_reused"
                assert seen[1] != fingerprint(command)
            return
        issued = [e for e in result if isinstance(e, ev.TicketIssued)]
        if seen is not None:
            assert seen[1] == fingerprint(command)
            assert issued == []
            assert self.state.tickets.keys() == before.tickets.keys()
            assert self.primary(result) == []
            return
        assert len(issued) == 1 and result[0] == issued[0]
        assert party_size <= before.require_config().max_party_size
        if key is not None:
            assert self.attempt(command) == []
            assert self.state.tickets.keys() == before.tickets.keys() | {issued[0].number}

    @rule(
        problem=st.sampled_from(["unknown_service", "invalid_party_size", "language", "token"]),
        party_size=st.sampled_from([0, -1, 21, 99]),
    )
    def issue_malformed(self, problem: str, party_size: int) -> None:
        """Requests that must be refused, each for its own reason."""
        self.begin()
        letter = self.state.require_config().services[0].letter
        token = self.branch.next_token()
        taken = next(iter(self.state.tokens), None)
        match problem:
            case "unknown_service":
                command = cmd.IssueTicket(token, "Z")
            case "invalid_party_size":
                command = cmd.IssueTicket(token, letter, party_size=party_size)
            case "language":
                command = cmd.IssueTicket(token, letter, lang="vi")
            case _:
                command = cmd.IssueTicket(taken or token, letter)
        result = self.attempt(command)
        if problem == "token":
            assert isinstance(result, DomainError) or taken is None
        elif problem == "language":
            assert isinstance(result, DomainError) and result.code == "unsupported_language"
        else:
            assert isinstance(result, DomainError) and result.code == problem

    @rule(pick=st.integers(0, 99), by_staff=st.booleans())
    def cancel(self, pick: int, by_staff: bool) -> None:
        self.begin()
        number = self.pick_ticket(pick)
        before = self.state.tickets.get(number)
        result = self.attempt(cmd.CancelTicket(number, by_staff))
        if isinstance(result, DomainError):
            assert before is None or before.status in (Status.SERVING, Status.DONE, Status.NO_SHOW)
        else:
            assert before is not None and self.status(number) is Status.CANCELLED

    @rule(pick=st.integers(0, 99))
    def delay(self, pick: int) -> None:
        self.begin()
        before = self.state
        number = self.pick_ticket(pick)
        result = self.attempt(cmd.RequestDelay(number))
        if isinstance(result, DomainError):
            return
        config = before.require_config()
        ticket = before.tickets[number]
        assert ticket.status is Status.WAITING and not ticket.delayed
        after = self.fold_primary(before, result)
        assert after.tickets[number].delayed

        priorities = self.priorities()

        def same_class_queue(state: BranchState) -> list[str]:
            mine = queue_key(state.tickets[number], priorities)[:2]
            waiting = [
                t
                for t in state.tickets.values()
                if t.status is Status.WAITING and queue_key(t, priorities)[:2] == mine
            ]
            return [t.number for t in sorted(waiting, key=lambda t: queue_key(t, priorities))]

        old, new = same_class_queue(before), same_class_queue(after)
        moved = min(config.grace.delay_places, len(old) - 1 - old.index(number))
        assert new.index(number) == old.index(number) + moved
        assert [n for n in new if n != number] == [n for n in old if n != number]

    @rule(pick=st.integers(0, 99))
    def confirm_entry(self, pick: int) -> None:
        self.begin()
        number = self.pick_ticket(pick)
        before = self.state.tickets.get(number)
        result = self.attempt(cmd.ConfirmEntry(number))
        if not isinstance(result, DomainError):
            assert before is not None and self.state.tickets[number].entered

    # -- counters ----------------------------------------------------------

    @rule(
        pick=st.integers(0, 99),
        status=st.sampled_from(["open", "open", "open", "paused", "closed", "closed", "x"]),
    )
    def set_counter(self, pick: int | str, status: str) -> None:
        self.begin()
        counter = self.pick_busy_counter(pick) if isinstance(pick, int) else pick
        held = self.held_by(counter)
        result = self.attempt(cmd.SetCounter(counter, status))
        if isinstance(result, DomainError):
            return
        assert self.state.counters[counter].status == status
        assert not (status == "closed" and held is not None)

    @rule(pick=st.integers(0, 99))
    def call_next(self, pick: int | str) -> None:
        self.begin()
        before = self.state
        counter = self.pick_counter(pick) if isinstance(pick, int) else pick
        result = self.attempt(cmd.CallNext(counter))
        definition = before.require_config().counter(counter)
        if definition is None:
            assert isinstance(result, DomainError) and result.code == "unknown_counter"
            return
        ready = sorted(
            (
                t
                for t in before.tickets.values()
                if t.status is Status.ADMITTED and t.service in definition.services
            ),
            key=lambda t: queue_key(t, self.priorities()),
        )
        if isinstance(result, DomainError):
            idle_and_open = (
                before.counters[counter].status is CounterStatus.OPEN
                and before.counters[counter].ticket is None
            )
            assert not (idle_and_open and ready)
            return
        called = result[0]
        assert isinstance(called, ev.TicketCalled)
        assert called.number == ready[0].number

    @rule(
        pick_counter=st.integers(0, 99),
        action=st.sampled_from(["recall", "start", "done", "done", "no-show", "dance"]),
        right=st.integers(0, 3),
        pick=st.integers(0, 99),
    )
    def counter_action(self, pick_counter: int | str, action: str, right: int, pick: int) -> None:
        self.begin()
        if isinstance(pick_counter, str):
            counter = pick_counter
        else:
            counter = self.pick_busy_counter(pick_counter)
        held = self.held_by(counter)
        number = held if right and held is not None else self.pick_ticket(pick)
        before = self.state
        result = self.attempt(cmd.CounterAction(counter, action, number))
        if isinstance(result, DomainError):
            known = counter in before.counters and number in before.tickets
            if known and held != number:
                assert result.code == "unexpected_ticket"
            return
        if self.primary(result) and held != number:
            raise AssertionError(f"{action} of {number} acted although {counter} held {held}")
        if action in ("done", "no-show") and held == number:
            assert self.held_by(counter) is None
            assert self.attempt(cmd.CounterAction(counter, action, number)) == []

    @rule(pick=st.integers(0, 99), answer=st.sampled_from(["start"] * 4 + ["no-show"]))
    def work_at_counter(self, pick: int, answer: str) -> None:
        """A counter's ordinary day: open, call, start (or a missed call), done."""
        counter = self.pick_busy_counter(pick)
        held = self.held_by(counter)
        current = self.state.counters.get(counter)
        if current is None or current.status is not CounterStatus.OPEN:
            self.set_counter(counter, "open")
        elif held is None:
            self.call_next(counter)
        elif self.state.tickets[held].status is Status.CALLED:
            self.counter_action(counter, answer, 1, 0)
        else:
            self.counter_action(counter, "done", 1, 0)

    @rule(
        pick_counter=st.integers(0, 99),
        right=st.integers(0, 3),
        pick=st.integers(0, 99),
        service=st.sampled_from((*LETTERS, "Z")),
    )
    def transfer(self, pick_counter: int, right: int, pick: int, service: str) -> None:
        self.begin()
        counter = self.pick_busy_counter(pick_counter)
        held = self.held_by(counter)
        number = held if right and held is not None else self.pick_ticket(pick)
        before = self.state
        result = self.attempt(cmd.Transfer(counter, number, service))
        if isinstance(result, DomainError) or not self.primary(result):
            return
        assert held == number
        after = self.fold_primary(before, result)
        moved, original = after.tickets[number], before.tickets[number]
        assert moved.status is Status.ADMITTED and moved.service == service
        assert (moved.order, moved.seq, moved.issued_at) == (
            original.order,
            original.seq,
            original.issued_at,
        )
        assert after.inside == before.inside
        assert after.counters[counter].ticket is None
        assert number not in branch_snapshot(after, self.now)["may_enter"], "already inside"

    # -- the door, the manager, the clock -----------------------------------

    @rule(
        delta=st.integers(-3, 3) | st.sampled_from([51, -51]),
        reason=st.sampled_from(["courier", " companion ", "   ", "x" * 201]),
    )
    def adjust_occupancy(self, delta: int, reason: str) -> None:
        self.begin()
        before = self.state.adjustment
        result = self.attempt(cmd.AdjustOccupancy(delta, reason))
        if not isinstance(result, DomainError):
            assert self.state.adjustment == before + delta >= 0

    @rule(changes=config_changes())
    def apply_config(self, changes: dict[str, Any]) -> None:
        self.begin()
        overrides = {
            key: value
            for key, value in {**self.overrides, **changes}.items()
            if key not in ("reprioritise", "drop")
        }
        overrides["revision"] = self.state.require_config().revision + 1
        if changes["reprioritise"] is not None:
            overrides["services"] = [
                {**s, "priority": priority}
                for s, priority in zip(overrides["services"], changes["reprioritise"], strict=False)
            ]
        if changes["drop"] == "counter" and len(overrides["counters"]) > 1:
            overrides["counters"] = overrides["counters"][:-1]
        if changes["drop"] == "service":
            gone = overrides["services"][-1]["letter"]
            overrides["services"] = overrides["services"][:-1]
            overrides["counters"] = [
                {**c, "services": [s for s in c["services"] if s != gone]}
                for c in overrides["counters"]
            ]
        try:
            config = parse_config(self.make_doc(**overrides))
        except ConfigError:
            return  # a counter left with no service: the document itself is refused
        result = self.attempt(cmd.ApplyConfig(config))
        if isinstance(result, DomainError):
            return
        assert self.state.config == config
        self.overrides = {k: v for k, v in overrides.items() if k != "revision"}

    @rule(other_branch=st.booleans())
    def apply_config_unchanged_or_elsewhere(self, other_branch: bool) -> None:
        """The config in force again changes nothing; another branch's is refused."""
        self.begin()
        config = self.state.require_config()
        if other_branch:
            result = self.attempt(cmd.ApplyConfig(replace(config, id="elsewhere")))
            assert isinstance(result, DomainError) and result.code == "wrong_branch"
        else:
            assert self.primary(self.attempt(cmd.ApplyConfig(config))) == []

    @rule(
        subject=st.sampled_from([*cmd.ACCESS_ACTIONS, "printer"]),
        pick=st.integers(0, 9),
        label=st.sampled_from(["", "front door", "x" * 101]),
    )
    def record_access(self, subject: str, pick: int, label: str) -> None:
        """A token, device or account changed: recorded, and nothing else happens but admissions."""
        self.begin()
        actions = cmd.ACCESS_ACTIONS.get(subject, ("created",))
        before = self.state
        result = self.attempt(
            cmd.RecordAccess(subject, actions[pick % len(actions)], f"id-{pick}", label=label)
        )
        if isinstance(result, DomainError):
            assert result.code == "invalid_access_change"
            assert subject not in cmd.ACCESS_ACTIONS or len(label) > 100
            return
        assert [e.type for e in self.primary(result)] == [ev.AccessChanged.type]
        recorded = self.fold_primary(before, result)
        assert replace(recorded, version=before.version) == before

    @rule(seconds=st.integers(1, 400))
    def wait(self, seconds: int) -> None:
        self.begin()
        self.branch.advance(seconds)

    @rule(seconds=st.integers(0, 400))
    def tick(self, seconds: int) -> None:
        self.begin()
        self.branch.advance(seconds)
        before = self.state
        result = self.attempt(cmd.Tick())
        assert not isinstance(result, DomainError)
        grace = before.require_config().grace
        for event in result:
            if isinstance(event, ev.TicketNoShow):
                ticket = before.tickets[event.number]
                assert ticket.status in (Status.ADMITTED, Status.CALLED)
                assert event.requeued == (grace.requeue_no_show_once and not ticket.requeued)

    # -- invariants ----------------------------------------------------------

    @invariant()
    def admissions_agree_with_a_recomputation(self) -> None:
        state = self.step_start
        assert state is not None and self.settled_at is not None
        for event in self.step_events:
            state = apply(state, event)
            if isinstance(event, ev.TicketAdmitted):
                assert event.inside == state.inside
                assert event.limit == current_limit(state, self.settled_at)
                assert event.inside <= event.limit

    @invariant()
    def admission_never_takes_inside_above_the_limit(self) -> None:
        if any(isinstance(e, ev.TicketAdmitted) for e in self.step_events):
            assert self.settled_at is not None
            assert self.state.inside <= current_limit(self.state, self.settled_at)

    @invariant()
    def a_ticket_is_at_one_counter_at_most(self) -> None:
        held = [c.ticket for c in self.state.counters.values() if c.ticket is not None]
        assert len(held) == len(set(held))
        for counter in self.state.counters.values():
            if counter.ticket is not None:
                ticket = self.state.tickets[counter.ticket]
                assert ticket.status in (Status.CALLED, Status.SERVING)
                assert ticket.counter == counter.id
        at_counters = {
            t.number
            for t in self.state.tickets.values()
            if t.status in (Status.CALLED, Status.SERVING)
        }
        assert at_counters == set(held)

    @invariant()
    def numbers_and_tokens_are_unique_and_consecutive(self) -> None:
        issued = [e for e in self.branch.log if isinstance(e, ev.TicketIssued)]
        assert len({e.number for e in issued}) == len(issued) == len(self.state.tickets)
        for letter in {e.number[0] for e in issued}:
            numbers = [e.number for e in issued if e.number[0] == letter]
            assert numbers == [f"{letter}{n:03d}" for n in range(1, len(numbers) + 1)]
            assert self.state.last_numbers[letter] == len(numbers)
        assert len(self.state.tokens) == len(self.state.tickets)
        for token, number in self.state.tokens.items():
            assert self.state.tickets[number].token == token

    @invariant()
    def nobody_who_fits_is_left_outside(self) -> None:
        """Unless they are behind a party the room is kept for: one that does not fit,
        has waited ``reserve_after_minutes`` and could fit the limit."""
        config = self.state.require_config()
        assert self.settled_at is not None
        limit = current_limit(self.state, self.settled_at)
        room = limit - self.state.inside
        if config.capacity.hold or room <= 0:
            return
        served = {
            letter
            for counter in config.counters
            if self.state.counters[counter.id].status is CounterStatus.OPEN
            for letter in counter.services
        }
        outside = sorted(
            (t for t in self.state.tickets.values() if t.status is Status.WAITING),
            key=lambda t: queue_key(t, self.priorities()),
        )
        minutes = config.capacity.reserve_after_minutes
        ahead_of_reserved = []
        for t in outside:
            if t.service not in served:
                continue
            due = minutes is not None and t.issued_at <= self.settled_at.timestamp() - minutes * 60
            if t.party_size > room and due and t.party_size <= limit:
                hypothesis.event("the room is kept for a party")
                break
            ahead_of_reserved.append(t)
        left_out = [t.number for t in ahead_of_reserved if t.party_size <= room]
        assert left_out == [], f"room for {room} but {left_out} wait outside"

    @invariant()
    def inside_counts_tickets_and_adjustment(self) -> None:
        people = sum(t.party_size for t in self.state.tickets.values() if t.status in INSIDE)
        assert self.state.inside == people + self.state.adjustment
        assert self.state.adjustment >= 0

    @invariant()
    def the_log_replays_to_the_same_state(self) -> None:
        for event in self.branch.log[self.replayed_upto :]:
            stored = json.loads(json.dumps(ev.to_dict(event)))
            restored = ev.from_dict(stored)
            assert restored == event
            self.replayed = apply(self.replayed, restored)
        self.replayed_upto = len(self.branch.log)
        assert self.replayed == self.state
        assert self.state.version == len(self.branch.log)

    @invariant()
    def views_match_the_state(self) -> None:
        snapshot = branch_snapshot(self.state, self.now)
        assert (snapshot["version"], snapshot["inside"]) == (self.state.version, self.state.inside)
        tickets = self.state.tickets.values()
        assert snapshot["may_enter"] == sorted(
            t.number for t in tickets if t.status is Status.ADMITTED and not t.entered
        )
        config = self.state.require_config()
        served = {s for c in self.state.open_counters for s in config.services_of(c.id)}
        for service in snapshot["services"]:
            of_service = [t.status for t in tickets if t.service == service["letter"]]
            assert service["waiting"] == of_service.count(Status.WAITING)
            assert service["inside"] == of_service.count(Status.ADMITTED)
            assert service["served"] is (service["letter"] in served)
            assert (service["estimated_wait_minutes"] is None) is not service["served"]
        assert snapshot["inside_tickets"] == sum(1 for t in tickets if t.status in INSIDE)
        for ticket in list(self.state.tickets.values())[-3:]:
            view = ticket_view(self.state, ticket)
            assert view["status"] == ticket.status.value
            assert "token" not in view

    def teardown(self) -> None:
        if hasattr(self, "branch"):
            empty = BranchState(branch=self.state.branch, day=self.state.day)
            assert apply_all(empty, self.branch.log) == self.state


def test_random_command_sequences_keep_the_invariants(
    make_doc: Callable[..., dict[str, Any]], new_branch: Any
) -> None:
    run_state_machine_as_test(
        lambda: BranchMachine(make_doc, new_branch),
        settings=settings(
            max_examples=150,
            stateful_step_count=60,
            deadline=None,
        ),
    )
