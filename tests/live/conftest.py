"""Fixtures for the live feeds: two real servers on one private Redis, and an admin token.

Two ``queueapp serve`` processes (A and B) share one private redis-server,
so a change made through B must reach a display on A through the store's
change feed and A's hub, as it would behind a load balancer. They are
started once for the folder; each test creates a branch of its own (a copy
of the demo branch under a fresh id, through the API), so tests do not see
each other's changes and need not restart anything. A test that restarts
Redis gets a Redis and a server of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from livefeeds import Cluster, Lone

from queueapp.service.access import create_token
from queueapp.store import open_store
from queueapp.testing import RedisServer, ServerProcess


async def _admin_token(store_url: str) -> str:
    store = await open_store(store_url)
    try:
        token, _ = await create_token(store, "admin", [], label="live-tests")
        return token
    finally:
        await store.close()


def admin_token_for(store_url: str) -> str:
    """An admin bearer token made straight in the store (no server needed)."""
    return asyncio.run(_admin_token(store_url))


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    directory = tmp_path_factory.mktemp("live-cluster")
    with RedisServer(directory) as redis:
        assert redis.port != 6379
        token = admin_token_for(redis.url)
        with ServerProcess(redis.url, directory) as a, ServerProcess(redis.url, directory) as b:
            yield Cluster(redis, a, b, token)


@pytest.fixture
def lone(tmp_path: Path) -> Iterator[Lone]:
    with RedisServer(tmp_path) as redis:
        assert redis.port != 6379
        token = admin_token_for(redis.url)
        with ServerProcess(redis.url, tmp_path) as server:
            yield Lone(redis, server, token)
