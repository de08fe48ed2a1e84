"""Who may call the staff and manager routes: 401 without a valid token, 403 without the role.

Also how long a server trusts a token it has checked: a revocation through
the API counts at once, one made around the server within the cache's time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from queueapp.service.access import (
    CACHE_SECONDS,
    TokenCache,
    create_token,
    list_tokens,
    revoke_token,
)
from queueapp.store import open_store

if TYPE_CHECKING:
    from tests.web.conftest import Api

pytestmark = pytest.mark.anyio

DEMO = "/api/v1/branches/demo"
NORTH = "/api/v1/branches/north"

STAFF_ROUTES: list[tuple[str, str, Any]] = [
    ("POST", f"{DEMO}/counters/1/open", None),
    ("POST", f"{DEMO}/counters/1/call-next", None),
    ("POST", f"{DEMO}/counters/1/done", {"ticket": "A001"}),
    ("POST", f"{DEMO}/counters/1/transfer", {"ticket": "A001", "service": "B"}),
    ("POST", f"{DEMO}/occupancy", {"delta": 1, "reason": "courier"}),
    ("POST", f"{DEMO}/entries", {"ticket": "A001"}),
]
MANAGER_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", f"{DEMO}/config", None),
    ("PUT", f"{DEMO}/config", {"id": "demo"}),
    ("GET", f"{DEMO}/report", None),
]
ALL_ROUTES = STAFF_ROUTES + MANAGER_ROUTES


async def call(api: Api, route: tuple[str, str, Any], authorization: str | None) -> Any:
    method, path, body = route
    headers = {} if authorization is None else {"Authorization": authorization}
    return await api.client.request(method, path, json=body, headers=headers)


def route_id(route: tuple[str, str, Any]) -> str:
    return f"{route[0]} {route[1].removeprefix(DEMO)}"


BAD_AUTHORIZATIONS = [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Bearer garbage",
    "Bearer qa_" + "x" * 43,
    "Bearer qa_" + "x" * 200,
    "Basic dXNlcjpwYXNz",
    "Token qa_whatever",
]


@pytest.mark.parametrize("route", ALL_ROUTES, ids=route_id)
async def test_without_a_valid_token_401(api: Api, route: tuple[str, str, Any]) -> None:
    before = await api.log()

    for authorization in BAD_AUTHORIZATIONS:
        response = await call(api, route, authorization)
        assert api.refused(response, 401) == "unauthorized", authorization

    assert await api.log() == before


@pytest.mark.parametrize("route", ALL_ROUTES, ids=route_id)
async def test_staff_of_another_branch_403(api: Api, route: tuple[str, str, Any]) -> None:
    before = await api.log()

    response = await call(api, route, f"Bearer {api.tokens.other_staff}")

    assert api.refused(response, 403) == "forbidden"
    assert await api.log() == before


@pytest.mark.parametrize("route", MANAGER_ROUTES, ids=route_id)
async def test_staff_on_manager_routes_403(api: Api, route: tuple[str, str, Any]) -> None:
    response = await call(api, route, f"Bearer {api.tokens.staff}")

    assert api.refused(response, 403) == "forbidden"


async def test_each_token_acts_where_it_belongs(api: Api) -> None:
    opened = await api.client.post(f"{NORTH}/counters/1/open", headers=api.auth("other_staff"))
    assert opened.status_code == 200
    assert (await api.snapshot("north"))["counters"][0]["status"] == "open"
    assert (await api.snapshot("demo"))["counters"][0]["status"] == "closed"

    for role in ("staff", "manager", "admin"):
        token = getattr(api.tokens, role)
        assert (await api.counter("2", "open", token=token)).status_code == 200
        assert (await api.counter("2", "close", token=token)).status_code == 200
    for role in ("manager", "admin"):
        for path in (f"{DEMO}/config", f"{DEMO}/report"):
            response = await api.client.get(path, headers=api.auth(role))
            assert response.status_code == 200, (role, path)
    north_config = await api.client.get(f"{NORTH}/config", headers=api.auth("manager"))
    assert api.refused(north_config, 403) == "forbidden"


async def test_a_token_revoked_through_the_api_401_at_once(api: Api) -> None:
    store = api.app.state.store
    assert (await api.counter("1", "open")).status_code == 200
    [staff] = [t for t in await list_tokens(store) if t["label"] == "staff"]

    revoked = await api.client.delete(f"/api/v1/tokens/{staff['id']}", headers=api.auth("admin"))
    assert revoked.status_code == 200

    response = await api.counter("1", "pause")
    assert api.refused(response, 401) == "unauthorized"
    assert (await api.snapshot())["counters"][0]["status"] == "open"
    assert (await api.counter("1", "pause", token=api.tokens.manager)).status_code == 200


async def test_admin_creates_a_branch_but_a_manager_may_not(api: Api) -> None:
    document = api.config_doc(id="south", name="South")

    # Even a manager whose token names the new branch may only edit it once it exists.
    south_manager, _ = await create_token(api.app.state.store, "manager", ["demo", "south"])
    for token in (api.tokens.manager, south_manager):
        refused = await api.put_config(document, token=token)
        assert api.refused(refused, 403) == "forbidden"
    assert api.refused(await api.client.get("/api/v1/branches/south"), 404) == "unknown_branch"

    created = await api.put_config(document, token=api.tokens.admin)
    assert created.status_code == 200, created.text
    assert created.json()["revision"] == 1
    assert (await api.snapshot("south"))["name"] == "South"
    directory = (await api.client.get("/api/v1/branches")).json()["branches"]
    assert [b["id"] for b in directory] == ["demo", "north", "south"]
    renamed = await api.put_config({**document, "name": "South 2"}, token=south_manager)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["revision"] == 2


async def test_a_manager_edits_their_own_branch(api: Api) -> None:
    document = api.config_doc(name="Renamed centre")

    response = await api.put_config(document)

    assert response.status_code == 200, response.text
    assert response.json()["revision"] == 2
    assert (await api.snapshot())["name"] == "Renamed centre"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_token_revoked_around_the_server_is_refused_within_the_cache_time(
    tmp_path: Path,
) -> None:
    """As when `queueapp token revoke` or another server process revokes it."""
    store = await open_store(f"sqlite:///{tmp_path / 'tokens.db'}")
    try:
        clock = Clock()
        cache = TokenCache(store, clock=clock)
        token, token_id = await create_token(store, "staff", ["demo"], label="integration")
        assert (await cache.verify(token)) is not None

        assert await revoke_token(store, token_id)
        clock.now += CACHE_SECONDS / 2
        trusted = await cache.verify(token)
        clock.now += CACHE_SECONDS / 2
        refused = await cache.verify(token)

        assert trusted is not None and trusted.role == "staff"
        assert refused is None
    finally:
        await store.close()


async def test_the_token_cache_keeps_only_good_tokens_and_a_bounded_number(
    tmp_path: Path,
) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'tokens.db'}")
    try:
        cache = TokenCache(store, size=3, clock=Clock())
        reads = 0
        get_document = store.get_document

        async def counted(kind: str, key: str) -> Any:
            nonlocal reads
            reads += 1
            return await get_document(kind, key)

        store.get_document = counted  # type: ignore[method-assign]
        unknown = "qa_" + "x" * 43
        assert await cache.verify(unknown) is None
        assert await cache.verify(unknown) is None
        assert reads == 2, "a refused token was remembered"

        tokens = [(await create_token(store, "admin", []))[0] for _ in range(5)]
        for token in tokens:
            assert await cache.verify(token) is not None
        reads = 0
        for token in tokens[2:]:
            assert await cache.verify(token) is not None
        assert reads == 0
        assert await cache.verify(tokens[0]) is not None
        assert reads == 1, "the oldest of more tokens than the cache holds was kept"
    finally:
        await store.close()
