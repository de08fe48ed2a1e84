"""Two server processes on one Redis, eight clients at once, thousands of operations.

Visitors take tickets at both doors (sometimes resending an Idempotency-Key,
sometimes to both processes at once), look them up and cancel some; each
counter has its own client (open, call next, recall, start, done, no-show,
transfer, pause, a companion counted in and out), and two more clients press
call-next on the same counters through the other process and take over what
they find there, so calls, starts, finishes and cancels race for real. The
capacity rule is one person per open counter, so admission is contended.

Afterwards the event log must show no ticket at two counters, no counter
with two tickets, inside never above the limit at an admission, and every
acknowledged ticket present; and each ticket must be found, where it should
be, through the process that did not issue it.
"""

from __future__ import annotations

import asyncio
import random
import time
from contextlib import AsyncExitStack

import httpx
import pytest
from invariants import check_store
from system_clients import (
    BRANCH,
    Api,
    Launch,
    Run,
    Seed,
    StaffHabits,
    VisitorHabits,
    confirm_tickets,
    counter_staff,
    visitor,
)

from queueapp.testing import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

OPERATIONS = 2_000
TIME_LIMIT = 45.0
"""Seconds; the load stops early (and the test fails) if 2,000 operations take longer."""

VISITOR = VisitorHabits(repeat=0.1, twin=0.05, look=0.3, cancel=0.15)
OWNER = StaffHabits(no_show=0.05, recall=0.05, transfer=0.05, adjust=0.03, pause=0.03)
RACER = StaffHabits(opens=False, no_show=0.05, transfer=0.05)


async def test_eight_clients_on_two_processes_keep_the_invariants(
    private_redis: RedisServer, seed: Seed, launch: Launch
) -> None:
    staff_token = await seed(private_redis.url)
    servers = [launch(private_redis.url), launch(private_redis.url)]
    run = Run()
    stop_at = time.monotonic() + TIME_LIMIT

    def going() -> bool:
        return run.operations < OPERATIONS and time.monotonic() < stop_at

    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(timeout=30)) for _ in range(8)]

        def api(client: int, server: int) -> Api:
            return Api(clients[client], servers[server].url, run, staff_token)

        await asyncio.gather(
            # two visitors, one at each process's door, retrying through the other
            visitor(api(0, 0), api(0, 1), random.Random(0), going, VISITOR),
            visitor(api(1, 1), api(1, 0), random.Random(1), going, VISITOR),
            # one client per counter: counters 1 and 3 on process 0, 2 and 4 on process 1
            *(
                counter_staff(api(2 + i, i % 2), [counter], random.Random(2 + i), going, OWNER)
                for i, counter in enumerate("1234")
            ),
            # and two more pressing call-next on the same counters through the other process
            counter_staff(api(6, 1), ["1", "3"], random.Random(6), going, RACER),
            counter_staff(api(7, 0), ["2", "4"], random.Random(7), going, RACER),
        )
        print(f"\nload: {run.summary()}")

        checks = Run()
        other = {servers[0].url: servers[1].url, servers[1].url: servers[0].url}
        lookups = {
            server.url: Api(clients[0], server.url, checks, staff_token) for server in servers
        }
        missing = await confirm_tickets(
            run, lambda token: lookups[other[run.homes.get(token, servers[0].url)]]
        )

    violations = await check_store(private_redis.url, BRANCH, run.acks)
    print(f"checked: {len(run.tickets)} tickets looked up across processes, {len(run.acks)} acks")
    assert run.failures == []
    assert run.transport_errors == 0
    assert run.operations >= OPERATIONS, f"only {run.summary()} within {TIME_LIMIT} s"
    assert run.codes["counter_busy"] > 0, "call-next never raced; the test proves nothing"
    assert missing == []
    assert checks.failures == []
    assert violations == []
