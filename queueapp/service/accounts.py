"""Staff, manager and admin accounts: passwords, roles, branches, and sign-in throttling.

An account is a document (kind ``user``, key the lower-cased username).
Passwords are kept only as scrypt hashes, stored with their parameters so
that the cost can be raised later: a password hashed with weaker parameters
is hashed again the next time its owner signs in. scrypt costs ~16 MiB and
tens of milliseconds by design, so it runs in a worker thread, never on the
event loop that serves the live feeds.

An account's ``generation`` goes up when its password changes or it is
disabled; a session remembers the generation it was made in, so that both
end every session made before.

Failed sign-ins are counted per username and per client address in the
store's counters (kind ``login_failures``), so that every process and host
sees the same counts. An attempt is counted as a failure *before* its
password is checked, in one atomic increment, and only an attempt whose
count is within both limits has its password checked at all (a refused
one takes its counts back; a success clears its username's count and takes
back its address's). Attempts racing in parallel, in one process or many,
therefore get distinct counts, and exactly as many are checked as the limit
allows. A count lasts :data:`FAILURE_WINDOW` from the first failure it
holds: no window sees more failures than its limit, though the end of one
window and the start of the next may bring two windows' worth close together.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from queueapp.service.access import ROLES, Principal
from queueapp.store import EventStore, Tally

USER_DOCS = "user"
FAILURE_COUNTERS = "login_failures"

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
"""Long enough for any passphrase; short enough that hashing it is not a denial of service."""

FAILURE_WINDOW = 15 * 60
"""Seconds a count of failed sign-ins lasts, from the first failure it holds."""
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
"""Higher than per user: a branch's counters often share one address behind its router."""

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


class AccountError(ValueError):
    """A refused account change; ``code`` is the API's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    branches: frozenset[str]
    disabled: bool = False
    generation: int = 0
    created_at: float = 0.0

    @property
    def principal(self) -> Principal:
        """Who the user is in the audit trail: ``user:NAME``."""
        return Principal(f"user:{self.name}", self.role, self.branches)

    def view(self) -> dict[str, Any]:
        """What the API and the console show of an account (never the password hash)."""
        return {
            "name": self.name,
            "role": self.role,
            "branches": sorted(self.branches),
            "disabled": self.disabled,
            "created_at": self.created_at,
        }


def normalize_username(name: str) -> str:
    """The account key: lower case, trimmed; letters, digits and ``._@-``, up to 64 characters."""
    key = name.strip().lower()
    if not _USERNAME.match(key):
        raise AccountError(
            "invalid_username",
            "A username is 1-64 characters: letters, digits, '.', '_', '@' or '-'.",
        )
    return key


def check_role(role: str, branches: list[str] | frozenset[str]) -> list[str]:
    """The branches an account of ``role`` keeps: none for an admin, at least one otherwise."""
    if role not in ROLES:
        raise AccountError("invalid_role", f"The role is one of {', '.join(ROLES)}.")
    if role == "admin":
        return []
    if not branches:
        raise AccountError("branch_required", f"A {role} account needs at least one branch.")
    return sorted(set(branches))


# Passwords -------------------------------------------------------------------


def hash_password(password: str) -> dict[str, Any]:
    """A new salted scrypt hash of ``password``, with the parameters that made it."""
    _check_password(password)
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    return {
        "kdf": "scrypt",
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": salt.hex(),
        "hash": digest.hex(),
    }


def verify_password(password: str, record: Mapping[str, Any]) -> bool:
    """Whether ``password`` is the one ``record`` was made from (in constant time)."""
    if record.get("kdf") != "scrypt" or len(password) > MAX_PASSWORD:
        return False
    expected = bytes.fromhex(str(record["hash"]))
    digest = _scrypt(
        password,
        bytes.fromhex(str(record["salt"])),
        int(record["n"]),
        int(record["r"]),
        int(record["p"]),
        len(expected),
    )
    return hmac.compare_digest(digest, expected)


def needs_rehash(record: Mapping[str, Any]) -> bool:
    """Whether ``record`` was made with weaker parameters than today's."""
    return record.get("kdf") != "scrypt" or (
        int(record.get("n", 0)) < SCRYPT_N
        or int(record.get("r", 0)) < SCRYPT_R
        or int(record.get("p", 0)) < SCRYPT_P
    )


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    # OpenSSL needs room for both of scrypt's buffers: 128·r·p and 128·r·(n + 2) bytes.
    maxmem = 128 * r * (n + p + 2) + 2**20
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=length)


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(
            "weak_password", f"A password has {MIN_PASSWORD} to {MAX_PASSWORD} characters."
        )


@cache
def _decoy() -> dict[str, Any]:
    """A hash to check unknown usernames against, so they take as long as known ones."""
    return hash_password(secrets.token_urlsafe(16))


def _verify_decoy(password: str) -> bool:
    return verify_password(password, _decoy())


# Accounts --------------------------------------------------------------------


def _user(key: str, document: Mapping[str, Any]) -> User:
    return User(
        name=key,
        role=str(document["role"]),
        branches=frozenset(document.get("branches", ())),
        disabled=bool(document.get("disabled", False)),
        generation=int(document.get("generation", 0)),
        created_at=float(document.get("created_at", 0.0)),
    )


async def get_user(store: EventStore, name: str) -> User | None:
    try:
        key = normalize_username(name)
    except AccountError:
        return None
    document = await store.get_document(USER_DOCS, key)
    return None if document is None else _user(key, document)


async def list_users(store: EventStore) -> list[User]:
    documents = await store.list_documents(USER_DOCS)
    return [_user(key, document) for key, document in sorted(documents.items())]


async def create_user(
    store: EventStore, name: str, role: str, branches: list[str], password: str
) -> User:
    """A new account; :class:`AccountError` if the name is taken or anything is invalid."""
    key = normalize_username(name)
    kept = check_role(role, branches)
    _check_password(password)
    if await store.get_document(USER_DOCS, key) is not None:
        raise AccountError("user_exists", f"There is already an account named {key!r}.")
    record = await asyncio.to_thread(hash_password, password)
    document = {
        "role": role,
        "branches": kept,
        "disabled": False,
        "generation": 0,
        "created_at": time.time(),
        "password": record,
    }
    await store.put_document(USER_DOCS, key, document)
    return _user(key, document)


async def update_user(
    store: EventStore,
    name: str,
    *,
    role: str | None = None,
    branches: list[str] | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> User:
    """Change what is given; a new password or disabling ends the account's sessions."""
    key = normalize_username(name)
    document = await store.get_document(USER_DOCS, key)
    if document is None:
        raise AccountError("unknown_user", f"There is no account named {key!r}.")
    changed = dict(document)
    new_role = role if role is not None else str(document["role"])
    new_branches = branches if branches is not None else list(document.get("branches", ()))
    changed["role"] = new_role
    changed["branches"] = check_role(new_role, new_branches)
    ends_sessions = False
    if password is not None:
        _check_password(password)
        changed["password"] = await asyncio.to_thread(hash_password, password)
        ends_sessions = True
    if disabled is not None:
        ends_sessions = ends_sessions or (disabled and not document.get("disabled", False))
        changed["disabled"] = disabled
    if ends_sessions:
        changed["generation"] = int(document.get("generation", 0)) + 1
    await store.put_document(USER_DOCS, key, changed)
    return _user(key, changed)


async def authenticate(store: EventStore, name: str, password: str) -> User | None:
    """The account if ``password`` is its password (disabled or not; the caller decides).

    Unknown names are checked against a decoy hash, so that the answer takes
    as long either way and timing does not tell which usernames exist.
    """
    user = await get_user(store, name)
    document = None if user is None else await store.get_document(USER_DOCS, user.name)
    record = document.get("password") if document is not None else None
    if user is None or document is None or not isinstance(record, dict):
        await asyncio.to_thread(_verify_decoy, password)
        return None
    if not await asyncio.to_thread(verify_password, password, record):
        return None
    if needs_rehash(record):
        upgraded = await asyncio.to_thread(hash_password, password)
        await store.put_document(USER_DOCS, user.name, {**document, "password": upgraded})
    return user


# Throttling ------------------------------------------------------------------


class SignInThrottled(Exception):
    """Too many failed sign-ins for the username or the address; ``wait`` seconds to go."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"sign-in refused for {wait:.0f} s")
        self.wait = wait


@dataclass(frozen=True, slots=True)
class SignInAttempt:
    """An attempt let through the throttle, already counted as a failure."""

    keys: tuple[str, str]
    """Its username's and its address's counters."""
    failures: int
    """The username's failures in the window, this attempt included."""
    at: float
    """When it began, on the clock the counts expire by."""


def _failure_keys(name: str, address: str) -> tuple[str, str]:
    # Any string may be typed as a username; the key stays short and printable.
    typed = name.strip().lower()[:64]
    return f"user:{typed}", f"addr:{address[:64]}"


async def _count(store: EventStore, keys: tuple[str, ...], by: int, now: float) -> list[Tally]:
    return await asyncio.gather(
        *(store.increment(FAILURE_COUNTERS, key, by, now=now, ttl=FAILURE_WINDOW) for key in keys)
    )


async def begin_sign_in(store: EventStore, name: str, address: str, now: float) -> SignInAttempt:
    """Count an attempt as a failure before its password is checked, or refuse it.

    Raises :class:`SignInThrottled` if the username or the address already
    has its limit of failures in the window; the refused attempt takes its
    counts back, since it checks nothing. Until :func:`sign_in_succeeded`
    says otherwise the attempt stays counted, also if it ends without an
    answer (a lost connection, a store error).
    """
    keys = _failure_keys(name, address)
    tallies = await _count(store, keys, 1, now)
    limits = (MAX_FAILURES_PER_USER, MAX_FAILURES_PER_ADDRESS)
    waits = [t.expires - now for t, limit in zip(tallies, limits, strict=True) if t.count > limit]
    if waits:
        await _count(store, keys, -1, now)
        raise SignInThrottled(max(waits))
    return SignInAttempt(keys, tallies[0].count, now)


async def sign_in_succeeded(store: EventStore, attempt: SignInAttempt) -> None:
    """The username starts afresh; its address takes the attempt's count back."""
    user_key, address_key = attempt.keys
    await asyncio.gather(
        store.delete_counter(FAILURE_COUNTERS, user_key),
        _count(store, (address_key,), -1, attempt.at),
    )


def failure_delay(failures: int) -> float:
    """Seconds a failed attempt waits before its answer: a quarter second more each time."""
    return min(0.25 * failures, 2.0)
