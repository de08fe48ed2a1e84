"""Fixtures for the system tests: a private redis-server, a seeded store, real server processes.

Each test gets its own redis-server (never the machine's 6379) and its own
files under ``tmp_path``; servers are ``python -m queueapp serve`` children,
stopped at the end of the test whatever happened to them meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from system_clients import Launch, Seed, tight_demo_config

from queueapp.domain.config import BranchConfig
from queueapp.service.access import create_token
from queueapp.service.branches import BranchService
from queueapp.store import open_store
from queueapp.testing import RedisServer, ServerProcess


async def _seed(store_url: str, config: BranchConfig) -> str:
    store = await open_store(store_url)
    try:
        await BranchService(store).save_config(config, actor="system-test")
        token, _ = await create_token(store, "staff", [config.id], label="system-test")
        return token
    finally:
        await store.close()


@pytest.fixture
def seed() -> Seed:
    """``await seed(store_url)``: save the tight demo branch there; a staff token for it."""

    async def run(store_url: str) -> str:
        return await _seed(store_url, tight_demo_config())

    return run


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """This test's own redis-server (AOF, fsync always), killed at the end."""
    directory = tmp_path / "redis"
    directory.mkdir()
    with RedisServer(directory) as server:
        yield server


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'queueapp.db'}"


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """``launch(store_url)``: ``queueapp serve`` started on a free port, stopped after the test."""
    started: list[ServerProcess] = []

    def start(store_url: str) -> ServerProcess:
        server = ServerProcess(store_url, tmp_path)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        log = server.log_path.read_text(errors="replace")
        if "Traceback" in log:
            print(f"\n--- {server.log_path} (it has a traceback) ---\n{log[-6000:]}")
