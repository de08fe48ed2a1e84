"""Shared fixtures.

Redis tests run against a private redis-server on a free port, never the
machine's own Redis on 6379, so they can flush and restart it at will.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from queueapp.demo import demo_config
from queueapp.service.branches import BranchService
from queueapp.store import open_store
from queueapp.testing import RedisServer


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        assert server.port != 6379
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def fresh_redis(redis_server: RedisServer) -> RedisServer:
    """The test server, emptied for this test."""
    redis_server.flush()
    return redis_server


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh store for commands; the environment and working directory cannot point elsewhere."""
    monkeypatch.delenv("QUEUEAPP_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.fixture
def demo_store_url(store_url: str) -> str:
    """:func:`store_url` with the demo branch saved in it."""

    async def seed() -> None:
        store = await open_store(store_url)
        try:
            await BranchService(store).save_config(demo_config())
        finally:
            await store.close()

    asyncio.run(seed())
    return store_url
