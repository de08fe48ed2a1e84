"""The application's secret key, made once and shared by every process, and what it signs.

Cookies (a paired device's, a visitor's, staff sessions) and the door's
rotating join code are signed with keys derived from one random secret. It
is created on first use and kept as a configuration document, so that every
worker and host behind a load balancer signs and checks alike, and a restart
does not sign everyone out.

Two processes that start together could both find no key and write
different ones. The first write is therefore decided by a compare-and-append
on a small log of its own (the store's one atomic primitive); whoever loses
reads the winner's key. The document is the place readers look first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from weakref import WeakKeyDictionary

from queueapp.store import EventStore, Stream, VersionConflict

SECRET_DOCS = "secret"
APP_KEY = "app"
_ELECTION = Stream("_secret", "app")
"""Not a branch (branch ids cannot start with '_'): the log that decides the first key."""

_cache: WeakKeyDictionary[EventStore, bytes] = WeakKeyDictionary()


async def secret_key(store: EventStore) -> bytes:
    """The app-wide secret (32 random bytes), created the first time anyone asks."""
    cached = _cache.get(store)
    if cached is not None:
        return cached
    document = await store.get_document(SECRET_DOCS, APP_KEY)
    if document is None:
        candidate = secrets.token_hex(32)
        try:
            await store.append(_ELECTION, 0, [{"type": "secret_key", "key": candidate}])
            chosen = candidate
        except VersionConflict:
            chosen = str((await store.read(_ELECTION))[0].data["key"])
        document = {"key": chosen}
        await store.put_document(SECRET_DOCS, APP_KEY, document)
    key = bytes.fromhex(str(document["key"]))
    _cache[store] = key
    return key


def derive(key: bytes, purpose: str) -> bytes:
    """A separate key per use, so that a value signed for one purpose means nothing in another."""
    return hmac.new(key, f"queueapp:{purpose}".encode(), hashlib.sha256).digest()


def sign(key: bytes, purpose: str, value: str) -> str:
    """``value`` with a signature appended: readable, but not forgeable without the key."""
    return f"{value}.{_mac(key, purpose, value)}"


def unsign(key: bytes, purpose: str, signed: str) -> str | None:
    """The value of a string made by :func:`sign` for ``purpose``, or None if it was altered."""
    value, _, mac = signed.rpartition(".")
    if not value or not hmac.compare_digest(mac, _mac(key, purpose, value)):
        return None
    return value


def _mac(key: bytes, purpose: str, value: str) -> str:
    digest = hmac.new(derive(key, purpose), value.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:20]).decode().rstrip("=")
