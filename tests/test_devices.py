"""Paired devices, the app's secret key and the door code, on a real SQLite store and the CLI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from queueapp.cli import main
from queueapp.demo import demo_config
from queueapp.domain.config import dump_config, parse_config
from queueapp.service.devices import (
    create_device,
    list_devices,
    pair_device,
    pairing_path,
    revoke_device,
    verify_device,
)
from queueapp.service.joining import (
    door_code,
    door_code_valid,
    join_url,
    remember_ticket,
    visitor_tokens,
)
from queueapp.service.keys import secret_key, sign, unsign
from queueapp.store import EventStore, open_store

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 23, 9, 0, 30, tzinfo=UTC)


@pytest.fixture
async def store(anyio_backend: str, tmp_path: Path) -> AsyncIterator[EventStore]:
    store = await open_store(f"sqlite:///{tmp_path / 'devices.db'}")
    try:
        yield store
    finally:
        await store.close()


async def test_a_pairing_code_works_once_and_yields_a_credential(store: EventStore) -> None:
    device, code = await create_device(store, "demo", "kiosk", label="front door")

    assert device.state == "unpaired"
    assert pairing_path(device, code) == f"/b/demo/kiosk?pair={code}"
    assert await verify_device(store, code) is None  # a pairing code is not a credential

    paired = await pair_device(store, code)
    assert paired is not None
    paired_device, credential = paired
    assert paired_device.id == device.id
    assert paired_device.state == "paired"
    assert await pair_device(store, code) is None  # once only
    assert (await verify_device(store, credential)) == paired_device
    assert await verify_device(store, credential + "x") is None
    assert await verify_device(store, f"{device.id}.{'A' * 43}") is None


async def test_secrets_are_stored_only_as_digests(store: EventStore) -> None:
    device, code = await create_device(store, "demo", "display")
    paired = await pair_device(store, code)
    assert paired is not None

    stored = str(await store.get_document("device", device.id))
    assert code.split(".")[1] not in stored
    assert paired[1].split(".")[1] not in stored


async def test_a_revoked_device_is_refused(store: EventStore) -> None:
    device, code = await create_device(store, "demo", "kiosk")
    other, other_code = await create_device(store, "demo", "kiosk")
    paired = await pair_device(store, code)
    assert paired is not None

    assert await revoke_device(store, device.id)
    assert await revoke_device(store, other.id)
    assert not await revoke_device(store, "nope")

    assert await verify_device(store, paired[1]) is None
    assert await pair_device(store, other_code) is None
    assert [d.state for d in await list_devices(store)] == ["revoked", "revoked"]


@pytest.mark.parametrize("junk", ["", ".", "abc", "x.y", "../../etc.passwd", "a" * 300])
async def test_junk_credentials_are_refused(store: EventStore, junk: str) -> None:
    assert await verify_device(store, junk) is None
    assert await pair_device(store, junk) is None


async def test_an_unknown_kind_is_refused(store: EventStore) -> None:
    with pytest.raises(ValueError, match="kiosk, display"):
        await create_device(store, "demo", "toaster")


async def test_the_secret_key_is_made_once_even_when_asked_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'key.db'}"
    stores = [await open_store(url) for _ in range(4)]
    try:
        keys = await asyncio.gather(*(secret_key(s) for s in stores))
        assert len(set(keys)) == 1 and len(keys[0]) == 32
        later = await open_store(url)
        try:
            assert await secret_key(later) == keys[0]
        finally:
            await later.close()
    finally:
        for store in stores:
            await store.close()


async def test_signed_values_cannot_be_altered(store: EventStore) -> None:
    key = await secret_key(store)
    signed = sign(key, "visitor", "abc")

    assert unsign(key, "visitor", signed) == "abc"
    assert unsign(key, "door-pass", signed) is None  # another purpose
    assert unsign(key, "visitor", "abd" + signed[3:]) is None
    assert unsign(key, "visitor", "abc") is None
    assert unsign(b"x" * 32, "visitor", signed) is None


async def test_the_door_code_changes_every_minute_and_the_last_one_still_works(
    store: EventStore,
) -> None:
    key = await secret_key(store)
    code = door_code(key, "demo", NOW)

    assert door_code_valid(key, "demo", code, NOW)
    assert door_code_valid(key, "demo", code, NOW + timedelta(seconds=60))
    assert not door_code_valid(key, "demo", code, NOW + timedelta(seconds=120))
    assert not door_code_valid(key, "demo", code, NOW - timedelta(seconds=60))
    assert not door_code_valid(key, "north", code, NOW)
    assert door_code(key, "demo", NOW + timedelta(seconds=60)) != code


async def test_join_url_carries_the_code_only_in_door_mode(store: EventStore) -> None:
    open_mode = demo_config()
    assert await join_url(store, open_mode, "http://door:8000/", NOW) == (
        "http://door:8000/b/demo/join"
    )

    door_mode = parse_config({**dump_config(open_mode), "join": {"mode": "door"}})
    url = await join_url(store, door_mode, "http://door:8000", NOW)
    code = url.split("?code=")[1]
    assert url.startswith("http://door:8000/b/demo/join?code=")
    assert door_code_valid(await secret_key(store), "demo", code, NOW)


async def test_a_phones_tickets_are_kept_per_branch_and_day(store: EventStore) -> None:
    await remember_ticket(store, "demo", "2026-11-23", "phone1", "t1")
    await remember_ticket(store, "demo", "2026-11-23", "phone1", "t1")
    await remember_ticket(store, "demo", "2026-11-23", "phone1", "t2")
    await remember_ticket(store, "north", "2026-11-23", "phone1", "t3")

    assert await visitor_tokens(store, "demo", "2026-11-23", "phone1") == ["t1", "t2"]
    assert await visitor_tokens(store, "demo", "2026-11-24", "phone1") == []
    assert await visitor_tokens(store, "demo", "2026-11-23", "phone2") == []

    await remember_ticket(store, "demo", "2026-11-24", "phone1", "t4")
    assert await visitor_tokens(store, "demo", "2026-11-24", "phone1") == ["t4"]
    assert await visitor_tokens(store, "demo", "2026-11-23", "phone1") == []


def test_cli_creates_lists_and_revokes_devices(
    demo_store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = demo_store_url
    assert main(["device", "create", "--branch", "nope", "--kind", "kiosk", "--store", url]) == 1
    assert "no branch 'nope'" in capsys.readouterr().err

    argv = ["device", "create", "--branch", "demo", "--kind", "kiosk", "--label", "door"]
    assert main([*argv, "--base-url", "https://q.example/", "--store", url]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("https://q.example/b/demo/kiosk?pair=")
    device_id = out.split("pair=")[1].split(".")[0]

    assert main(["device", "list", "--store", url]) == 0
    listing = capsys.readouterr().out
    assert device_id in listing and "kiosk" in listing and "unpaired" in listing

    assert main(["device", "revoke", device_id, "--store", url]) == 0
    assert main(["device", "list", "--store", url]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["device", "revoke", "nope", "--store", url]) == 1
