"""Websocket feeds: a branch's changes for displays, one ticket's status for its visitor.

Each socket gets a pump: it sends what the hub put in the socket's mailbox,
a heartbeat when there was nothing for a while (so a display can tell it is
offline when heartbeats stop), and gives up on a client that does not take
a message within ``SEND_TIMEOUT``. A reader runs beside it only to notice
the client leaving: it closes the mailbox, which stops the sender; a sender
that stops first cancels the reader. Heartbeats and send timeouts come from
one watchdog per process that looks at every socket once a second, not from
a timer per socket per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from queueapp.domain.errors import NotFound
from queueapp.service.hub import Hub, Subscriber, encode
from queueapp.store import StoreError

log = logging.getLogger(__name__)

_GONE = (WebSocketDisconnect, RuntimeError, OSError)
"""How a client that left shows up: Starlette raises RuntimeError on sending to a closed socket."""

HEARTBEAT_SECONDS = 10.0
SEND_TIMEOUT = 10.0
CLOSE_TIMEOUT = 2.0
WATCH_SECONDS = 1.0
"""How often the watchdog looks at every socket: heartbeats and timeouts are this precise."""

CLOSE_NOT_FOUND = 4404
CLOSE_UNAVAILABLE = 4503
CLOSE_TOO_SLOW = 4408


def _hub(websocket: WebSocket) -> Hub:
    return websocket.app.state.hub  # type: ignore[no-any-return]


async def branch_feed(websocket: WebSocket) -> None:
    branch = websocket.path_params["branch"]
    since_text = websocket.query_params.get("since", "")
    since = int(since_text) if since_text.isdigit() else None
    day = websocket.query_params.get("day")
    hub = _hub(websocket)
    await websocket.accept()
    try:
        subscriber, first = await hub.watch_branch(branch, since, day)
    except (NotFound, StoreError) as exc:
        await _refuse(websocket, exc)
        return
    try:
        await _pump(websocket, subscriber, first, lambda: hub.current_version(branch))
    finally:
        hub.forget_display(branch, subscriber)


async def ticket_feed(websocket: WebSocket) -> None:
    token = websocket.path_params["token"]
    hub = _hub(websocket)
    await websocket.accept()
    try:
        subscriber, first = await hub.watch_ticket(token)
    except (NotFound, StoreError) as exc:
        await _refuse(websocket, exc)
        return
    try:
        await _pump(websocket, subscriber, [first], lambda: None)
    finally:
        hub.forget_ticket(token, subscriber)


async def _refuse(websocket: WebSocket, exc: Exception) -> None:
    """Say why in the close frame, so a client stops retrying a ticket that is gone."""
    code = CLOSE_NOT_FOUND if isinstance(exc, NotFound) else CLOSE_UNAVAILABLE
    reason = exc.code if isinstance(exc, NotFound) else "unavailable"
    await websocket.close(code=code, reason=reason)


@dataclass(eq=False, slots=True)
class _Pump:
    """One socket's sender, as the watchdog sees it."""

    subscriber: Subscriber
    task: asyncio.Task[None]
    sending: bool = False
    sent: int = 0
    seen: int = 0
    """``sent`` at the watchdog's last look."""
    quiet: int = 0
    """The watchdog's looks since something was last sent."""
    too_slow: bool = False

    def check(self) -> None:
        if self.sent != self.seen:
            self.seen, self.quiet = self.sent, 0
            return
        self.quiet += 1
        if self.sending:
            if self.quiet >= SEND_TIMEOUT / WATCH_SECONDS and not self.too_slow:
                self.too_slow = True
                self.task.cancel()
        elif self.quiet >= HEARTBEAT_SECONDS / WATCH_SECONDS:
            self.subscriber.poke()


class _Watchdog:
    """One timer for all of a process's sockets: heartbeats due, and sends stuck too long.

    Timers per socket, armed and cancelled around every message, took about
    a fifth of the server's CPU with thousands of displays; one look at every
    socket once a second costs a microsecond or two per socket.
    """

    def __init__(self) -> None:
        self.pumps: set[_Pump] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, pump: _Pump) -> None:
        self.pumps.add(pump)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while self.pumps:
            await asyncio.sleep(WATCH_SECONDS)
            for pump in list(self.pumps):
                pump.check()


_watchdogs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watchdog] = (
    weakref.WeakKeyDictionary()
)


def _watchdog() -> _Watchdog:
    loop = asyncio.get_running_loop()
    watchdog = _watchdogs.get(loop)
    if watchdog is None:
        watchdog = _watchdogs[loop] = _Watchdog()
    return watchdog


async def _pump(
    websocket: WebSocket,
    subscriber: Subscriber,
    first: list[str],
    version: Callable[[], int | None],
) -> None:
    """Send from this (the connection's) task; a reader task beside it notices the client leave.

    One extra task per socket, not two: thousands of sockets stay open, and
    every task, coroutine frame and closure kept per socket costs memory and
    lengthens the garbage collector's full passes over them all.
    """
    task = asyncio.current_task()
    assert task is not None
    pump = _Pump(subscriber, task)
    watchdog = _watchdog()
    watchdog.add(pump)
    reader = asyncio.create_task(_read_until_gone(websocket, subscriber))
    subscriber.deliver = lambda message: _send_now(websocket, pump, message)
    try:
        for message in first:
            await _send(websocket, pump, message)
        while True:
            update = await subscriber.next()
            if subscriber.closed:
                break
            if update is None:
                update = encode({"type": "heartbeat", "at": time.time(), "version": version()})
            await _send(websocket, pump, update)
    except asyncio.CancelledError:
        # The watchdog's cancel (and only that one) means the client took too long.
        if not pump.too_slow or task.uncancel() > 0:
            raise
        await _close_too_slow(websocket)
    except _GONE:
        pass
    except Exception as exc:
        log.warning("live socket ended with %r", exc)
    finally:
        subscriber.deliver = None
        watchdog.pumps.discard(pump)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _read_until_gone(websocket: WebSocket, subscriber: Subscriber) -> None:
    """Read (and ignore) until the client leaves, then stop the sender."""
    try:
        while True:
            await websocket.receive_text()
    except _GONE:
        pass
    except Exception as exc:
        log.warning("live socket ended with %r", exc)
    finally:
        subscriber.close()


async def _send(websocket: WebSocket, pump: _Pump, message: str) -> None:
    pump.sending = True
    try:
        await websocket.send_text(message)
    finally:
        pump.sending = False
    pump.sent += 1


def _send_now(websocket: WebSocket, pump: _Pump, message: str) -> bool:
    """Send without waiting, from the caller's turn of the loop; False if the socket must wait.

    The server's send only waits while the socket's write buffer is full (a
    client reading slowly). So the send is started here and, if it finished
    in this one step, the message is on its way; if it had to wait, it is
    abandoned before writing anything, and the caller leaves the message to
    this socket's own task, which may wait (under the watchdog's timeout)
    without holding up anyone else.
    """
    step = websocket.send_text(message)
    try:
        step.send(None)
    except StopIteration:
        pump.sent += 1
        return True
    except _GONE:
        pump.subscriber.close()
        return True
    except Exception as exc:
        log.warning("live socket ended with %r", exc)
        pump.subscriber.close()
        return True
    step.close()
    return False


async def _close_too_slow(websocket: WebSocket) -> None:
    # The close frame queues behind what the client does not read, so it gets a bound too.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await websocket.close(code=CLOSE_TOO_SLOW, reason="too slow")


routes = [
    WebSocketRoute("/api/v1/branches/{branch}/live", branch_feed),
    WebSocketRoute("/api/v1/tickets/{token}/live", ticket_feed),
]
