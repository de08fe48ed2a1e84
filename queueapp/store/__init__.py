"""Stores behind the port, chosen by URL so deployment is configuration, not code."""

from __future__ import annotations

from urllib.parse import urlsplit

from queueapp.store.port import (
    Change,
    ChangeFeed,
    EventStore,
    StoredEvent,
    StoreError,
    Stream,
    Tally,
    VersionConflict,
)
from queueapp.store.redis import RedisStore
from queueapp.store.sqlite import SqliteStore

__all__ = [
    "Change",
    "ChangeFeed",
    "EventStore",
    "StoreError",
    "StoredEvent",
    "Stream",
    "Tally",
    "VersionConflict",
    "open_store",
]

_SUPPORTED = (
    "sqlite:///relative/path.db, sqlite:////absolute/path.db, "
    "redis://host:port/db or rediss://host:port/db"
)


async def open_store(url: str) -> EventStore:
    """Open the store a URL names; ``await`` it, since Redis connects and SQLite creates tables."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return await SqliteStore.open(_sqlite_path(url))
    if scheme in ("redis", "rediss"):
        return await RedisStore.open(url)
    raise ValueError(f"unsupported store URL {url!r}; use {_SUPPORTED}")


def _sqlite_path(url: str) -> str:
    """Three slashes then a relative path, or four for an absolute one, as SQLAlchemy reads them."""
    prefix = "sqlite:///"
    path = url[len(prefix) :] if url.startswith(prefix) else ""
    if not path:
        raise ValueError(f"bad SQLite URL {url!r}; use {_SUPPORTED}")
    if path == ":memory:":
        # The reader and writer threads each open the path: two separate databases.
        raise ValueError(f"the SQLite store needs a file, not {url!r}; use {_SUPPORTED}")
    return path
