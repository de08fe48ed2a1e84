"""Redis restarts under a running server: the hub's listener comes back and displays go on.

With the Redis store a server hears even of its own appends only through
Redis Pub/Sub, so a display that keeps receiving after the restart proves
the hub reconnected its change feed (and caught up what it missed meanwhile).
"""

from __future__ import annotations

import pytest
from livefeeds import Lone, Staff, assert_contiguous, branch_feed, record

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

RECONNECT_SECONDS = 20.0
"""Generous: the hub retries after about 0.2 s, doubling up to 10 s."""


async def test_displays_resume_after_redis_restarts(lone: Lone) -> None:
    async with Staff.at(lone.server, lone.token) as staff:
        branch = await staff.new_branch()
        async with record(branch_feed(lone.server, branch)) as display:
            await display.wait_for(lambda m: len(m) >= 1)
            start = display.messages[0]["version"]
            await staff.counter(branch, "1", "open")
            before = (await staff.issue(branch))["version"]
            await display.wait_for_version(before)

            lone.redis.restart()

            await staff.issue(branch)
            await staff.serve_one(branch, "1")
            after = (await staff.issue(branch))["version"]
            await display.wait_for_version(after, timeout=RECONNECT_SECONDS)

            # And it keeps going once the feed is back.
            later = (await staff.issue(branch))["version"]
            await display.wait_for_version(later, timeout=RECONNECT_SECONDS)
            assert display.closed is None

    assert assert_contiguous(display.feed()[1:], start) == later
    # The feed really broke (and the display went on through the hub's reconnect).
    assert "change feed lost" in lone.server.log_path.read_text()
