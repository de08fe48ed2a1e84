"""Signing in and out: ``GET``/``POST /login`` and ``POST /logout``.

The sign-in form is itself protected against cross-site posting (someone
else's page signing a counter PC into the attacker's account): ``GET
/login`` sets a signed cookie (SameSite=Strict, for ``/login`` only) with a
random nonce that the form carries back, and a browser's ``Origin`` must be ours.

Repeated failures are slowed (each failure waits a little longer before its
answer) and then refused with 429 and ``Retry-After`` for a while; see
:mod:`queueapp.service.accounts`. Every failure gets the same message,
whether or not the username exists.

After signing in, the browser goes to ``next`` only if it is a path on this
site; anything else (``//host``, ``/\\host``, ``https://host``...) goes to
the user's console instead, so a link cannot bounce someone to another site.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from queueapp.i18n import LANGUAGE_NAMES
from queueapp.service import accounts
from queueapp.service.access import Principal
from queueapp.service.keys import secret_key, sign, unsign
from queueapp.web import sessions
from queueapp.web.auth import LOGIN_PATH, SignInRequired, login_url
from queueapp.web.pages import page_language, render

NONCE_COOKIE = "queueapp_login"
NONCE_SECONDS = 12 * 3600
HOME = {"staff": "/staff", "manager": "/manage", "admin": "/manage"}
"""Where each role lands after signing in when there is no (acceptable) ``next``."""

_NO_STORE = {"Cache-Control": "no-store"}
_sleep = asyncio.sleep
"""How a failed attempt waits (replaced in tests, which count the waits instead)."""


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None."""
    if not target or len(target) > 2000 or not target.startswith("/"):
        return None
    # Browsers read "\" as "/" and drop tabs and newlines, so "/\evil" or "/\t/evil" is "//evil".
    if target[1:2] == "/" or "\\" in target or any(ord(c) < 0x21 or c == "\x7f" for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path in (LOGIN_PATH, "/logout"):
        return None
    return target


async def login_page(request: Request) -> Response:
    session = await sessions.load_session(request)
    user = None if session is None else session.user.principal
    return await _form(request, 200, next_path=request.query_params.get("next"), user=user)


async def login(request: Request) -> Response:
    form = await sessions.read_form(request)
    next_path = form.get("next") or None
    name = form.get("username", "")
    if not await _nonce_ok(request, form.get("nonce")):
        return await _form(request, 403, next_path=next_path, name=name, error="expired")
    store = request.app.state.store
    address = request.client.host if request.client else "unknown"
    now = sessions.now(request)
    try:
        attempt = await accounts.begin_sign_in(store, name, address, now)
    except accounts.SignInThrottled as throttled:
        minutes = max(1, math.ceil(throttled.wait / 60))
        response = await _form(
            request, 429, next_path=next_path, name=name, error="throttled", minutes=minutes
        )
        response.headers["Retry-After"] = str(math.ceil(throttled.wait))
        return response
    user = await accounts.authenticate(store, name, form.get("password", ""))
    if user is None or user.disabled:
        await _sleep(accounts.failure_delay(attempt.failures))
        error = "disabled" if user is not None else "wrong"
        return await _form(request, 401, next_path=next_path, name=name, error=error)
    await accounts.sign_in_succeeded(store, attempt)
    response = RedirectResponse(safe_next(next_path) or HOME[user.role], 303, headers=_NO_STORE)
    await sessions.start_session(request, response, user)
    response.delete_cookie(NONCE_COOKIE, path=LOGIN_PATH)
    return response


async def logout(request: Request) -> Response:
    """Sign out (a form post with the session's CSRF token) and show the sign-in page.

    A post without the token (another site's, or a stale page's) signs nobody
    out; it lands on the sign-in page, which offers a sign-out button that works.
    """
    session = await sessions.load_session(request)
    form = await sessions.read_form(request)
    if session is not None and not sessions.csrf_passed(
        request, session, form.get(sessions.CSRF_FIELD) or request.headers.get("x-csrf-token")
    ):
        return RedirectResponse(LOGIN_PATH, 303, headers=_NO_STORE)
    lang = request.query_params.get("lang")
    response = RedirectResponse(
        f"{LOGIN_PATH}?{urlencode({'signed_out': 1, **({'lang': lang} if lang else {})})}",
        303,
        headers=_NO_STORE,
    )
    await sessions.end_session(request, response)
    return response


async def _form(
    request: Request,
    status: int,
    *,
    next_path: str | None,
    name: str = "",
    error: str | None = None,
    minutes: int = 0,
    user: Principal | None = None,
    needs_role: str = "",
) -> Response:
    """The sign-in page, with a fresh nonce cookie for its form."""
    store = request.app.state.store
    session = await sessions.load_session(request)
    nonce = secrets.token_urlsafe(18)
    lang = page_language(request)
    chosen = request.query_params.get("lang")
    response = render(
        request,
        "login.html",
        lang,
        status_code=status,
        action=LOGIN_PATH + (f"?{urlencode({'lang': chosen})}" if chosen else ""),
        next_path=safe_next(next_path) or "",
        username=name[:64],
        nonce=nonce,
        error=error,
        minutes=minutes,
        user=user,
        needs_role=needs_role,
        csrf_token=session.csrf_token if session is not None else None,
        signed_out="signed_out" in request.query_params,
        language_links=_language_links(request),
    )
    response.headers.update(_NO_STORE)
    response.set_cookie(
        NONCE_COOKIE,
        sign(await secret_key(store), "login-form", nonce),
        max_age=NONCE_SECONDS,
        path=LOGIN_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _language_links(request: Request) -> list[tuple[str, str, str]]:
    """(code, name, address) of this page in each language, keeping ``next``."""
    keep = {k: v for k, v in request.query_params.items() if k == "next" and safe_next(v)}
    return [
        (code, name, f"{LOGIN_PATH}?{urlencode({**keep, 'lang': code})}")
        for code, name in LANGUAGE_NAMES.items()
    ]


async def _nonce_ok(request: Request, supplied: str | None) -> bool:
    cookie = request.cookies.get(NONCE_COOKIE)
    if not supplied or not cookie or len(cookie) > 200 or not sessions.same_origin(request):
        return False
    nonce = unsign(await secret_key(request.app.state.store), "login-form", cookie)
    return nonce is not None and secrets.compare_digest(nonce, supplied)


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    if exc.user is None:
        return RedirectResponse(login_url(exc.next_path), 303, headers=_NO_STORE)
    return await _form(request, 403, next_path=exc.next_path, user=exc.user, needs_role=exc.role)


HANDLERS = {SignInRequired: _sign_in_required}

routes: list[BaseRoute] = [
    Route(LOGIN_PATH, login_page, methods=["GET"]),
    Route(LOGIN_PATH, login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
