"""The invariants (README, "What always holds"), checked on a branch-day's log as stored.

The checker reads the log straight from the store, rebuilds every event with
``from_dict`` and folds it with the product's own ``apply``, looking at the
state before and after each event:

1. at every ``TicketAdmitted``, inside (after folding it) is at most the
   event's recorded limit and at most the limit recomputed from the state at
   that moment, and the recorded ``inside`` is what the replay says;
2. at every step no ticket is at two counters and no counter has two active
   tickets (a call to a busy counter, or of a ticket already at a counter, is
   caught when it happens, since the fold would quietly overwrite it);
3. ticket numbers and tokens are unique per branch and day, and every ticket
   a client saw acknowledged is in the log, with its token and with each
   status the client was told it had.

Violations come back as readable sentences, so a test asserts ``== []`` and
pytest prints them when it fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from queueapp.domain import events as ev
from queueapp.domain.queueing import current_limit
from queueapp.domain.state import BranchState, Status, apply
from queueapp.store import StoredEvent, Stream, open_store

AT_COUNTER = frozenset({Status.CALLED, Status.SERVING})

NEXT_STATUSES: dict[str, frozenset[str]] = {
    "waiting": frozenset({"admitted", "cancelled"}),
    # admitted -> waiting: a missed entry at the door, put back in the queue once
    "admitted": frozenset({"called", "cancelled", "no_show", "waiting"}),
    # called -> admitted: a transfer; called -> waiting: a no-show put back once
    "called": frozenset({"serving", "done", "cancelled", "no_show", "waiting", "admitted"}),
    "serving": frozenset({"done", "admitted"}),
    "done": frozenset(),
    "cancelled": frozenset(),
    "no_show": frozenset(),
}
"""The ticket lifecycle (README, "How it works"): each status and where a ticket may go next."""


def can_become(earlier: str, later: str) -> bool:
    """Whether a ticket once ``earlier`` may now be ``later`` (at least as far along)."""
    seen = {earlier}
    frontier = [earlier]
    while frontier:
        for following in NEXT_STATUSES[frontier.pop()]:
            if following not in seen:
                seen.add(following)
                frontier.append(following)
    return later in seen


@dataclass(frozen=True, slots=True)
class Ack:
    """What a server acknowledged about a ticket.

    ``statuses``: the ticket had one of these right after the acknowledged
    request (usually exactly one, as the response reported it; empty when
    only the ticket's existence was acknowledged).
    """

    day: str
    number: str
    statuses: frozenset[str] = frozenset()
    token: str | None = None


async def read_log(store_url: str, branch: str, day: str) -> list[StoredEvent]:
    store = await open_store(store_url)
    try:
        return await store.read(Stream(branch, day))
    finally:
        await store.close()


async def check_store(store_url: str, branch: str, acks: Iterable[Ack]) -> list[str]:
    """Check the log of every day the acknowledgements name (at least one ack is needed)."""
    by_day: dict[str, list[Ack]] = {}
    for ack in acks:
        by_day.setdefault(ack.day, []).append(ack)
    if not by_day:
        return ["nothing was acknowledged, so there is nothing to check"]
    violations = []
    for day, day_acks in sorted(by_day.items()):
        records = await read_log(store_url, branch, day)
        violations += [f"{branch}/{day} {v}" for v in check_log(branch, day, records, day_acks)]
    return violations


def check_log(
    branch: str, day: str, records: Sequence[StoredEvent], acks: Iterable[Ack] = ()
) -> list[str]:
    replay = _Replay(branch, day)
    for record in records:
        replay.step(record)
        if replay.broken:
            break
    if not replay.broken:
        replay.check_acks(acks)
    return replay.violations


class _Replay:
    def __init__(self, branch: str, day: str) -> None:
        self.state = BranchState(branch, day)
        self.histories: dict[str, list[str]] = {}
        self.violations: list[str] = []
        self._reported: set[str] = set()
        self.broken = False

    def report(self, version: int, subject: str, message: str) -> None:
        """Report each problem once (where it starts), not again at every later step."""
        if subject not in self._reported:
            self._reported.add(subject)
            self.violations.append(f"v{version}: {message}")

    def step(self, record: StoredEvent) -> None:
        version = record.version
        if version != self.state.version + 1:
            self.report(version, "gap", f"expected version {self.state.version + 1} next")
        try:
            event = ev.from_dict(record.data)
        except Exception as exc:  # an unreadable event is a finding, not a crash
            self.report(version, f"bad {version}", f"unreadable event {record.data!r}: {exc!r}")
            return
        if self.state.config is None and not isinstance(event, ev.DayOpened):
            self.report(version, "unopened", f"{event.type} before the day was opened")
            self.broken = True
            return
        self._before(version, event)
        try:
            self.state = apply(self.state, event)
        except (KeyError, ValueError) as exc:
            self.report(version, "fold", f"{event.type} cannot be folded: {exc!r}")
            self.broken = True
            return
        self._after(version, event)

    def _before(self, version: int, event: ev.Event) -> None:
        state = self.state
        match event:
            case ev.TicketIssued(number=number, token=token):
                if number in state.tickets:
                    self.report(version, f"number {number}", f"ticket number {number} issued twice")
                if token in state.tokens:
                    self.report(version, f"token {token}", f"token of {number} issued twice")
            case ev.TicketCalled(number=number, counter=counter):
                ticket = state.tickets.get(number)
                if ticket is not None and ticket.status in AT_COUNTER:
                    self.report(
                        version,
                        f"twice {number}",
                        f"{number} called to counter {counter} while {ticket.status}"
                        f" at counter {ticket.counter}",
                    )
                holding = state.counters[counter].ticket if counter in state.counters else None
                if holding is not None:
                    self.report(
                        version,
                        f"busy {counter}",
                        f"counter {counter} called {number} while it still had {holding}",
                    )

    def _after(self, version: int, event: ev.Event) -> None:
        state = self.state
        number = getattr(event, "number", None)
        if isinstance(number, str) and number in state.tickets:
            history = self.histories.setdefault(number, [])
            status = state.tickets[number].status.value
            if not history or history[-1] != status:
                history.append(status)
        if isinstance(event, ev.TicketAdmitted):
            self._admission(version, event)
        self._counters(version)

    def _admission(self, version: int, event: ev.TicketAdmitted) -> None:
        state = self.state
        config = state.require_config()
        inside = state.inside
        recomputed = current_limit(state, datetime.fromtimestamp(event.at, UTC))
        where = f"admitting {event.number}"
        if config.capacity.hold:
            self.report(version, f"hold {version}", f"{where} while admissions were on hold")
        if inside > event.limit:
            self.report(
                version,
                f"limit {version}",
                f"{where} took inside to {inside} > limit {event.limit}",
            )
        if inside > recomputed:
            self.report(
                version,
                f"recomputed {version}",
                f"{where} took inside to {inside} > the limit {recomputed} of that moment",
            )
        if event.inside != inside:
            self.report(
                version,
                f"recorded {version}",
                f"{where} recorded inside {event.inside}, the replay says {inside}",
            )

    def _counters(self, version: int) -> None:
        state = self.state
        at_counter: dict[str, list[str]] = {}
        for ticket in state.tickets.values():
            if ticket.status in AT_COUNTER:
                at_counter.setdefault(ticket.counter or "?", []).append(ticket.number)
                held = state.counters.get(ticket.counter or "")
                if held is None or held.ticket != ticket.number:
                    self.report(
                        version,
                        f"stray {ticket.number}",
                        f"{ticket.number} is {ticket.status} at counter {ticket.counter},"
                        f" which holds {(held and held.ticket) or 'nothing'}",
                    )
        for counter, numbers in at_counter.items():
            if len(numbers) > 1:
                self.report(
                    version,
                    f"crowded {counter}",
                    f"counter {counter} has {len(numbers)} active tickets: {sorted(numbers)}",
                )
        holders: dict[str, list[str]] = {}
        for counter_state in state.counters.values():
            if counter_state.ticket is not None:
                holders.setdefault(counter_state.ticket, []).append(counter_state.id)
                holding = state.tickets.get(counter_state.ticket)
                if holding is None or holding.status not in AT_COUNTER:
                    self.report(
                        version,
                        f"holds {counter_state.id}:{counter_state.ticket}",
                        f"counter {counter_state.id} holds {counter_state.ticket},"
                        f" which is {holding.status if holding else 'unknown'}",
                    )
        for number, counters in holders.items():
            if len(counters) > 1:
                self.report(
                    version, f"split {number}", f"{number} is at counters {sorted(counters)}"
                )

    def check_acks(self, acks: Iterable[Ack]) -> None:
        state = self.state
        end = state.version
        for ack in acks:
            ticket = state.tickets.get(ack.number)
            if ticket is None:
                self.report(
                    end, f"lost {ack.number}", f"acknowledged {ack.number} is not in the log"
                )
                continue
            if ack.token is not None and state.tokens.get(ack.token) != ack.number:
                self.report(
                    end,
                    f"token of {ack.number}",
                    f"acknowledged token of {ack.number} belongs to"
                    f" {state.tokens.get(ack.token, 'no ticket')} in the log",
                )
            history = self.histories.get(ack.number, [])
            if ack.statuses and not ack.statuses.intersection(history):
                seen = "/".join(sorted(ack.statuses))
                self.report(
                    end,
                    f"status {ack.number} {seen}",
                    f"{ack.number} was acknowledged as {seen}, but the log only shows {history}",
                )
