"""Shared fixtures.

Redis tests run against a private redis-server on a free port, never the
machine's own Redis on 6379, so they can flush and restart it at will.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
