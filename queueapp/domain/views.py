"""What screens are shown: the branch snapshot and one visitor's ticket.

The branch snapshot is public (wall displays, the directory) and so never
carries a ticket token; a ticket view is for its own visitor only. Both are
plain JSON-ready dicts built from the state and the clock.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from queueapp.domain import capacity
from queueapp.domain.config import Suspension
from queueapp.domain.events import AccessChanged
from queueapp.domain.queueing import Pace, ahead_of, current_limit, pace
from queueapp.domain.state import INSIDE, QUEUED, BranchState, Status, Ticket


def branch_snapshot(
    state: BranchState, now: datetime, moving: Pace | None = None
) -> dict[str, Any]:
    """Built on every change for every display, so the day's tickets are read once, not
    once per service and figure.

    A service no open counter serves says so (``served: false``) and has no estimated
    wait: nobody can know how long until a counter opens, and "no wait" would send
    people to a door where nobody will call them. ``moving`` is :func:`pace` of the
    state, when the caller has it already (the hub, for the same state's ticket views).
    """
    config = state.require_config()
    limit = current_limit(state, now)
    if moving is None:
        moving = pace(state)
    inside = state.inside
    tickets = state.tickets.values()
    counts = Counter((t.service, t.status) for t in tickets)
    return {
        "branch": state.branch,
        "day": state.day,
        "version": state.version,
        "name": config.name,
        "open_now": capacity.is_open(config, now),
        "inside": inside,
        "limit": limit,
        "hold": config.capacity.hold,
        "go": inside < limit and not config.capacity.hold,
        "counters": [
            {
                "id": counter.id,
                "name": counter.name or counter.id,
                "services": list(counter.services),
                "status": state.counters[counter.id].status.value,
                "ticket": state.counters[counter.id].ticket,
            }
            for counter in config.counters
        ],
        "services": [
            {
                "letter": service.letter,
                "names": service.names,
                "waiting": counts[service.letter, Status.WAITING],
                "inside": counts[service.letter, Status.ADMITTED],
                "estimated_wait_minutes": moving.wait_minutes(
                    service.letter, sum(counts[service.letter, status] for status in QUEUED)
                ),
                "served": moving.served(service.letter),
                "suspended": _suspension(service.suspended),
            }
            for service in config.services
        ],
        "calling": [
            {"number": number, "counter": counter, "at": at} for number, counter, at in state.calls
        ],
        "may_enter": sorted(
            t.number for t in tickets if t.status is Status.ADMITTED and not t.entered
        ),
        "inside_tickets": sum(n for (_, status), n in counts.items() if status in INSIDE),
    }


def branch_summary(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A branch in a list of branches (the directory, ``GET /api/v1/branches``), from its snapshot.

    The wait is the longest among the services an open counter serves. With no such
    service there is no figure to give (``None``, ``served: false``) rather than a
    zero that would read as "no wait" at a branch where nobody is serving.
    """
    services = snapshot["services"]
    estimates = [s["estimated_wait_minutes"] for s in services if s["served"]]
    return {
        "open_now": snapshot["open_now"],
        "waiting": sum(s["waiting"] for s in services),
        "estimated_wait_minutes": max(estimates, default=None),
        "served": bool(estimates),
    }


def ticket_view(
    state: BranchState,
    ticket: Ticket,
    ahead: dict[str, int] | None = None,
    moving: Pace | None = None,
) -> dict[str, Any]:
    """Only what concerns this visitor: their status, place, wait and counter.

    ``ahead`` (:func:`people_ahead`) and ``moving`` (:func:`pace`) of the state are
    given by a caller that builds many views of one state at once.
    """
    config = state.require_config()
    service = config.service(ticket.service)
    queued = ticket.status in QUEUED
    if not queued:
        before = 0
    elif ahead is None:
        before = ahead_of(state, ticket)
    else:
        before = ahead[ticket.number]
    if moving is None:
        moving = pace(state)
    return {
        "number": ticket.number,
        "branch": state.branch,
        "day": state.day,
        "version": state.version,
        "service": ticket.service,
        "service_name": service.name(ticket.lang) if service else ticket.service,
        "party_size": ticket.party_size,
        "priority": ticket.priority,
        "lang": ticket.lang,
        "status": ticket.status.value,
        "issued_at": ticket.issued_at,
        "position": before + 1 if queued else None,
        "estimated_wait_minutes": moving.wait_minutes(ticket.service, before) if queued else None,
        "served": moving.served(ticket.service),
        "counter": ticket.counter if ticket.status in (Status.CALLED, Status.SERVING) else None,
        "grace_deadline": _grace_deadline(state, ticket),
        "can_delay": ticket.status is Status.WAITING and not ticket.delayed,
        "can_cancel": ticket.status in (Status.WAITING, Status.ADMITTED, Status.CALLED),
    }


def _grace_deadline(state: BranchState, ticket: Ticket) -> float | None:
    grace = state.require_config().grace
    if ticket.status is Status.CALLED and ticket.called_at is not None:
        return ticket.called_at + grace.call_seconds
    if ticket.status is Status.ADMITTED and ticket.admitted_at is not None and not ticket.entered:
        return ticket.admitted_at + grace.enter_seconds
    return None


def _suspension(suspended: Suspension | None) -> dict[str, Any] | None:
    if suspended is None:
        return None
    return {"reason": suspended.reason, "online_url": suspended.online_url}


def ticket_summary(ticket: Ticket) -> dict[str, Any]:
    """A ticket as staff see it: everything but the visitor's token."""
    return {
        "number": ticket.number,
        "service": ticket.service,
        "status": ticket.status.value,
        "party_size": ticket.party_size,
        "priority": ticket.priority,
        "counter": ticket.counter,
        "issued_at": ticket.issued_at,
        "admitted_at": ticket.admitted_at,
        "called_at": ticket.called_at,
        "started_at": ticket.started_at,
        "finished_at": ticket.finished_at,
    }


_PRIVATE_FIELDS = ("token", "idempotency_key", "fingerprint", "config", "by")


def public_event(data: dict[str, Any]) -> dict[str, Any]:
    """An event as displays may see it: no visitor's token, no configuration body.

    Of an access change only that one happened, and when: it keeps its place
    in the feed's numbering, but who changed which token, screen or account
    is for managers.
    """
    if data.get("type") == AccessChanged.type:
        return {"type": data["type"], "at": data["at"]}
    return {key: value for key, value in data.items() if key not in _PRIVATE_FIELDS}
