"""Who goes first: queue order, automatic admission, positions and estimated waits.

Order is priority first (a visitor's priority need, then the service's
priority), then issue time. A visitor who asked for more time, or who returns
after a missed call, keeps a class but gets a later ``order``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from queueapp.domain import capacity
from queueapp.domain.config import BranchConfig
from queueapp.domain.events import TicketAdmitted
from queueapp.domain.state import QUEUED, BranchState, CounterState, Status, Ticket

QueueKey = tuple[int, int, float, int]


def queue_order(config: BranchConfig) -> Callable[[Ticket], QueueKey]:
    """The sort key of queue order under ``config``, made once for a whole sort.

    Every admission sorts everyone waiting, so the key is a single function
    over one table of service priorities rather than a chain of lookups.
    """
    priorities = config.priorities

    def key(ticket: Ticket) -> QueueKey:
        return (
            0 if ticket.priority else 1,
            -priorities.get(ticket.service, 0),
            ticket.order,
            ticket.seq,
        )

    return key


def in_order(config: BranchConfig, tickets: Iterable[Ticket]) -> list[Ticket]:
    return sorted(tickets, key=queue_order(config))


def served_letters(counters: Iterable[CounterState], config: BranchConfig) -> set[str]:
    return {letter for counter in counters for letter in config.services_of(counter.id)}


def current_limit(state: BranchState, now: datetime) -> int:
    return capacity.limit(state.require_config(), len(state.open_counters), now)


def admissions(state: BranchState, now: datetime) -> list[TicketAdmitted]:
    """Admit waiting visitors while there is room, feeding idle counters first.

    Only visitors whose service an open counter serves are admitted: a place
    given to someone nobody can serve is a place taken from someone who could
    be served. A first pass gives each open counter with nobody to call the
    first visitor it could serve, so that a room full of one service's
    visitors does not leave another counter idle; a second pass fills the rest
    of the room in queue order. A party that does not fit is passed over, not
    blocking the smaller parties behind it, until it has waited the branch's
    ``reserve_after_minutes``: then nobody behind it is let in until it fits,
    so that the room it needs can gather (see :func:`_reserved_for`).
    """
    config = state.require_config()
    if config.capacity.hold:
        return []
    limit = current_limit(state, now)
    inside = state.inside
    if inside >= limit:
        return []
    open_counters = state.open_counters
    servable = served_letters(open_counters, config)
    candidates = in_order(
        config,
        (t for t in state.tickets.values() if t.status is Status.WAITING and t.service in servable),
    )
    reserved = _reserved_for(config, candidates, limit - inside, limit, now)
    if reserved is not None:
        del candidates[candidates.index(reserved) + 1 :]
    ready = {t.service for t in state.tickets.values() if t.status is Status.ADMITTED}
    chosen: list[Ticket] = []

    def admit(ticket: Ticket) -> None:
        nonlocal inside
        inside += ticket.party_size
        chosen.append(ticket)
        candidates.remove(ticket)
        ready.add(ticket.service)

    for counter in open_counters:
        letters = config.services_of(counter.id)
        if counter.ticket is not None or ready.intersection(letters):
            continue
        first = next(
            (t for t in candidates if t.service in letters and inside + t.party_size <= limit),
            None,
        )
        if first is not None:
            admit(first)
    for ticket in list(candidates):
        if inside >= limit:
            break
        if inside + ticket.party_size <= limit:
            admit(ticket)
    admitted = []
    running = state.inside
    for ticket in chosen:
        running += ticket.party_size
        admitted.append(
            TicketAdmitted(at=now.timestamp(), number=ticket.number, inside=running, limit=limit)
        )
    return admitted


def _reserved_for(
    config: BranchConfig, candidates: list[Ticket], room: int, limit: int, now: datetime
) -> Ticket | None:
    """The first party, in queue order, that the room is kept for, if any.

    It is one that is passed over: once everyone fitting ahead of it is in,
    some room is left, but not enough for it. It has waited
    ``reserve_after_minutes`` since it took its ticket, and the limit could
    ever hold it (a party larger than the limit would block everyone for
    nothing, so it stays passed over). Once the room is full nobody is passed
    over, and idle counters are fed as usual.
    """
    minutes = config.capacity.reserve_after_minutes
    if minutes is None:
        return None
    due = now.timestamp() - minutes * 60
    for ticket in candidates:
        if room <= 0:
            return None
        if ticket.party_size <= room:
            room -= ticket.party_size
        elif ticket.issued_at <= due and ticket.party_size <= limit:
            return ticket
    return None


def _call_order(config: BranchConfig) -> Callable[[Ticket], tuple[bool, QueueKey]]:
    """Those inside are called before those outside; within each, queue order."""
    key = queue_order(config)
    return lambda ticket: (ticket.status is Status.WAITING, key(ticket))


def ahead_of(state: BranchState, ticket: Ticket) -> int:
    """How many of its service will be called before this one ticket (no sorting needed)."""
    order = _call_order(state.require_config())
    mine = order(ticket)
    return sum(
        1
        for other in state.tickets.values()
        if other.service == ticket.service and other.status in QUEUED and order(other) < mine
    )


def people_ahead(state: BranchState) -> dict[str, int]:
    """For every queued ticket, how many of its service will be called before it.

    Those inside come before those outside; within each, queue order. One
    pass for all tickets, because every change moves everyone behind it.
    """
    order = _call_order(state.require_config())
    by_service: dict[str, list[Ticket]] = {}
    for ticket in state.tickets.values():
        if ticket.status in QUEUED:
            by_service.setdefault(ticket.service, []).append(ticket)
    ahead: dict[str, int] = {}
    for tickets in by_service.values():
        tickets.sort(key=order)
        for place, ticket in enumerate(tickets):
            ahead[ticket.number] = place
    return ahead


DEFAULT_MINUTES_PER_VISIT = 6.0
"""For a ticket of a service the configuration no longer has."""


@dataclass(frozen=True, slots=True)
class Pace:
    """How fast each service's queue moves now: minutes a visit takes, and counters serving it.

    Worked out in one pass over the day's tickets for every service at once:
    a snapshot needs it for each service, and a branch's phones each need it
    on every change, so reading the day once per figure would cost a pass
    per service and per phone.
    """

    minutes: dict[str, float]
    """Today's mean visit length once three visits are done, else the configured guess."""
    servers: dict[str, int]
    """Open counters that serve each service; a service missing here has none."""

    def served(self, service: str) -> bool:
        return self.servers.get(service, 0) > 0

    def wait_minutes(self, service: str, ahead: int) -> int | None:
        """Minutes until someone with ``ahead`` people before them is called; None if
        nobody serves the service now (nobody can say how long until a counter opens)."""
        servers = self.servers.get(service, 0)
        if servers == 0:
            return None
        minutes = self.minutes.get(service, DEFAULT_MINUTES_PER_VISIT)
        return math.ceil(ahead * minutes / servers)


def pace(state: BranchState) -> Pace:
    config = state.require_config()
    durations: dict[str, list[float]] = {}
    for t in state.tickets.values():
        if t.status is Status.DONE and t.started_at and t.finished_at:
            durations.setdefault(t.service, []).append(t.finished_at - t.started_at)
    minutes = {}
    for service in config.services:
        done = durations.get(service.letter, [])
        measured = len(done) >= 3
        minutes[service.letter] = (
            max(0.5, sum(done) / len(done) / 60) if measured else service.minutes_per_visit
        )
    servers: dict[str, int] = {}
    for counter in state.open_counters:
        for letter in set(config.services_of(counter.id)):
            servers[letter] = servers.get(letter, 0) + 1
    return Pace(minutes, servers)
