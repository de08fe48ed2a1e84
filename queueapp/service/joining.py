"""Joining from a phone: the door's rotating code, and the tickets each phone holds.

In ``door`` mode a phone may only join with the code of the QR shown at the
door, which changes every minute: an HMAC of the app's secret, the branch and
the minute, so any process can make and check it without sharing anything
else. The current and the previous minute's codes are accepted, so a visitor
who scans just before the minute turns is not refused.

Phones are known by a signed random id in a cookie (no login, no app). The
tickets taken by each phone today are remembered per branch, so that one
phone cannot take a pile of them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from urllib.parse import quote

from queueapp.domain.config import BranchConfig
from queueapp.service.keys import derive, secret_key
from queueapp.store import EventStore

CODE_SECONDS = 60
"""How often the door code changes."""

VISITOR_DOCS = "visitor_tickets"


def door_code(key: bytes, branch: str, at: datetime) -> str:
    """The door code of ``branch`` during the minute of ``at``."""
    return _code(key, branch, int(at.timestamp()) // CODE_SECONDS)


def door_code_valid(key: bytes, branch: str, code: str, at: datetime) -> bool:
    """Whether ``code`` is the door code of this minute or of the one before."""
    minute = int(at.timestamp()) // CODE_SECONDS
    return any(hmac.compare_digest(code, _code(key, branch, m)) for m in (minute, minute - 1))


async def join_url(store: EventStore, config: BranchConfig, base_url: str, now: datetime) -> str:
    """The address the door QR should show now: with the current code in ``door`` mode.

    ``base_url`` is where phones reach the app (``http://host:8000``). In
    ``door`` mode the address changes every minute; show it fresh.
    """
    url = f"{base_url.rstrip('/')}/b/{config.id}/join"
    if config.join.mode != "door":
        return url
    code = door_code(await secret_key(store), config.id, now)
    return f"{url}?code={quote(code)}"


async def visitor_tokens(store: EventStore, branch: str, day: str, visitor: str) -> list[str]:
    """The tokens of the tickets this phone took in ``branch`` on ``day``."""
    document = await store.get_document(VISITOR_DOCS, _key(branch, visitor))
    if document is None or document.get("day") != day:
        return []
    return [str(token) for token in document.get("tokens", [])]


async def remember_ticket(
    store: EventStore, branch: str, day: str, visitor: str, token: str
) -> None:
    tokens = await visitor_tokens(store, branch, day, visitor)
    if token not in tokens:
        await store.put_document(
            VISITOR_DOCS, _key(branch, visitor), {"day": day, "tokens": [*tokens, token]}
        )


def _key(branch: str, visitor: str) -> str:
    """One document per phone and branch, reset each day, so they do not pile up."""
    return f"{branch}:{visitor}"


def _code(key: bytes, branch: str, minute: int) -> str:
    digest = hmac.new(derive(key, "door"), f"{branch}:{minute}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode()
