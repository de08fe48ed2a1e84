"""Choosing and opening a store from its URL."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from queueapp.store import StoreError, open_store
from queueapp.store.redis import RedisStore
from queueapp.store.sqlite import SqliteStore

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("url", ["sqlite:///queue.db", "sqlite:///./queue.db"])
async def test_three_slashes_are_relative_to_the_working_directory(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    store = await open_store(url)
    await store.close()

    assert isinstance(store, SqliteStore)
    assert (tmp_path / "queue.db").is_file()


async def test_four_slashes_are_an_absolute_path(tmp_path: Path) -> None:
    path = tmp_path / "data" / "queue.db"
    path.parent.mkdir()

    store = await open_store(f"sqlite:///{path}")
    await store.close()

    assert path.is_absolute()
    assert path.is_file()


async def test_redis_url_opens_a_redis_store(redis_url: str) -> None:
    store = await open_store(redis_url)
    await store.close()

    assert isinstance(store, RedisStore)


async def test_rediss_url_is_passed_to_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []

    async def fake_open(url: str) -> RedisStore:
        opened.append(url)
        raise StoreError("not really connecting")

    monkeypatch.setattr(RedisStore, "open", fake_open)

    with pytest.raises(StoreError):
        await open_store("rediss://cache.example:6380/2")
    assert opened == ["rediss://cache.example:6380/2"]


async def test_unreachable_redis_is_a_store_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with pytest.raises(StoreError):
        await open_store(f"redis://127.0.0.1:{port}/0")


@pytest.mark.parametrize(
    "url",
    [
        "postgres://db/queue",
        "queue.db",
        "sqlite://host/queue.db",
        "sqlite:///",
        "sqlite:///:memory:",
    ],
)
async def test_unsupported_url_names_the_supported_ones(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite:///") as error:
        await open_store(url)

    assert url in str(error.value)
    assert "redis://" in str(error.value)
