"""Load generator and bare baseline server for ``bench/live.py``; run by it, not by hand.

``generate``: opens many websocket clients as raw asyncio protocols. Each
does the HTTP upgrade by hand and parses the server's frames in
``data_received`` with as little work as possible (the frame header, then a
byte search for ``"from":`` and ``"version":``), so thousands of sockets
cost one callback per read, not one task per socket per message. The same
process drives the load (call-next then done per branch at a steady rate,
through the HTTP API; or, against the bare server, a trigger per message on
a control socket) and notes the time each call was sent, so that send and
receipt are read from one clock.

``bare``: a minimal ``websockets`` server (asyncio, no compression) that
accepts clients on ``/b/{branch}``, sends each a first message of the real
snapshot's size, and on each trigger broadcasts one message of the real
change's size to that branch's clients: the most a Python websocket server
can deliver here.

With ``--phones FILE`` (one websocket path a line: ticket feeds on the real
server, a group nobody broadcasts to on the bare one), a second phase
follows: that many phones connect, the same load is driven again, and two
seconds in every phone is dropped at once and all reconnect together, as
after a branch's Wi-Fi drop.

The parent talks to ``generate`` with JSON lines: the generator prints
``{"event": "connected", ...}`` when every client has its first message,
waits for a line on stdin, drives, and prints ``{"event": "result", ...}``
(then ``{"event": "storm", ...}`` for the second phase).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import resource
import sys
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, cast

HANDSHAKE_CONCURRENCY = 200
CONNECT_SECONDS = 120.0
DRAIN_SECONDS = 3.0
"""After the last call, how long to wait for deliveries still on their way."""
STORM_AT = 2.0
"""How far into the reconnect storm's phase (driven like the steady one) the phones drop."""


def progress(message: str) -> None:
    print(f"[wsload {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def raise_fd_limit() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- the clients ------------------------------------------------------------------------------


class Tally:
    """What every client received, by branch and version, with one clock for all."""

    def __init__(self, branches: int) -> None:
        self.receipts: list[dict[int, list[float]]] = [{} for _ in range(branches)]
        """Per branch: version -> receipt times (one per client that got a change covering it)."""
        self.counting = False
        self.changes = 0
        self.change_bytes = 0
        self.snapshots = 0
        self.snapshot_bytes = 0
        self.late_snapshots = 0
        """Snapshots after the start: a server replacing a backlog it could not send."""
        self.heartbeats = 0
        self.closed = 0
        self.first_receipt = float("inf")
        self.last_receipt = 0.0


class Client(asyncio.Protocol):
    """One websocket client: handshake, then frames parsed straight from the buffer."""

    __slots__ = ("branch", "buffer", "opened", "request", "tally", "transport", "upgraded")

    def __init__(self, tally: Tally, branch: int, request: bytes) -> None:
        self.tally = tally
        self.branch = branch
        self.request = request
        self.buffer = bytearray()
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        """Done at the first message (the snapshot)."""
        self.upgraded = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.tally.closed += 1
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before the first message: {exc}"))

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buffer = self.buffer
        buffer += data
        if not self.upgraded:
            self.upgraded = self._handshake(buffer)
            if not self.upgraded:
                return
        size = len(buffer)
        at = 0
        while size - at >= 2:
            length = buffer[at + 1] & 0x7F
            header = 2
            if length == 126:
                if size - at < 4:
                    break
                length = int.from_bytes(buffer[at + 2 : at + 4], "big")
                header = 4
            elif length == 127:
                if size - at < 10:
                    break
                length = int.from_bytes(buffer[at + 2 : at + 10], "big")
                header = 10
            end = at + header + length
            if end > size:
                break
            opcode = buffer[at] & 0x0F
            if opcode == 1:
                self._text(buffer, at + header, end, now)
            elif opcode == 9:
                self._pong(bytes(buffer[at + header : end]))
            at = end
        if at:
            del buffer[:at]

    def _handshake(self, buffer: bytearray) -> bool:
        """Consume the upgrade response; whether frames may follow."""
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        if not buffer.startswith(b"HTTP/1.1 101"):
            status = bytes(buffer[: buffer.find(b"\r\n")]).decode(errors="replace")
            if not self.opened.done():
                self.opened.set_exception(ConnectionError(f"upgrade refused: {status}"))
            if self.transport is not None:
                self.transport.close()
            return False
        del buffer[: end + 4]
        return True

    def _text(self, buffer: bytearray, start: int, end: int, now: float) -> None:
        tally = self.tally
        kind = buffer[start + 9]  # the first letter of the type: {"type":"change",...
        if kind == 99:  # c: change
            mark = buffer.find(b'"from":', start, end) + 7
            comma = buffer.find(b",", mark, end)
            first = int(buffer[mark:comma])
            mark = buffer.find(b'"version":', comma, end) + 10
            comma = buffer.find(b",", mark, end)
            last = int(buffer[mark:comma])
            if tally.counting:
                receipts = tally.receipts[self.branch]
                for version in range(first, last + 1):
                    times = receipts.get(version)
                    if times is None:
                        receipts[version] = [now]
                    else:
                        times.append(now)
                tally.changes += 1
                tally.change_bytes += end - start
                if now < tally.first_receipt:
                    tally.first_receipt = now
                tally.last_receipt = now
        elif kind == 115:  # s: snapshot
            tally.snapshots += 1
            tally.snapshot_bytes += end - start
            if tally.counting:
                tally.late_snapshots += 1
        else:
            tally.heartbeats += 1
        if not self.opened.done():
            self.opened.set_result(None)

    def _pong(self, payload: bytes) -> None:
        """Answer a ping: a masked pong frame, with a zero mask so the payload goes as is."""
        if self.transport is not None and len(payload) < 126:
            self.transport.write(bytes([0x8A, 0x80 | len(payload), 0, 0, 0, 0]) + payload)


def upgrade_request(host: str, port: int, path: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Key: cXVldWVhcHAtd3Nsb2FkLg==\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "\r\n"
    ).encode()


async def connect_all(
    host: str,
    port: int,
    paths: list[str],
    clients: int,
    tally: Tally,
    concurrency: int = HANDSHAKE_CONCURRENCY,
) -> list[Client]:
    """``clients`` sockets spread evenly over the paths, each with its first message in.

    At most ``concurrency`` handshakes are under way at once.
    """
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    opened: list[Client] = []

    async def one(index: int) -> None:
        branch = index % len(paths)
        request = upgrade_request(host, port, paths[branch])
        async with gate:
            _, client = await loop.create_connection(
                lambda: Client(tally, branch, request), host, port
            )
            await client.opened
        opened.append(client)
        if len(opened) % 1000 == 0 and clients >= 1000:
            progress(f"{len(opened)} clients connected")

    async with asyncio.timeout(CONNECT_SECONDS):
        await asyncio.gather(*(one(i) for i in range(clients)))
    return opened


# --- the drivers ------------------------------------------------------------------------------


class Calls:
    """When each measured change was asked for: (branch, version, send time)."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, int, float]] = []
        self.answered: list[float] = []
        """How long each call-next took to answer (the real server only)."""
        self.errors: list[str] = []


async def steady(rate: float, seconds: float, branches: int, cycle: Any) -> None:
    """Start ``cycle(branch)`` ``rate`` times a second, round-robin over branches."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()
    start = loop.time()
    count = int(rate * seconds)
    for n in range(count):
        delay = start + n / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(cycle(n % branches))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)


class Http:
    """A keep-alive HTTP/1.1 connection for the driver: requests written, responses read by hand.

    Cheaper than a general client by an order of magnitude, so the driver's
    own cost stays out of the measurement.
    """

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.head = f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes = b"") -> tuple[int, Any]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            f"POST {path} HTTP/1.1\r\n{self.head}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, json.loads(await self.reader.readexactly(length)) if length else None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def drive_real(
    http: str, token: str, branches: list[str], rate: float, seconds: float, calls: Calls
) -> None:
    """Call-next then done at counter 1 of each branch in turn, through the HTTP API.

    One keep-alive connection per branch; a branch's cycles run one at a time.
    """
    host, _, port = http.removeprefix("http://").partition(":")
    connections = [Http(host, int(port), token) for _ in branches]
    locks = [asyncio.Lock() for _ in branches]

    async def cycle(index: int) -> None:
        prefix = f"/api/v1/branches/{branches[index]}/counters/1"
        connection = connections[index]
        async with locks[index]:
            sent = time.monotonic()
            status, called = await connection.post(f"{prefix}/call-next")
            if status != 200:
                calls.errors.append(f"call-next {status} {called}")
                return
            calls.sent.append((index, called["version"], sent))
            calls.answered.append(time.monotonic() - sent)
            body = json.dumps({"ticket": called["ticket"]["number"]}).encode()
            status, done = await connection.post(f"{prefix}/done", body)
            if status != 200:
                calls.errors.append(f"done {status} {done}")

    try:
        await steady(rate, seconds, len(branches), cycle)
    finally:
        for connection in connections:
            connection.close()


async def drive_bare(
    control: str, branches: list[str], rate: float, seconds: float, calls: Calls
) -> None:
    """The same two messages per cycle, triggered on the bare server's control socket."""
    from websockets.asyncio.client import connect

    versions = [1] * len(branches)
    async with connect(control, compression=None, max_queue=None) as socket:

        async def cycle(index: int) -> None:
            for measured in (True, False):
                versions[index] += 1
                sent = time.monotonic()
                await socket.send(f"{index} {versions[index]}")
                if measured:
                    calls.sent.append((index, versions[index], sent))

        await steady(rate, seconds, len(branches), cycle)


# --- results ----------------------------------------------------------------------------------


def percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summarize(
    tally: Tally,
    calls: Calls,
    per_branch: list[int],
    drive_started: float,
    cpu: float,
    dump: str = "",
) -> dict[str, Any]:
    """The figures; with ``dump``, also each call's first and last receipt, into that file."""
    latencies: list[float] = []
    missing = 0
    for branch, version, sent in calls.sent:
        times = tally.receipts[branch].get(version, [])
        latencies.extend(t - sent for t in times)
        missing += max(0, per_branch[branch] - len(times))
    if dump:
        series = []
        for branch, version, sent in calls.sent:
            times = sorted(tally.receipts[branch].get(version, []))
            if times:
                series.append(
                    [
                        round(sent - drive_started, 3),
                        branch,
                        version,
                        round((times[0] - sent) * 1000, 1),
                        round((times[-1] - sent) * 1000, 1),
                    ]
                )
        Path(dump).write_text(json.dumps(series))
    latencies.sort()
    answered = sorted(calls.answered)
    span = tally.last_receipt - drive_started
    return {
        "event": "result",
        "calls": len(calls.sent),
        "errors": len(calls.errors),
        "error_sample": calls.errors[:3],
        "receipts": len(latencies),
        "missing": missing,
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round((latencies[-1] if latencies else float("nan")) * 1000, 1),
        "call_p50_ms": round(percentile(answered, 0.50) * 1000, 1) if answered else None,
        "call_p99_ms": round(percentile(answered, 0.99) * 1000, 1) if answered else None,
        "delivered": tally.changes,
        "delivered_per_s": round(tally.changes / span, 1) if span > 0 else 0.0,
        "change_bytes": tally.change_bytes // max(1, tally.changes),
        "late_snapshots": tally.late_snapshots,
        "closed": tally.closed,
        "generator_cpu_s": round(cpu, 2),
    }


async def drive(
    args: argparse.Namespace, branches: list[str], seconds: float, calls: Calls
) -> None:
    if args.mode == "real":
        await drive_real(args.http, args.token, branches, args.rate, seconds, calls)
    else:
        control = f"ws://{args.host}:{args.port}/control"
        await drive_bare(control, branches, args.rate, seconds, calls)


async def measured(
    args: argparse.Namespace,
    branches: list[str],
    clients: list[Client],
    seconds: float,
    meanwhile: Coroutine[Any, Any, dict[str, Any]] | None = None,
    dump: str = "",
) -> dict[str, Any]:
    """Drive for ``seconds`` with a fresh tally, ``meanwhile`` running beside; the figures."""
    tally = Tally(len(branches))
    per_branch = [0] * len(branches)
    for client in clients:
        client.tally = tally
        per_branch[client.branch] += 1
    calls = Calls()
    tally.counting = True
    cpu = cpu_seconds()
    drive_started = time.monotonic()
    beside: dict[str, Any] = {}
    if meanwhile is None:
        await drive(args, branches, seconds, calls)
    else:
        _, beside = await asyncio.gather(drive(args, branches, seconds, calls), meanwhile)
    await asyncio.sleep(DRAIN_SECONDS)
    tally.counting = False
    cpu = cpu_seconds() - cpu
    return {**summarize(tally, calls, per_branch, drive_started, cpu, dump), **beside}


async def storm(args: argparse.Namespace, paths: list[str], phones: list[Client]) -> dict[str, Any]:
    """Drop every phone at once, as a branch's Wi-Fi going down does, and bring them all back.

    They return all together, with no backoff: the worst case. Resumed when
    the last phone has its ticket again.
    """
    await asyncio.sleep(STORM_AT)
    for phone in phones:
        if phone.transport is not None:
            phone.transport.abort()
    dropped = time.monotonic()
    back = await connect_all(
        args.host, args.port, paths, len(paths), Tally(1), concurrency=len(paths)
    )
    resumed = time.monotonic() - dropped
    for phone in back:
        if phone.transport is not None:
            phone.transport.abort()
    return {"phones": len(back), "resume_ms": round(resumed * 1000, 1)}


async def generate(args: argparse.Namespace) -> None:
    raise_fd_limit()
    branches: list[str] = args.branches.split(",")
    paths = [args.path.format(branch=b) for b in branches]
    connecting = Tally(len(branches))
    started = time.monotonic()
    clients = await connect_all(args.host, args.port, paths, args.clients, connecting)
    # No collector pauses in the generator while it times receipts: its objects are all
    # long-lived now, and what it allocates from here on is freed by reference counting.
    gc.collect()
    gc.freeze()
    gc.disable()
    print(
        json.dumps(
            {
                "event": "connected",
                "clients": len(clients),
                "seconds": round(time.monotonic() - started, 1),
                "snapshot_bytes": connecting.snapshot_bytes // max(1, connecting.snapshots),
            }
        ),
        flush=True,
    )
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    result = await measured(args, branches, clients, args.seconds, dump=args.dump)
    print(json.dumps(result), flush=True)
    if args.phones:
        phone_paths = Path(args.phones).read_text().split()
        phones = await connect_all(args.host, args.port, phone_paths, len(phone_paths), Tally(1))
        progress(f"{len(phones)} phones connected; the storm comes in {STORM_AT} s")
        during = await measured(
            args, branches, clients, args.storm_seconds, storm(args, phone_paths, phones)
        )
        print(json.dumps({**during, "event": "storm"}), flush=True)
    for client in clients:
        if client.transport is not None:
            client.transport.abort()


# --- the bare server --------------------------------------------------------------------------


def padded(prefix: str, size: int) -> str:
    """A JSON object starting with ``prefix`` fields, padded to ``size`` bytes."""
    head = f'{{{prefix},"pad":"'
    return head + "x" * max(0, size - len(head) - 2) + '"}'


async def bare(args: argparse.Namespace) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    raise_fd_limit()
    groups: dict[str, set[ServerConnection]] = {}
    first = padded('"type":"snapshot","day":"bare","version":1', args.snapshot_size)

    async def handler(socket: ServerConnection) -> None:
        path = socket.request.path if socket.request else ""
        if path == "/control":
            async for trigger in socket:
                branch, version = str(trigger).split()
                message = padded(
                    f'"type":"change","day":"bare","from":{version},"version":{version}',
                    args.change_size,
                )
                broadcast(groups.get(branch, set()), message)
            return
        group = groups.setdefault(path.rsplit("/", 1)[-1], set())
        group.add(socket)
        try:
            await socket.send(first)
            await socket.wait_closed()
        finally:
            group.discard(socket)

    async with serve(
        handler, "127.0.0.1", args.port, compression=None, backlog=4096, max_queue=16
    ) as server:
        print(json.dumps({"event": "listening", "port": args.port}), flush=True)
        await server.serve_forever()


# --- entry ------------------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="command", required=True)
    gen = modes.add_parser("generate")
    gen.add_argument("--mode", choices=["real", "bare"], required=True)
    gen.add_argument("--host", default="127.0.0.1")
    gen.add_argument("--port", type=int, required=True)
    gen.add_argument("--path", required=True, help="with {branch}")
    gen.add_argument("--branches", required=True, help="comma-separated")
    gen.add_argument("--clients", type=int, required=True)
    gen.add_argument("--rate", type=float, required=True)
    gen.add_argument("--seconds", type=float, required=True)
    gen.add_argument("--http", default="")
    gen.add_argument("--token", default="")
    gen.add_argument("--dump", default="", help="file for per-call latencies (JSON)")
    gen.add_argument("--phones", default="", help="file of the phones' paths: a storm after")
    gen.add_argument("--storm-seconds", type=float, default=6.0)
    server = modes.add_parser("bare")
    server.add_argument("--port", type=int, required=True)
    server.add_argument("--change-size", type=int, required=True)
    server.add_argument("--snapshot-size", type=int, required=True)
    return parser.parse_args(argv)


@contextlib.contextmanager
def quiet_interrupt() -> Iterator[None]:
    with contextlib.suppress(KeyboardInterrupt):
        yield


def main(argv: list[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    work = generate(args) if args.command == "generate" else bare(args)
    loop = new_loop()
    try:
        with quiet_interrupt():
            loop.run_until_complete(work)
    finally:
        loop.close()


if __name__ == "__main__":
    main()
