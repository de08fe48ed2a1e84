"""What the consoles read besides the commands: a counter's queue, the audit trail, and
a preview of the limit a capacity rule gives.

The branch feed is public, so it names tickets but never says how long each
has waited or who did what; staff and managers read that here. A console
follows the feed and reads again when the feed says something changed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, StrictInt
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from queueapp.domain import capacity
from queueapp.domain.config import BranchConfig, CapacityRule, dump_config, parse_config
from queueapp.domain.queueing import in_order, people_ahead
from queueapp.domain.state import QUEUED, BranchState, Status, Ticket
from queueapp.domain.views import ticket_summary
from queueapp.service.branches import BranchService
from queueapp.store import Stream
from queueapp.web.auth import require
from queueapp.web.bodies import read_model
from queueapp.web.errors import ApiError

AUDIT_LIMIT = 200
MAX_AUDIT_LIMIT = 1000
MAX_PREVIEW_COUNTERS = 100

_HIDDEN = frozenset({"token", "idempotency_key", "fingerprint", "config"})
"""Never in the audit trail: visitors' credentials and whole configuration bodies."""


class PreviewBody(BaseModel):
    capacity: dict[str, Any]
    open_counters: StrictInt | None = Field(default=None, ge=0, le=MAX_PREVIEW_COUNTERS)


def _service(request: Request) -> BranchService:
    return request.app.state.branches  # type: ignore[no-any-return]


# The queue ---------------------------------------------------------------------


async def get_queue(request: Request) -> JSONResponse:
    """Tickets not yet called, in the order counters will call them: those inside first.

    With ``?counter=ID``, only the services that counter serves, and what the
    counter holds now (with the moment its visitor's grace time runs out).
    """
    branch = request.path_params["branch"]
    await require(request, "staff", branch)
    service = _service(request)
    state = await service.state(branch)
    config = state.require_config()
    now = service.clock().timestamp()
    counter_id = request.query_params.get("counter")
    letters: set[str] | None = None
    counter_view: dict[str, Any] | None = None
    current: dict[str, Any] | None = None
    if counter_id is not None:
        definition = config.counter(counter_id)
        if definition is None:
            raise ApiError(404, "unknown_counter", f"There is no counter {counter_id!r}.")
        letters = set(definition.services)
        held = state.counters[counter_id]
        counter_view = {
            "id": definition.id,
            "name": definition.name or definition.id,
            "services": list(definition.services),
            "status": held.status.value,
            "ticket": held.ticket,
        }
        if held.ticket is not None:
            current = _current(state, state.tickets[held.ticket])
    queued = [
        t
        for t in state.tickets.values()
        if t.status in QUEUED and (letters is None or t.service in letters)
    ]
    in_queue_order = in_order(config, queued)
    ordered = [t for t in in_queue_order if t.status is Status.ADMITTED] + [
        t for t in in_queue_order if t.status is Status.WAITING
    ]
    ahead = people_ahead(state)
    return JSONResponse(
        {
            "branch": branch,
            "day": state.day,
            "version": state.version,
            "now": now,
            "counter": counter_view,
            "current": current,
            "tickets": [_queued(t, ahead) for t in ordered],
            "inside": sum(1 for t in ordered if t.status is Status.ADMITTED),
            "outside": sum(1 for t in ordered if t.status is Status.WAITING),
            "longest_wait_seconds": max((now - t.issued_at for t in ordered), default=0),
        }
    )


def _queued(ticket: Ticket, ahead: dict[str, int]) -> dict[str, Any]:
    return {
        **ticket_summary(ticket),
        "entered": ticket.entered,
        "requeued": ticket.requeued,
        "delayed": ticket.delayed,
        "transferred": ticket.transferred,
        "ahead": ahead.get(ticket.number, 0),
    }


def _current(state: BranchState, ticket: Ticket) -> dict[str, Any]:
    grace = state.require_config().grace
    deadline = None
    if ticket.status is Status.CALLED and ticket.called_at is not None:
        deadline = ticket.called_at + grace.call_seconds
    return {
        **ticket_summary(ticket),
        "transferred": ticket.transferred,
        "requeued": ticket.requeued,
        "grace_deadline": deadline,
    }


# The audit trail ---------------------------------------------------------------


async def get_audit(request: Request) -> JSONResponse:
    """A day's events, newest first, with who caused each (``by``) and when (``at``).

    A configuration change says which sections it changed instead of carrying
    the whole configuration. Changes to the branch's tokens, paired screens
    and accounts are among them (``access_changed``, see
    :mod:`queueapp.service.access_changes`), naming their subject, never a secret.
    """
    branch = request.path_params["branch"]
    await require(request, "manager", branch)
    service = _service(request)
    config = await service.config(branch)
    today = (await service.state(branch)).day
    day = request.query_params.get("day", today)
    try:
        day = date.fromisoformat(day).isoformat()
    except ValueError:
        raise ApiError(422, "invalid_date", "'day' is a date like 2026-11-23.") from None
    limit = _limit(request.query_params.get("limit"))
    stored = await service.store.read(Stream(branch, day))
    entries: list[dict[str, Any]] = []
    previous: dict[str, Any] | None = None
    for event in stored:
        data = event.data
        entry = {key: value for key, value in data.items() if key not in _HIDDEN}
        entry["version"] = event.version
        entry.setdefault("by", None)
        document = data.get("config")
        if isinstance(document, dict):
            entry["revision"] = document.get("revision")
            if previous is not None:
                entry["changed"] = sorted(
                    key
                    for key in set(document) | set(previous)
                    if key != "revision" and document.get(key) != previous.get(key)
                )
            previous = document
        entries.append(entry)
    entries.reverse()
    return JSONResponse(
        {
            "branch": branch,
            "day": day,
            "timezone": config.timezone,
            "total": len(entries),
            "events": entries[:limit],
        }
    )


def _limit(raw: str | None) -> int:
    if raw is None:
        return AUDIT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_AUDIT_LIMIT:
        raise ApiError(422, "invalid_limit", f"'limit' is a number from 1 to {MAX_AUDIT_LIMIT}.")
    return int(raw)


# The capacity preview ----------------------------------------------------------


async def preview_capacity(request: Request) -> JSONResponse:
    """The limits a capacity section would give, computed by the engine's own rule, unsaved.

    The body is ``{"capacity": {...}, "open_counters": N}`` (the counters open
    now if left out); a capacity that does not validate is refused with its
    ``problems``, named as in the whole configuration (``capacity.default...``).
    """
    branch = request.path_params["branch"]
    await require(request, "manager", branch)
    body = await read_model(request, PreviewBody)
    service = _service(request)
    saved = await service.config(branch)
    config = parse_config({**dump_config(saved), "capacity": body.capacity, "revision": 0})
    state = await service.state(branch)
    now = service.clock()
    open_counters = len(state.open_counters) if body.open_counters is None else body.open_counters
    return JSONResponse(_preview(config, open_counters, now))


def _preview(config: BranchConfig, open_counters: int, now: datetime) -> dict[str, Any]:
    rules = config.capacity
    in_force_rule = capacity.rule_in_force(config, now)
    in_force: int | str = next(
        (i for i, s in enumerate(rules.schedule) if s.rule is in_force_rule), "default"
    )
    most = min(MAX_PREVIEW_COUNTERS, max(len(config.counters), open_counters))
    table: list[dict[str, Any]] = [
        {"rule": "default", "name": "", "limits": _limits(rules.default, most)}
    ]
    for index, scheduled in enumerate(rules.schedule):
        table.append(
            {
                "rule": index,
                "name": scheduled.name,
                "days": list(scheduled.days),
                "start": scheduled.start.strftime("%H:%M"),
                "end": scheduled.end.strftime("%H:%M"),
                "limits": _limits(scheduled.rule, most),
            }
        )
    return {
        "open_counters": open_counters,
        "counters": len(config.counters),
        "limit": in_force_rule.limit(open_counters),
        "hold": rules.hold,
        "in_force": in_force,
        "rules": table,
    }


def _limits(rule: CapacityRule, most: int) -> list[int]:
    """The limit with 0, 1, ... ``most`` counters open."""
    return [rule.limit(n) for n in range(most + 1)]


routes: list[BaseRoute] = [
    Route("/api/v1/branches/{branch}/queue", get_queue, methods=["GET"]),
    Route("/api/v1/branches/{branch}/audit", get_audit, methods=["GET"]),
    Route("/api/v1/branches/{branch}/capacity/preview", preview_capacity, methods=["POST"]),
]
