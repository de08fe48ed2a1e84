"""Event store on Redis, for several server processes sharing one log.

Each day's log is a Redis stream whose entry IDs are ``{version}-0``, so a
version *is* an entry ID and "events after v" is one XRANGE. The version
check, the XADDs and the change notice run in one Lua script, which Redis
executes atomically: nobody can append between the check and the write, and no
subscriber hears of a version before it is stored.

The client retries a command after a dropped connection (that is how the store
survives a Redis restart), so the script may run twice for one append. Each
append therefore carries a random token, stored on its first entry: a retry
that finds its own token where its events would go reports success instead of
a conflict with itself.

A counter is a small hash (count and expiry) changed by a second Lua script,
so reading, resetting an expired count and adding happen as one step. Its
expiry is on the caller's clock, which the script is given; Redis's own key
expiry only clears counters away once that time has passed. An increment
carries no token: one that the client retries after its connection dropped
may have run already, and then counts twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import RedisError

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

# KEYS[1]: the stream. ARGV: expected version, append token, change channel,
# change message, then one JSON text per event.
MAX_CONNECTIONS = 64
"""Connections a process keeps to Redis; requests beyond wait for one to come free."""
POOL_TIMEOUT = 10.0
"""Seconds a request waits for a free connection before the store reports an error."""

_APPEND = """
local expected = tonumber(ARGV[1])
local count = #ARGV - 4
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local actual = 0
if #last > 0 then actual = tonumber(string.match(last[1][1], '^%d+')) end
if actual ~= expected then
  if count > 0 then
    local first_id = (expected + 1) .. '-0'
    local first = redis.call('XRANGE', KEYS[1], first_id, first_id)
    if #first > 0 and first[1][2][4] == ARGV[2] then return {1, expected + count} end
  end
  return {0, actual}
end
if count == 0 then return {1, expected} end
redis.call('XADD', KEYS[1], (expected + 1) .. '-0', 'd', ARGV[5], 't', ARGV[2])
for i = 2, count do
  redis.call('XADD', KEYS[1], (expected + i) .. '-0', 'd', ARGV[4 + i])
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return {1, expected + count}
"""


# KEYS[1]: the counter. ARGV: the increment, now, and the expiry a new
# counter gets (both Unix times as text, kept exactly as given).
_INCREMENT = """
local now = tonumber(ARGV[2])
local stored = redis.call('HMGET', KEYS[1], 'n', 'e')
local count, expires = 0, ARGV[3]
if stored[2] and tonumber(stored[2]) > now then
  count, expires = tonumber(stored[1]), stored[2]
end
count = math.max(0, count + tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'n', count, 'e', expires)
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((tonumber(expires) - now) * 1000)))
return {count, expires}
"""


def _log_key(stream: Stream) -> str:
    return f"queueapp:log:{stream.branch}:{stream.day}"


def _document_key(kind: str) -> str:
    return f"queueapp:doc:{kind}"


def _counter_key(kind: str, key: str) -> str:
    return f"queueapp:count:{kind}:{key}"


def _channel(branch: str) -> str:
    return f"queueapp:changes:{branch}"


@contextmanager
def _store_errors() -> Iterator[None]:
    """Report Redis failures as the port's StoreError, which the web layer turns into a 503."""
    try:
        yield
    except RedisError as exc:
        raise StoreError(f"Redis: {exc}") from exc


class _Feed:
    """A change feed on its own Pub/Sub connection.

    A reader task owns the connection's replies: it routes subscribe
    confirmations to the waiting :meth:`subscribe` calls and changes to the
    iterator. The connection never silently reconnects, since changes published
    meanwhile would be lost unnoticed; a drop ends the feed with StoreError
    instead, and the consumer opens a new one and catches up from the log.
    """

    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub
        self._subscriptions: dict[str, asyncio.Future[None]] = {}
        self._changes: asyncio.Queue[Change | None] = asyncio.Queue()
        self._lost: Exception | None = None
        self._reader = asyncio.create_task(self._read())

    async def subscribe(self, branch: str) -> None:
        """Return once Redis confirms, so no change made after this returns is missed."""
        self._check_alive()
        channel = _channel(branch)
        if channel not in self._subscriptions:
            self._subscriptions[channel] = asyncio.get_running_loop().create_future()
            try:
                with _store_errors():
                    await self._pubsub.subscribe(channel)
            except BaseException:
                del self._subscriptions[channel]
                raise
        await asyncio.shield(self._subscriptions[channel])

    async def unsubscribe(self, branch: str) -> None:
        """Forget the branch at once; on a lost feed there is nothing left to tell Redis."""
        channel = _channel(branch)
        if self._subscriptions.pop(channel, None) is not None and self._lost is None:
            with _store_errors():
                await self._pubsub.unsubscribe(channel)

    def __aiter__(self) -> AsyncIterator[Change]:
        return self

    async def __anext__(self) -> Change:
        while True:
            self._check_alive()
            change = await self._changes.get()
            # Messages may still arrive between unsubscribe() and Redis acting on it.
            if change is not None and _channel(change.stream.branch) in self._subscriptions:
                return change

    async def _read(self) -> None:
        try:
            while True:
                message = await self._pubsub.get_message(timeout=None)
                if message is not None:
                    self._dispatch(message)
        except Exception as exc:
            self._lost = exc
            self._changes.put_nowait(None)
            for waiter in self._subscriptions.values():
                if not waiter.done():
                    waiter.set_exception(StoreError(f"change feed lost: {exc}"))

    def _dispatch(self, message: dict[str, Any]) -> None:
        waiter = self._subscriptions.get(message["channel"])
        if message["type"] == "subscribe" and waiter is not None and not waiter.done():
            waiter.set_result(None)
        elif message["type"] == "message":
            data = loads(message["data"])
            self._changes.put_nowait(Change(Stream(data["b"], data["d"]), data["v"]))

    def _check_alive(self) -> None:
        if self._lost is not None:
            raise StoreError(f"change feed lost: {self._lost}") from self._lost

    async def stop(self) -> None:
        self._reader.cancel()
        await asyncio.wait([self._reader])


class RedisStore:
    """Event store on one Redis database, shared by any number of processes."""

    def __init__(self, url: str, client: Redis) -> None:
        self._url = url
        self._client = client
        self._append_script = client.register_script(_APPEND)
        self._increment_script = client.register_script(_INCREMENT)

    @classmethod
    async def open(cls, url: str) -> RedisStore:
        """Connect and load the append script, so a wrong URL fails here and not on first use."""
        # A restarted Redis leaves every pooled connection dead: one retry
        # reconnects it, the others ride out the restart before StoreError.
        retry = Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=3)
        # A burst of requests (200 counters opening at nine) waits for a
        # connection instead of failing: the default pool refuses the 101st.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=POOL_TIMEOUT,
            decode_responses=True,
            retry=retry,
        )
        client = Redis.from_pool(pool)
        try:
            with _store_errors():
                await client.script_load(_APPEND)
        except BaseException:
            await client.aclose()
            raise
        return cls(url, client)

    async def append(self, stream: Stream, expected_version: int, events: Sequence[JSON]) -> int:
        new_version = expected_version + len(events)
        change = {"b": stream.branch, "d": stream.day, "v": new_version}
        args: list[str | int] = [
            expected_version,
            uuid.uuid4().hex,
            _channel(stream.branch),
            dumps(change),
            *map(dumps, events),
        ]
        with _store_errors():
            applied, version = await self._append_script(keys=[_log_key(stream)], args=args)
        if not applied:
            raise VersionConflict(stream, expected_version, version)
        return int(version)

    async def read(self, stream: Stream, after: int = 0) -> list[StoredEvent]:
        with _store_errors():
            entries = await self._client.xrange(_log_key(stream), min=f"{after + 1}-0")
        return [
            StoredEvent(int(str(entry_id).partition("-")[0]), loads(fields["d"]))
            for entry_id, fields in entries or []
            if fields is not None  # only consumer-group reads yield None; narrows the type
        ]

    async def get_document(self, kind: str, key: str) -> JSON | None:
        with _store_errors():
            data = await self._client.hget(_document_key(kind), key)
        return None if data is None else loads(data)

    async def put_document(self, kind: str, key: str, document: Mapping[str, Any]) -> None:
        with _store_errors():
            await self._client.hset(_document_key(kind), key, dumps(document))

    async def delete_document(self, kind: str, key: str) -> bool:
        with _store_errors():
            return await self._client.hdel(_document_key(kind), key) > 0

    async def list_documents(self, kind: str) -> dict[str, JSON]:
        with _store_errors():
            documents = await self._client.hgetall(_document_key(kind))
        return {str(key): loads(data) for key, data in documents.items()}

    async def increment(self, kind: str, key: str, by: int, *, now: float, ttl: float) -> Tally:
        args: list[str | int] = [by, repr(now), repr(now + ttl)]
        with _store_errors():
            count, expires = await self._increment_script(keys=[_counter_key(kind, key)], args=args)
        return Tally(int(count), float(expires))

    async def delete_counter(self, kind: str, key: str) -> None:
        with _store_errors():
            await self._client.delete(_counter_key(kind, key))

    @asynccontextmanager
    async def change_feed(self) -> AsyncIterator[ChangeFeed]:
        # Its own client without retries: see _Feed for why it must not reconnect.
        client = Redis.from_url(self._url, decode_responses=True, retry=Retry(NoBackoff(), 0))
        pubsub = client.pubsub()
        try:
            with _store_errors():
                await pubsub.connect()  # type: ignore[no-untyped-call]
            feed = _Feed(pubsub)
            try:
                yield feed
            finally:
                await feed.stop()
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await client.aclose()

    async def close(self) -> None:
        await self._client.aclose()
