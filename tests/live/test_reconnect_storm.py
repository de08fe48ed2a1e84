"""A reconnect storm: a branch's Wi-Fi drops and 300 phones come back at the same moment.

The returning phones must each get their own ticket again, and keep getting
its changes afterwards; meanwhile a display of another branch on the same
server process must go on receiving every change, in order, with no gap.
The phones are dropped without a close handshake (the way a lost network
drops them) and all reconnect at once, with no backoff: the worst case the
clients' jittered backoff is there to soften.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
from livefeeds import (
    WAIT_SECONDS,
    Cluster,
    Message,
    Staff,
    assert_contiguous,
    branch_feed,
    record,
    ticket_feed,
)
from websockets.asyncio.client import ClientConnection, connect

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

PHONES = 300


async def next_view(socket: ClientConnection) -> Message:
    """The next ticket message on a ticket feed, heartbeats passed over."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            message: Message = json.loads(await socket.recv())
            if message["type"] != "heartbeat":
                break
    assert message["type"] == "ticket", message
    return message


@asynccontextmanager
async def phones(urls: list[str]) -> AsyncIterator[list[ClientConnection]]:
    """Open every URL at the same moment; each socket is aborted (no close frame) at the end."""
    async with AsyncExitStack() as stack:
        sockets = await asyncio.gather(
            *(connect(url, compression=None, open_timeout=WAIT_SECONDS) for url in urls)
        )
        for socket in sockets:
            stack.callback(socket.transport.abort)
        yield list(sockets)


async def test_300_phones_returning_at_once_get_their_tickets_and_stall_no_one(
    cluster: Cluster,
) -> None:
    async with Staff.at(cluster.b, cluster.token) as staff:
        crowded = await staff.new_branch()
        quiet = await staff.new_branch()
        await staff.counter(crowded, "1", "open")
        await staff.counter(quiet, "1", "open")
        tickets = [await staff.issue(crowded) for _ in range(PHONES)]
        for _ in range(6):
            await staff.issue(quiet)
        urls = [ticket_feed(cluster.a, ticket["token"]) for ticket in tickets]

        async with phones(urls) as before:
            views = await asyncio.gather(*(next_view(socket) for socket in before))
        assert [v["ticket"]["number"] for v in views] == [t["number"] for t in tickets]

        async with record(branch_feed(cluster.a, quiet)) as display:
            await display.wait_for(lambda messages: bool(messages))
            start = display.feed()[0]["version"]

            async def keep_serving() -> list[int]:
                return [v for _ in range(3) for v in await staff.serve_one(quiet, "1")]

            serving = asyncio.create_task(keep_serving())
            async with phones(urls) as after:
                views = await asyncio.gather(*(next_view(socket) for socket in after))
                versions = await serving
                await display.wait_for_version(versions[-1])

                # The storm over, each returning phone still follows its ticket:
                # cancelling the first ticket moves everyone behind it up one place.
                head = tickets[0]
                cancelled = await staff.client.delete(f"/api/v1/tickets/{head['token']}")
                assert cancelled.status_code == 200, cancelled.text
                moved = await asyncio.gather(*(next_view(socket) for socket in after[1:]))

    tokens = [ticket["token"] for ticket in tickets]
    for ticket, view in zip(tickets, views, strict=True):
        assert view["ticket"]["number"] == ticket["number"]
        text = json.dumps(view)
        assert not any(token in text for token in tokens), view
    assert views[0]["ticket"]["status"] == "admitted"
    waiting = [v for v in views if v["ticket"]["status"] == "waiting"]
    assert len(waiting) == PHONES - 1
    for old, new in zip(views[1:], moved, strict=True):
        assert new["ticket"]["number"] == old["ticket"]["number"]
        assert new["version"] > old["version"]
    assert_contiguous(display.feed()[1:], start)
    assert display.feed()[-1]["version"] >= versions[-1]
