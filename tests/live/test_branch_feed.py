"""A display's branch feed across two processes: every change, in order, no gap; resuming.

Invariant 5 (README, "What always holds"): every change reaches every connected display of its
branch, in order, with no gap, and a display that reconnects resumes from the
last version it saw. Changes are made through server B; displays watch
through server A (and B), so each change travels B -> Redis -> A's hub.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from livefeeds import Cluster, Message, Recorder, Staff, assert_contiguous, branch_feed, record
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from queueapp.service.hub import RESUME_WINDOW

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

COUNTERS = ("1", "2", "3", "4")
PER_COUNTER = 4


async def busy_morning(staff: Staff, branch: str) -> int:
    """Open four counters, issue tickets, serve them all at once, close up: about 70 changes.

    Counters 1 to 3 serve B (and others), counter 4 serves D; capacity is one
    person per open counter, so most tickets wait outside and are admitted as
    others finish. Returns the branch's version after the last change.
    """
    versions = [(await staff.counter(branch, c, "open"))["version"] for c in COUNTERS]
    for service in "BBBD" * PER_COUNTER:
        versions.append((await staff.issue(branch, service))["version"])

    async def counter_loop(counter: str) -> None:
        for _ in range(PER_COUNTER):
            versions.extend(await staff.serve_one(branch, counter))

    await asyncio.gather(*(counter_loop(c) for c in COUNTERS))
    for counter in COUNTERS:
        versions.append((await staff.counter(branch, counter, "close"))["version"])
    return max(versions)


def changes(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m["type"] == "change"]


def change_texts(recorder: Recorder) -> list[str]:
    """The change messages exactly as the server sent them."""
    pairs = zip(recorder.raw, recorder.messages, strict=True)
    return [text for text, message in pairs if message["type"] == "change"]


def events(messages: list[Message]) -> list[Message]:
    return [event for message in messages for event in message["events"]]


async def test_display_on_one_process_sees_every_change_made_through_the_other(
    cluster: Cluster,
) -> None:
    async with Staff.at(cluster.b, cluster.token) as staff:
        branch = await staff.new_branch()
        async with (
            record(branch_feed(cluster.a, branch)) as on_a,
            record(branch_feed(cluster.b, branch)) as on_b,
        ):
            for display in (on_a, on_b):
                await display.wait_for(lambda m: len(m) >= 1)
            first = on_a.messages[0]
            assert first["type"] == "snapshot"
            assert first["snapshot"]["version"] == first["version"]

            last = await busy_morning(staff, branch)
            for display in (on_a, on_b):
                await display.wait_for_version(last)
            snapshot = await staff.snapshot(branch)

    seen = changes(on_a.feed())
    assert last - first["version"] >= 70  # events; appends made close together may share a message
    assert assert_contiguous(seen, first["version"]) == last == snapshot["version"]
    assert seen[-1]["snapshot"] == snapshot
    assert [m["type"] for m in on_a.feed()] == ["snapshot"] + ["change"] * len(seen)
    # The same changes, in the same order, reach a display on the process that made them.
    assert on_b.messages[0]["version"] == first["version"]
    # (A process may fold appends that came close together into one message.)
    assert events(changes(on_b.feed())) == events(seen)
    statuses = {e["type"] for m in seen for e in m["events"]}
    assert {"counter_changed", "ticket_issued", "ticket_called", "service_finished"} <= statuses


async def test_a_display_resumes_with_exactly_the_changes_it_missed(cluster: Cluster) -> None:
    async with Staff.at(cluster.b, cluster.token) as staff:
        branch = await staff.new_branch()
        async with record(branch_feed(cluster.b, branch)) as on_b:
            async with record(branch_feed(cluster.a, branch)) as display:
                await staff.counter(branch, "1", "open")
                version = (await staff.issue(branch))["version"]
                await display.wait_for_version(version)
            day = display.messages[0]["day"]
            seen = display.feed()[-1]["version"]
            assert seen == version

            # Offline for a while: twelve changes made through the other process.
            for _ in range(4):
                await staff.issue(branch)
            for _ in range(2):
                await staff.serve_one(branch, "1")
            now = (await staff.snapshot(branch))["version"]
            assert now - seen >= 10
            await on_b.wait_for_version(now)

            for server in (cluster.a, cluster.b):
                async with record(branch_feed(server, branch, since=seen, day=day)) as resumed:
                    await resumed.wait_for_version(now)
                    missed = resumed.feed()
                    assert assert_contiguous(missed, seen) == now
                    # Then it just goes on.
                    later = (await staff.issue(branch))["version"]
                    await resumed.wait_for_version(later)
                    assert assert_contiguous(resumed.feed(), seen) == later
                    now = later

            # Up to date already: nothing first, then the next change.
            async with record(branch_feed(cluster.a, branch, since=now, day=day)) as current:
                later = (await staff.issue(branch))["version"]
                await current.wait_for_version(later)
                assert assert_contiguous(current.feed(), now) == later
                now = later

            # Another day, or a version the branch never had: a fresh snapshot.
            for query in ({"since": seen, "day": "2001-01-01"}, {"since": now + 100, "day": day}):
                async with record(branch_feed(cluster.a, branch, **query)) as fresh:
                    await fresh.wait_for(lambda m: len(m) >= 1)
                    assert fresh.messages[0]["type"] == "snapshot", query
                    assert fresh.messages[0]["version"] == now
                    assert fresh.messages[0]["snapshot"] == await staff.snapshot(branch)


async def test_a_display_beyond_the_resume_window_gets_a_snapshot(cluster: Cluster) -> None:
    """Behind by more changes than the hub keeps: a snapshot, never a gapped history.

    The hub's window is its last RESUME_WINDOW change messages, which are the
    very messages a display connected all along has received (one message may
    cover several appends), so that display tells where the window starts.
    """
    async with Staff.at(cluster.b, cluster.token) as staff:
        branch = await staff.new_branch()
        async with record(branch_feed(cluster.a, branch)) as display:
            version = (await staff.issue(branch))["version"]
            await display.wait_for_version(version)
            day = display.messages[0]["day"]

            async def issue_many(count: int) -> None:
                for _ in range(count):
                    await staff.issue(branch)

            seen: list[Message] = []
            while len(seen) <= RESUME_WINDOW or seen[-RESUME_WINDOW]["from"] <= version + 1:
                await asyncio.gather(*(issue_many(RESUME_WINDOW // 32) for _ in range(8)))
                now = (await staff.snapshot(branch))["version"]
                await display.wait_for_version(now)
                seen = changes(display.feed())
            assert assert_contiguous(seen, display.messages[0]["version"]) == now
            oldest = seen[-RESUME_WINDOW]["from"] - 1
            """The oldest version a display can resume from."""

        for since in (version, oldest - 1):
            async with record(branch_feed(cluster.a, branch, since=since, day=day)) as behind:
                await behind.wait_for(lambda m: len(m) >= 1)
                assert behind.messages[0]["type"] == "snapshot", since
                assert behind.messages[0]["version"] == now
        async with record(branch_feed(cluster.a, branch, since=oldest, day=day)) as inside:
            await inside.wait_for_version(now)
            assert assert_contiguous(inside.feed(), oldest) == now
        window = [
            text
            for text, m in zip(display.raw, display.messages, strict=True)
            if m["type"] == "change"
        ]
        resumed = [
            text
            for text, m in zip(inside.raw, inside.messages, strict=True)
            if m["type"] == "change"
        ]
        assert resumed == window[-RESUME_WINDOW:]


async def test_unknown_branch_is_refused_with_4404(cluster: Cluster) -> None:
    url = branch_feed(cluster.a, f"nowhere-{uuid.uuid4().hex[:6]}")
    async with connect(url) as socket:
        with pytest.raises(ConnectionClosedError) as refused:
            await socket.recv()
    assert refused.value.rcvd is not None
    assert refused.value.rcvd.code == 4404
