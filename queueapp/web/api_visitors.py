"""Public routes: the branch directory and snapshots, issuing and following a ticket.

Nobody signs in here. A visitor's ticket token is their credential, and the
branch snapshot never names a token.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt, StrictStr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from queueapp.domain import commands as cmd
from queueapp.domain import events as ev
from queueapp.domain.state import BranchState, Ticket
from queueapp.domain.views import branch_snapshot, branch_summary, ticket_view
from queueapp.service.branches import BranchService, new_token
from queueapp.web.bodies import read_model
from queueapp.web.errors import ApiError
from queueapp.web.visitor_access import issuing

_IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,100}$")


class IssueBody(BaseModel):
    service: StrictStr = Field(min_length=1, max_length=8)
    party_size: StrictInt = 1
    priority: StrictBool = False
    lang: StrictStr = Field(default="en", min_length=2, max_length=8)
    via: Literal["kiosk", "phone"] | None = None
    door_code: StrictStr | None = Field(default=None, max_length=64)


def _service(request: Request) -> BranchService:
    return request.app.state.branches  # type: ignore[no-any-return]


async def list_branches(request: Request) -> JSONResponse:
    service = _service(request)
    now = service.clock()
    directory = []
    for config in await service.configs():
        snapshot = branch_snapshot(await service.state(config.id), now)
        directory.append(
            {
                "id": config.id,
                "name": config.name,
                "address": config.address,
                "timezone": config.timezone,
                "languages": list(config.languages),
                "hours": {
                    day: [
                        {"open": i.open.isoformat("minutes"), "close": i.close.isoformat("minutes")}
                        for i in intervals
                    ]
                    for day, intervals in config.hours.items()
                },
                **branch_summary(snapshot),
                "links": {"snapshot": f"/api/v1/branches/{config.id}"},
            }
        )
    return JSONResponse({"branches": directory})


async def get_branch(request: Request) -> JSONResponse:
    service = _service(request)
    state = await service.state(request.path_params["branch"])
    return JSONResponse(branch_snapshot(state, service.clock()))


async def issue_ticket(request: Request) -> JSONResponse:
    branch = request.path_params["branch"]
    body = await read_model(request, IssueBody)
    key = request.headers.get("idempotency-key")
    if key is not None and not _IDEMPOTENCY_KEY.match(key):
        raise ApiError(
            422,
            "invalid_idempotency_key",
            "Idempotency-Key is 8 to 100 letters, digits or _.:- (a UUID is ideal).",
        )

    def issue(state: BranchState) -> cmd.IssueTicket:
        return cmd.IssueTicket(
            token=new_token(branch, state.day),
            service=body.service,
            party_size=body.party_size,
            priority=body.priority,
            lang=body.lang,
            idempotency_key=key,
        )

    async with issuing(request, branch, body.via, body.door_code, key) as issuer:
        outcome = await _service(request).execute(branch, issue, actor=issuer.actor)
        state = outcome.state
        if outcome.changed:
            number = next(e.number for e in outcome.events if isinstance(e, ev.TicketIssued))
        else:
            assert key is not None
            number = state.idempotency[key][0]
        ticket = state.tickets[number]
        await issuer.issued(state, ticket.token)
    return JSONResponse(
        _visitor_view(request, state, ticket), status_code=201 if outcome.changed else 200
    )


async def get_ticket(request: Request) -> JSONResponse:
    state, ticket = await _service(request).find_ticket(request.path_params["token"])
    return JSONResponse(_visitor_view(request, state, ticket))


async def cancel_ticket(request: Request) -> JSONResponse:
    return await _visitor_command(request, lambda ticket: cmd.CancelTicket(ticket.number))


async def delay_ticket(request: Request) -> JSONResponse:
    return await _visitor_command(request, lambda ticket: cmd.RequestDelay(ticket.number))


async def _visitor_command(request: Request, build: Any) -> JSONResponse:
    service = _service(request)
    state, ticket = await service.find_ticket(request.path_params["token"])
    if state.day != (await service.state(state.branch)).day:
        raise ApiError(409, "ticket_expired", "This ticket was for an earlier day.")
    outcome = await service.execute(state.branch, build(ticket))
    return JSONResponse(_visitor_view(request, outcome.state, outcome.state.tickets[ticket.number]))


def _visitor_view(request: Request, state: BranchState, ticket: Ticket) -> dict[str, Any]:
    view = ticket_view(state, ticket)
    token = ticket.token
    view["token"] = token
    view["links"] = {
        "self": f"/api/v1/tickets/{token}",
        "page": f"/t/{token}",
        "qr": f"/t/{token}/qr.svg",
        "live": f"/api/v1/tickets/{token}/live",
    }
    return view


routes = [
    Route("/api/v1/branches", list_branches, methods=["GET"]),
    Route("/api/v1/branches/{branch}", get_branch, methods=["GET"]),
    Route("/api/v1/branches/{branch}/tickets", issue_ticket, methods=["POST"]),
    Route("/api/v1/tickets/{token}", get_ticket, methods=["GET"]),
    Route("/api/v1/tickets/{token}", cancel_ticket, methods=["DELETE"]),
    Route("/api/v1/tickets/{token}/delay", delay_ticket, methods=["POST"]),
]
