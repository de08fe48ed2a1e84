"""Commands per second through the HTTP API, beside the bare store's append rate.

For each store (SQLite on a temporary file, Redis on a private redis-server in
a temporary directory) this starts one real ``python -m queueapp serve``
process and measures, in one run:

* issue: 16 concurrent clients POST tickets (each with an Idempotency-Key);
* call-next: 16 concurrent staff clients, each at its own open counter, loop
  call-next then done (done frees the counter for the next call);
* latency: 200 concurrent staff clients, each at its own counter, loop
  call-next then done; the call-next latencies give p50 and p99;
* bare: the same appends done directly on the store from this process, on a
  fresh stream, just before the phase they are compared with (server idle):
  16 concurrent compare-and-append writers that retry on a version conflict
  as the service does (backoff, catch-up read, again), one sequential writer,
  and one writer appending 16 events at a time.

``issue_ratio`` and ``call_next_ratio`` are the HTTP rate over the bare
16-writer rate of the same event (``ticket_issued``, ``ticket_called``); the
``*_vs_seq`` ratios divide by the one-writer rate instead. One server process
keeps a lock per branch, so its appends to a branch never race each other:
the one-writer rate is what its path could reach, while 16 racing writers
mostly conflict. Each phase uses a branch of its own (200 counters serving
service A, 2 people per open counter, open all day) so that one phase's
tickets do not slow the next; the call-next branches are seeded beforehand
with waiting tickets appended directly to the log, the events the service
would write. A 503 is retried after a short pause and counted; a timed
request includes its retries, as a console that retries would show it.

The load generator is one event loop (uvloop when available) running one
``httpx.AsyncClient`` with one keep-alive connection per simulated client.
Its CPU use is reported beside the server's (and Redis's), so a reader can
see which side ran out of CPU first; the load average before and after shows
how busy the machine was otherwise.

Progress goes to stderr, a table to stdout, and the last line of stdout is one
JSON object with the results. Usage::

    python bench/commands.py [--seconds 8] [--stores sqlite,redis]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from queueapp.domain import events as ev
from queueapp.domain.config import WEEKDAYS, BranchConfig, parse_config
from queueapp.domain.state import BranchState, apply_all
from queueapp.service.access import create_token
from queueapp.service.branches import BranchService, new_token
from queueapp.store import EventStore, Stream, VersionConflict, open_store
from queueapp.testing import RedisServer, ServerProcess

CLIENTS = 16
LATENCY_CLIENTS = 200
COUNTERS = 200
SEED_CHUNK = 500
RETRIES_503 = 100
BRANCHES = {"issue": "bench-issue", "call": "bench-call", "latency": "bench-latency"}
TICKET_BODY = b'{"service":"A"}'
JSON_HEADERS = {"content-type": "application/json"}
PUBLIC_MEDIAN_MS = 3400.0


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- measurements --------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _process_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) a process has used so far, from /proc; None elsewhere."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _pid(process_owner: object) -> int | None:
    """The child's pid (the testing helpers keep their Popen private)."""
    process = getattr(process_owner, "_process", None)
    return getattr(process, "pid", None)


@dataclass
class CpuMeter:
    """CPU use of this process and of some children over one phase, in cores (1.0 = one core)."""

    pids: dict[str, int | None]
    start_wall: float = 0.0
    start: dict[str, float | None] = field(default_factory=dict)
    used: dict[str, float | None] = field(default_factory=dict)

    def _sample(self) -> dict[str, float | None]:
        sample: dict[str, float | None] = {"client": _own_cpu()}
        sample.update({name: _process_cpu(pid) for name, pid in self.pids.items()})
        return sample

    def __enter__(self) -> CpuMeter:
        self.start_wall = time.perf_counter()
        self.start = self._sample()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.start_wall
        now = self._sample()
        for name, before in self.start.items():
            after = now.get(name)
            self.used[name] = (
                None if before is None or after is None else round((after - before) / wall, 2)
            )


@dataclass
class Tally:
    """What one phase's clients saw."""

    ok: int = 0
    done: int = 0
    starved: int = 0
    latencies: list[float] = field(default_factory=list)
    done_latencies: list[float] = field(default_factory=list)
    finished_at: list[float] = field(default_factory=list)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    start: float = 0.0
    elapsed: float = 0.0
    cpu: dict[str, float | None] = field(default_factory=dict)

    def rate(self, count: int | None = None) -> float:
        return (self.ok if count is None else count) / self.elapsed if self.elapsed else 0.0

    def half_rates(self) -> tuple[float, float]:
        """Successes per second in the first and the second half of the phase."""
        half = self.elapsed / 2
        first = sum(1 for t in self.finished_at if t - self.start < half)
        return first / half, (len(self.finished_at) - first) / half

    def error(self, response: httpx.Response) -> None:
        try:
            code = response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = "?"
        self.errors[f"{response.status_code} {code}"] += 1


# --- setup -----------------------------------------------------------------------------------


def bench_config(branch: str) -> BranchConfig:
    """200 counters all serving A, 2 people per open counter, open all day every day."""
    return parse_config(
        {
            "id": branch,
            "name": f"Benchmark {branch}",
            "timezone": "UTC",
            "counters": [{"id": str(i), "services": ["A"]} for i in range(1, COUNTERS + 1)],
            "services": [{"letter": "A", "names": {"en": "Everything"}, "minutes_per_visit": 5}],
            "hours": {day: [{"open": "00:00", "close": "00:00"}] for day in WEEKDAYS},
            "capacity": {"default": {"people_per_counter": 2, "extra": 0, "minimum": 0}},
        }
    )


async def seed_waiting(store: EventStore, branch: str, count: int) -> int:
    """Append ``count`` waiting tickets to today's log, as issuing with no counter open would.

    Returns the number of tickets the day then holds. A server that has the
    branch cached meets one version conflict on its next command and catches up.
    """
    service = BranchService(store)
    state = await service.state(branch)
    left = count
    while left > 0:
        chunk = min(SEED_CHUNK, left)
        last = state.last_numbers.get("A", 0)
        at = datetime.now(UTC).timestamp()
        events: list[ev.Event] = [
            ev.TicketIssued(
                at=at,
                number=f"A{last + i:03d}",
                token=new_token(branch, state.day),
                service="A",
                party_size=1,
                priority=False,
                lang="en",
                fingerprint="A|1|0|en",
            )
            for i in range(1, chunk + 1)
        ]
        try:
            await store.append(
                Stream(branch, state.day), state.version, [ev.to_dict(e) for e in events]
            )
        except VersionConflict:
            state = await service.state(branch)
            continue
        state = apply_all(state, events)
        left -= chunk
    return len(state.tickets)


async def day_size(store: EventStore, branch: str) -> tuple[int, int]:
    """Tickets and events in a branch's log today."""
    state: BranchState = await BranchService(store).state(branch)
    return len(state.tickets), state.version


@contextlib.asynccontextmanager
async def http_clients(
    url: str, concurrency: int, token: str | None = None
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One keep-alive connection per simulated client, all on this process's one event loop.

    Each client gets its own ``httpx.AsyncClient`` with a pool of one rather
    than all sharing a pool sized to the concurrency: httpcore's pool scans
    every connection on every request, which with 200 connections made this
    process, not the server, the bottleneck (p50 3.8 s at 0.96 client cores).
    """
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    timeout = httpx.Timeout(60.0, pool=60.0)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, limits=limits, headers=headers, timeout=timeout)
            )
            for _ in range(concurrency)
        ]
        yield clients


async def timed(
    tally: Tally, workers: int, seconds: float, work: Callable[[int, float], Awaitable[None]]
) -> None:
    """Run ``work(i, deadline)`` for i in 1..workers at once; note when they started and took."""
    tally.start = time.perf_counter()
    await asyncio.gather(*(work(i, tally.start + seconds) for i in range(1, workers + 1)))
    tally.elapsed = time.perf_counter() - tally.start


@contextlib.contextmanager
def running(process: RedisServer | ServerProcess) -> Iterator[None]:
    """Start a child process and stop it whatever happens, even if starting is interrupted."""
    try:
        process.start()
        yield
    finally:
        process.stop()


# --- phases ---------------------------------------------------------------------------------


async def post(client: httpx.AsyncClient, path: str, tally: Tally, **kwargs: Any) -> httpx.Response:
    """POST, repeating it after a short pause while the server answers 503 (busy, store away).

    Every 503 is counted, and a caller timing this call times what a console
    that retries would show its user.
    """
    for _ in range(RETRIES_503):
        response = await client.post(path, **kwargs)
        if response.status_code != 503:
            return response
        tally.error(response)
        await asyncio.sleep(random.uniform(0.01, 0.05))
    return response


async def issue_phase(url: str, branch: str, seconds: float, pids: dict[str, int | None]) -> Tally:
    tally = Tally()
    path = f"/api/v1/branches/{branch}/tickets"
    async with http_clients(url, CLIENTS) as clients:

        async def warm(worker: int, _: float) -> None:
            await clients[worker - 1].get(f"/api/v1/branches/{branch}")

        await timed(Tally(), CLIENTS, 0, warm)

        async def issue(worker: int, deadline: float) -> None:
            client = clients[worker - 1]
            while time.perf_counter() < deadline:
                headers = {**JSON_HEADERS, "idempotency-key": uuid.uuid4().hex}
                sent = time.perf_counter()
                response = await post(client, path, tally, content=TICKET_BODY, headers=headers)
                now = time.perf_counter()
                if response.status_code == 201:
                    tally.ok += 1
                    tally.latencies.append(now - sent)
                    tally.finished_at.append(now)
                else:
                    tally.error(response)

        with CpuMeter(pids) as meter:
            await timed(tally, CLIENTS, seconds, issue)
        tally.cpu = meter.used
    return tally


async def staff_phase(
    url: str,
    token: str,
    branch: str,
    clients: int,
    seconds: float,
    pids: dict[str, int | None],
) -> Tally:
    """``clients`` staff, one counter each: open it, then call-next and done until the deadline."""
    tally = Tally()
    base = f"/api/v1/branches/{branch}/counters"
    async with http_clients(url, clients, token) as consoles:
        opening = Tally()

        async def open_counter(counter: int, _: float) -> None:
            response = await post(consoles[counter - 1], f"{base}/{counter}/open", opening)
            response.raise_for_status()

        # Opening every counter at once also opens every client's connection.
        await timed(opening, clients, 0, open_counter)
        progress(f"  {clients} counters opened in {opening.elapsed:.1f} s")
        tally.errors.update({f"{error} (opening)": n for error, n in opening.errors.items()})

        async def serve(counter: int, deadline: float) -> None:
            client = consoles[counter - 1]
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                response = await post(client, f"{base}/{counter}/call-next", tally)
                now = time.perf_counter()
                if response.status_code == 200:
                    tally.ok += 1
                    tally.latencies.append(now - sent)
                    tally.finished_at.append(now)
                    number = response.json()["counter"]["ticket"]
                elif response.status_code == 409 and "nobody_to_call" in response.text:
                    tally.starved += 1
                    await asyncio.sleep(0.01)
                    continue
                elif response.status_code == 409 and "counter_busy" in response.text:
                    number = response.json()["error"]["ticket"]
                else:
                    tally.error(response)
                    continue
                sent = time.perf_counter()
                response = await post(
                    client,
                    f"{base}/{counter}/done",
                    tally,
                    content=json.dumps({"ticket": number}).encode(),
                    headers=JSON_HEADERS,
                )
                if response.status_code == 200:
                    tally.done += 1
                    tally.done_latencies.append(time.perf_counter() - sent)
                else:
                    tally.error(response)

        with CpuMeter(pids) as meter:
            await timed(tally, clients, seconds, serve)
        tally.cpu = meter.used
    return tally


@dataclass
class Bare:
    appends: int
    events: int
    conflicts: int
    elapsed: float
    cpu: float | None

    @property
    def per_s(self) -> float:
        return self.appends / self.elapsed

    @property
    def events_per_s(self) -> float:
        return self.events / self.elapsed


async def bare_appends(
    store: EventStore,
    make_event: Callable[[], dict[str, Any]],
    writers: int,
    seconds: float,
    batch: int = 1,
) -> Bare:
    """Compare-and-append on a fresh stream, retrying on conflict as BranchService.execute does."""
    stream = Stream(f"bare-{uuid.uuid4().hex[:12]}", datetime.now(UTC).date().isoformat())
    counts = {"appends": 0, "events": 0, "conflicts": 0}

    async def writer(deadline: float) -> None:
        known = 0
        while time.perf_counter() < deadline:
            records = [make_event() for _ in range(batch)]
            for attempt in range(1000):
                try:
                    known = await store.append(stream, known, records)
                except VersionConflict:
                    counts["conflicts"] += 1
                    await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))
                    missed = await store.read(stream, after=known)
                    known = missed[-1].version if missed else known
                    continue
                counts["appends"] += 1
                counts["events"] += len(records)
                break

    cpu = _own_cpu()
    start = time.perf_counter()
    await asyncio.gather(*(writer(start + seconds) for _ in range(writers)))
    elapsed = time.perf_counter() - start
    return Bare(
        counts["appends"],
        counts["events"],
        counts["conflicts"],
        elapsed,
        round((_own_cpu() - cpu) / elapsed, 2),
    )


def issued_event(branch: str, day: str) -> dict[str, Any]:
    """A ticket_issued record as the service writes it for POST .../tickets."""
    return ev.to_dict(
        ev.TicketIssued(
            at=time.time(),
            number=f"A{random.randint(1, 9999):03d}",
            token=new_token(branch, day),
            service="A",
            party_size=1,
            priority=False,
            lang="en",
            idempotency_key=uuid.uuid4().hex,
            fingerprint="A|1|0|en",
        )
    )


def called_event(actor: str) -> dict[str, Any]:
    """A ticket_called record as the service writes it for call-next (with its actor)."""
    record = ev.to_dict(
        ev.TicketCalled(at=time.time(), number=f"A{random.randint(1, 9999):03d}", counter="17")
    )
    record["by"] = actor
    return record


# --- one store ------------------------------------------------------------------------------


async def bench_store(kind: str, seconds: float, directory: Path) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        pids: dict[str, int | None] = {}
        if kind == "sqlite":
            url = f"sqlite:///{directory / 'queueapp.db'}"
        else:
            redis = RedisServer(directory / "redis")
            redis.directory.mkdir()
            stack.enter_context(running(redis))
            url = redis.url
            pids["redis"] = _pid(redis)
        server = ServerProcess(url, directory)
        store = await open_store(url)
        try:
            return await _bench_store(kind, seconds, url, store, server, pids)
        except Exception:
            _show_log(server.log_path)
            raise
        finally:
            await store.close()


async def _bench_store(
    kind: str,
    seconds: float,
    url: str,
    store: EventStore,
    server: ServerProcess,
    pids: dict[str, int | None],
) -> dict[str, Any]:
    service = BranchService(store)
    for branch in BRANCHES.values():
        await service.save_config(bench_config(branch), actor="bench")
    token, token_id = await create_token(store, "staff", sorted(BRANCHES.values()), label="bench")
    actor = f"bench:{token_id}"
    day = (await service.state(BRANCHES["issue"])).day
    bare_seconds = max(2.0, seconds / 4)

    def issued() -> dict[str, Any]:
        return issued_event("bare", day)

    def called() -> dict[str, Any]:
        return called_event(actor)

    with running(server):
        pids = {"server": _pid(server), **pids}
        progress(f"{kind}: server up at {server.url} (pid {pids['server']})")

        # Each bare rate is taken just before the phase it is compared with, the server idle,
        # so that both see the same disk and the same neighbours.
        progress(f"{kind}: bare appends of ticket_issued, {CLIENTS} writers, then 1, then batches")
        bare = await bare_appends(store, issued, CLIENTS, bare_seconds)
        bare_seq = await bare_appends(store, issued, 1, bare_seconds)
        bare_batch = await bare_appends(store, issued, 1, bare_seconds, batch=CLIENTS)
        progress(
            f"{kind}: {bare.per_s:.0f} appends/s ({CLIENTS} writers), {bare_seq.per_s:.0f}/s (1)"
        )

        progress(f"{kind}: issue, {CLIENTS} clients, {seconds:g} s")
        issue = await issue_phase(server.url, BRANCHES["issue"], seconds, pids)
        issued_tickets, _ = await day_size(store, BRANCHES["issue"])
        first, second = issue.half_rates()
        progress(f"{kind}: {issue.rate():.0f} tickets/s ({issued_tickets} tickets in the day)")

        # Enough waiting tickets for the phase: a cycle is two commands and an issue one,
        # but a call-next is cheaper than an issue, so allow as many calls as issues and more.
        call_tickets = await seed_waiting(
            store, BRANCHES["call"], int(max(issue.rate(), 100) * seconds * 2) + 200
        )
        progress(f"{kind}: bare appends of ticket_called, {CLIENTS} writers, then 1")
        bare_call = await bare_appends(store, called, CLIENTS, bare_seconds)
        bare_call_seq = await bare_appends(store, called, 1, bare_seconds)
        progress(f"{kind}: call-next, {CLIENTS} clients, {seconds:g} s ({call_tickets} waiting)")
        call = await staff_phase(server.url, token, BRANCHES["call"], CLIENTS, seconds, pids)
        progress(f"{kind}: {call.rate():.0f} call-next/s, {call.rate(call.done):.0f} done/s")

        # 200 counters call more per second than 16 do (they wait less on each
        # other), so give them several times the 16-counter rate: a phase that
        # runs out of visitors would time fewer, uncontended calls.
        latency_tickets = await seed_waiting(
            store,
            BRANCHES["latency"],
            int(max(call.rate(), 100) * seconds * 5) + 2 * LATENCY_CLIENTS,
        )
        progress(
            f"{kind}: latency, {LATENCY_CLIENTS} clients, {seconds:g} s ({latency_tickets} waiting)"
        )
        latency = await staff_phase(
            server.url, token, BRANCHES["latency"], LATENCY_CLIENTS, seconds, pids
        )
        progress(
            f"{kind}: call-next p50 {ms(percentile(latency.latencies, 0.5))} ms,"
            f" p99 {ms(percentile(latency.latencies, 0.99))} ms"
            f" ({latency.rate():.0f} call-next/s, {latency.elapsed:.1f} s)"
        )
    refusals = store_refusals(server.log_path)
    if refusals:
        progress(f"{kind}: the server logged store errors: {dict(refusals)}")

    return {
        "issue_per_s": round(issue.rate(), 1),
        "bare_append_per_s": round(bare.per_s, 1),
        "issue_ratio": round(issue.rate() / bare.per_s, 3),
        "call_next_per_s": round(call.rate(), 1),
        "bare_call_append_per_s": round(bare_call.per_s, 1),
        "call_next_ratio": round(call.rate() / bare_call.per_s, 3),
        "cycle_per_s": round(call.rate(call.done), 1),
        "call_next_p50_ms": ms(percentile(latency.latencies, 0.5)),
        "call_next_p99_ms": ms(percentile(latency.latencies, 0.99)),
        "clients": CLIENTS,
        "latency_clients": LATENCY_CLIENTS,
        "issue_p50_ms": ms(percentile(issue.latencies, 0.5)),
        "issue_p99_ms": ms(percentile(issue.latencies, 0.99)),
        "issue_per_s_first_half": round(first, 1),
        "issue_per_s_second_half": round(second, 1),
        "issue_day_tickets": issued_tickets,
        "bare_append_seq_per_s": round(bare_seq.per_s, 1),
        "issue_ratio_vs_seq": round(issue.rate() / bare_seq.per_s, 3),
        "bare_conflicts_per_append": round(bare.conflicts / max(bare.appends, 1), 2),
        "bare_batch16_events_per_s": round(bare_batch.events_per_s, 1),
        "call_next_16_p50_ms": ms(percentile(call.latencies, 0.5)),
        "call_next_16_p99_ms": ms(percentile(call.latencies, 0.99)),
        "call_day_tickets": call_tickets,
        "bare_call_append_seq_per_s": round(bare_call_seq.per_s, 1),
        "call_next_ratio_vs_seq": round(call.rate() / bare_call_seq.per_s, 3),
        "latency_call_next_per_s": round(latency.rate(), 1),
        "latency_cycle_per_s": round(latency.rate(latency.done), 1),
        "latency_done_p50_ms": ms(percentile(latency.done_latencies, 0.5)),
        "latency_day_tickets": latency_tickets,
        "cpu_cores": {
            "issue": issue.cpu,
            "call_next": call.cpu,
            "latency": latency.cpu,
            "bare_client": bare.cpu,
        },
        "starved": {"call_next": call.starved, "latency": latency.starved},
        "server_store_errors": dict(refusals),
        "errors": {
            phase: dict(tally.errors)
            for phase, tally in (("issue", issue), ("call_next", call), ("latency", latency))
            if tally.errors
        },
    }


def store_refusals(log: Path) -> collections.Counter[str]:
    """Why the server answered 503: its 'store unavailable: ...' warnings, counted."""
    reasons: collections.Counter[str] = collections.Counter()
    with contextlib.suppress(OSError), log.open(errors="replace") as lines:
        for line in lines:
            if line.startswith("store unavailable: "):
                reasons[line.removeprefix("store unavailable: ").strip()] += 1
    return reasons


def _show_log(path: Path, lines: int = 30) -> None:
    with contextlib.suppress(OSError):
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        progress(f"last lines of {path.name}:\n" + "\n".join(tail))


# --- report -----------------------------------------------------------------------------------


def table(results: dict[str, dict[str, Any]]) -> str:
    stores = list(results)
    rows: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
        (f"tickets issued /s via HTTP ({CLIENTS} clients)", lambda r: r["issue_per_s"]),
        (
            "  first half / second half of the phase",
            lambda r: f"{r['issue_per_s_first_half']:.0f} / {r['issue_per_s_second_half']:.0f}",
        ),
        ("  tickets in the day at the end", lambda r: r["issue_day_tickets"]),
        ("  issue p50 / p99 ms", lambda r: f"{r['issue_p50_ms']} / {r['issue_p99_ms']}"),
        (
            f"bare append /s, ticket_issued ({CLIENTS} CAS writers)",
            lambda r: r["bare_append_per_s"],
        ),
        ("  conflicts per successful bare append", lambda r: r["bare_conflicts_per_append"]),
        ("bare append /s, ticket_issued (1 writer)", lambda r: r["bare_append_seq_per_s"]),
        ("bare events /s, 16 ticket_issued per append", lambda r: r["bare_batch16_events_per_s"]),
        ("issue ratio HTTP / bare 16 writers", lambda r: r["issue_ratio"]),
        ("issue ratio HTTP / bare 1 writer", lambda r: r["issue_ratio_vs_seq"]),
        (f"call-next /s via HTTP ({CLIENTS} counters)", lambda r: r["call_next_per_s"]),
        ("  full cycles (call-next + done) /s", lambda r: r["cycle_per_s"]),
        ("  tickets in the day", lambda r: r["call_day_tickets"]),
        (
            "  call-next p50 / p99 ms",
            lambda r: f"{r['call_next_16_p50_ms']} / {r['call_next_16_p99_ms']}",
        ),
        (
            f"bare append /s, ticket_called ({CLIENTS} CAS writers)",
            lambda r: r["bare_call_append_per_s"],
        ),
        ("bare append /s, ticket_called (1 writer)", lambda r: r["bare_call_append_seq_per_s"]),
        ("call-next ratio HTTP / bare 16 writers", lambda r: r["call_next_ratio"]),
        ("call-next ratio HTTP / bare 1 writer", lambda r: r["call_next_ratio_vs_seq"]),
        (f"call-next p50 ms ({LATENCY_CLIENTS} counters)", lambda r: r["call_next_p50_ms"]),
        (f"call-next p99 ms ({LATENCY_CLIENTS} counters)", lambda r: r["call_next_p99_ms"]),
        (
            "  call-next /s and cycles /s there",
            lambda r: f"{r['latency_call_next_per_s']:.0f} / {r['latency_cycle_per_s']:.0f}",
        ),
        ("  tickets in the day", lambda r: r["latency_day_tickets"]),
        ("CPU cores, issue: client/server/redis", lambda r: _cpu(r, "issue")),
        ("CPU cores, call-next: client/server/redis", lambda r: _cpu(r, "call_next")),
        ("CPU cores, latency: client/server/redis", lambda r: _cpu(r, "latency")),
        (
            "calls that found nobody (16 / 200)",
            lambda r: f"{r['starved']['call_next']} / {r['starved']['latency']}",
        ),
        ("HTTP errors (see below)", lambda r: sum(sum(e.values()) for e in r["errors"].values())),
    ]
    width = max(len(label) for label, _ in rows) + 2
    column = max(18, *(len(s) + 2 for s in stores))
    lines = ["".ljust(width) + "".join(s.rjust(column) for s in stores)]
    for label, cell in rows:
        values = []
        for store in stores:
            try:
                values.append(str(cell(results[store])))
            except (KeyError, TypeError):
                values.append("-")
        lines.append(label.ljust(width) + "".join(v.rjust(column) for v in values))
    for store in stores:
        for phase, errors in results[store].get("errors", {}).items():
            lines.append(f"{store} {phase} errors: {json.dumps(errors)}")
        if results[store].get("server_store_errors"):
            lines.append(f"{store} server log: {json.dumps(results[store]['server_store_errors'])}")
    lines.append(
        f"(a public system of this kind measured a call-next median of {PUBLIC_MEDIAN_MS:g} ms"
        f" with {LATENCY_CLIENTS} staff clients)"
    )
    return "\n".join(lines)


def _cpu(result: dict[str, Any], phase: str) -> str:
    cpu = result["cpu_cores"][phase]
    return "/".join(
        "-" if cpu.get(k) is None else f"{cpu[k]:.2f}" for k in ("client", "server", "redis")
    )


async def run(stores: list[str], seconds: float, keep: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for kind in stores:
        with tempfile.TemporaryDirectory(prefix=f"queueapp-bench-{kind}-") as name:
            directory = Path(name)
            progress(f"{kind}: working in {directory}")
            results[kind] = await bench_store(kind, seconds, directory)
            if keep:
                kept = Path(tempfile.mkdtemp(prefix=f"queueapp-bench-{kind}-kept-"))
                for log in directory.glob("*.log"):
                    (kept / log.name).write_bytes(log.read_bytes())
                progress(f"{kind}: logs kept in {kept}")
    return results


def _loadavg() -> float | None:
    """Other work on the machine skews every rate here; the load average shows it."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each HTTP phase")
    parser.add_argument("--stores", default="sqlite,redis", help="comma-separated: sqlite,redis")
    parser.add_argument("--keep-logs", action="store_true", help="copy the server logs out")
    args = parser.parse_args(argv)
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    for kind in stores:
        if kind not in ("sqlite", "redis"):
            parser.error(f"unknown store {kind!r}; use sqlite and/or redis")
    try:
        import uvloop
    except ImportError:
        loop_factory = None
        loop_name = "asyncio"
    else:
        loop_factory = uvloop.new_event_loop
        loop_name = "uvloop"
    progress(
        f"client event loop: {loop_name}; stores {', '.join(stores)}; {args.seconds:g} s/phase"
    )
    load_before = _loadavg()
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            results = runner.run(run(stores, args.seconds, args.keep_logs))
    except KeyboardInterrupt:
        progress("interrupted; servers stopped and temporary directories removed")
        return 130
    print(table(results))
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "client_loop": loop_name,
        "seconds_per_phase": args.seconds,
        "loadavg_1min_before_after": [load_before, _loadavg()],
    }
    print(json.dumps(results, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
