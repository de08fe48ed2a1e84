"""Fixtures for the HTTP API: a real app on a fresh SQLite file, a fake clock, tokens.

The app runs its whole lifespan (store, branch service, ticker) and is driven
through ``httpx.AsyncClient`` over ASGI; Starlette's ``TestClient`` is not
used because it warns with this httpx version and warnings are errors here.
The ticker's interval is an hour, so it ticks once at start-up and never
again during a test: time only moves when a test advances the clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from browsers import PASSWORD, PEOPLE, Browser, sign_in
from starlette.applications import Starlette

from queueapp.demo import DEMO_ID, demo_config
from queueapp.domain.config import BranchConfig, dump_config, parse_config
from queueapp.domain.views import ticket_summary
from queueapp.service import accounts
from queueapp.service.access import create_token
from queueapp.service.branches import BranchService
from queueapp.settings import Settings
from queueapp.store import EventStore, Stream
from queueapp.web.app import create_app

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
"""Monday 23 November 2026, 10:00 in Prague, where the demo branch is."""
DAY = "2026-11-23"
OTHER_ID = "north"


class FakeClock:
    """An aware UTC clock that only moves when a test says so."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass(frozen=True)
class Tokens:
    staff: str
    manager: str
    admin: str
    other_staff: str
    """Staff of the branch ``north``, not of ``demo``."""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def config_doc(**changes: Any) -> dict[str, Any]:
    """The demo configuration as a PUT body, with top-level keys replaced."""
    document = dump_config(demo_config())
    document.pop("revision")
    document.update(changes)
    return document


class Api:
    """Short calls for the routes the tests use.

    ``issue``, ``counter``, ``occupancy`` and ``put_config`` return the raw
    response; ``issued``, ``ok``, ``snapshot`` and ``ticket`` assert success
    and return the JSON body.
    """

    day = DAY
    config_doc = staticmethod(config_doc)

    def __init__(self, app: Starlette, client: httpx.AsyncClient, tokens: Tokens) -> None:
        self.app = app
        self.client = client
        self.tokens = tokens

    @staticmethod
    def refused(response: httpx.Response, status: int) -> str:
        """Assert a JSON refusal of the documented shape with ``status``; return its code."""
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        error = response.json()["error"]
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and error["message"]
        return str(error["code"])

    def auth(self, role: str = "staff") -> dict[str, str]:
        """The Authorization header of one of :class:`Tokens`: staff, manager, admin..."""
        token: str = getattr(self.tokens, role)
        return bearer(token)

    async def issue(
        self, service: str = "A", key: str | None = None, branch: str = DEMO_ID, **body: Any
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key is not None else {}
        return await self.client.post(
            f"/api/v1/branches/{branch}/tickets", json={"service": service, **body}, headers=headers
        )

    async def issued(self, service: str = "A", **body: Any) -> dict[str, Any]:
        """A new ticket's view, after checking it was created."""
        response = await self.issue(service, **body)
        assert response.status_code == 201, response.text
        view: dict[str, Any] = response.json()
        return view

    async def counter(
        self,
        counter: str,
        action: str,
        ticket: str | None = None,
        token: str | None = None,
        branch: str = DEMO_ID,
        **body: Any,
    ) -> httpx.Response:
        if ticket is not None:
            body["ticket"] = ticket
        return await self.client.post(
            f"/api/v1/branches/{branch}/counters/{counter}/{action}",
            json=body or None,
            headers=bearer(token or self.tokens.staff),
        )

    async def ok(self, counter: str, action: str, ticket: str | None = None) -> dict[str, Any]:
        """A counter command that must succeed and change something."""
        response = await self.counter(counter, action, ticket)
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        assert view["changed"] is True
        return view

    async def occupancy(self, delta: int, reason: str) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/branches/{DEMO_ID}/occupancy",
            json={"delta": delta, "reason": reason},
            headers=self.auth("staff"),
        )

    async def snapshot(self, branch: str = DEMO_ID) -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/branches/{branch}")
        assert response.status_code == 200, response.text
        snapshot: dict[str, Any] = response.json()
        return snapshot

    async def ticket(self, token: str) -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/tickets/{token}")
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()
        return view

    async def put_config(
        self, document: dict[str, Any], token: str | None = None
    ) -> httpx.Response:
        return await self.client.put(
            f"/api/v1/branches/{document['id']}/config",
            json=document,
            headers=bearer(token or self.tokens.manager),
        )

    async def tickets(self, branch: str = DEMO_ID) -> dict[str, dict[str, Any]]:
        """Every ticket of the branch today as staff see it, read through the service."""
        state = await self.app.state.branches.state(branch)
        return {number: ticket_summary(t) for number, t in state.tickets.items()}

    async def log(self, branch: str = DEMO_ID) -> list[dict[str, Any]]:
        """Today's event log as stored."""
        store: EventStore = self.app.state.store
        day = (await self.app.state.branches.state(branch)).day
        return [e.data for e in await store.read(Stream(branch, day))]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def app(anyio_backend: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Starlette]:
    """The app on a fresh SQLite file, its lifespan running, the demo and north branches seeded."""
    settings = Settings(store_url=f"sqlite:///{tmp_path / 'queue.db'}", tick_interval=3600)
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        service = BranchService(app.state.store)
        await service.save_config(demo_config())
        await service.save_config(other_config())
        yield app


def other_config() -> BranchConfig:
    return parse_config({**dump_config(demo_config()), "id": OTHER_ID, "name": "North"})


@pytest.fixture
async def tokens(app: Starlette) -> Tokens:
    store: EventStore = app.state.store
    staff, _ = await create_token(store, "staff", [DEMO_ID], label="staff")
    manager, _ = await create_token(store, "manager", [DEMO_ID], label="manager")
    admin, _ = await create_token(store, "admin", [], label="admin")
    other, _ = await create_token(store, "staff", [OTHER_ID], label="north-staff")
    return Tokens(staff=staff, manager=manager, admin=admin, other_staff=other)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
def api(app: Starlette, client: httpx.AsyncClient, tokens: Tokens) -> Api:
    return Api(app, client, tokens)


@pytest.fixture
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt at a sixteenth of its cost, for tests that sign in a lot (test_accounts
    checks the real parameters)."""
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**10)


@pytest.fixture
async def people(app: Starlette) -> None:
    """The accounts of :data:`browsers.PEOPLE`, all with :data:`browsers.PASSWORD`."""
    for name, (role, branches) in PEOPLE.items():
        await accounts.create_user(app.state.store, name, role, branches, PASSWORD)


@pytest.fixture
async def browser(app: Starlette) -> AsyncIterator[Browser]:
    """Opens browsers (clients with their own cookie jars); ``browser("sam")`` is signed in."""
    async with AsyncExitStack() as stack:

        async def open_browser(
            user: str | None = None, address: str = "127.0.0.1"
        ) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            client = httpx.AsyncClient(transport=transport, base_url="http://test")
            await stack.enter_async_context(client)
            if user is not None:
                response = await sign_in(client, user)
                assert response.status_code == 303, response.text
            return client

        yield open_browser
