"""A client that stops reading costs the others nothing and is sent a snapshot, not a backlog.

The branch here has 150 counters with long names, so each change message is
about 60 KB and a few hundred of them fill the kernel's socket buffers as
well as the stuck client's mailbox: the server then has to choose between
waiting, buffering without bound, and dropping the backlog for a snapshot.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from livefeeds import (
    Cluster,
    Message,
    Staff,
    StuckClient,
    assert_contiguous,
    branch_feed,
    record,
)

from queueapp.service.hub import QUEUE_LIMIT
from queueapp.web.live import HEARTBEAT_SECONDS, SEND_TIMEOUT, WATCH_SECONDS

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

CHANGES = 250
PROMPT_SECONDS = 5.0
"""How long after the last change the display may take to show it."""
OVERALL_SECONDS = 15.0
"""How long making and delivering all the changes may take (about 2 s here)."""

BIG_COUNTERS = [
    {"id": f"c{i}", "name": f"Counter {i}, " + "second floor, left wing " * 12, "services": ["A"]}
    for i in range(150)
]


async def test_a_stuck_client_does_not_hold_up_a_display(cluster: Cluster) -> None:
    async with Staff.at(cluster.b, cluster.token) as staff:
        branch = await staff.new_branch(counters=BIG_COUNTERS)
        url = branch_feed(cluster.a, branch)
        async with StuckClient.open(url) as stuck, record(url) as display:
            await display.wait_for(lambda m: len(m) >= 1)
            start = display.messages[0]["version"]
            began = time.monotonic()
            for i in range(CHANGES):
                last = await staff.adjust(branch, 1 if i % 2 == 0 else -1)
            await display.wait_for_version(last, timeout=PROMPT_SECONDS)
            elapsed = time.monotonic() - began
            seen = display.feed()
            size = len(display.raw[-1])

            # The stuck client reads at last: what it kept, then a snapshot instead of the
            # backlog it could not take, then nothing more (it is up to date).
            def caught_up(messages: list[Message]) -> bool:
                return any(m["type"] != "heartbeat" and m["version"] == last for m in messages)

            kept = await stuck.read_until(caught_up)

    assert size > 50_000
    assert assert_contiguous(seen[1:], start) == last
    assert elapsed < OVERALL_SECONDS, f"{CHANGES} changes took {elapsed:.1f} s to arrive"
    kinds = [m["type"] for m in kept]
    assert kinds[0] == "snapshot"
    assert "snapshot" in kinds[1:], "the stuck client was sent the whole backlog"
    assert len(kept) < CHANGES
    replaced = kinds.index("snapshot", 1)
    assert assert_contiguous(kept[1:replaced], start) == kept[replaced - 1]["version"]
    assert assert_contiguous(kept[replaced + 1 :], kept[replaced]["version"]) == last
    assert len(kept[replaced + 1 :]) <= QUEUE_LIMIT


async def test_a_client_stuck_for_too_long_is_dropped_and_idle_ones_hear_heartbeats(
    cluster: Cluster,
) -> None:
    """After SEND_TIMEOUT the server gives up on a client; a quiet display hears heartbeats."""
    async with Staff.at(cluster.b, cluster.token) as staff:
        busy = await staff.new_branch(counters=BIG_COUNTERS)
        quiet = await staff.new_branch()
        async with (
            StuckClient.open(branch_feed(cluster.a, busy)) as stuck,
            record(branch_feed(cluster.a, busy)) as display,
            record(branch_feed(cluster.a, quiet)) as idle,
        ):
            await idle.wait_for(lambda m: len(m) >= 1)
            for i in range(CHANGES):
                last = await staff.adjust(busy, 1 if i % 2 == 0 else -1)
            await display.wait_for_version(last, timeout=PROMPT_SECONDS)
            began = time.monotonic()
            # The display goes on hearing from the branch; the stuck client is let go.
            await asyncio.sleep(SEND_TIMEOUT + 3 * WATCH_SECONDS)
            kept = await stuck.read_to_end()
            heartbeats = [m for m in idle.messages if m["type"] == "heartbeat"]
            more = await staff.adjust(busy, 1)
            await display.wait_for_version(more)

    assert time.monotonic() - began >= HEARTBEAT_SECONDS
    assert heartbeats, "no heartbeat to an idle display"
    assert heartbeats[0]["version"] == idle.messages[0]["version"]
    assert not any(m["version"] == last for m in kept if m["type"] != "heartbeat")
    assert len(kept) < CHANGES
