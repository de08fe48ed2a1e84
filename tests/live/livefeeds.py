"""Helpers for the live-feed tests: staff calls over HTTP, and recorders of websocket feeds."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from queueapp.demo import demo_config
from queueapp.domain.config import dump_config
from queueapp.service.branches import BranchService
from queueapp.service.hub import Hub
from queueapp.store import open_store
from queueapp.testing import RedisServer, ServerProcess

WAIT_SECONDS = 10.0
"""The most any test waits for a message that must come."""

Message = dict[str, Any]


@dataclass(frozen=True)
class Cluster:
    """Two server processes on one Redis, and an admin token valid on both."""

    redis: RedisServer
    a: ServerProcess
    b: ServerProcess
    token: str


@dataclass(frozen=True)
class Lone:
    """A redis-server for one test alone, free to be restarted, and a server on it."""

    redis: RedisServer
    server: ServerProcess
    token: str


def ws_url(server: ServerProcess, path: str) -> str:
    return "ws" + server.url.removeprefix("http") + path


def branch_feed(server: ServerProcess, branch: str, **query: object) -> str:
    """The branch feed's URL on ``server``, with ``since`` and ``day`` if given."""
    suffix = "&".join(f"{name}={value}" for name, value in query.items())
    return ws_url(server, f"/api/v1/branches/{branch}/live") + (f"?{suffix}" if suffix else "")


def ticket_feed(server: ServerProcess, token: str) -> str:
    return ws_url(server, f"/api/v1/tickets/{token}/live")


class Staff:
    """Short API calls through one server, as an admin; each asserts the call succeeded."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    @classmethod
    @contextlib.asynccontextmanager
    async def at(cls, server: ServerProcess, token: str) -> AsyncIterator[Staff]:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT_SECONDS) as client:
            yield cls(client, token)

    async def new_branch(self, **changes: Any) -> str:
        """A fresh copy of the demo branch under a new id (4 counters, open all day).

        ``changes`` replace top-level keys of the configuration.
        """
        branch = f"live-{uuid.uuid4().hex[:10]}"
        document = dump_config(demo_config())
        document.pop("revision")
        document.update(id=branch, name=f"Live test {branch}", **changes)
        response = await self.client.put(
            f"/api/v1/branches/{branch}/config", json=document, headers=self.headers
        )
        assert response.status_code == 200, response.text
        return branch

    async def issue(self, branch: str, service: str = "A") -> Message:
        response = await self.client.post(
            f"/api/v1/branches/{branch}/tickets",
            json={"service": service},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.text
        view: Message = response.json()
        return view

    async def counter(
        self, branch: str, counter: str, action: str, ticket: str | None = None
    ) -> Message:
        response = await self.client.post(
            f"/api/v1/branches/{branch}/counters/{counter}/{action}",
            json={"ticket": ticket} if ticket is not None else None,
            headers=self.headers,
        )
        assert response.status_code == 200, response.text
        view: Message = response.json()
        assert view["changed"] is True, view
        return view

    async def adjust(self, branch: str, delta: int) -> int:
        """Door staff count someone without a ticket in (or out); the new version."""
        response = await self.client.post(
            f"/api/v1/branches/{branch}/occupancy",
            json={"delta": delta, "reason": "courier"},
            headers=self.headers,
        )
        assert response.status_code == 200, response.text
        version: int = response.json()["version"]
        return version

    async def snapshot(self, branch: str) -> Message:
        response = await self.client.get(f"/api/v1/branches/{branch}")
        assert response.status_code == 200, response.text
        snapshot: Message = response.json()
        return snapshot

    async def call_next(self, branch: str, counter: str, patience: float = WAIT_SECONDS) -> Message:
        """Call-next; while nobody this counter serves is inside yet, try again for a while."""
        async with asyncio.timeout(patience):
            while True:
                response = await self.client.post(
                    f"/api/v1/branches/{branch}/counters/{counter}/call-next", headers=self.headers
                )
                if response.status_code != 409 or "nobody_to_call" not in response.text:
                    break
                await asyncio.sleep(0.02)
        assert response.status_code == 200, response.text
        called: Message = response.json()
        return called

    async def serve_one(self, branch: str, counter: str) -> list[int]:
        """Call-next, start and done at an open counter; the versions each step produced."""
        called = await self.call_next(branch, counter)
        number = called["ticket"]["number"]
        started = await self.counter(branch, counter, "start", number)
        finished = await self.counter(branch, counter, "done", number)
        return [called["version"], started["version"], finished["version"]]


class Recorder:
    """Every message one websocket received, collected by a background task."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.raw: list[str] = []
        self.messages: list[Message] = []
        self.closed: str | None = None
        self._arrived = asyncio.Event()

    async def collect(self) -> None:
        try:
            async for text in self.socket:
                assert isinstance(text, str)
                self.raw.append(text)
                self.messages.append(json.loads(text))
                self._arrived.set()
        except ConnectionClosed as exc:
            self.closed = repr(exc)
        else:
            self.closed = repr(self.socket.close_rcvd)
        self._arrived.set()

    async def wait_for(
        self, done: Callable[[list[Message]], bool], timeout: float = WAIT_SECONDS
    ) -> list[Message]:
        """Wait until ``done(messages)`` holds; fail after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                while not done(self.messages):
                    if self.closed is not None:
                        raise AssertionError(f"feed closed early: {self.closed}")
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            last = self.feed()[-3:]
            raise AssertionError(f"nothing satisfying came in {timeout} s; last: {last}") from None
        return self.messages

    async def wait_for_version(self, version: int, timeout: float = WAIT_SECONDS) -> None:
        """Wait for a branch message (not a heartbeat) at ``version`` or later."""

        def reached(messages: list[Message]) -> bool:
            return any(m["type"] != "heartbeat" and m["version"] >= version for m in messages)

        await self.wait_for(reached, timeout)

    def feed(self) -> list[Message]:
        """The messages without heartbeats."""
        return [m for m in self.messages if m["type"] != "heartbeat"]


@contextlib.asynccontextmanager
async def record(url: str) -> AsyncIterator[Recorder]:
    """Connect to a feed and record it until the block ends."""
    async with connect(url, compression=None, open_timeout=WAIT_SECONDS) as socket:
        recorder = Recorder(socket)
        task = asyncio.create_task(recorder.collect())
        try:
            yield recorder
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class StuckClient:
    """A websocket client that completes the handshake and then reads nothing until told to.

    A plain non-blocking socket with a tiny receive buffer, driven by the
    websockets sans-I/O protocol: nothing reads from the socket between the
    handshake and :meth:`read_until`, so the server's sends back up for real.
    """

    def __init__(self, sock: socket.socket, protocol: ClientProtocol) -> None:
        self.sock = sock
        self.protocol = protocol
        self.messages: list[Message] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, url: str) -> AsyncIterator[StuckClient]:
        loop = asyncio.get_running_loop()
        uri = parse_uri(url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await loop.sock_connect(sock, (uri.host, uri.port))
            client = cls(sock, ClientProtocol(uri, max_size=None))
            await client._handshake()
            yield client
        finally:
            sock.close()

    async def _handshake(self) -> None:
        loop = asyncio.get_running_loop()
        self.protocol.send_request(self.protocol.connect())
        await self._flush()
        async with asyncio.timeout(WAIT_SECONDS):
            while self.protocol.handshake_exc is None and not self._take_events(handshake=True):
                self.protocol.receive_data(await loop.sock_recv(self.sock, 1024))
        assert self.protocol.handshake_exc is None, self.protocol.handshake_exc

    def _take_events(self, handshake: bool = False) -> bool:
        """Collect what the protocol parsed; whether the handshake response was among it."""
        responded = False
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                responded = True
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self.messages.append(json.loads(event.data))
        return responded if handshake else False

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        for data in self.protocol.data_to_send():
            if data:
                await loop.sock_sendall(self.sock, data)

    async def read_until(
        self, done: Callable[[list[Message]], bool], timeout: float = WAIT_SECONDS
    ) -> list[Message]:
        """Start reading at last, until ``done(messages)``."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while not done(self.messages):
                data = await loop.sock_recv(self.sock, 1 << 20)
                assert data, "the server closed the connection"
                self.protocol.receive_data(data)
                self._take_events()
                await self._flush()  # pongs
        return self.messages

    async def read_to_end(self, timeout: float = WAIT_SECONDS) -> list[Message]:
        """Start reading at last, until the server closes the connection."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while data := await loop.sock_recv(self.sock, 1 << 20):
                self.protocol.receive_data(data)
                self._take_events()
        return self.messages


def assert_contiguous(messages: list[Message], after: int) -> int:
    """The changes cover every version after ``after`` once, in order; returns the last."""
    version = after
    for message in messages:
        assert message["type"] == "change", message
        assert message["from"] == version + 1, f"gap or repeat: {version} then {message['from']}"
        assert message["version"] >= message["from"], message
        assert len(message["events"]) == message["version"] - message["from"] + 1, message
        assert message["snapshot"]["version"] == message["version"], message
        version = message["version"]
    return version


@contextlib.asynccontextmanager
async def running_hub(tmp_path: Path) -> AsyncIterator[tuple[Hub, BranchService]]:
    """A hub in this event loop, following the change feed of a fresh SQLite store."""
    store = await open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        service = BranchService(store)
        await service.save_config(demo_config())
        hub = Hub(service)
        task = asyncio.create_task(hub.run())
        try:
            yield hub, service
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        await store.close()
