"""The clients of the system tests: visitors and counter staff over real HTTP.

Every request goes through :class:`Api`, which counts it in the shared
:class:`Run`; the run also keeps what the servers acknowledged (as
:class:`~invariants.Ack`) and every failure a client noticed (any 5xx, any
status a request should never get, a retry that made a second ticket, an
acknowledged ticket another process cannot find). The workers are plain
coroutines; a test picks how many of each to run, against which server.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from invariants import Ack, can_become

from queueapp.demo import DEMO_ID, demo_config
from queueapp.domain.capacity import local_day
from queueapp.domain.config import BranchConfig, dump_config, parse_config
from queueapp.testing import ServerProcess

Seed = Callable[[str], Awaitable[str]]
"""The ``seed`` fixture: ``await seed(store_url)`` gives a staff token for the seeded branch."""
Launch = Callable[[str], ServerProcess]
"""The ``launch`` fixture: ``launch(store_url)`` gives a started server process."""

BRANCH = DEMO_ID
CONFLICT = 409
NO_SHOW_AFTERMATH = frozenset({"no_show", "waiting", "admitted"})
"""Where a no-show leaves a ticket: gone, or back in the queue (once) and maybe admitted again."""


@dataclass
class Run:
    """Everything the clients of one test did and saw."""

    operations: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    acks: list[Ack] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    transport_errors: int = 0
    unavailable: int = 0
    """503s answered while the store was away, and retried."""
    homes: dict[str, str] = field(default_factory=dict)
    """The server that issued each acknowledged ticket, by token."""
    in_flight: int = 0
    day: str = field(default_factory=lambda: local_day(tight_demo_config(), datetime.now(UTC)))
    """The branch day, for acknowledgements that name only a ticket number."""
    started: float = field(default_factory=time.monotonic)

    @property
    def conflicts(self) -> int:
        return self.statuses[CONFLICT]

    @property
    def tickets(self) -> dict[str, Ack]:
        """The acknowledged tickets by token (their first acknowledgement)."""
        issued: dict[str, Ack] = {}
        for ack in self.acks:
            if ack.token is not None:
                issued.setdefault(ack.token, ack)
        return issued

    def saw_ticket(self, view: dict[str, Any]) -> None:
        """A visitor's view of a ticket (issue, look-up, cancel): number, token, status, day."""
        self.day = view["day"]
        self.acks.append(
            Ack(view["day"], view["number"], frozenset({view["status"]}), view["token"])
        )

    def saw_counter(self, number: str, statuses: Collection[str]) -> None:
        self.acks.append(Ack(self.day, number, frozenset(statuses)))

    def summary(self) -> str:
        seconds = time.monotonic() - self.started
        actions = ", ".join(f"{action} {n}" for action, n in self.actions.most_common())
        refusals = ", ".join(f"{code} {n}" for code, n in self.codes.most_common())
        return (
            f"{self.operations} operations in {seconds:.1f} s ({self.operations / seconds:.0f}/s),"
            f" {len(self.tickets)} tickets, {self.conflicts} conflicts (409),"
            f" {self.transport_errors} transport errors, {self.unavailable} retried 503s"
            f"\n  by action: {actions}\n  refusals: {refusals or 'none'}"
            f"\n  statuses: {dict(sorted(self.statuses.items()))}"
        )


class Api:
    """One client's requests to one server, each counted and checked."""

    def __init__(self, http: httpx.AsyncClient, url: str, run: Run, staff_token: str) -> None:
        self.http = http
        self.url = url
        self.run = run
        self.staff = {"Authorization": f"Bearer {staff_token}"}

    async def call(
        self,
        method: str,
        path: str,
        expect: Collection[int] = (200, 201, CONFLICT),
        *,
        what: str,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request; a status outside ``expect`` is a failure of the run.

        ``what`` names the operation in the run's tally. A transport error
        (server gone) propagates, for the worker to stop.
        """
        self.run.operations += 1
        self.run.actions[what] += 1
        self.run.in_flight += 1
        try:
            response = await self.http.request(method, f"{self.url}{path}", **kwargs)
        except httpx.TransportError:
            self.run.transport_errors += 1
            raise
        finally:
            self.run.in_flight -= 1
        self.run.statuses[response.status_code] += 1
        if response.status_code >= 400:
            self.run.codes[error_code(response)] += 1
        if response.status_code not in expect:
            self.run.failures.append(
                f"{method} {self.url}{path} -> {response.status_code} {response.text[:300]}"
            )
        return response

    async def issue(
        self, body: dict[str, Any], key: str, expect: Collection[int] = (200, 201, CONFLICT)
    ) -> httpx.Response:
        return await self.call(
            "POST",
            f"/api/v1/branches/{BRANCH}/tickets",
            expect,
            what="issue",
            json=body,
            headers={"Idempotency-Key": key},
        )

    async def ticket(self, token: str) -> httpx.Response:
        return await self.call("GET", f"/api/v1/tickets/{token}", (200,), what="look up")

    async def cancel(self, token: str) -> httpx.Response:
        return await self.call("DELETE", f"/api/v1/tickets/{token}", what="cancel")

    async def counter(
        self,
        counter: str,
        action: str,
        ticket: str | None = None,
        expect: Collection[int] = (200, CONFLICT),
    ) -> httpx.Response:
        body = None if ticket is None else {"ticket": ticket}
        return await self.call(
            "POST",
            counter_path(counter, action),
            expect,
            what=action,
            json=body,
            headers=self.staff,
        )

    async def transfer(self, counter: str, ticket: str, service: str) -> httpx.Response:
        body = {"ticket": ticket, "service": service}
        return await self.call(
            "POST",
            counter_path(counter, "transfer"),
            what="transfer",
            json=body,
            headers=self.staff,
        )

    async def occupancy(self, delta: int, reason: str) -> httpx.Response:
        return await self.call(
            "POST",
            f"/api/v1/branches/{BRANCH}/occupancy",
            what="occupancy",
            json={"delta": delta, "reason": reason},
            headers=self.staff,
        )


def tight_demo_config() -> BranchConfig:
    """The demo branch (4 counters, open all day) with one person per open counter.

    The limit is then the number of open counters, 4 at most, so admission is
    contended all the time: most visitors wait outside.
    """
    rule = {"people_per_counter": 1, "extra": 0, "minimum": 1}
    return parse_config({**dump_config(demo_config()), "capacity": {"default": rule}})


def counter_path(counter: str, action: str) -> str:
    return f"/api/v1/branches/{BRANCH}/counters/{counter}/{action}"


def error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"http {response.status_code}"


def error_detail(response: httpx.Response, name: str) -> Any:
    try:
        return response.json()["error"].get(name)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def ticket_request(rng: random.Random) -> dict[str, Any]:
    """Mostly single visitors, some pairs, a few with a priority need, across all four services."""
    return {
        "service": rng.choice("AAABBCD"),
        "party_size": rng.choice((1, 1, 1, 2)),
        "priority": rng.random() < 0.1,
        "lang": rng.choice(("en", "cs")),
    }


def new_key() -> str:
    return f"system-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class VisitorHabits:
    repeat: float = 0.0
    """Chance of resending the same Idempotency-Key to the other server afterwards."""
    twin: float = 0.0
    """Chance of sending the same Idempotency-Key to both servers at once."""
    look: float = 0.3
    """Chance of looking the ticket up through the other server."""
    cancel: float = 0.15


async def visitor(
    home: Api,
    other: Api,
    rng: random.Random,
    going: Callable[[], bool],
    habits: VisitorHabits,
) -> None:
    """Take tickets one after another until ``going()`` says stop or the server goes away."""
    try:
        while going():
            await _visit(home, other, rng, habits)
    except httpx.TransportError:
        pass  # counted by Api; the test decides whether it was expected


async def _visit(home: Api, other: Api, rng: random.Random, habits: VisitorHabits) -> None:
    run = home.run
    body, key = ticket_request(rng), new_key()
    if rng.random() < habits.twin:
        responses = list(await asyncio.gather(home.issue(body, key), other.issue(body, key)))
    else:
        responses = [await home.issue(body, key)]
        if responses[0].status_code in (200, 201) and rng.random() < habits.repeat:
            responses.append(await other.issue(body, key))
    views = [r.json() for r in responses if r.status_code in (200, 201)]
    if not views:
        return  # refused, such as a service's daily cap
    created = sum(r.status_code == 201 for r in responses)
    numbers = sorted({view["number"] for view in views})
    if created != 1 or len(numbers) != 1:
        run.failures.append(f"one Idempotency-Key gave {created} new tickets, numbers {numbers}")
    for view in views:
        run.saw_ticket(view)
    number, token = views[0]["number"], views[0]["token"]
    run.homes.setdefault(token, home.url)
    if rng.random() < habits.look:
        response = await other.ticket(token)
        if response.status_code == 200:
            run.saw_ticket(response.json())
            if response.json()["number"] != number:
                run.failures.append(f"token of {number} shows {response.json()['number']}")
    if rng.random() < habits.cancel:
        response = await rng.choice((home, other)).cancel(token)
        if response.status_code == 200:
            run.saw_ticket(response.json())


@dataclass(frozen=True)
class StaffHabits:
    opens: bool = True
    """Open the counters first (their owner); racers just press call-next."""
    no_show: float = 0.0
    recall: float = 0.0
    transfer: float = 0.0
    """Chance of sending a started visitor to another service's queue instead of finishing."""
    adjust: float = 0.0
    """Chance, after a visit, of counting a companion in (and out again) at the door."""
    pause: float = 0.0
    """Chance, after a visit, of pausing the counter and opening it again."""
    idle: float = 0.01
    """Seconds to wait when there is nobody to call."""


async def counter_staff(
    api: Api,
    counters: Sequence[str],
    rng: random.Random,
    going: Callable[[], bool],
    habits: StaffHabits,
) -> None:
    """Call, start and finish visits at ``counters`` until told to stop or the server goes away.

    A counter that is busy names its ticket in the 409; the staff member then
    takes that visit over (as a second console at the same counter would), so
    start and done race too.
    """
    try:
        if habits.opens:
            for counter in counters:
                await api.counter(counter, "open")
        while going():
            counter = rng.choice(counters)
            number = await _next_ticket(api, counter)
            if number is None:
                await asyncio.sleep(habits.idle)
                continue
            await _serve(api, counter, number, rng, habits)
            if rng.random() < habits.adjust:
                await api.occupancy(+1, "companion")
                await api.occupancy(-1, "companion left")
            if habits.opens and rng.random() < habits.pause:
                await api.counter(counter, "pause")
                await api.counter(counter, "open")
    except httpx.TransportError:
        pass  # counted by Api; the test decides whether it was expected


async def _next_ticket(api: Api, counter: str) -> str | None:
    response = await api.counter(counter, "call-next")
    if response.status_code == 200:
        ticket = response.json()["ticket"]
        api.run.saw_counter(ticket["number"], {ticket["status"]})
        number: str = ticket["number"]
        return number
    if error_code(response) == "counter_busy":
        busy: str | None = error_detail(response, "ticket")
        return busy
    return None


async def _serve(
    api: Api, counter: str, number: str, rng: random.Random, habits: StaffHabits
) -> None:
    run = api.run
    if rng.random() < habits.no_show:
        if (await api.counter(counter, "no-show", number)).status_code == 200:
            run.saw_counter(number, NO_SHOW_AFTERMATH)
        return
    if rng.random() < habits.recall:
        recalled = await api.counter(counter, "recall", number)
        if recalled.status_code == 200:
            run.saw_counter(number, {recalled.json()["ticket"]["status"]})
    started = await api.counter(counter, "start", number)
    if started.status_code != 200:
        return  # cancelled, finished or sent away by someone else meanwhile
    run.saw_counter(number, {started.json()["ticket"]["status"]})
    if rng.random() < habits.transfer:
        current = started.json()["ticket"]["service"]
        service = rng.choice(
            [s.letter for s in tight_demo_config().services if s.letter != current]
        )
        if (await api.transfer(counter, number, service)).status_code == 200:
            run.saw_counter(number, {"admitted"})
        return
    if (await api.counter(counter, "done", number)).status_code == 200:
        run.saw_counter(number, {"done"})


async def patiently(
    send: Callable[[Collection[int]], Awaitable[httpx.Response]], run: Run, attempts: int = 40
) -> httpx.Response:
    """Send until the answer is not a 503 (the store reconnecting), with a short, bounded backoff.

    ``send(expect)`` makes the request, accepting ``expect``.
    """
    for attempt in range(attempts):
        response = await send((200, 201, CONFLICT, 503))
        if response.status_code != 503:
            return response
        run.unavailable += 1
        await asyncio.sleep(min(0.05 * 2**attempt, 0.5))
    run.failures.append(f"still 503 after {attempts} attempts: {response.text[:200]}")
    return response


async def confirm_tickets(run: Run, lookup: Callable[[str], Api]) -> list[str]:
    """Look every acknowledged ticket up by its token, through ``lookup(token)``.

    Problems: a ticket that is not found, has another number, or is now in a
    status it could not have reached from one it was acknowledged in.
    """
    acks_by_number: dict[tuple[str, str], list[Ack]] = {}
    for ack in run.acks:
        if ack.statuses:
            acks_by_number.setdefault((ack.day, ack.number), []).append(ack)
    problems: list[str] = []
    gate = asyncio.Semaphore(8)

    async def confirm(token: str, issued: Ack) -> None:
        async with gate:
            response = await lookup(token).ticket(token)
        if response.status_code != 200:
            problems.append(f"{issued.number}: {response.status_code} {response.text[:200]}")
            return
        view = response.json()
        if view["number"] != issued.number:
            problems.append(f"{issued.number}: its token now shows {view['number']}")
        for ack in acks_by_number.get((issued.day, issued.number), []):
            if not any(can_become(status, view["status"]) for status in ack.statuses):
                seen = "/".join(sorted(ack.statuses))
                problems.append(f"{issued.number}: acknowledged {seen}, now {view['status']}")

    await asyncio.gather(*(confirm(token, ack) for token, ack in run.tickets.items()))
    return sorted(problems)
