"""Who is issuing a ticket: a paired kiosk, staff, or a phone under the branch's join policy.

Nobody signs in on the visitor screens, so the credentials are cookies:

* ``queueapp_device``: a paired kiosk's or display's credential (HttpOnly,
  SameSite=Strict), set when the screen opens its one-time pairing link;
* ``queueapp_visitor``: a signed random id for a phone, set by the join page,
  by which the per-phone limit counts tickets;
* ``queueapp_door``: a signed, short-lived pass for one branch, set when the
  join page was opened with a valid door code, so a visitor who takes a few
  minutes to choose is not refused when the code has moved on.

Cookies stop a phone taking a pile of tickets by accident or on a whim, not a
determined script (which can drop them); the door code still has to be read
at the door, and a service's daily cap still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from weakref import WeakValueDictionary

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from queueapp.domain.state import FINAL, BranchState
from queueapp.service.access_changes import AccessChanges
from queueapp.service.branches import BranchService
from queueapp.service.devices import Device, verify_device
from queueapp.service.joining import door_code_valid, remember_ticket, visitor_tokens
from queueapp.service.keys import secret_key, sign, unsign
from queueapp.store import EventStore
from queueapp.web.auth import principal
from queueapp.web.errors import ApiError

DEVICE_COOKIE = "queueapp_device"
VISITOR_COOKIE = "queueapp_visitor"
DOOR_COOKIE = "queueapp_door"

DEVICE_COOKIE_SECONDS = 400 * 86400
"""Browsers keep a cookie 400 days at most; each visit to the kiosk page renews it."""
VISITOR_COOKIE_SECONDS = 180 * 86400
DOOR_PASS_SECONDS = 15 * 60
"""How long a phone that opened the door QR may take to choose and join."""

_visitor_locks: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()


def _store(request: Request) -> EventStore:
    return request.app.state.store  # type: ignore[no-any-return]


def _branches(request: Request) -> BranchService:
    return request.app.state.branches  # type: ignore[no-any-return]


# Devices -------------------------------------------------------------------


async def paired_device(request: Request, branch: str, kind: str) -> Device | None:
    """The paired, unrevoked device of ``kind`` in ``branch`` this browser is, if any."""
    credential = request.cookies.get(DEVICE_COOKIE)
    if not credential:
        return None
    device = await verify_device(_store(request), credential)
    if device is None or device.branch != branch or device.kind != kind:
        return None
    return device


async def accept_pairing(request: Request, branch: str, kind: str) -> Response | None:
    """For an address carrying ``?pair=CODE``: trade the code and redirect to the clean address.

    The redirect carries the device cookie when the code was good for this
    branch and kind; otherwise the page shows itself unpaired. None when the
    address has no pairing code.
    """
    code = request.query_params.get("pair")
    if code is None:
        return None
    clean = request.url.remove_query_params("pair")
    response = RedirectResponse(clean.path + (f"?{clean.query}" if clean.query else ""), 303)
    access: AccessChanges = request.app.state.access
    paired = await access.pair_device(code)
    if paired is not None and paired[0].branch == branch and paired[0].kind == kind:
        renew_device_cookie(request, response, paired[1])
    return response


def renew_device_cookie(
    request: Request, response: Response, credential: str | None = None
) -> None:
    """Set (or extend) the device cookie on ``response``."""
    value = credential or request.cookies.get(DEVICE_COOKIE)
    if value:
        response.set_cookie(
            DEVICE_COOKIE,
            value,
            max_age=DEVICE_COOKIE_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


# Phones --------------------------------------------------------------------


async def visitor_id(request: Request) -> str | None:
    """The phone's id from its signed cookie, if it has a genuine one."""
    cookie = request.cookies.get(VISITOR_COOKIE)
    if not cookie or len(cookie) > 200:
        return None
    return unsign(await secret_key(_store(request)), "visitor", cookie)


def new_visitor_id() -> str:
    return secrets.token_urlsafe(16)


async def set_visitor_cookie(request: Request, response: Response, visitor: str) -> None:
    key = await secret_key(_store(request))
    response.set_cookie(
        VISITOR_COOKIE,
        sign(key, "visitor", visitor),
        max_age=VISITOR_COOKIE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


async def door_pass_valid(request: Request, branch: str) -> bool:
    """Whether this phone opened the door QR of ``branch`` a short while ago."""
    cookie = request.cookies.get(DOOR_COOKIE)
    if not cookie or len(cookie) > 200:
        return False
    value = unsign(await secret_key(_store(request)), "door-pass", cookie)
    if value is None:
        return False
    passed_branch, _, until = value.rpartition("|")
    now = _branches(request).clock().timestamp()
    return passed_branch == branch and until.isdigit() and now < int(until)


async def set_door_pass(request: Request, response: Response, branch: str) -> None:
    key = await secret_key(_store(request))
    until = int(_branches(request).clock().timestamp()) + DOOR_PASS_SECONDS
    response.set_cookie(
        DOOR_COOKIE,
        sign(key, "door-pass", f"{branch}|{until}"),
        max_age=DOOR_PASS_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


async def door_code_ok(request: Request, branch: str, code: str | None) -> bool:
    if not code or len(code) > 64:
        return False
    key = await secret_key(_store(request))
    return door_code_valid(key, branch, code, _branches(request).clock())


async def active_tickets(request: Request, state: BranchState, visitor: str) -> list[str]:
    """Tokens of the tickets this phone holds in the branch today and are not finished."""
    tokens = await visitor_tokens(_store(request), state.branch, state.day, visitor)
    active = []
    for token in tokens:
        ticket = state.by_token(token)
        if ticket is not None and ticket.status not in FINAL:
            active.append(token)
    return active


# Issuing -------------------------------------------------------------------


@dataclass
class Issuer:
    """Who a ticket is issued for; ``actor`` goes into the log, ``visitor`` is the phone."""

    actor: str | None
    visitor: str | None = None
    request: Request | None = None

    async def issued(self, state: BranchState, token: str) -> None:
        """Count the ticket against the phone's limit."""
        if self.visitor is not None and self.request is not None:
            await remember_ticket(
                _store(self.request), state.branch, state.day, self.visitor, token
            )


@contextlib.asynccontextmanager
async def issuing(
    request: Request,
    branch: str,
    via: str | None,
    door_code: str | None,
    idempotency_key: str | None,
) -> AsyncIterator[Issuer]:
    """Check that this caller may take a ticket in ``branch`` now, and say who they are.

    A paired kiosk of the branch and the branch's staff may always issue. A
    request that says it comes from a kiosk (``via: "kiosk"``) without a paired
    kiosk's cookie is refused. Anyone else is a phone: in ``door`` mode it needs
    the current door code (or a door pass), and a phone known by its cookie may
    hold at most ``max_active_per_phone`` unfinished tickets. The phone's checks
    and its ticket are made under one lock, so a double tap does not slip past.
    """
    device = await paired_device(request, branch, "kiosk")
    if device is not None:
        yield Issuer(actor=f"kiosk:{device.id}")
        return
    if via == "kiosk":
        raise ApiError(
            403,
            "device_not_paired",
            "This screen is not paired with the branch; ask the branch manager for a pairing link.",
        )
    who = await principal(request)
    if who is not None and who.may("staff", branch):
        yield Issuer(actor=who.name)
        return
    service = _branches(request)
    config = await service.config(branch)
    if config.join.mode == "door" and not (
        await door_code_ok(request, branch, door_code) or await door_pass_valid(request, branch)
    ):
        if door_code:
            raise ApiError(
                403,
                "door_code_expired",
                "This door code has expired; scan the QR code at the door again.",
            )
        raise ApiError(
            403, "door_code_required", "Scan the QR code at the branch door to join the queue."
        )
    visitor = await visitor_id(request)
    if visitor is None:
        yield Issuer(actor="phone")
        return
    lock = _visitor_locks.get(f"{branch}:{visitor}")
    if lock is None:
        lock = _visitor_locks[f"{branch}:{visitor}"] = asyncio.Lock()
    async with lock:
        state = await service.state(branch)
        if idempotency_key is None or idempotency_key not in state.idempotency:
            active = await active_tickets(request, state, visitor)
            limit = config.join.max_active_per_phone
            if len(active) >= limit:
                raise ApiError(
                    429,
                    "too_many_tickets",
                    f"This phone already holds {len(active)} tickets here; "
                    "finish or cancel one to take another.",
                    max_active_per_phone=limit,
                    tickets=[f"/t/{token}" for token in active],
                )
        yield Issuer(actor=f"phone:{visitor[:8]}", visitor=visitor, request=request)
