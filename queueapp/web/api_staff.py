"""Counter and door routes for staff: counters, calls, occupancy, entries.

Every command after a call names the ticket the operator expects at the
counter, so a double click or a stale screen cannot act on the wrong visitor.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, StrictInt, StrictStr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from queueapp.domain import commands as cmd
from queueapp.domain.views import ticket_summary
from queueapp.service.branches import BranchService, Outcome
from queueapp.web.auth import require
from queueapp.web.bodies import read_model
from queueapp.web.errors import ApiError

_COUNTER_STATUS = {"open": "open", "pause": "paused", "close": "closed"}


class TicketBody(BaseModel):
    ticket: StrictStr = Field(min_length=2, max_length=8)


class TransferBody(TicketBody):
    service: StrictStr = Field(min_length=1, max_length=8)


class OccupancyBody(BaseModel):
    delta: StrictInt
    reason: StrictStr = Field(max_length=200)


class EntryBody(TicketBody):
    pass


def _service(request: Request) -> BranchService:
    return request.app.state.branches  # type: ignore[no-any-return]


async def counter_command(request: Request) -> JSONResponse:
    branch = request.path_params["branch"]
    counter = request.path_params["counter"]
    action = request.path_params["action"]
    who = await require(request, "staff", branch)
    command: cmd.Command
    if action in _COUNTER_STATUS:
        command = cmd.SetCounter(counter, _COUNTER_STATUS[action])
    elif action == "call-next":
        command = cmd.CallNext(counter)
    elif action in cmd.COUNTER_ACTIONS:
        body = await read_model(request, TicketBody)
        command = cmd.CounterAction(counter, action, body.ticket)
    elif action == "transfer":
        transfer = await read_model(request, TransferBody)
        command = cmd.Transfer(counter, transfer.ticket, transfer.service)
    else:
        raise ApiError(404, "unknown_action", f"Counters know no action {action!r}.")
    outcome = await _service(request).execute(branch, command, actor=who.name)
    return JSONResponse(_counter_view(outcome, counter))


async def adjust_occupancy(request: Request) -> JSONResponse:
    branch = request.path_params["branch"]
    who = await require(request, "staff", branch)
    body = await read_model(request, OccupancyBody)
    outcome = await _service(request).execute(
        branch, cmd.AdjustOccupancy(body.delta, body.reason), actor=who.name
    )
    state = outcome.state
    return JSONResponse(
        {"changed": outcome.changed, "version": state.version, "inside": state.inside}
    )


async def confirm_entry(request: Request) -> JSONResponse:
    branch = request.path_params["branch"]
    who = await require(request, "staff", branch)
    body = await read_model(request, EntryBody)
    outcome = await _service(request).execute(branch, cmd.ConfirmEntry(body.ticket), actor=who.name)
    return JSONResponse(
        {
            "changed": outcome.changed,
            "version": outcome.state.version,
            "ticket": ticket_summary(outcome.state.tickets[body.ticket]),
        }
    )


def _counter_view(outcome: Outcome, counter_id: str) -> dict[str, Any]:
    state = outcome.state
    counter = state.counters[counter_id]
    current = state.tickets[counter.ticket] if counter.ticket else None
    return {
        "changed": outcome.changed,
        "version": state.version,
        "counter": {"id": counter.id, "status": counter.status.value, "ticket": counter.ticket},
        "ticket": ticket_summary(current) if current else None,
    }


routes = [
    Route(
        "/api/v1/branches/{branch}/counters/{counter}/{action}",
        counter_command,
        methods=["POST"],
    ),
    Route("/api/v1/branches/{branch}/occupancy", adjust_occupancy, methods=["POST"]),
    Route("/api/v1/branches/{branch}/entries", confirm_entry, methods=["POST"]),
]
