"""A branch's state for one day, and how each event changes it.

The state is only ever built by folding events: what the log says is what the
branch is. Tickets and counters are frozen records; folding copies the
containers once per batch and replaces the records that change, so that a
state handed out earlier is never altered under its holder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

from queueapp.domain import events as ev
from queueapp.domain.config import BranchConfig


class Status(StrEnum):
    WAITING = "waiting"
    ADMITTED = "admitted"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


INSIDE = frozenset({Status.ADMITTED, Status.CALLED, Status.SERVING})
"""Statuses that hold a place in the capacity."""

QUEUED = frozenset({Status.WAITING, Status.ADMITTED})
"""Statuses of tickets not yet called to a counter."""

FINAL = frozenset({Status.DONE, Status.CANCELLED, Status.NO_SHOW})


class CounterStatus(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class Ticket:
    number: str
    token: str
    service: str
    party_size: int
    priority: bool
    lang: str
    issued_at: float
    seq: int
    order: float
    status: Status = Status.WAITING
    counter: str | None = None
    admitted_at: float | None = None
    entered: bool = False
    called_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    requeued: bool = False
    delayed: bool = False
    transferred: bool = False


@dataclass(frozen=True, slots=True)
class CounterState:
    id: str
    status: CounterStatus = CounterStatus.CLOSED
    ticket: str | None = None


@dataclass(frozen=True, slots=True)
class BranchState:
    branch: str
    day: str
    version: int = 0
    config: BranchConfig | None = None
    tickets: dict[str, Ticket] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    counters: dict[str, CounterState] = field(default_factory=dict)
    last_numbers: dict[str, int] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, str]] = field(default_factory=dict)
    adjustment: int = 0
    calls: tuple[tuple[str, str, float], ...] = ()
    """Most recent calls first: (number, counter, at), for the "last calls" board."""

    @property
    def inside(self) -> int:
        people = sum(t.party_size for t in self.tickets.values() if t.status in INSIDE)
        return people + self.adjustment

    @property
    def open_counters(self) -> list[CounterState]:
        return [c for c in self.counters.values() if c.status is CounterStatus.OPEN]

    def require_config(self) -> BranchConfig:
        if self.config is None:
            raise RuntimeError(f"branch {self.branch} day {self.day} has not been opened")
        return self.config

    def by_token(self, token: str) -> Ticket | None:
        number = self.tokens.get(token)
        return None if number is None else self.tickets[number]


RECENT_CALLS = 8


def apply(state: BranchState, event: ev.Event) -> BranchState:
    return apply_all(state, (event,))


def apply_all(state: BranchState, events: Iterable[ev.Event]) -> BranchState:
    """Fold events into a new state; the given state is left as it was."""
    fold = _Fold(state)
    for event in events:
        fold.apply(event)
    return fold.result()


class _Fold:
    """Mutable working copy used while folding one batch of events."""

    def __init__(self, state: BranchState) -> None:
        self.base = state
        self.version = state.version
        self.config = state.config
        self.tickets = dict(state.tickets)
        self.tokens = dict(state.tokens)
        self.counters = dict(state.counters)
        self.last_numbers = dict(state.last_numbers)
        self.idempotency = dict(state.idempotency)
        self.adjustment = state.adjustment
        self.calls = state.calls

    def result(self) -> BranchState:
        return replace(
            self.base,
            version=self.version,
            config=self.config,
            tickets=self.tickets,
            tokens=self.tokens,
            counters=self.counters,
            last_numbers=self.last_numbers,
            idempotency=self.idempotency,
            adjustment=self.adjustment,
            calls=self.calls,
        )

    def apply(self, event: ev.Event) -> None:
        self.version += 1
        handler = getattr(self, f"_on_{event.type}")
        handler(event)

    def _ticket(self, number: str, **changes: object) -> None:
        self.tickets[number] = replace(self.tickets[number], **changes)  # type: ignore[arg-type]

    def _counter(self, counter: str, **changes: object) -> None:
        self.counters[counter] = replace(self.counters[counter], **changes)  # type: ignore[arg-type]

    def _release(self, ticket: Ticket) -> None:
        counter = self.counters.get(ticket.counter or "")
        if counter is not None and counter.ticket == ticket.number:
            self._counter(counter.id, ticket=None)

    def _on_day_opened(self, event: ev.DayOpened) -> None:
        self.config = event.config
        self.counters = {c.id: CounterState(c.id) for c in event.config.counters}

    def _on_config_applied(self, event: ev.ConfigApplied) -> None:
        self.config = event.config
        self.counters = {
            c.id: self.counters.get(c.id, CounterState(c.id)) for c in event.config.counters
        }

    def _on_ticket_issued(self, event: ev.TicketIssued) -> None:
        seq = len(self.tickets) + 1
        # Behind everyone, including tickets already sent to the back (requeued,
        # delayed): ``order`` must not tie with theirs or overtake them.
        back_of_queue = max((t.order for t in self.tickets.values()), default=0.0) + 1
        self.last_numbers[event.number[0]] = int(event.number[1:])
        self.tickets[event.number] = Ticket(
            number=event.number,
            token=event.token,
            service=event.service,
            party_size=event.party_size,
            priority=event.priority,
            lang=event.lang,
            issued_at=event.at,
            seq=seq,
            order=back_of_queue,
        )
        self.tokens[event.token] = event.number
        if event.idempotency_key:
            self.idempotency[event.idempotency_key] = (event.number, event.fingerprint)

    def _on_ticket_admitted(self, event: ev.TicketAdmitted) -> None:
        self._ticket(event.number, status=Status.ADMITTED, admitted_at=event.at)

    def _on_entry_confirmed(self, event: ev.EntryConfirmed) -> None:
        self._ticket(event.number, entered=True)

    def _on_ticket_called(self, event: ev.TicketCalled) -> None:
        self._ticket(event.number, status=Status.CALLED, counter=event.counter, called_at=event.at)
        self._counter(event.counter, ticket=event.number)
        self.calls = ((event.number, event.counter, event.at), *self.calls)[:RECENT_CALLS]

    def _on_ticket_recalled(self, event: ev.TicketRecalled) -> None:
        self._ticket(event.number, called_at=event.at)
        self.calls = ((event.number, event.counter, event.at), *self.calls)[:RECENT_CALLS]

    def _on_service_started(self, event: ev.ServiceStarted) -> None:
        self._ticket(event.number, status=Status.SERVING, started_at=event.at)

    def _on_service_finished(self, event: ev.ServiceFinished) -> None:
        ticket = self.tickets[event.number]
        self._release(ticket)
        self._ticket(
            event.number,
            status=Status.DONE,
            started_at=ticket.started_at or event.at,
            finished_at=event.at,
        )

    def _on_ticket_no_show(self, event: ev.TicketNoShow) -> None:
        ticket = self.tickets[event.number]
        self._release(ticket)
        if event.requeued:
            back_of_queue = max(t.order for t in self.tickets.values()) + 1
            self._ticket(
                event.number,
                status=Status.WAITING,
                requeued=True,
                order=back_of_queue,
                admitted_at=None,
                entered=False,
                called_at=None,
            )
        else:
            self._ticket(event.number, status=Status.NO_SHOW, finished_at=event.at)

    def _on_ticket_cancelled(self, event: ev.TicketCancelled) -> None:
        self._release(self.tickets[event.number])
        self._ticket(event.number, status=Status.CANCELLED, finished_at=event.at)

    def _on_ticket_delayed(self, event: ev.TicketDelayed) -> None:
        self._ticket(event.number, order=event.order, delayed=True)

    def _on_ticket_transferred(self, event: ev.TicketTransferred) -> None:
        self._release(self.tickets[event.number])
        self._ticket(
            event.number,
            status=Status.ADMITTED,
            service=event.service,
            transferred=True,
            entered=True,  # met at a counter: inside, not to be let in or expired at the door
            called_at=None,
            started_at=None,
        )

    def _on_counter_changed(self, event: ev.CounterChanged) -> None:
        self._counter(event.counter, status=CounterStatus(event.status))

    def _on_occupancy_adjusted(self, event: ev.OccupancyAdjusted) -> None:
        self.adjustment += event.delta

    def _on_access_changed(self, event: ev.AccessChanged) -> None:
        """Nothing in the queue changes: the log keeps the record, the version counts it."""
