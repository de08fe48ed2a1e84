"""Visitor pages: the door kiosk, joining from a phone, the ticket page and its QR code.

The pages render what is true when they load and then follow the live feeds
(the kiosk its branch's, the ticket page its ticket's), so they need no
polling and come back right after a phone sleeps. A kiosk shows itself only
to a paired device; the ticket page's address is the visitor's credential,
so it is kept out of caches and referrers.
"""

from __future__ import annotations

import json
from typing import Any

import qrcode  # type: ignore[import-untyped, unused-ignore]
import qrcode.image.svg  # type: ignore[import-untyped, unused-ignore]
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from queueapp.domain.config import BranchConfig
from queueapp.domain.errors import NotFound
from queueapp.domain.views import branch_snapshot, ticket_view
from queueapp.i18n import negotiate
from queueapp.service.branches import BranchService
from queueapp.service.joining import join_url
from queueapp.web import visitor_access as access
from queueapp.web.pages import page_language, render

_PRIVATE = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}
"""Headers of pages whose address or content is a visitor's credential."""


def _service(request: Request) -> BranchService:
    return request.app.state.branches  # type: ignore[no-any-return]


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _json(data: Any) -> str:
    """JSON safe inside a <script type="application/json"> element."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


def _services(config: BranchConfig, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """The branch's services as the visitor screens show them, with live waits."""
    live = {s["letter"]: s for s in snapshot["services"]}
    return [
        {
            "letter": service.letter,
            "names": service.names,
            "waiting": live[service.letter]["waiting"],
            "estimated_wait_minutes": live[service.letter]["estimated_wait_minutes"],
            "served": live[service.letter]["served"],
            "suspended": live[service.letter]["suspended"],
        }
        for service in config.services
    ]


async def kiosk(request: Request) -> Response:
    branch = request.path_params["branch"]
    service = _service(request)
    config = await service.config(branch)
    paired = await access.accept_pairing(request, branch, "kiosk")
    if paired is not None:
        return paired
    lang = page_language(request, config.languages)
    device = await access.paired_device(request, branch, "kiosk")
    if device is None:
        return render(request, "kiosk_unpaired.html", lang, status_code=403, config=config)
    snapshot = branch_snapshot(await service.state(branch), service.clock())
    services = _services(config, snapshot)
    data = {
        "branch": branch,
        "name": config.name,
        "lang": lang,
        "home_lang": negotiate(None, request.headers.get("accept-language", ""), config.languages),
        "timezone": config.timezone,
        "services": services,
    }
    response = render(
        request,
        "kiosk.html",
        lang,
        config=config,
        services=services,
        kiosk_json=_json(data),
    )
    access.renew_device_cookie(request, response)
    return response


async def join(request: Request) -> Response:
    branch = request.path_params["branch"]
    service = _service(request)
    config = await service.config(branch)
    lang = page_language(request, config.languages)
    state = await service.state(branch)
    code = request.query_params.get("code")
    code_ok = await access.door_code_ok(request, branch, code)
    door_ok = config.join.mode == "open" or code_ok or await access.door_pass_valid(request, branch)
    visitor = await access.visitor_id(request)
    known = visitor is not None
    visitor = visitor or access.new_visitor_id()
    tickets = [
        ticket_view(state, ticket) | {"token": token}
        for token in (await access.active_tickets(request, state, visitor) if known else [])
        if (ticket := state.by_token(token)) is not None
    ]
    services = _services(config, branch_snapshot(state, service.clock()))
    data = {
        "branch": branch,
        "lang": lang,
        "door_code": code if code_ok else None,
        "max_party_size": config.max_party_size,
    }
    response = render(
        request,
        "join.html",
        lang,
        config=config,
        services=services,
        door_ok=door_ok,
        code_expired=bool(code) and not code_ok,
        tickets=tickets,
        at_limit=len(tickets) >= config.join.max_active_per_phone,
        join_json=_json(data),
    )
    if not known:
        await access.set_visitor_cookie(request, response, visitor)
    if code_ok:
        await access.set_door_pass(request, response, branch)
    response.headers["Cache-Control"] = "no-store"
    return response


async def ticket_page(request: Request) -> Response:
    token = request.path_params["token"]
    service = _service(request)
    try:
        state, ticket = await service.find_ticket(token)
    except NotFound:
        lang = page_language(request)
        response = render(request, "ticket_missing.html", lang, status_code=404)
        response.headers.update(_PRIVATE)
        return response
    config = state.require_config()
    wanted = request.query_params.get("lang")
    lang = wanted if wanted in config.languages else ticket.lang
    now = service.clock()
    today = (await service.state(state.branch)).day == state.day
    view = ticket_view(state, ticket)
    data = {
        "token": token,
        "lang": lang,
        "timezone": config.timezone,
        "server_now": now.timestamp(),
        "today": today,
        "ticket": view,
        "service_names": {s.letter: s.names for s in config.services},
    }
    response = render(
        request,
        "ticket.html",
        lang,
        config=config,
        ticket=view,
        service_name=_name(config, ticket.service, lang),
        ticket_json=_json(data),
    )
    response.headers.update(_PRIVATE)
    return response


def _name(config: BranchConfig, letter: str, lang: str) -> str:
    service = config.service(letter)
    return service.name(lang) if service else letter


async def ticket_qr(request: Request) -> Response:
    """The ticket page's absolute address as a QR code, for the printed ticket and the kiosk."""
    token = request.path_params["token"]
    await _service(request).find_ticket(token)
    svg = qr_svg(f"{_base_url(request)}/t/{token}")
    return Response(svg, media_type="image/svg+xml", headers=_PRIVATE)


async def join_qr(request: Request) -> Response:
    """The door QR: the join page's address, with the current code in ``door`` mode.

    In ``open`` mode anyone may have it (to print a poster); in ``door`` mode
    only the branch's paired screens, since the code is the proof of presence.
    """
    branch = request.path_params["branch"]
    service = _service(request)
    config = await service.config(branch)
    if config.join.mode == "door" and not (
        await access.paired_device(request, branch, "display")
        or await access.paired_device(request, branch, "kiosk")
    ):
        raise NotFound("not_paired", "The door code is shown on the branch's paired screens.")
    url = await join_url(request.app.state.store, config, _base_url(request), service.clock())
    return Response(qr_svg(url), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


def qr_svg(data: str) -> bytes:
    """A QR code as a compact SVG (one path), scaled by whoever shows it."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, border=4)
    svg: bytes = image.to_string()
    return svg


routes: list[BaseRoute] = [
    Route("/b/{branch}/kiosk", kiosk, methods=["GET"]),
    Route("/b/{branch}/join", join, methods=["GET"]),
    Route("/b/{branch}/join/qr.svg", join_qr, methods=["GET"]),
    Route("/t/{token}", ticket_page, methods=["GET"], name="ticket_page"),
    Route("/t/{token}/qr.svg", ticket_qr, methods=["GET"]),
]
