"""Crashes and restarts lose nothing that was acknowledged.

On SQLite, the only server is killed with SIGKILL while clients are in the
middle of requests, and a new one starts on the same file: every ticket a
client was told about is there, at least as far along its lifecycle as it was
acknowledged. On Redis, the redis-server itself is killed and restarted under
a running queueapp, which reconnects (a few 503s meanwhile are retried) and
carries on, still knowing every ticket and Idempotency-Key.
"""

from __future__ import annotations

import asyncio
import random
from contextlib import AsyncExitStack
from functools import partial
from typing import Any

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
    new_key,
    patiently,
    visitor,
)

from queueapp.testing import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

LOAD_SECONDS = 1.5
VISITOR = VisitorHabits(repeat=0.1, look=0.3, cancel=0.15)
STAFF = StaffHabits(no_show=0.05, recall=0.05, transfer=0.05)


def until_the_server_dies() -> bool:
    return True  # the workers stop at their first connection error


async def test_kill_9_under_load_loses_no_acknowledged_ticket(
    sqlite_url: str, seed: Seed, launch: Launch
) -> None:
    staff_token = await seed(sqlite_url)
    server = launch(sqlite_url)
    run = Run()

    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(timeout=30)) for _ in range(5)]
        apis = [Api(client, server.url, run, staff_token) for client in clients]
        workers = [
            *(
                visitor(api, api, random.Random(i), until_the_server_dies, VISITOR)
                for i, api in enumerate(apis[:3])
            ),
            counter_staff(apis[3], ["1", "2"], random.Random(3), until_the_server_dies, STAFF),
            counter_staff(apis[4], ["3", "4"], random.Random(4), until_the_server_dies, STAFF),
        ]
        tasks = [asyncio.create_task(worker) for worker in workers]
        await asyncio.sleep(LOAD_SECONDS)
        in_flight = run.in_flight
        server.kill()
        _, still_running = await asyncio.wait(tasks, timeout=30)
    print(f"\nbefore the kill: {run.summary()}; {in_flight} requests in flight at the kill")
    assert not still_running, "clients did not notice that the server was gone"
    assert in_flight > 0
    assert run.failures == []

    restarted = launch(sqlite_url)
    checks = Run()
    async with httpx.AsyncClient(timeout=30) as client:
        lookup = Api(client, restarted.url, checks, staff_token)
        missing = await confirm_tickets(run, lambda token: lookup)
    assert missing == []
    assert checks.failures == []
    assert await check_store(sqlite_url, BRANCH, run.acks) == []


BATCH = 15


async def test_redis_restart_under_a_running_server(
    private_redis: RedisServer, seed: Seed, launch: Launch
) -> None:
    staff_token = await seed(private_redis.url)
    server = launch(private_redis.url)
    run = Run()
    rng = random.Random(0)

    async with httpx.AsyncClient(timeout=30) as client:
        api = Api(client, server.url, run, staff_token)

        async def issue(body: dict[str, Any], key: str) -> str | None:
            response = await patiently(partial(api.issue, body, key), run)
            if response.status_code not in (200, 201):
                return None
            run.saw_ticket(response.json())
            number: str = response.json()["number"]
            return number

        first = ({"service": "A", "party_size": 1}, new_key())
        await api.counter("1", "open")
        before = [await issue(*first)]
        before += [await issue({"service": rng.choice("AB")}, new_key()) for _ in range(BATCH)]
        private_redis.restart()
        after = [await issue({"service": rng.choice("AB")}, new_key()) for _ in range(BATCH)]
        repeated = await issue(*first)
        called = await patiently(partial(api.counter, "1", "call-next", None), run)
        if called.status_code == 200:
            run.saw_counter(called.json()["ticket"]["number"], {"called"})
        missing = await confirm_tickets(run, lambda token: api)
    print(f"\naround the restart: {run.summary()}")
    assert run.failures == []
    assert None not in before + after
    assert len(run.tickets) == 2 * BATCH + 1
    assert repeated == before[0], "the Idempotency-Key was forgotten in the restart"
    assert called.status_code == 200
    assert missing == []
    assert await check_store(private_redis.url, BRANCH, run.acks) == []
