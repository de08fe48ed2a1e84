"""The hub in process: a mailbox nobody empties stays bounded; the others get every change.

No server here: the hub runs on a SQLite store in this event loop, and the
test plays the sockets' pumps by taking messages from the mailboxes itself,
so it can look at a stuck mailbox directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest
from livefeeds import Message, assert_contiguous, running_hub

from queueapp.demo import DEMO_ID
from queueapp.domain import commands as cmd
from queueapp.service.hub import QUEUE_LIMIT, Subscriber

pytestmark = pytest.mark.anyio

CHANGES = 4 * QUEUE_LIMIT


async def drain(subscriber: Subscriber) -> list[Message]:
    """Everything waiting in a mailbox, without waiting for more."""
    messages = []
    while (text := await subscriber.next(0)) is not None:
        messages.append(json.loads(text))
    return messages


def test_a_mailbox_keeps_at_most_its_limit() -> None:
    subscriber = Subscriber(lambda: "fresh snapshot")
    for n in range(10 * QUEUE_LIMIT + 3):
        subscriber.offer(f"change {n}")
    assert len(subscriber) <= QUEUE_LIMIT
    pending = [subscriber._messages.popleft() for _ in range(len(subscriber))]
    assert subscriber.overflows == 10
    assert pending[0] == "fresh snapshot"
    assert pending[1:] == [f"change {n}" for n in range(10 * QUEUE_LIMIT + 1, 10 * QUEUE_LIMIT + 3)]


async def test_a_stuck_mailbox_stays_bounded_while_a_reader_gets_everything(
    tmp_path: Path,
) -> None:
    async with running_hub(tmp_path) as (hub, service):
        stuck, stuck_first = await hub.watch_branch(DEMO_ID, None, None)
        reader, reader_first = await hub.watch_branch(DEMO_ID, None, None)
        start = json.loads(reader_first[0])["version"]
        received: list[Message] = []

        async def read() -> None:
            while True:
                text = await reader.next(10)
                assert text is not None
                received.append(json.loads(text))

        reading = asyncio.create_task(read())
        worst = 0
        for i in range(CHANGES):
            outcome = await service.execute(DEMO_ID, cmd.AdjustOccupancy(1 - 2 * (i % 2), "door"))
            worst = max(worst, len(stuck))
        last = outcome.state.version
        async with asyncio.timeout(10):
            while not received or received[-1]["version"] < last:
                await asyncio.sleep(0.01)
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading

        assert stuck_first == reader_first
        assert assert_contiguous(received, start) == last
        assert worst <= QUEUE_LIMIT
        assert stuck.overflows >= 1
        kept = await drain(stuck)
        assert kept[0]["type"] == "snapshot"
        assert assert_contiguous(kept[1:], kept[0]["version"]) == last
        assert reader.overflows == 0
        hub.forget_display(DEMO_ID, stuck)
        hub.forget_display(DEMO_ID, reader)


async def test_a_sender_cancelled_as_a_message_arrives_stops() -> None:
    """The cancel wins even when the wake-up came in the same turn of the loop.

    (``asyncio.wait_for`` on Python 3.11 returned the message and dropped the
    cancel, so a socket's sender outlived its client by up to a heartbeat.)
    """
    subscriber = Subscriber(lambda: "snapshot")

    async def sender() -> None:
        while True:
            await subscriber.next(30)

    task = asyncio.create_task(sender())
    for _ in range(3):
        await asyncio.sleep(0)
    subscriber.offer("change")
    await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert done == {task}
    assert task.cancelled()


async def test_closing_a_mailbox_wakes_its_sender() -> None:
    subscriber = Subscriber(lambda: "snapshot")
    waiting = asyncio.create_task(subscriber.next(30))
    await asyncio.sleep(0)
    subscriber.close()
    async with asyncio.timeout(2):
        assert await waiting is None
    assert subscriber.closed
    subscriber.offer("late")
    assert await subscriber.next(30) is None


async def test_an_idle_sender_is_handed_a_message_at_once_and_a_busy_one_gets_it_queued() -> None:
    subscriber = Subscriber(lambda: "snapshot")
    delivered: list[str] = []
    accept = True

    def deliver(message: str) -> bool:
        delivered.append(message)
        return accept

    subscriber.deliver = deliver
    subscriber.offer("before anyone waits")
    assert delivered == []
    assert await subscriber.next(0) == "before anyone waits"

    waiting = asyncio.create_task(subscriber.next(30))
    await asyncio.sleep(0)
    subscriber.offer("change 1")
    assert delivered == ["change 1"]
    assert len(subscriber) == 0
    await asyncio.sleep(0.01)
    assert not waiting.done()

    accept = False
    subscriber.offer("change 2")
    assert delivered == ["change 1", "change 2"]
    async with asyncio.timeout(2):
        assert await waiting == "change 2"

    subscriber.offer("change 3")
    subscriber.offer("change 4")
    assert delivered == ["change 1", "change 2"]
    assert [await subscriber.next(0), await subscriber.next(0)] == ["change 3", "change 4"]
