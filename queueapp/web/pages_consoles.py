"""The consoles of signed-in people: counter and door (staff), and the manager console.

``/staff`` is the counter console and ``/staff/door`` the door console: staff
see the counters of their branches only. ``/manage`` is a live overview of
every branch the manager may see (an admin sees them all), and
``/manage/{branch}`` one branch's configuration, devices, accounts and audit
trail (``?tab=settings|devices|users|audit``).

The pages carry what does not change while they are open (the branches the
user may use, their time zones) and the words; everything live comes from
the branch feed and the JSON API, which check the user's role and branch on
every call, as they would for any other client.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from queueapp.domain.config import BranchConfig
from queueapp.domain.errors import NotFound
from queueapp.i18n import LANGUAGE_NAMES
from queueapp.service.access import ROLES, Principal
from queueapp.service.branches import BranchService
from queueapp.service.devices import KINDS
from queueapp.web.auth import page_context, require_page
from queueapp.web.pages import page_language, render

TABS = ("settings", "devices", "users", "audit")
"""The manager console's tabs for one branch, the first shown by default."""

_NO_STORE = {"Cache-Control": "no-store"}


def _service(request: Request) -> BranchService:
    return request.app.state.branches  # type: ignore[no-any-return]


async def _branches(request: Request, who: Principal, role: str) -> list[BranchConfig]:
    """The branches ``who`` may act in as ``role``: all of them for an admin."""
    return [c for c in await _service(request).configs() if who.may(role, c.id)]


def _branch_data(config: BranchConfig) -> dict[str, Any]:
    return {
        "id": config.id,
        "name": config.name,
        "timezone": config.timezone,
        "languages": list(config.languages),
        "counters": [
            {"id": c.id, "name": c.name or c.id, "services": list(c.services)}
            for c in config.counters
        ],
        "services": [{"letter": s.letter, "names": s.names} for s in config.services],
    }


async def _page(
    request: Request,
    who: Principal,
    template: str,
    console: str,
    data: dict[str, Any],
    **extra: Any,
) -> Response:
    lang = page_language(request)
    response = render(
        request,
        template,
        lang,
        console=console,
        who=who,
        user_name=who.name.removeprefix("user:"),
        is_manager=who.role != "staff",
        language_links=_language_links(request),
        lang_query=f"?lang={lang}" if "lang" in request.query_params else "",
        data_json=_json({**data, "user": who.name, "role": who.role}),
        **await page_context(request),
        **extra,
    )
    response.headers.update(_NO_STORE)
    return response


def _branches_page(role: str, template: str, tab: str) -> Callable[[Request], Awaitable[Response]]:
    """A console page over every branch the signed-in user may act in with ``role``."""

    async def page(request: Request) -> Response:
        who = await require_page(request, role)
        branches = await _branches(request, who, role)
        data = {"branches": [_branch_data(c) for c in branches]}
        return await _page(request, who, template, tab, data, branches=branches)

    return page


counter_console = _branches_page("staff", "counter.html", "counter")
door_console = _branches_page("staff", "door.html", "door")
overview = _branches_page("manager", "overview.html", "manage")


async def branch_console(request: Request) -> Response:
    branch = request.path_params["branch"]
    who = await require_page(request, "manager", branch)
    try:
        config = await _service(request).config(branch)
    except NotFound:
        response = render(
            request,
            "console_missing.html",
            page_language(request),
            status_code=404,
            branch=branch,
            **await page_context(request),
        )
        response.headers.update(_NO_STORE)
        return response
    tab = request.query_params.get("tab", TABS[0])
    data = {
        "branch": _branch_data(config),
        "tab": tab if tab in TABS else TABS[0],
        "languages": LANGUAGE_NAMES,
        "roles": [r for r in ROLES if who.role == "admin" or r != "admin"],
        "kinds": list(KINDS),
    }
    return await _page(
        request, who, "branch.html", "manage", data, config=config, tab=data["tab"], tabs=TABS
    )


def _language_links(request: Request) -> list[tuple[str, str, str]]:
    """(code, name, address) of this page in each language, keeping its other parameters."""
    return [
        (code, name, "?" + str(request.url.include_query_params(lang=code).query))
        for code, name in LANGUAGE_NAMES.items()
    ]


def _json(data: object) -> str:
    """JSON safe inside a <script> element: no '<' can close it early."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


routes: list[BaseRoute] = [
    Route("/staff", counter_console, methods=["GET"]),
    Route("/staff/door", door_console, methods=["GET"]),
    Route("/manage", overview, methods=["GET"]),
    Route("/manage/{branch}", branch_console, methods=["GET"]),
]
