"""Who may do what: roles, branches, and bearer tokens for scripts and integrations.

Roles nest: an admin may do anything anywhere, a manager may also do what
staff do, but only in their branches. Tokens are stored by their SHA-256
digest, so a leaked database does not leak working tokens; they are random
enough (256 bits) that a fast hash is the right tool.

A server checks tokens through a :class:`TokenCache`: an integration calling
call-next many times a second would otherwise pay a store round trip on
every request, before its real work.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from queueapp.store import EventStore

TOKEN_DOCS = "api_token"
ROLES = ("staff", "manager", "admin")
TOKEN_PREFIX = "qa_"
CACHE_SECONDS = 5.0
"""How long a server trusts a token it has checked: a revocation made elsewhere (the
command line, another server process) takes effect within this time."""
CACHE_SIZE = 1024


@dataclass(frozen=True, slots=True)
class Principal:
    """Someone acting: ``branches`` is empty for an admin, who acts everywhere."""

    name: str
    role: str
    branches: frozenset[str]

    def may(self, role: str, branch: str | None) -> bool:
        """Whether this principal may act with ``role`` in ``branch`` (None: any branch)."""
        if self.role == "admin":
            return True
        if ROLES.index(self.role) < ROLES.index(role):
            return False
        return branch is None or branch in self.branches


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(
    store: EventStore, role: str, branches: list[str], label: str = ""
) -> tuple[str, str]:
    """A new bearer token and its id (the id lists and revokes it; the token is shown once)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role != "admin" and not branches:
        raise ValueError(f"a {role} token needs at least one branch")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    digest = _digest(token)
    await store.put_document(
        TOKEN_DOCS,
        digest,
        {
            "role": role,
            "branches": sorted(branches) if role != "admin" else [],
            "label": label,
            "created_at": time.time(),
            "revoked": False,
        },
    )
    return token, digest[:12]


def _plausible(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX) and len(token) <= 100


async def verify_token(store: EventStore, token: str) -> Principal | None:
    if not _plausible(token):
        return None
    document = await store.get_document(TOKEN_DOCS, _digest(token))
    if document is None or document.get("revoked"):
        return None
    label = document.get("label") or "token"
    return Principal(
        name=f"{label}:{_digest(token)[:12]}",
        role=document["role"],
        branches=frozenset(document["branches"]),
    )


async def list_tokens(store: EventStore) -> list[dict[str, Any]]:
    documents = await store.list_documents(TOKEN_DOCS)
    return sorted(
        ({"id": digest[:12], **doc} for digest, doc in documents.items()),
        key=lambda d: d["created_at"],
    )


async def revoke_token(store: EventStore, token_id: str) -> bool:
    """Revoke by id (the first 12 hex digits of the digest); False if no such token."""
    documents = await store.list_documents(TOKEN_DOCS)
    for digest, document in documents.items():
        if digest.startswith(token_id) and len(token_id) >= 12:
            await store.put_document(TOKEN_DOCS, digest, {**document, "revoked": True})
            return True
    return False


class TokenCache:
    """Tokens this process has checked, trusted for ``seconds``.

    Only good tokens are kept, so a token made elsewhere works at once, and
    guessing costs a store read per guess as before. A revocation through
    :meth:`revoke` takes effect at once in this process.
    """

    def __init__(
        self,
        store: EventStore,
        seconds: float = CACHE_SECONDS,
        size: int = CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._seconds = seconds
        self._size = size
        self._clock = clock
        self._checked: dict[str, tuple[float, Principal]] = {}
        """Digest to (when checked, principal), oldest first."""

    async def verify(self, token: str) -> Principal | None:
        if not _plausible(token):
            return None
        digest = _digest(token)
        now = self._clock()
        checked = self._checked.get(digest)
        if checked is not None and now - checked[0] < self._seconds:
            return checked[1]
        principal = await verify_token(self._store, token)
        self._checked.pop(digest, None)
        if principal is not None:
            self._checked[digest] = (now, principal)
            while len(self._checked) > self._size:
                del self._checked[next(iter(self._checked))]
        return principal

    async def revoke(self, token_id: str) -> bool:
        """Revoke by id, as :func:`revoke_token` does, and stop trusting it here at once."""
        if not await revoke_token(self._store, token_id):
            return False
        for digest in [d for d in self._checked if d.startswith(token_id)]:
            del self._checked[digest]
        return True
