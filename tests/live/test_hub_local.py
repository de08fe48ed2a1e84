"""This process's own appends reach its displays straight from the service.

In the first test the hub's change-feed listener is never started, so only
the direct handoff can deliver; and another process's appends (written
straight into the store) still arrive, through a catch-up read, without a gap
or a repeat. In the second the listener runs, and the feed's copy of an own
append must not cost a read of the log.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from livefeeds import assert_contiguous, running_hub

from queueapp.demo import DEMO_ID, demo_config
from queueapp.domain import commands as cmd
from queueapp.domain.views import branch_snapshot
from queueapp.service.branches import BranchService
from queueapp.service.hub import Hub
from queueapp.store import StoredEvent, Stream, open_store

pytestmark = pytest.mark.anyio


async def test_own_appends_reach_displays_without_the_feed(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'queueapp.db'}")
    try:
        service = BranchService(store)
        await service.save_config(demo_config())
        hub = Hub(service)
        display, first = await hub.watch_branch(DEMO_ID, None, None)
        start = json.loads(first[0])["version"]

        await service.execute(DEMO_ID, cmd.SetCounter("1", "open"))
        other_process = BranchService(store)
        await other_process.execute(DEMO_ID, cmd.SetCounter("2", "open"))
        await service.execute(DEMO_ID, cmd.SetCounter("3", "open"))
        await hub.catch_up(DEMO_ID)
        last = (await service.execute(DEMO_ID, cmd.SetCounter("4", "open"))).state.version

        messages = []
        while (text := await display.next(0)) is not None:
            messages.append(json.loads(text))
        assert assert_contiguous(messages, start) == last
        opened = [e["counter"] for m in messages for e in m["events"]]
        assert opened == ["1", "2", "3", "4"]
        afresh = await BranchService(store).state(DEMO_ID)
        assert messages[-1]["snapshot"] == json.loads(
            json.dumps(branch_snapshot(afresh, service.clock()))
        )
    finally:
        await store.close()


async def test_the_feed_does_not_make_the_hub_read_back_its_own_appends(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as (hub, service):
        store = service.store
        display, _ = await hub.watch_branch(DEMO_ID, None, None)
        await asyncio.sleep(0.05)
        reads: list[Stream] = []
        read = store.read

        async def counted_read(stream: Stream, after: int = 0) -> list[StoredEvent]:
            reads.append(stream)
            return await read(stream, after)

        store.read = counted_read  # type: ignore[method-assign]
        for counter in ("1", "2", "3", "4"):
            await service.execute(DEMO_ID, cmd.SetCounter(counter, "open"))
        await asyncio.sleep(0.05)

    assert reads == []
    assert len(display) == 4
