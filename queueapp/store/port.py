"""The one small interface every store implements.

The service talks only to this port. A store keeps four things:

* an append-only event log per branch and day, guarded by compare-and-append
  (the caller names the version it decided on; a stale caller gets
  :class:`VersionConflict` and decides again);
* configuration documents (branch configs, API tokens, ...), small JSON objects
  addressed by kind and key;
* counters with an expiry, addressed the same way, whose increments are
  atomic across processes (what a limit shared by several servers needs,
  where reading a document and writing it back would let racing writers
  each count from the same value);
* a change feed that says "stream S is now at version V", so that every
  process can catch its caches and live sockets up from the log.

Change messages carry no event payload on purpose: subscribers read the log
from the last version they saw, which makes a dropped message harmless.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

JSON = dict[str, Any]


class Stream(NamedTuple):
    """One branch's log for one local day (``day`` is ``YYYY-MM-DD``)."""

    branch: str
    day: str


@dataclass(frozen=True, slots=True)
class StoredEvent:
    version: int
    data: JSON


@dataclass(frozen=True, slots=True)
class Tally:
    """A counter's value after an increment, and when (on the caller's clock) it expires."""

    count: int
    expires: float


@dataclass(frozen=True, slots=True)
class Change:
    stream: Stream
    version: int


class StoreError(Exception):
    """The store could not do what was asked (connection lost, disk full...)."""


class VersionConflict(StoreError):
    """Someone appended since the caller read the stream."""

    def __init__(self, stream: Stream, expected: int, actual: int) -> None:
        super().__init__(f"{stream.branch}/{stream.day}: expected version {expected}, at {actual}")
        self.stream = stream
        self.expected = expected
        self.actual = actual


class ChangeFeed(Protocol):
    """A process-wide subscription to the changes of chosen branches.

    A :class:`StoreError` from the iterator ends the feed for good: the
    consumer opens a new one and catches up from the log.
    """

    async def subscribe(self, branch: str) -> None:
        """Every change appended after this returns will be delivered.

        So "subscribe, then read the log" leaves no gap between the two.
        """
        ...

    async def unsubscribe(self, branch: str) -> None: ...

    def __aiter__(self) -> AsyncIterator[Change]: ...


class EventStore(Protocol):
    async def append(self, stream: Stream, expected_version: int, events: Sequence[JSON]) -> int:
        """Append ``events`` if the stream is at ``expected_version``; return the new version.

        Versions start at 0 for an empty stream and count events. Once this
        returns, the events are durable and the change has been published.
        An empty ``events`` only checks the version. After a StoreError or a
        cancellation the outcome is unknown: re-read the log before deciding again.
        """
        ...

    async def read(self, stream: Stream, after: int = 0) -> list[StoredEvent]:
        """Events with a version greater than ``after``, in order."""
        ...

    async def get_document(self, kind: str, key: str) -> JSON | None: ...

    async def put_document(self, kind: str, key: str, document: Mapping[str, Any]) -> None: ...

    async def delete_document(self, kind: str, key: str) -> bool: ...

    async def list_documents(self, kind: str) -> dict[str, JSON]: ...

    async def increment(self, kind: str, key: str, by: int, *, now: float, ttl: float) -> Tally:
        """Add ``by`` (which may be negative) to a counter in one atomic step; return it.

        A counter that is missing or has expired by ``now`` starts again from
        zero and expires ``ttl`` seconds after ``now``; later increments keep
        that expiry, so a counter counts within a fixed window. Expiry is on
        the caller's clock (``now``, a Unix time), as sessions are, not the
        store's. The count never goes below zero, so taking back a count
        after the counter was reset or expired cannot leave it owing one.
        """
        ...

    async def delete_counter(self, kind: str, key: str) -> None:
        """Forget a counter: the next increment starts it from zero."""
        ...

    def change_feed(self) -> AbstractAsyncContextManager[ChangeFeed]: ...

    async def close(self) -> None: ...
