"""Live fan-out: latency from call-next to every display, beside a bare websockets server.

One ``python -m queueapp serve`` process on a SQLite store (one process, so
the embedded store is the deployment this measures; the hub's fan-out is the
same on Redis) with ``--branches`` copies of the demo branch, each with four
open counters and enough visitors inside to call. A load generator in its own
process (``bench/_wsload.py``: raw asyncio protocols, frames parsed in
``data_received``) connects ``--clients`` websocket clients spread evenly
over the branch feeds, then drives call-next followed by done at counter 1 of
each branch in turn, ``--rate`` cycles a second for ``--seconds``. Latency is
from just before the call-next request is written to each subscribed
client's receipt of the change carrying that version, on one clock
(``call_p50_ms``/``call_p99_ms``: until the call-next answer came back).
``delivered_per_s``: change messages received by all clients, from the first
call to the last receipt; ``ratio``: that over the bare server's at the same
offered rate (1.0: it keeps up as well as the bare server does).

Reconnect storm (``--phones``, 300 by default): after the steady phase, that
many visitors of the first branch open their ticket feeds, the same load is
driven for another six seconds, and two seconds in every phone is dropped
without a close (a branch's Wi-Fi going down) and all reconnect at the same
moment, with no backoff. ``storm_resume_ms``: until the last phone has its
ticket again; ``storm_p99_ms``: the displays' latency over that phase, every
branch included, to read beside the steady ``p99_ms``.

Memory: the server's resident set (VmRSS) with every client connected and
idle, minus the same before the first client connected, per client.

Baseline: the same generator, clients and message sizes (measured from the
real run) against a bare ``websockets`` server that broadcasts one message per
trigger to the branch's clients: the most Python delivers here. Both servers
run uvloop, as ``queueapp serve`` does.

Progress goes to stderr, a table to stdout, and the last line of stdout is one
JSON object. A full run takes about a minute. Usage::

    python bench/live.py [--clients 5000] [--branches 50] [--seconds 15] [--rate 25]
                         [--phones 300]    # the reconnect storm's phones (0: no storm)
                         [--dump PREFIX]   # each call's first and last receipt, as JSON
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from queueapp.demo import demo_config
from queueapp.domain.config import dump_config, parse_config
from queueapp.service.access import create_token
from queueapp.service.branches import BranchService
from queueapp.store import open_store
from queueapp.testing import ServerProcess, free_port

LOADER = Path(__file__).with_name("_wsload.py")
SETTLE_SECONDS = 3.0
"""Pause after connecting every client before reading the server's memory."""
SPARE_TICKETS = 6
STORM_SECONDS = 6.0
"""How long the reconnect storm's phase is driven (the phones drop two seconds in)."""
TARGETS = {"p99_ms": 150.0, "p99_vs_bare": 2.0, "ratio": 0.5, "kb_per_idle_connection": 40.0}


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def raise_fd_limit() -> int:
    """As many descriptors as allowed; child processes (the server) inherit the limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def branch_ids(count: int) -> list[str]:
    return [f"live-{n:02d}" for n in range(count)]


# --- the real server --------------------------------------------------------------------------


async def seed(store_url: str, branches: list[str]) -> str:
    """Save the branches (copies of the demo branch) and return an admin token."""
    store = await open_store(store_url)
    try:
        service = BranchService(store)
        for branch in branches:
            document = {**dump_config(demo_config()), "id": branch, "name": f"Branch {branch}"}
            await service.save_config(parse_config(document), actor="bench")
        token, _ = await create_token(store, "admin", [], label="bench")
        return token
    finally:
        await store.close()


async def prepare(
    url: str, token: str, branches: list[str], tickets: int, phones: int
) -> list[str]:
    """Open every counter, issue ``tickets`` visitors (service A) per branch, then ``phones``
    more in the first branch, whose tokens it returns (the reconnect storm's phones)."""
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as client:
        gate = asyncio.Semaphore(32)

        async def post(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
            async with gate:
                response = await client.post(path, json=body)
            if response.status_code not in (200, 201):
                raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
            answer: dict[str, Any] = response.json()
            return answer

        await asyncio.gather(
            *(
                post(f"/api/v1/branches/{b}/counters/{c}/open")
                for b in branches
                for c in ("1", "2", "3", "4")
            )
        )

        async def issue_all(branch: str) -> None:
            for _ in range(tickets):
                await post(f"/api/v1/branches/{branch}/tickets", {"service": "A"})

        await asyncio.gather(*(issue_all(b) for b in branches))
        issued = await asyncio.gather(
            *(
                post(f"/api/v1/branches/{branches[0]}/tickets", {"service": "A"})
                for _ in range(phones)
            )
        )
        for branch in branches:
            response = await client.get(f"/api/v1/branches/{branch}")
            response.raise_for_status()
        return [ticket["token"] for ticket in issued]


# --- the generator ----------------------------------------------------------------------------


@dataclass
class Generator:
    process: asyncio.subprocess.Process

    async def line(self, event: str) -> dict[str, Any]:
        assert self.process.stdout is not None
        while True:
            raw = await self.process.stdout.readline()
            if not raw:
                raise RuntimeError(f"the load generator exited (code {await self.process.wait()})")
            message: dict[str, Any] = json.loads(raw)
            if message.get("event") == event:
                return message

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")


@contextlib.asynccontextmanager
async def generator(*args: str) -> AsyncIterator[Generator]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(LOADER),
        "generate",
        *args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        yield Generator(process)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


@dataclass
class Run:
    """One server measured with the generator."""

    result: dict[str, Any]
    kb_per_idle_connection: float
    server_cpu_s: float
    server_sys_s: float
    connect_s: float
    snapshot_bytes: int
    storm: dict[str, Any] | None
    """The reconnect storm's phase, when the run had phones."""


async def measure(
    pid: int, args: argparse.Namespace, loader_args: list[str], phones: list[str]
) -> Run:
    """Connect the clients, read memory, drive, and collect the generator's result.

    ``phones`` are the websocket paths of the reconnect storm's phones (none, no storm).
    """
    before = rss_kb(pid)
    with tempfile.TemporaryDirectory(prefix="queueapp-live-phones-") as folder:
        storm: list[str] = []
        if phones:
            paths = Path(folder) / "phones.txt"
            paths.write_text("\n".join(phones))
            storm = [f"--phones={paths}", f"--storm-seconds={STORM_SECONDS}"]
        async with generator(
            *loader_args,
            *storm,
            "--clients",
            str(args.clients),
            "--rate",
            str(args.rate),
            "--seconds",
            str(args.seconds),
            *([f"--dump={args.dump}.{loader_args[0].split('=')[1]}.json"] if args.dump else []),
        ) as load:
            connected = await load.line("connected")
            progress(f"{connected['clients']} clients connected in {connected['seconds']} s")
            await asyncio.sleep(SETTLE_SECONDS)
            after = rss_kb(pid)
            per_client = (after - before) / max(1, connected["clients"])
            progress(f"server memory {before} kB -> {after} kB: {per_client:.1f} kB per client")
            user, system = cpu_seconds(pid)
            load.go()
            progress(f"driving {args.rate}/s for {args.seconds} s")
            result = await load.line("result")
            user_after, system_after = cpu_seconds(pid)
            during = None
            if phones:
                progress(f"reconnect storm: {len(phones)} phones drop and return at once")
                during = await load.line("storm")
    used = user_after - user + system_after - system
    return Run(
        result,
        per_client,
        used,
        system_after - system,
        connected["seconds"],
        connected["snapshot_bytes"],
        during,
    )


async def real_run(args: argparse.Namespace, directory: Path) -> Run:
    branches = branch_ids(args.branches)
    store_url = f"sqlite:///{directory / 'live.db'}"
    progress(f"seeding {len(branches)} branches in {store_url}")
    token = await seed(store_url, branches)
    server = ServerProcess(store_url, directory)
    server.start()
    try:
        pid = server._process.pid if server._process else 0  # the uvicorn process itself
        driven = args.seconds + (STORM_SECONDS if args.phones else 0)
        tickets = math.ceil(args.rate * driven / len(branches)) + SPARE_TICKETS
        progress(f"server on {server.url} (pid {pid}); issuing {tickets} tickets per branch")
        tokens = await prepare(server.url, token, branches, tickets, args.phones)
        return await measure(
            pid,
            args,
            [
                "--mode=real",
                f"--port={server.port}",
                "--path=/api/v1/branches/{branch}/live",
                f"--branches={','.join(branches)}",
                f"--http={server.url}",
                f"--token={token}",
            ],
            [f"/api/v1/tickets/{token}/live" for token in tokens],
        )
    finally:
        server.stop()


@contextlib.contextmanager
def bare_server(change_size: int, snapshot_size: int) -> Iterator[tuple[int, int]]:
    """The bare websockets server in its own process: (pid, port)."""
    port = free_port()
    command = [
        sys.executable,
        str(LOADER),
        "bare",
        f"--port={port}",
        f"--change-size={change_size}",
        f"--snapshot-size={snapshot_size}",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        if b"listening" not in process.stdout.readline():
            raise RuntimeError("the bare server did not start")
        yield process.pid, port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def bare_run(args: argparse.Namespace, change_size: int, snapshot_size: int) -> Run:
    with bare_server(change_size, snapshot_size) as (pid, port):
        progress(f"bare websockets server on port {port} (pid {pid}), messages of {change_size} B")
        indexes = ",".join(str(n) for n in range(args.branches))
        return await measure(
            pid,
            args,
            ["--mode=bare", f"--port={port}", "--path=/b/{branch}", f"--branches={indexes}"],
            ["/b/phones"] * args.phones,
        )


# --- report -----------------------------------------------------------------------------------


def report(args: argparse.Namespace, real: Run, bare: Run) -> dict[str, Any]:
    r, b = real.result, bare.result
    ratio = r["delivered_per_s"] / b["delivered_per_s"] if b["delivered_per_s"] else 0.0
    summary = {
        "clients": args.clients,
        "branches": args.branches,
        "rate": args.rate,
        "seconds": args.seconds,
        "store": "sqlite",
        "server": "python -m queueapp serve (one process, uvloop)",
        "calls": r["calls"],
        "p50_ms": r["p50_ms"],
        "p99_ms": r["p99_ms"],
        "max_ms": r["max_ms"],
        "delivered_per_s": r["delivered_per_s"],
        "call_p50_ms": r["call_p50_ms"],
        "call_p99_ms": r["call_p99_ms"],
        "missing": r["missing"],
        "late_snapshots": r["late_snapshots"],
        "errors": r["errors"],
        "kb_per_idle_connection": round(real.kb_per_idle_connection, 1),
        "change_bytes": r["change_bytes"],
        "snapshot_bytes": real.snapshot_bytes,
        "server_cpu_s": round(real.server_cpu_s, 2),
        "server_sys_s": round(real.server_sys_s, 2),
        "generator_cpu_s": r["generator_cpu_s"],
        "bare_p50_ms": b["p50_ms"],
        "bare_p99_ms": b["p99_ms"],
        "bare_max_ms": b["max_ms"],
        "bare_delivered_per_s": b["delivered_per_s"],
        "bare_missing": b["missing"],
        "bare_kb_per_idle_connection": round(bare.kb_per_idle_connection, 1),
        "bare_server_cpu_s": round(bare.server_cpu_s, 2),
        "bare_server_sys_s": round(bare.server_sys_s, 2),
        "bare_generator_cpu_s": b["generator_cpu_s"],
        "ratio": round(ratio, 3),
        **storm_figures(real.storm),
        **{f"bare_{name}": value for name, value in storm_figures(bare.storm).items()},
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    summary["meets_targets"] = (
        summary["p99_ms"] <= TARGETS["p99_ms"]
        and summary["p99_ms"] <= TARGETS["p99_vs_bare"] * max(b["p99_ms"], 1.0)
        and ratio >= TARGETS["ratio"]
        and summary["kb_per_idle_connection"] <= TARGETS["kb_per_idle_connection"]
        and r["missing"] == 0
        and r["errors"] == 0
    )
    return summary


def storm_figures(storm: dict[str, Any] | None) -> dict[str, Any]:
    """The reconnect storm's phase: how fast the phones had their tickets again, and what
    the displays' latency was meanwhile (all branches, the storm's included)."""
    if storm is None:
        return {}
    return {
        "storm_phones": storm["phones"],
        "storm_resume_ms": storm["resume_ms"],
        "storm_p50_ms": storm["p50_ms"],
        "storm_p99_ms": storm["p99_ms"],
        "storm_max_ms": storm["max_ms"],
        "storm_missing": storm["missing"],
        "storm_errors": storm["errors"],
    }


def table(summary: dict[str, Any]) -> str:
    s = summary
    window = s["seconds"]
    rows = [
        ("", "queueapp", "bare websockets"),
        ("p50 ms (call-next -> client)", s["p50_ms"], s["bare_p50_ms"]),
        ("p99 ms", s["p99_ms"], s["bare_p99_ms"]),
        ("max ms", s["max_ms"], s["bare_max_ms"]),
        ("call-next answered p50 / p99 ms", f"{s['call_p50_ms']} / {s['call_p99_ms']}", "-"),
        ("delivered / s", s["delivered_per_s"], s["bare_delivered_per_s"]),
        ("missing receipts", s["missing"], s["bare_missing"]),
        ("KB per idle connection", s["kb_per_idle_connection"], s["bare_kb_per_idle_connection"]),
        ("server CPU s while driving", s["server_cpu_s"], s["bare_server_cpu_s"]),
        ("  of which in the kernel", s["server_sys_s"], s["bare_server_sys_s"]),
        ("generator CPU s", s["generator_cpu_s"], s["bare_generator_cpu_s"]),
    ]
    lines = [
        f"live fan-out: {s['clients']} clients over {s['branches']} branches, "
        f"{s['rate']:g} call-next + done per s for {window:g} s, {s['cpus']} CPUs, "
        f"store {s['store']}; change {s['change_bytes']} B, snapshot {s['snapshot_bytes']} B",
    ]
    for name, ours, theirs in rows:
        lines.append(f"  {name:<32} {ours!s:>12} {theirs!s:>16}")
    lines.append(
        f"  ratio {s['ratio']}  (targets: p99 <= {TARGETS['p99_ms']:g} ms and <= 2x bare, "
        f"ratio >= {TARGETS['ratio']}, <= {TARGETS['kb_per_idle_connection']:g} KB per idle "
        f"connection): {'met' if s['meets_targets'] else 'NOT met'}"
    )
    if "storm_phones" in s:
        lines.append(
            f"  reconnect storm: {s['storm_phones']} phones of one branch back in "
            f"{s['storm_resume_ms']} ms; displays meanwhile p50 / p99 / max "
            f"{s['storm_p50_ms']} / {s['storm_p99_ms']} / {s['storm_max_ms']} ms, "
            f"{s['storm_missing']} missing"
        )
        lines.append(
            f"  the same storm on the bare server: back in {s['bare_storm_resume_ms']} ms; "
            f"displays p50 / p99 / max {s['bare_storm_p50_ms']} / {s['bare_storm_p99_ms']} / "
            f"{s['bare_storm_max_ms']} ms"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="queueapp-live-bench-") as directory:
        real = await real_run(args, Path(directory))
    progress(
        f"queueapp: p50 {real.result['p50_ms']} ms, p99 {real.result['p99_ms']} ms, "
        f"{real.result['delivered_per_s']} delivered/s"
    )
    bare = await bare_run(args, real.result["change_bytes"], real.snapshot_bytes)
    return report(args, real, bare)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--branches", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=float, default=25.0, help="call-next cycles per second")
    parser.add_argument(
        "--phones",
        type=int,
        default=300,
        help="phones of the first branch in the reconnect storm after the steady phase (0: none)",
    )
    parser.add_argument(
        "--dump",
        default="",
        help="write each call's first and last receipt to DUMP.{real,bare}.json",
    )
    args = parser.parse_args(argv)
    if args.clients < args.branches or args.branches < 1 or args.rate <= 0 or args.seconds <= 0:
        parser.error("need clients >= branches >= 1 and a positive rate and duration")
    if args.phones < 0:
        parser.error("--phones cannot be negative")
    return args


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    limit = raise_fd_limit()
    if limit < args.clients + 1000:
        progress(f"warning: only {limit} file descriptors allowed for {args.clients} clients")
    signal.signal(signal.SIGTERM, _terminate)
    try:
        summary = asyncio.run(run(args))
    except KeyboardInterrupt:
        progress("interrupted; everything started was stopped")
        return 130
    print(table(summary))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
