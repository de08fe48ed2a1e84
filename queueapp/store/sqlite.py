"""The embedded default store: one SQLite file next to a single server.

SQLite calls block, so no connection is ever touched on the event loop. Writes
go to one writer thread: SQLite admits one writer at a time anyway, so more
threads would only queue on the file lock. Reads go to a reader thread with its
own connection; WAL mode lets it see every committed append while the writer
works.

With ``synchronous=FULL`` each commit waits for an fsync, which would cap
appends at one per disk flush. The writer therefore commits every append that
is waiting when it wakes up in one transaction (group commit), so a burst of
clicks across branches costs one fsync rather than one each.

A counter is incremented in one transaction on the writer that first deletes
the kind's expired counters, so the increment only ever meets a live one and
nothing else has to sweep them.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from queueapp.store.jsontext import dumps, loads
from queueapp.store.port import (
    JSON,
    Change,
    ChangeFeed,
    StoredEvent,
    StoreError,
    Stream,
    Tally,
    VersionConflict,
)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    branch TEXT NOT NULL,
    day TEXT NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (branch, day, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    count INTEGER NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS counters_by_expiry ON counters (kind, expires);
"""


def _connect(path: str, busy_timeout_ms: int) -> sqlite3.Connection:
    # isolation_level=None: the driver must not open transactions behind our
    # back, because compare-and-append needs BEGIN IMMEDIATE (the write lock
    # taken before the version is read, also against other processes).
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    return conn


class _Worker:
    """One thread owning one connection, since a SQLite connection must stay on its thread."""

    def __init__(self, name: str, conn: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self.name = name
        self._conn = conn
        self._executor = executor

    @classmethod
    async def start(cls, name: str, path: str, busy_timeout_ms: int) -> _Worker:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"queueapp-sqlite-{name}")
        loop = asyncio.get_running_loop()
        try:
            conn = await loop.run_in_executor(executor, _connect, path, busy_timeout_ms)
        except sqlite3.Error as exc:
            executor.shutdown()
            raise StoreError(f"cannot open SQLite database {path!r}: {exc}") from exc
        return cls(name, conn, executor)

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._call, job)

    def submit(self, job: Callable[[sqlite3.Connection], None]) -> None:
        """Queue a job whose outcome the job itself reports."""
        self._executor.submit(job, self._conn)

    def _call(self, job: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return job(self._conn)
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite {self.name}: {exc}") from exc

    async def stop(self) -> None:
        await self.run(sqlite3.Connection.close)
        self._executor.shutdown()


@dataclass(eq=False)
class _Append:
    stream: Stream
    expected: int
    rows: list[str]
    future: asyncio.Future[int]


class _Feed:
    """In-process feed; the store pushes to it from the event loop thread."""

    def __init__(self) -> None:
        self._branches: set[str] = set()
        self._changes: asyncio.Queue[Change] = asyncio.Queue()

    async def subscribe(self, branch: str) -> None:
        self._branches.add(branch)

    async def unsubscribe(self, branch: str) -> None:
        self._branches.discard(branch)

    def offer(self, change: Change) -> None:
        if change.stream.branch in self._branches:
            self._changes.put_nowait(change)

    def __aiter__(self) -> AsyncIterator[Change]:
        return self

    async def __anext__(self) -> Change:
        # Re-check: a change queued before an unsubscribe must not come out after it.
        while True:
            change = await self._changes.get()
            if change.stream.branch in self._branches:
                return change


class SqliteStore:
    """Event store in one SQLite file, bound to the event loop that opened it.

    Other processes (a CLI command next to the running server) may append to
    the same file safely, but only appends made through this object reach its
    change feeds.
    """

    def __init__(self, writer: _Worker, reader: _Worker) -> None:
        self._loop = asyncio.get_running_loop()
        self._writer = writer
        self._reader = reader
        self._pending: deque[_Append] = deque()
        self._feeds: set[_Feed] = set()
        self._closed = False

    @classmethod
    async def open(cls, path: str | os.PathLike[str], *, busy_timeout: float = 10.0) -> SqliteStore:
        """Open (creating if needed) the database file.

        ``busy_timeout`` is how long to wait for another process's write lock
        before giving up with :class:`StoreError`.
        """
        file = os.fspath(path)
        timeout_ms = round(busy_timeout * 1000)
        writer = await _Worker.start("writer", file, timeout_ms)
        try:
            await writer.run(lambda conn: conn.executescript(_SCHEMA))
            reader = await _Worker.start("reader", file, timeout_ms)
        except BaseException:
            await writer.stop()
            raise
        return cls(writer, reader)

    async def append(self, stream: Stream, expected_version: int, events: Sequence[JSON]) -> int:
        """Queue the append for the writer's next group commit and wait for that commit.

        Cancelling the caller does not withdraw an append already queued.
        """
        self._check_open()
        rows = [dumps(event) for event in events]
        request = _Append(Stream(*stream), expected_version, rows, self._loop.create_future())
        self._pending.append(request)
        # One job per append, but the first job to run takes every waiting
        # append; the jobs that follow find nothing left and return at once.
        self._writer.submit(self._commit_pending)
        return await request.future

    def _commit_pending(self, conn: sqlite3.Connection) -> None:
        """Writer thread: commit every queued append in one transaction."""
        batch: list[_Append] = []
        while self._pending:
            batch.append(self._pending.popleft())
        if not batch:
            return
        outcomes: list[int | StoreError]
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                outcomes = [_apply(conn, request) for request in batch]
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        except Exception as exc:
            outcomes = [StoreError(f"append failed: {exc}") for _ in batch]
        self._loop.call_soon_threadsafe(self._settle, batch, outcomes)

    def _settle(self, batch: list[_Append], outcomes: list[int | StoreError]) -> None:
        """Event loop: wake the callers, then publish the batch's changes.

        Both happen in this one callback, before any caller resumes, so the
        port's promise holds that the change is out once append returns. The
        callers are woken first so that the appending process's own hub has
        taken the change from its service before the feed's copy arrives, and
        need not read it back from the log. Only each stream's last version is
        published: a subscriber reads the log from where it was, so the others
        add nothing.
        """
        latest: dict[Stream, int] = {}
        for request, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, int) and request.rows:
                latest[request.stream] = outcome
            if request.future.cancelled():
                continue
            if isinstance(outcome, int):
                request.future.set_result(outcome)
            else:
                request.future.set_exception(outcome)
        for stream, version in latest.items():
            for feed in self._feeds:
                feed.offer(Change(stream, version))

    async def read(self, stream: Stream, after: int = 0) -> list[StoredEvent]:
        def query(conn: sqlite3.Connection) -> list[StoredEvent]:
            rows = conn.execute(
                "SELECT version, data FROM events"
                " WHERE branch = ? AND day = ? AND version > ? ORDER BY version",
                (stream.branch, stream.day, after),
            )
            return [StoredEvent(version, loads(data)) for version, data in rows]

        self._check_open()
        return await self._reader.run(query)

    async def get_document(self, kind: str, key: str) -> JSON | None:
        def query(conn: sqlite3.Connection) -> JSON | None:
            row = conn.execute(
                "SELECT data FROM documents WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
            return None if row is None else loads(row[0])

        self._check_open()
        return await self._reader.run(query)

    async def put_document(self, kind: str, key: str, document: Mapping[str, Any]) -> None:
        data = dumps(document)

        def upsert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO documents (kind, key, data) VALUES (?, ?, ?)"
                " ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data",
                (kind, key, data),
            )

        self._check_open()
        await self._writer.run(upsert)

    async def delete_document(self, kind: str, key: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("DELETE FROM documents WHERE kind = ? AND key = ?", (kind, key))
            return cursor.rowcount > 0

        self._check_open()
        return await self._writer.run(delete)

    async def list_documents(self, kind: str) -> dict[str, JSON]:
        def query(conn: sqlite3.Connection) -> dict[str, JSON]:
            rows = conn.execute(
                "SELECT key, data FROM documents WHERE kind = ? ORDER BY key", (kind,)
            )
            return {key: loads(data) for key, data in rows}

        self._check_open()
        return await self._reader.run(query)

    async def increment(self, kind: str, key: str, by: int, *, now: float, ttl: float) -> Tally:
        def bump(conn: sqlite3.Connection) -> Tally:
            # BEGIN IMMEDIATE takes the file's write lock first, also against other processes.
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM counters WHERE kind = ? AND expires <= ?", (kind, now))
                ((count, expires),) = conn.execute(
                    "INSERT INTO counters (kind, key, count, expires) VALUES (?, ?, max(0, ?), ?)"
                    " ON CONFLICT (kind, key) DO UPDATE SET count = max(0, count + ?)"
                    " RETURNING count, expires",
                    (kind, key, by, now + ttl, by),
                ).fetchall()
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            return Tally(count, expires)

        self._check_open()
        return await self._writer.run(bump)

    async def delete_counter(self, kind: str, key: str) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM counters WHERE kind = ? AND key = ?", (kind, key))

        self._check_open()
        await self._writer.run(delete)

    @asynccontextmanager
    async def change_feed(self) -> AsyncIterator[ChangeFeed]:
        feed = _Feed()
        self._feeds.add(feed)
        try:
            yield feed
        finally:
            self._feeds.discard(feed)

    async def close(self) -> None:
        """Finish queued work, then close both connections and their threads."""
        if self._closed:
            return
        self._closed = True
        await self._writer.stop()
        await self._reader.stop()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the SQLite store is closed")


def _apply(conn: sqlite3.Connection, request: _Append) -> int | StoreError:
    """Compare-and-append one request inside the batch's transaction.

    The version is read inside the transaction, so it includes earlier
    appends of the same batch; a conflict writes nothing and fails alone.
    """
    stream = request.stream
    (actual,) = conn.execute(
        "SELECT coalesce(max(version), 0) FROM events WHERE branch = ? AND day = ?",
        (stream.branch, stream.day),
    ).fetchone()
    if actual != request.expected:
        return VersionConflict(stream, request.expected, actual)
    conn.executemany(
        "INSERT INTO events (branch, day, version, data) VALUES (?, ?, ?, ?)",
        [
            (stream.branch, stream.day, request.expected + offset, row)
            for offset, row in enumerate(request.rows, start=1)
        ],
    )
    return request.expected + len(request.rows)
