"""Websocket feeds: a branch's changes for displays, one ticket's status for its visitor.

Each socket gets a pump: it sends what the hub put in the socket's mailbox,
a heartbeat when there was nothing for a while (so a display can tell it is
offline when heartbeats stop), and gives up on a client that does not take
a message within ``SEND_TIMEOUT``. A reader runs beside it only to notice
the client leaving; the two are cancelled together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

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


async def _pump(
    websocket: WebSocket,
    subscriber: Subscriber,
    first: list[str],
    version: Callable[[], int | None],
) -> None:
    async def send_all() -> None:
        for message in first:
            await _send(websocket, message)
        while True:
            update = await subscriber.next(HEARTBEAT_SECONDS)
            if update is None:
                update = encode({"type": "heartbeat", "at": time.time(), "version": version()})
            await _send(websocket, update)

    async def read_until_gone() -> None:
        while True:
            await websocket.receive_text()

    reader = asyncio.create_task(read_until_gone())
    writer = asyncio.create_task(send_all())
    try:
        await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reader, writer):
            task.cancel()
        for outcome in await asyncio.gather(reader, writer, return_exceptions=True):
            if isinstance(outcome, Exception) and not isinstance(outcome, _GONE):
                log.warning("live socket ended with %r", outcome)


async def _send(websocket: WebSocket, message: str) -> None:
    try:
        await asyncio.wait_for(websocket.send_text(message), SEND_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(Exception):
            await websocket.close(code=CLOSE_TOO_SLOW, reason="too slow")
        raise WebSocketDisconnect(CLOSE_TOO_SLOW) from None


routes = [
    WebSocketRoute("/api/v1/branches/{branch}/live", branch_feed),
    WebSocketRoute("/api/v1/tickets/{token}/live", ticket_feed),
]
