"""Signed-in staff: server-side sessions behind an HttpOnly cookie, and their CSRF tokens.

The cookie ``queueapp_session`` carries a random session id (256 bits),
signed with the app's secret key so that garbage is turned away without a
store lookup. The session itself is a document (kind ``session``) keyed by
the SHA-256 of the id, so a copy of the database holds no working cookie.
It names the user, the account generation it was made in, its CSRF token and
when it ends: sessions last :data:`SESSION_SECONDS` from sign-in (a shift),
however active. Every request reads the account again, so disabling a user,
changing their role or their password takes effect at once.

A new id is made at every sign-in and the one the browser had before is
deleted: an id planted before sign-in (session fixation) never becomes valid.

The cookie is ``Secure`` when the request came over https. Behind a reverse
proxy that terminates TLS, uvicorn takes the scheme (and the client address
that sign-in throttling counts) from ``X-Forwarded-Proto`` / ``X-Forwarded-For``
only when the proxy's address is listed in ``--forwarded-allow-ips``
(``FORWARDED_ALLOW_IPS``); this module reads ``request.url.scheme`` and never
the headers themselves, which anyone could send.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from queueapp.service.accounts import User, get_user
from queueapp.service.keys import secret_key, sign, unsign
from queueapp.store import EventStore, StoreError
from queueapp.web.bodies import read_body
from queueapp.web.errors import ApiError

log = logging.getLogger(__name__)

SESSION_COOKIE = "queueapp_session"
SESSION_DOCS = "session"
SESSION_SECONDS = 12 * 3600
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
"""The hidden form field that carries the CSRF token on form posts (such as sign-out)."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SWEEP_SECONDS = 15 * 60

_CACHE = "queueapp_session"
_NONE = object()


@dataclass(frozen=True, slots=True)
class Session:
    key: str
    """The SHA-256 of the session id: the document's key."""
    user: User
    csrf_token: str
    expires: float


def _store(connection: HTTPConnection) -> EventStore:
    return connection.app.state.store  # type: ignore[no-any-return]


def now(connection: HTTPConnection) -> float:
    """The app's clock (the branch service's, which tests control), as a Unix time."""
    clock: Callable[[], datetime] = connection.app.state.branches.clock
    return clock().timestamp()


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def load_session(request: HTTPConnection) -> Session | None:
    """The live session the request's cookie names, if any (looked up once per request)."""
    cached = getattr(request.state, _CACHE, None)
    if cached is not None:
        return None if cached is _NONE else cached
    session = await _lookup(request)
    setattr(request.state, _CACHE, _NONE if session is None else session)
    return session


async def _lookup(request: HTTPConnection) -> Session | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie or len(cookie) > 200:
        return None
    store = _store(request)
    session_id = unsign(await secret_key(store), "session", cookie)
    if session_id is None:
        return None
    key = _digest(session_id)
    document = await store.get_document(SESSION_DOCS, key)
    if document is None or float(document["expires"]) <= now(request):
        return None
    user = await get_user(store, str(document["user"]))
    if user is None or user.disabled or user.generation != document.get("generation"):
        return None
    return Session(key, user, str(document["csrf"]), float(document["expires"]))


async def start_session(request: Request, response: Response, user: User) -> Session:
    """A brand-new session for ``user``, its cookie set on ``response``; any earlier one ends."""
    store = _store(request)
    await _forget(request)
    session_id = secrets.token_urlsafe(32)
    started = now(request)
    session = Session(
        _digest(session_id), user, secrets.token_urlsafe(32), started + SESSION_SECONDS
    )
    await store.put_document(
        SESSION_DOCS,
        session.key,
        {
            "user": user.name,
            "generation": user.generation,
            "csrf": session.csrf_token,
            "created": started,
            "expires": session.expires,
        },
    )
    response.set_cookie(
        SESSION_COOKIE,
        sign(await secret_key(store), "session", session_id),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    setattr(request.state, _CACHE, session)
    return session


async def end_session(request: Request, response: Response) -> None:
    """Sign out: delete the session the browser presents, and its cookie."""
    await _forget(request)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


async def _forget(request: Request) -> None:
    """Delete the session the browser presents, whether or not it is still live."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and len(cookie) <= 200:
        session_id = unsign(await secret_key(_store(request)), "session", cookie)
        if session_id is not None:
            await _store(request).delete_document(SESSION_DOCS, _digest(session_id))
    setattr(request.state, _CACHE, _NONE)


def same_origin(request: HTTPConnection) -> bool:
    """Whether the browser says the request comes from our own pages.

    ``Origin`` (sent on cross-origin requests and on every POST by current
    browsers) must name the host the request was sent to, and
    ``Sec-Fetch-Site`` must not say another site; either may be absent.
    """
    origin = request.headers.get("origin")
    if origin is not None:
        host = request.headers.get("host", "").lower()
        if origin == "null" or not host or urlsplit(origin).netloc.lower() != host:
            return False
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


def csrf_passed(request: HTTPConnection, session: Session, supplied: str | None) -> bool:
    """Whether an unsafe request made with the session's cookie really comes from our pages."""
    if not supplied or not same_origin(request):
        return False
    return hmac.compare_digest(supplied.encode(), session.csrf_token.encode())


async def read_form(request: Request) -> dict[str, str]:
    """A small url-encoded form (sign-in, sign-out, a page's form post), within the size limit.

    Read here rather than with ``request.form()`` so that a body without a
    Content-Length cannot grow past the limit either.
    """
    body = await read_body(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not body or content_type != "application/x-www-form-urlencoded":
        return {}
    try:
        pairs = parse_qsl(body.decode(), max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_form", "The form could not be read.") from None
    return dict(pairs)


async def sweep(store: EventStore, at: float) -> int:
    """Delete ended sessions; how many went."""
    removed = 0
    for key, document in (await store.list_documents(SESSION_DOCS)).items():
        if float(document.get("expires", 0)) <= at:
            removed += await store.delete_document(SESSION_DOCS, key)
    return removed


async def housekeeping(store: EventStore, clock: Callable[[], datetime]) -> None:
    """Run :func:`sweep` now and every :data:`SWEEP_SECONDS`, for the app's lifespan."""
    while True:
        try:
            await sweep(store, clock().timestamp())
        except StoreError as exc:
            log.warning("session sweep skipped: %s", exc)
        await asyncio.sleep(SWEEP_SECONDS)
