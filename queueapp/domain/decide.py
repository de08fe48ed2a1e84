"""decide(state, command, now) -> events: every rule of the branch in one place.

``decide`` never changes the state; it either refuses the command with a
:class:`~queueapp.domain.errors.DomainError` or returns the events that carry
it out, followed by the admissions the new state allows. An empty list means
the command is already done (a retry, a double click) and nothing changes.
"""

from __future__ import annotations

from datetime import datetime

from queueapp.domain import capacity
from queueapp.domain import commands as cmd
from queueapp.domain import events as ev
from queueapp.domain.config import BranchConfig, Counter
from queueapp.domain.errors import Conflict, Invalid, NotFound
from queueapp.domain.queueing import admissions, queue_order
from queueapp.domain.state import (
    FINAL,
    QUEUED,
    BranchState,
    CounterState,
    Status,
    Ticket,
    apply_all,
)

MAX_ADJUSTMENT = 50
MAX_REASON = 200
MAX_ACCESS_TEXT = 100
"""The longest id, label, kind or role an access record keeps (labels are at most 100)."""


def decide(state: BranchState, command: cmd.Command, now: datetime) -> list[ev.Event]:
    at = now.timestamp()
    if isinstance(command, cmd.OpenDay):
        return [] if state.config is not None else [ev.DayOpened(at=at, config=command.config)]
    primary = _decide(state, command, now)
    after = apply_all(state, primary)
    return [*primary, *admissions(after, now)]


def fingerprint(command: cmd.IssueTicket) -> str:
    """What a retry with the same Idempotency-Key must repeat exactly."""
    return f"{command.service}|{command.party_size}|{int(command.priority)}|{command.lang}"


def _decide(state: BranchState, command: cmd.Command, now: datetime) -> list[ev.Event]:
    at = now.timestamp()
    match command:
        case cmd.IssueTicket():
            return _issue(state, command, now)
        case cmd.CancelTicket(number, by_staff):
            return _cancel(state, _ticket(state, number), by_staff, at)
        case cmd.RequestDelay(number):
            return _delay(state, _ticket(state, number), at)
        case cmd.ConfirmEntry(number):
            return _confirm_entry(_ticket(state, number), at)
        case cmd.SetCounter(counter, status):
            return _set_counter(state, counter, status, at)
        case cmd.CallNext(counter):
            return _call_next(state, counter, at)
        case cmd.CounterAction(counter, action, number):
            return _counter_action(state, counter, action, number, at)
        case cmd.Transfer(counter, number, service):
            return _transfer(state, counter, number, service, at)
        case cmd.AdjustOccupancy(delta, reason):
            return _adjust(state, delta, reason, at)
        case cmd.ApplyConfig(config):
            return _apply_config(state, config, at)
        case cmd.RecordAccess():
            return [_record_access(command, at)]
        case cmd.Tick():
            return _expire(state, at)
    raise TypeError(f"not a command: {command!r}")


def _ticket(state: BranchState, number: str) -> Ticket:
    ticket = state.tickets.get(number)
    if ticket is None:
        raise NotFound("unknown_ticket", f"There is no ticket {number} today.")
    return ticket


def _counter(state: BranchState, counter_id: str) -> tuple[Counter, CounterState]:
    definition = state.require_config().counter(counter_id)
    if definition is None:
        raise NotFound("unknown_counter", f"There is no counter {counter_id}.")
    return definition, state.counters[counter_id]


def _issue(state: BranchState, command: cmd.IssueTicket, now: datetime) -> list[ev.Event]:
    config = state.require_config()
    key = command.idempotency_key
    if key is not None and key in state.idempotency:
        _, seen = state.idempotency[key]
        if seen != fingerprint(command):
            raise Invalid(
                "idempotency_key_reused",
                "This Idempotency-Key was used for a different ticket request.",
            )
        return []
    service = config.service(command.service)
    if service is None:
        raise Invalid("unknown_service", f"There is no service {command.service!r} here.")
    if not 1 <= command.party_size <= config.max_party_size:
        raise Invalid(
            "invalid_party_size",
            f"A party is 1 to {config.max_party_size} people.",
            max_party_size=config.max_party_size,
        )
    if command.lang not in config.languages:
        raise Invalid(
            "unsupported_language",
            f"This branch speaks {', '.join(config.languages)}.",
            languages=list(config.languages),
        )
    if service.suspended is not None:
        raise Conflict(
            "service_suspended",
            service.suspended.reason.get(command.lang)
            or next(iter(service.suspended.reason.values()), "This service is suspended."),
            online_url=service.suspended.online_url,
        )
    if not capacity.is_open(config, now):
        raise Conflict("branch_closed", "The branch is closed now.")
    issued = state.last_numbers.get(service.letter, 0)
    if service.daily_cap is not None and issued >= service.daily_cap:
        raise Conflict("daily_cap_reached", "No more tickets for this service today.")
    if command.token in state.tokens:
        raise Conflict("token_taken", "This ticket token is already in use.")
    return [
        ev.TicketIssued(
            at=now.timestamp(),
            number=f"{service.letter}{issued + 1:03d}",
            token=command.token,
            service=service.letter,
            party_size=command.party_size,
            priority=command.priority,
            lang=command.lang,
            idempotency_key=key,
            fingerprint=fingerprint(command),
        )
    ]


def _cancel(state: BranchState, ticket: Ticket, by_staff: bool, at: float) -> list[ev.Event]:
    if ticket.status is Status.CANCELLED:
        return []
    if ticket.status in FINAL:
        raise Conflict("ticket_finished", f"Ticket {ticket.number} is already {ticket.status}.")
    if ticket.status is Status.SERVING:
        raise Conflict("being_served", f"Ticket {ticket.number} is being served.")
    return [ev.TicketCancelled(at=at, number=ticket.number, by_staff=by_staff)]


def _delay(state: BranchState, ticket: Ticket, at: float) -> list[ev.Event]:
    """Move a waiting ticket ``delay_places`` back within its priority class, once."""
    config = state.require_config()
    if ticket.status is not Status.WAITING:
        raise Conflict("not_waiting", "Only a ticket still waiting outside can ask for more time.")
    if ticket.delayed:
        raise Conflict("already_delayed", "More time can be asked for once.")
    key = queue_order(config)
    mine = key(ticket)
    behind = sorted(
        (
            t
            for t in state.tickets.values()
            if t.status is Status.WAITING and key(t)[:2] == mine[:2] and key(t) > mine
        ),
        key=key,
    )
    places = min(config.grace.delay_places, len(behind))
    if places == 0:
        order = ticket.order
    elif places == len(behind):
        order = behind[-1].order + 1
    else:
        order = (behind[places - 1].order + behind[places].order) / 2
    return [ev.TicketDelayed(at=at, number=ticket.number, order=order)]


def _confirm_entry(ticket: Ticket, at: float) -> list[ev.Event]:
    if ticket.entered:
        return []
    if ticket.status is not Status.ADMITTED:
        raise Conflict("not_admitted", f"Ticket {ticket.number} is {ticket.status}, not admitted.")
    return [ev.EntryConfirmed(at=at, number=ticket.number)]


def _set_counter(state: BranchState, counter_id: str, status: str, at: float) -> list[ev.Event]:
    _, counter = _counter(state, counter_id)
    if status not in ("open", "paused", "closed"):
        raise Invalid("invalid_status", "A counter is open, paused or closed.")
    if counter.status == status:
        return []
    if status == "closed" and counter.ticket is not None:
        raise Conflict(
            "counter_busy",
            f"Finish ticket {counter.ticket} before closing.",
            ticket=counter.ticket,
        )
    return [ev.CounterChanged(at=at, counter=counter_id, status=status)]


def _call_next(state: BranchState, counter_id: str, at: float) -> list[ev.Event]:
    definition, counter = _counter(state, counter_id)
    if counter.status != "open":
        raise Conflict("counter_not_open", f"Counter {counter_id} is {counter.status}.")
    if counter.ticket is not None:
        raise Conflict(
            "counter_busy",
            f"Counter {counter_id} still has ticket {counter.ticket}.",
            ticket=counter.ticket,
        )
    ready = [
        t
        for t in state.tickets.values()
        if t.status is Status.ADMITTED and t.service in definition.services
    ]
    if not ready:
        raise Conflict("nobody_to_call", "Nobody inside is waiting for this counter.")
    first = min(ready, key=queue_order(state.require_config()))
    return [ev.TicketCalled(at=at, number=first.number, counter=counter_id)]


def _counter_action(
    state: BranchState, counter_id: str, action: str, number: str, at: float
) -> list[ev.Event]:
    _, counter = _counter(state, counter_id)
    ticket = _ticket(state, number)
    if counter.ticket != number:
        if _already_done(action, ticket, counter_id):
            return []
        raise Conflict(
            "unexpected_ticket",
            f"Counter {counter_id} holds {counter.ticket or 'no ticket'}, not {number}.",
            current=counter.ticket,
        )
    serving = ticket.status is Status.SERVING
    match action:
        case "recall" if not serving:
            return [ev.TicketRecalled(at=at, number=number, counter=counter_id)]
        case "start":
            return [] if serving else [ev.ServiceStarted(at=at, number=number, counter=counter_id)]
        case "done":
            return [ev.ServiceFinished(at=at, number=number, counter=counter_id)]
        case "no-show" if not serving:
            return [_no_show(state, ticket, at)]
        case "recall" | "no-show":
            raise Conflict("being_served", f"Ticket {number} is already being served.")
    raise Invalid("invalid_action", f"Unknown counter action {action!r}.")


def _already_done(action: str, ticket: Ticket, counter_id: str) -> bool:
    """Whether a repeated command finds its own effect: then it does nothing, without error."""
    if ticket.counter != counter_id:
        return False
    if action == "done":
        return ticket.status is Status.DONE
    if action == "no-show":
        return ticket.status is Status.NO_SHOW or (ticket.requeued and ticket.status in QUEUED)
    return False


def _no_show(state: BranchState, ticket: Ticket, at: float) -> ev.TicketNoShow:
    policy = state.require_config().grace.requeue_no_show_once
    return ev.TicketNoShow(at=at, number=ticket.number, requeued=policy and not ticket.requeued)


def _transfer(
    state: BranchState, counter_id: str, number: str, service: str, at: float
) -> list[ev.Event]:
    _, counter = _counter(state, counter_id)
    ticket = _ticket(state, number)
    if state.require_config().service(service) is None:
        raise Invalid("unknown_service", f"There is no service {service!r} here.")
    if counter.ticket != number:
        if ticket.transferred and ticket.service == service and ticket.counter == counter_id:
            return []
        raise Conflict(
            "unexpected_ticket",
            f"Counter {counter_id} holds {counter.ticket or 'no ticket'}, not {number}.",
            current=counter.ticket,
        )
    if ticket.service == service:
        raise Invalid("same_service", f"Ticket {number} is already for service {service}.")
    return [ev.TicketTransferred(at=at, number=number, counter=counter_id, service=service)]


def _adjust(state: BranchState, delta: int, reason: str, at: float) -> list[ev.Event]:
    if delta == 0 or abs(delta) > MAX_ADJUSTMENT:
        raise Invalid(
            "invalid_delta",
            f"delta is a whole number from -{MAX_ADJUSTMENT} to {MAX_ADJUSTMENT}, not 0.",
        )
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise Invalid("invalid_reason", f"Give a reason of at most {MAX_REASON} characters.")
    if state.adjustment + delta < 0:
        raise Conflict(
            "adjustment_below_zero",
            f"Only {state.adjustment} people without a ticket are counted inside.",
        )
    return [ev.OccupancyAdjusted(at=at, delta=delta, reason=reason)]


def _record_access(command: cmd.RecordAccess, at: float) -> ev.AccessChanged:
    """The record of an access change, once it names a known change of a known subject."""
    if command.action not in cmd.ACCESS_ACTIONS.get(command.subject, ()):
        raise Invalid("invalid_access_change", f"A {command.subject} cannot be {command.action}.")
    texts = (command.id, command.label, command.kind, command.role, *command.branches)
    if not command.id or any(len(text) > MAX_ACCESS_TEXT for text in texts):
        raise Invalid("invalid_access_change", "An access change names its subject briefly.")
    return ev.AccessChanged(
        at=at,
        subject=command.subject,
        action=command.action,
        id=command.id,
        label=command.label,
        kind=command.kind,
        role=command.role,
        branches=command.branches,
    )


def _apply_config(state: BranchState, config: BranchConfig, at: float) -> list[ev.Event]:
    current = state.require_config()
    if config.id != state.branch:
        raise Invalid("wrong_branch", f"This configuration is for {config.id}, not {state.branch}.")
    if config == current:
        return []
    for counter in state.counters.values():
        if counter.ticket is not None and config.counter(counter.id) is None:
            raise Conflict(
                "counter_in_use", f"Counter {counter.id} still has ticket {counter.ticket}."
            )
    letters = {s.letter for s in config.services}
    for ticket in state.tickets.values():
        if ticket.status not in FINAL and ticket.service not in letters:
            raise Conflict(
                "service_in_use",
                f"Ticket {ticket.number} still waits for service {ticket.service}.",
            )
    return [ev.ConfigApplied(at=at, config=config)]


def _expire(state: BranchState, at: float) -> list[ev.Event]:
    """No-shows for visitors who let their grace time run out."""
    config = state.require_config()
    grace = config.grace
    expired: list[ev.Event] = []
    for ticket in state.tickets.values():
        called_late = (
            ticket.status is Status.CALLED
            and ticket.called_at is not None
            and at - ticket.called_at >= grace.call_seconds
        )
        entered_late = (
            config.door_confirmation
            and ticket.status is Status.ADMITTED
            and not ticket.entered
            and ticket.admitted_at is not None
            and at - ticket.admitted_at >= grace.enter_seconds
        )
        if called_late or entered_late:
            expired.append(_no_show(state, ticket, at))
    return expired
