"""The store port's contract, run against every store, plus each store's own promises."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis

from queueapp.store import (
    Change,
    EventStore,
    StoreError,
    Stream,
    Tally,
    VersionConflict,
    open_store,
)
from queueapp.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from tests.conftest import RedisServer

pytestmark = pytest.mark.anyio

TODAY = Stream("helsinki", "2024-05-02")


@dataclass
class Backend:
    url: str
    restart: Callable[[], None]
    """Stop and start the server behind the store, if there is one."""

    async def open(self) -> EventStore:
        return await open_store(self.url)


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend(f"sqlite:///{tmp_path}/store.db", restart=lambda: None)
    server: RedisServer = request.getfixturevalue("fresh_redis")
    return Backend(server.url, restart=server.restart)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[EventStore]:
    store = await backend.open()
    yield store
    await store.close()


def events(*names: str) -> list[dict[str, str]]:
    return [{"type": name} for name in names]


async def next_change(feed: AsyncIterator[Change]) -> Change:
    return await asyncio.wait_for(anext(feed), timeout=5)


async def test_first_append_to_an_empty_stream(store: EventStore) -> None:
    assert await store.read(TODAY) == []

    assert await store.append(TODAY, 0, events("open", "ticket")) == 2

    stored = await store.read(TODAY)
    assert [(e.version, e.data) for e in stored] == [(1, {"type": "open"}), (2, {"type": "ticket"})]


async def test_read_after_a_version(store: EventStore) -> None:
    await store.append(TODAY, 0, events("a", "b", "c"))
    await store.append(TODAY, 3, events("d"))

    assert [e.data["type"] for e in await store.read(TODAY, after=2)] == ["c", "d"]
    assert await store.read(TODAY, after=4) == []


async def test_stale_version_conflicts_and_writes_nothing(store: EventStore) -> None:
    await store.append(TODAY, 0, events("a", "b"))

    with pytest.raises(VersionConflict) as conflict:
        await store.append(TODAY, 1, events("late"))

    assert (conflict.value.stream, conflict.value.expected, conflict.value.actual) == (TODAY, 1, 2)
    assert [e.data["type"] for e in await store.read(TODAY)] == ["a", "b"]


async def test_appending_nothing_only_checks_the_version(store: EventStore) -> None:
    await store.append(TODAY, 0, events("a"))

    assert await store.append(TODAY, 1, []) == 1
    with pytest.raises(VersionConflict):
        await store.append(TODAY, 0, [])
    assert len(await store.read(TODAY)) == 1


async def test_streams_of_other_branches_and_days_are_independent(store: EventStore) -> None:
    other_branch = Stream("tampere", TODAY.day)
    other_day = Stream(TODAY.branch, "2024-05-03")

    await store.append(TODAY, 0, events("a", "b"))
    assert await store.append(other_branch, 0, events("x")) == 1
    assert await store.append(other_day, 0, events("y")) == 1

    assert [e.data["type"] for e in await store.read(other_branch)] == ["x"]
    assert [e.data["type"] for e in await store.read(other_day)] == ["y"]
    assert len(await store.read(TODAY)) == 2


async def test_concurrent_appends_at_one_version_have_one_winner(store: EventStore) -> None:
    results = await asyncio.gather(
        *(store.append(TODAY, 0, events(f"racer-{i}", "extra")) for i in range(20)),
        return_exceptions=True,
    )

    winners = [i for i, result in enumerate(results) if result == 2]
    assert len(winners) == 1
    losers = [result for result in results if isinstance(result, VersionConflict)]
    assert len(losers) == 19
    assert all(conflict.actual == 2 for conflict in losers)
    assert [e.data["type"] for e in await store.read(TODAY)] == [f"racer-{winners[0]}", "extra"]


async def test_concurrent_appends_to_different_streams_all_succeed(store: EventStore) -> None:
    streams = [Stream(f"branch-{i}", TODAY.day) for i in range(30)]

    results = await asyncio.gather(*(store.append(s, 0, events("a")) for s in streams))

    assert results == [1] * 30
    for stream in streams:
        assert len(await store.read(stream)) == 1


async def test_documents(store: EventStore) -> None:
    assert await store.get_document("branch", "helsinki") is None
    assert await store.list_documents("branch") == {}

    await store.put_document("branch", "helsinki", {"capacity": 20, "name": "Helsinki"})
    await store.put_document("branch", "tampere", {"capacity": 8})
    await store.put_document("token", "helsinki", {"secret": "s"})
    await store.put_document("branch", "helsinki", {"capacity": 25})

    assert await store.get_document("branch", "helsinki") == {"capacity": 25}
    assert await store.list_documents("branch") == {
        "helsinki": {"capacity": 25},
        "tampere": {"capacity": 8},
    }

    assert await store.delete_document("branch", "helsinki") is True
    assert await store.delete_document("branch", "helsinki") is False
    assert await store.get_document("branch", "helsinki") is None
    assert await store.list_documents("branch") == {"tampere": {"capacity": 8}}
    assert await store.get_document("token", "helsinki") == {"secret": "s"}


async def test_counters(store: EventStore) -> None:
    at = 1_700_000_000.0

    assert await store.increment("failures", "user:ann", 1, now=at, ttl=60) == Tally(1, at + 60)
    assert await store.increment("failures", "user:ann", 2, now=at + 10, ttl=60) == Tally(
        3, at + 60
    )
    assert await store.increment("failures", "user:bob", 1, now=at, ttl=60) == Tally(1, at + 60)
    assert await store.increment("other", "user:ann", 1, now=at, ttl=60) == Tally(1, at + 60)
    assert await store.increment("failures", "user:ann", -1, now=at, ttl=60) == Tally(2, at + 60)
    assert await store.increment("failures", "user:ann", -5, now=at, ttl=60) == Tally(0, at + 60)


async def test_an_expired_counter_starts_again(store: EventStore) -> None:
    at = 1_700_000_000.0
    await store.increment("failures", "addr:x", 4, now=at, ttl=60)

    assert await store.increment("failures", "addr:x", 1, now=at + 60, ttl=60) == Tally(1, at + 120)
    assert await store.increment("failures", "addr:x", -1, now=at + 200, ttl=60) == Tally(
        0, at + 260
    )


async def test_a_deleted_counter_starts_again(store: EventStore) -> None:
    at = 1_700_000_000.0
    await store.increment("failures", "user:ann", 3, now=at, ttl=60)
    await store.increment("failures", "user:bob", 3, now=at, ttl=60)

    await store.delete_counter("failures", "user:ann")
    await store.delete_counter("failures", "user:nobody")

    assert await store.increment("failures", "user:ann", 1, now=at + 1, ttl=60) == Tally(1, at + 61)
    assert await store.increment("failures", "user:bob", 1, now=at + 1, ttl=60) == Tally(4, at + 60)


async def test_concurrent_increments_from_two_stores_each_count_once(backend: Backend) -> None:
    # Two stores on one database contend just as two server processes would.
    first, second = await backend.open(), await backend.open()
    try:
        tallies = await asyncio.gather(
            *(
                store.increment("failures", "user:ann", 1, now=1_700_000_000.0, ttl=60)
                for store in [first, second] * 100
            )
        )

        assert sorted(tally.count for tally in tallies) == list(range(1, 201))
    finally:
        await first.close()
        await second.close()


async def test_change_feed_follows_subscribed_branches_in_order(store: EventStore) -> None:
    other = Stream("tampere", TODAY.day)
    async with store.change_feed() as feed:
        changes = aiter(feed)
        await feed.subscribe(TODAY.branch)

        await store.append(other, 0, events("unheard"))
        for version in range(3):
            await store.append(TODAY, version, events("a"))

        seen = [await next_change(changes)]
        while seen[-1].version < 3:
            seen.append(await next_change(changes))
        assert {change.stream for change in seen} == {TODAY}
        versions = [change.version for change in seen]
        assert versions == sorted(set(versions))


async def test_change_feed_stops_after_unsubscribe(store: EventStore) -> None:
    other = Stream("tampere", TODAY.day)
    async with store.change_feed() as feed:
        changes = aiter(feed)
        await feed.subscribe(TODAY.branch)
        await feed.subscribe(other.branch)
        await store.append(TODAY, 0, events("a"))
        assert await next_change(changes) == Change(TODAY, 1)

        await feed.unsubscribe(TODAY.branch)
        await store.append(TODAY, 1, events("b"))
        await store.append(other, 0, events("x"))

        assert await next_change(changes) == Change(other, 1)


async def test_each_feed_gets_every_change(store: EventStore) -> None:
    async with store.change_feed() as first, store.change_feed() as second:
        await first.subscribe(TODAY.branch)
        await second.subscribe(TODAY.branch)

        await store.append(TODAY, 0, events("a"))

        assert await next_change(aiter(first)) == Change(TODAY, 1)
        assert await next_change(aiter(second)) == Change(TODAY, 1)


async def test_data_survives_reopening(backend: Backend) -> None:
    store = await backend.open()
    await store.append(TODAY, 0, events("a", "b"))
    await store.put_document("branch", "helsinki", {"capacity": 20})
    await store.close()

    backend.restart()
    store = await backend.open()
    try:
        assert [e.data["type"] for e in await store.read(TODAY)] == ["a", "b"]
        assert await store.get_document("branch", "helsinki") == {"capacity": 20}
        assert await store.append(TODAY, 2, events("c")) == 3
    finally:
        await store.close()


async def test_redis_store_reconnects_after_a_restart(fresh_redis: RedisServer) -> None:
    store = await open_store(fresh_redis.url)
    try:
        await store.append(TODAY, 0, events("a"))

        fresh_redis.restart()

        assert await store.append(TODAY, 1, events("b")) == 2
        assert [e.data["type"] for e in await store.read(TODAY)] == ["a", "b"]
    finally:
        await store.close()


async def test_redis_append_retried_after_success_is_not_a_conflict(
    fresh_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A retry resends the same append, token included, as simulated here.
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=7))
    store = await open_store(fresh_redis.url)
    try:
        assert await store.append(TODAY, 0, events("a", "b")) == 2
        assert await store.append(TODAY, 0, events("a", "b")) == 2
        assert len(await store.read(TODAY)) == 2
    finally:
        await store.close()


async def test_redis_feed_fails_when_its_connection_drops(fresh_redis: RedisServer) -> None:
    store = await open_store(fresh_redis.url)
    try:
        async with store.change_feed() as feed:
            await feed.subscribe(TODAY.branch)
            with redis.Redis.from_url(fresh_redis.url) as admin:
                admin.client_kill_filter(_type="pubsub")

            with pytest.raises(StoreError):
                await next_change(aiter(feed))
            with pytest.raises(StoreError):
                await feed.subscribe("tampere")
    finally:
        await store.close()


async def test_sqlite_batch_sees_earlier_appends_of_the_same_batch(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "store.db")
    try:
        first, second, stale, third = await asyncio.gather(
            store.append(TODAY, 0, events("a")),
            store.append(TODAY, 1, events("b")),
            store.append(TODAY, 1, events("stale")),
            store.append(TODAY, 2, events("c")),
            return_exceptions=True,
        )

        assert (first, second, third) == (1, 2, 3)
        assert isinstance(stale, VersionConflict)
        assert [e.data["type"] for e in await store.read(TODAY)] == ["a", "b", "c"]
    finally:
        await store.close()


async def test_sqlite_compare_and_append_holds_across_stores_on_one_file(tmp_path: Path) -> None:
    # Two stores on one file contend for its lock just as two processes would.
    first = await SqliteStore.open(tmp_path / "store.db")
    second = await SqliteStore.open(tmp_path / "store.db")
    try:
        results = await asyncio.gather(
            *(store.append(TODAY, 0, events("a")) for store in [first, second] * 5),
            return_exceptions=True,
        )

        assert results.count(1) == 1
        assert sum(isinstance(result, VersionConflict) for result in results) == 9
        assert len(await second.read(TODAY)) == 1
    finally:
        await first.close()
        await second.close()


async def test_sqlite_append_does_not_block_the_event_loop(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "store.db")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        big_batch = [{"n": n, "padding": "x" * 200} for n in range(20_000)]
        await asyncio.sleep(0.01)
        before = ticks
        assert await store.append(TODAY, 0, big_batch) == 20_000
        # A blocking append would finish within one step of the loop, leaving
        # the ticker at most one tick; one on a thread leaves it running.
        assert ticks - before >= 3
    finally:
        ticker.cancel()
        await store.close()
