"""Live fan-out: one change-feed subscription per branch per process, many sockets.

The hub keeps its own copy of each watched branch's state, caught up from
the log whenever the store's change feed says a branch moved. Each change
is encoded once for all the branch's displays and handed to every socket
through a small bounded queue; a socket that falls behind loses its backlog
and gets the latest snapshot instead, so one slow phone costs the others
nothing and memory stays flat. Ticket watchers get their own view only, and
only when it changed.

If the feed breaks (Redis restarts, say), the hub logs it, reconnects with
jittered backoff, resubscribes and catches every branch up from the log,
so displays resume where they were instead of freezing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from queueapp.domain import events as ev
from queueapp.domain.capacity import local_day
from queueapp.domain.errors import NotFound
from queueapp.domain.queueing import Pace, pace, people_ahead
from queueapp.domain.state import BranchState, apply_all
from queueapp.domain.views import branch_snapshot, public_event, ticket_view
from queueapp.service.branches import BranchService, parse_token
from queueapp.store import Change, ChangeFeed, StoreError, Stream

log = logging.getLogger(__name__)

RESUME_WINDOW = 512
"""Changes kept per branch for resuming displays; an older ``since`` gets a fresh snapshot."""

FIRST_RETRY, LAST_RETRY = 0.2, 10.0
"""Bounds of the jittered exponential backoff when the change feed breaks."""

QUEUE_LIMIT = 64
"""Messages a socket may have waiting before it is sent a snapshot instead of its backlog."""


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


class Subscriber:
    """One socket's mailbox: bounded, and replaced by a fresh snapshot when it overflows.

    Many thousands of these live at once and each message passes through all
    of a branch's, so a mailbox is kept small: a deque and, only while its
    socket waits, one future (no task per wait, no timer unless asked for,
    and nothing that could swallow the waiting task's cancellation, as
    ``wait_for`` does on Python 3.11 when a message and a cancel arrive together).

    ``deliver``, when the socket's side sets it, hands a message to a socket
    whose sender is idle at once, from the publisher's own turn of the loop:
    waking one task per socket per message tripled the time a change took to
    reach a branch's last display. It returns False when the socket cannot
    take the message without waiting; the message then goes to the mailbox,
    and the socket's own task waits for it.
    """

    __slots__ = ("_closed", "_limit", "_messages", "_refresh", "_waiter", "deliver", "overflows")

    def __init__(self, refresh: Callable[[], str], limit: int = QUEUE_LIMIT) -> None:
        self._refresh = refresh
        self._messages: deque[str] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._limit = limit
        self._closed = False
        self.overflows = 0
        self.deliver: Callable[[str], bool] | None = None

    def offer(self, message: str) -> None:
        if self._idle() and self.deliver is not None and self.deliver(message):
            return
        if len(self._messages) >= self._limit:
            self._messages.clear()
            self._messages.append(self._refresh())
            self.overflows += 1
        else:
            self._messages.append(message)
        if self._waiter is not None:
            _wake(self._waiter)

    def _idle(self) -> bool:
        """Whether the socket's task is parked in :meth:`next` with nothing to send."""
        waiter = self._waiter
        return waiter is not None and not waiter.done() and not self._messages and not self._closed

    def poke(self) -> None:
        """Wake a waiting :meth:`next` with nothing (its socket is due a heartbeat)."""
        if self._waiter is not None:
            _wake(self._waiter)

    def close(self) -> None:
        """The socket is gone: wake its sender for good."""
        self._closed = True
        if self._waiter is not None:
            _wake(self._waiter)

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._messages)

    async def next(self, timeout: float | None = None) -> str | None:
        """The next message; None if it closed, was poked, or ``timeout`` seconds went by."""
        if not self._messages and not self._closed:
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = None if timeout is None else loop.call_later(timeout, _wake, waiter)
            try:
                await waiter
            finally:
                if timer is not None:
                    timer.cancel()
                self._waiter = None
        if self._closed or not self._messages:
            return None
        return self._messages.popleft()


def _ticket_message(version: int, view: str) -> str:
    """A ticket feed's message around an encoded view, as :func:`encode` would write it."""
    return f'{{"type":"ticket","version":{version},"ticket":{view}}}'


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


@dataclass
class _Watchers:
    """The sockets following one ticket, and the view they were last sent (without version)."""

    subscribers: set[Subscriber] = field(default_factory=set)
    last: str = ""


@dataclass
class _Channel:
    state: BranchState
    recent: deque[tuple[int, int, str]] = field(default_factory=lambda: deque(maxlen=RESUME_WINDOW))
    """Recent changes as (first version, last version, encoded message)."""
    displays: set[Subscriber] = field(default_factory=set)
    tickets: dict[str, _Watchers] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _worked_out_for: BranchState | None = None
    _pace: Pace | None = None
    _ahead: dict[str, int] | None = None

    def pace(self) -> Pace:
        """:func:`pace` of the current state, worked out once for its snapshot and ticket views.

        What every view of one state shares is worked out once per state: built
        view by view it costs a pass over the day's tickets each, and all of a
        branch's phones need a view on every change (or, after a Wi-Fi drop,
        all at once).
        """
        self._forget_if_stale()
        if self._pace is None:
            self._pace = pace(self.state)
        return self._pace

    def _people_ahead(self) -> dict[str, int]:
        self._forget_if_stale()
        if self._ahead is None:
            self._ahead = people_ahead(self.state)
        return self._ahead

    def _forget_if_stale(self) -> None:
        if self._worked_out_for is not self.state:
            self._worked_out_for, self._pace, self._ahead = self.state, None, None

    def ticket_view(self, number: str) -> tuple[int, str]:
        """One ticket's view of the current state, encoded, and the state's version."""
        state = self.state
        view = ticket_view(state, state.tickets[number], self._people_ahead(), self.pace())
        return view.pop("version"), encode(view)

    def ticket_message(self, number: str) -> str:
        return _ticket_message(*self.ticket_view(number))


class Hub:
    def __init__(self, service: BranchService) -> None:
        self.service = service
        self._channels: dict[str, _Channel] = {}
        self._feed: ChangeFeed | None = None
        self._opening: dict[str, asyncio.Lock] = {}
        service.on_append(self._appended)

    async def run(self) -> None:
        """Follow the change feed until cancelled, reconnecting whenever it breaks."""
        delay = FIRST_RETRY
        while True:
            try:
                async with self.service.store.change_feed() as feed:
                    for branch in self._channels:
                        await feed.subscribe(branch)
                    self._feed = feed
                    if delay > FIRST_RETRY:
                        log.info("change feed back; catching %d branches up", len(self._channels))
                    for branch in list(self._channels):
                        await self.catch_up(branch)
                    delay = FIRST_RETRY
                    async for change in feed:
                        if not self._seen(change):
                            await self.catch_up(change.stream.branch)
            except StoreError as exc:
                log.warning("change feed lost (%s); reconnecting in about %.1f s", exc, delay)
            finally:
                self._feed = None
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, LAST_RETRY)

    async def watch_branch(
        self, branch: str, since: int | None, day: str | None
    ) -> tuple[Subscriber, list[str]]:
        """A display's mailbox and what to send first: the missed changes, else a snapshot."""
        channel = await self._channel(branch)
        subscriber = Subscriber(lambda: self._snapshot_message(channel))
        channel.displays.add(subscriber)
        return subscriber, self._resume(channel, since, day)

    def current_version(self, branch: str) -> int | None:
        channel = self._channels.get(branch)
        return channel.state.version if channel else None

    def forget_display(self, branch: str, subscriber: Subscriber) -> None:
        channel = self._channels.get(branch)
        if channel is not None:
            channel.displays.discard(subscriber)

    async def watch_ticket(self, token: str) -> tuple[Subscriber, str]:
        """A visitor's mailbox for today's ticket, and its current view.

        Raises NotFound for a token that is not today's ticket in this branch.
        """
        branch, _ = parse_token(token)
        channel = await self._channel(branch)
        ticket = channel.state.by_token(token)
        if ticket is None:
            await self.catch_up(branch)
            ticket = channel.state.by_token(token)
        if ticket is None:
            raise NotFound("unknown_ticket", "There is no such ticket today.")
        number = ticket.number
        subscriber = Subscriber(lambda: channel.ticket_message(number))
        channel.tickets.setdefault(number, _Watchers()).subscribers.add(subscriber)
        return subscriber, channel.ticket_message(number)

    def forget_ticket(self, token: str, subscriber: Subscriber) -> None:
        branch, _ = parse_token(token)
        channel = self._channels.get(branch)
        ticket = channel.state.by_token(token) if channel else None
        if channel is None or ticket is None:
            return
        watchers = channel.tickets.get(ticket.number)
        if watchers is not None:
            watchers.subscribers.discard(subscriber)
            if not watchers.subscribers:
                del channel.tickets[ticket.number]

    async def catch_up(self, branch: str) -> None:
        """Fold whatever the log has beyond our version and tell every watcher."""
        channel = self._channels.get(branch)
        if channel is None:
            return
        async with channel.lock:
            today = local_day(channel.state.require_config(), self.service.clock())
            base = channel.state if channel.state.day == today else BranchState(branch, today)
            stored = await self.service.store.read(Stream(branch, base.day), after=base.version)
            if channel.state.day == base.day:
                base = channel.state  # an append of this process may have arrived meanwhile
            fresh = [e for e in stored if e.version > base.version]
            if not fresh:
                return
            if base.day != channel.state.day:
                channel.recent.clear()
            first = base.version + 1
            channel.state = apply_all(base, (ev.from_dict(e.data) for e in fresh))
            self._publish(channel, first, [public_event(e.data) for e in fresh])

    def _appended(self, state: BranchState, first: int, records: list[dict[str, Any]]) -> None:
        """This process's own appends, straight from the service, with the state they led to.

        Taken only when they follow on from what the hub has; anything else
        (another process's appends, a new day) comes through the change feed.
        """
        channel = self._channels.get(state.branch)
        if channel is None or channel.state.day != state.day:
            return
        if channel.state.version != first - 1:
            return
        channel.state = state
        self._publish(channel, first, [public_event(r) for r in records])

    def _seen(self, change: Change) -> bool:
        channel = self._channels.get(change.stream.branch)
        return (
            channel is not None
            and channel.state.day == change.stream.day
            and channel.state.version >= change.version
        )

    async def _channel(self, branch: str) -> _Channel:
        channel = self._channels.get(branch)
        if channel is not None:
            return channel
        async with self._opening.setdefault(branch, asyncio.Lock()):
            channel = self._channels.get(branch)
            if channel is None:
                channel = _Channel(await self.service.state(branch))
                self._channels[branch] = channel
                if self._feed is not None:
                    await self._feed.subscribe(branch)
                await self.catch_up(branch)
            return channel

    def _publish(self, channel: _Channel, first: int, events: list[dict[str, Any]]) -> None:
        state = channel.state
        message = encode(
            {
                "type": "change",
                "day": state.day,
                "from": first,
                "version": state.version,
                "events": events,
                "snapshot": branch_snapshot(state, self.service.clock(), channel.pace()),
            }
        )
        channel.recent.append((first, state.version, message))
        for subscriber in channel.displays:
            subscriber.offer(message)
        if not channel.tickets:
            return
        for number, watchers in channel.tickets.items():
            version, view = channel.ticket_view(number)
            if view == watchers.last:
                continue
            watchers.last = view
            update = _ticket_message(version, view)
            for subscriber in watchers.subscribers:
                subscriber.offer(update)

    def _resume(self, channel: _Channel, since: int | None, day: str | None) -> list[str]:
        """The changes after ``since`` if all of them are still kept, else a fresh snapshot."""
        state = channel.state
        if since == state.version and (day is None or day == state.day):
            return []
        resumable = since is not None and since < state.version and day in (None, state.day)
        missed = [
            (first, message) for first, last, message in channel.recent if last > (since or 0)
        ]
        if resumable and missed and missed[0][0] <= (since or 0) + 1:
            return [message for _, message in missed]
        return [self._snapshot_message(channel)]

    def _snapshot_message(self, channel: _Channel) -> str:
        state = channel.state
        return encode(
            {
                "type": "snapshot",
                "day": state.day,
                "version": state.version,
                "snapshot": branch_snapshot(state, self.service.clock(), channel.pace()),
            }
        )
