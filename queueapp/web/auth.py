"""Who is calling: a bearer token (scripts, integrations) or a signed-in person (pages).

Staff and manager API routes call :func:`require` first; staff and manager
pages call :func:`require_page`. Visitor routes need no identity (a
ticket's token is its own credential).

A request that carries an ``Authorization`` header is judged by it alone.
Otherwise the session cookie counts, and since a browser sends cookies with
requests that other sites make it send, a state-changing request (POST, PUT,
PATCH, DELETE) authenticated by the cookie must also carry the session's
CSRF token in ``X-CSRF-Token`` and must not come from another origin; a
bearer token is no ambient credential and needs neither.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request

from queueapp.service.access import Principal, TokenCache
from queueapp.web import sessions
from queueapp.web.errors import ApiError

LOGIN_PATH = "/login"


class SignInRequired(Exception):
    """Raised by :func:`require_page`: the page answers with the sign-in page instead.

    Without a session the browser is redirected to ``/login?next=...``; a
    signed-in user who lacks the role gets a 403 page offering to sign in as
    someone else.
    """

    def __init__(self, next_path: str, user: Principal | None = None, role: str = "") -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.user = user
        self.role = role


async def _caller(request: Request, strict: bool) -> Principal | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        tokens: TokenCache = request.app.state.tokens
        return await tokens.verify(token.strip())
    session = await sessions.load_session(request)
    if session is None:
        return None
    if request.method not in sessions.SAFE_METHODS and not sessions.csrf_passed(
        request, session, request.headers.get(sessions.CSRF_HEADER)
    ):
        if strict:
            raise ApiError(
                403,
                "csrf_failed",
                "This request needs the page's CSRF token in the X-CSRF-Token header; "
                "reload the page and try again.",
            )
        return None
    return session.user.principal


async def principal(request: Request) -> Principal | None:
    """The caller, by bearer token or session, if any (a cookie-only unsafe request without a
    valid CSRF token counts as nobody)."""
    return await _caller(request, strict=False)


async def require(request: Request, role: str, branch: str | None) -> Principal:
    """The caller, if they may act as ``role`` in ``branch``; else 401, or 403 (also
    ``csrf_failed`` for a cookie-authenticated unsafe request without its CSRF token)."""
    who = await _caller(request, strict=True)
    if who is None:
        raise ApiError(
            401, "unauthorized", "Sign in, or send a valid 'Authorization: Bearer' token."
        )
    if not who.may(role, branch):
        raise ApiError(403, "forbidden", f"This needs the {role} role for this branch.")
    return who


async def current_user(request: Request) -> Principal | None:
    """The signed-in person (by session cookie only), or None."""
    session = await sessions.load_session(request)
    return None if session is None else session.user.principal


async def require_page(request: Request, role: str, branch: str | None = None) -> Principal:
    """For page routes: the signed-in user, if they may act as ``role`` in ``branch``.

    Otherwise raises :class:`SignInRequired`, which answers with a redirect to
    ``/login?next=<this page>`` or, for a user without the role, a 403 page.
    A page route that takes a form post also gets its CSRF token checked (the
    ``csrf_token`` field or the ``X-CSRF-Token`` header).
    """
    session = await sessions.load_session(request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if session is None:
        raise SignInRequired(here)
    who = session.user.principal
    if not who.may(role, branch):
        raise SignInRequired(here, who, role)
    if request.method not in sessions.SAFE_METHODS:
        supplied = request.headers.get(sessions.CSRF_HEADER)
        if supplied is None:
            supplied = (await sessions.read_form(request)).get(sessions.CSRF_FIELD)
        if not sessions.csrf_passed(request, session, supplied):
            raise ApiError(403, "csrf_failed", "The form has expired; reload the page.")
    return who


async def page_context(request: Request) -> dict[str, Any]:
    """What a staff or manager template needs: ``user`` (a Principal or None) and
    ``csrf_token`` (for ``<meta name="csrf-token">``, fetch headers and form fields)."""
    session = await sessions.load_session(request)
    return {
        "user": None if session is None else session.user.principal,
        "csrf_token": None if session is None else session.csrf_token,
    }


def login_url(next_path: str) -> str:
    return f"{LOGIN_PATH}?next={quote(next_path, safe='/')}"
