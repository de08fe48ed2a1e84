"""Access changes in the audit trail: tokens, paired screens and accounts, with who made each
change, when, and to what, never a secret; for the branch's managers, not its displays."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from browsers import PASSWORD, Browser, csrf_headers
from starlette.applications import Starlette

from queueapp.demo import DEMO_ID
from queueapp.service.access_changes import CLI, AccessChanges
from queueapp.service.branches import BranchService

if TYPE_CHECKING:
    from tests.web.conftest import Api, FakeClock

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("cheap_hashing", "people")]

NEW_PASSWORD = "a brand new passphrase"
SUBJECT_FIELDS = {"subject", "action", "id", "label", "kind", "role", "branches"}


async def access_rows(
    client: httpx.AsyncClient, branch: str = DEMO_ID, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The branch's access changes of today from its audit trail, oldest first."""
    response = await client.get(f"/api/v1/branches/{branch}/audit", headers=headers)
    assert response.status_code == 200, response.text
    events = response.json()["events"]
    return [e for e in reversed(events) if e["type"] == "access_changed"]


def summary(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(r["by"], r["subject"], r["action"], r["id"]) for r in rows]


async def test_every_access_change_is_recorded_with_who_what_and_when(
    api: Api, browser: Browser, clock: FakeClock
) -> None:
    alice = await browser("alice")
    csrf = await csrf_headers(alice)
    secrets: list[str] = [PASSWORD, NEW_PASSWORD]

    made = await alice.post(
        "/api/v1/tokens",
        json={"role": "staff", "branches": [DEMO_ID], "label": "queue board"},
        headers=csrf,
    )
    assert made.status_code == 201, made.text
    token_id = made.json()["id"]
    secrets.append(made.json()["token"])
    clock.advance(seconds=30)
    assert (await alice.delete(f"/api/v1/tokens/{token_id}", headers=csrf)).status_code == 200
    screen = await alice.post(
        f"/api/v1/branches/{DEMO_ID}/devices",
        json={"kind": "kiosk", "label": "Entrance"},
        headers=csrf,
    )
    device = screen.json()
    code = device["pairing_path"].split("pair=")[1]
    secrets.append(code)
    kiosk = await browser()
    paired = await kiosk.get(device["pairing_path"])
    assert paired.status_code == 303
    secrets.append(kiosk.cookies["queueapp_device"])
    deleted = await alice.delete(f"/api/v1/branches/{DEMO_ID}/devices/{device['id']}", headers=csrf)
    assert deleted.status_code == 200
    user = {"name": "kim", "role": "staff", "branches": [DEMO_ID], "password": PASSWORD}
    assert (await alice.post("/api/v1/users", json=user, headers=csrf)).status_code == 201
    for change in ({"disabled": True}, {"disabled": False}, {"password": NEW_PASSWORD}):
        changed = await alice.patch("/api/v1/users/kim", json=change, headers=csrf)
        assert changed.status_code == 200, changed.text
    promoted = await alice.patch("/api/v1/users/kim", json={"role": "manager"}, headers=csrf)
    assert promoted.status_code == 200, promoted.text

    rows = await access_rows(alice)

    kiosk_id = f"kiosk:{device['id']}"
    assert summary(rows) == [
        ("user:alice", "token", "created", token_id),
        ("user:alice", "token", "revoked", token_id),
        ("user:alice", "device", "created", device["id"]),
        (kiosk_id, "device", "paired", device["id"]),
        ("user:alice", "device", "revoked", device["id"]),
        ("user:alice", "user", "created", "kim"),
        ("user:alice", "user", "disabled", "kim"),
        ("user:alice", "user", "enabled", "kim"),
        ("user:alice", "user", "password_changed", "kim"),
        ("user:alice", "user", "role_changed", "kim"),
    ]
    first, revoked = rows[0], rows[1]
    assert (first["label"], first["role"], first["branches"]) == ("queue board", "staff", ["demo"])
    assert revoked["at"] == first["at"] + 30 == clock.now.timestamp()
    assert all((r["kind"], r["label"]) == ("kiosk", "Entrance") for r in rows[2:5])
    assert (rows[-1]["role"], rows[-1]["branches"]) == ("manager", ["demo"])
    assert all(set(r) >= SUBJECT_FIELDS for r in rows)
    stored = json.dumps(await api.log())
    trail = (await alice.get(f"/api/v1/branches/{DEMO_ID}/audit")).text
    for secret in secrets:
        assert secret not in stored and secret not in trail
    assert '"password"' not in stored and '"hash"' not in stored and '"salt"' not in stored


async def test_a_token_acts_in_its_own_name(api: Api) -> None:
    manager = api.auth("manager")
    body = {"role": "staff", "branches": [DEMO_ID], "label": "wall board"}
    response = await api.client.post("/api/v1/tokens", json=body, headers=manager)
    assert response.status_code == 201, response.text

    rows = await access_rows(api.client, headers=manager)

    assert [(r["action"], r["id"], r["label"]) for r in rows] == [
        ("created", response.json()["id"], "wall board")
    ]
    label, token_id = rows[0]["by"].split(":")
    assert label == "manager" and len(token_id) == 12  # the manager token, by label and id


async def test_changes_reach_the_branches_they_touch_and_no_others(
    api: Api, browser: Browser
) -> None:
    root, alice, nick = await browser("root"), await browser("alice"), await browser("nick")
    csrf = await csrf_headers(root)
    admin = {"role": "admin", "label": "night jobs"}
    assert (await root.post("/api/v1/tokens", json=admin, headers=csrf)).status_code == 201
    north_only = {"role": "staff", "branches": ["north"], "label": "north board"}
    assert (await root.post("/api/v1/tokens", json=north_only, headers=csrf)).status_code == 201
    moved = await root.patch("/api/v1/users/nora", json={"branches": ["demo"]}, headers=csrf)
    assert moved.status_code == 200, moved.text

    demo, north = await access_rows(alice), await access_rows(nick, "north")

    assert [(r["label"], r["action"]) for r in demo] == [
        ("night jobs", "created"),
        ("", "role_changed"),
    ]
    assert [(r["label"], r["action"]) for r in north] == [
        ("night jobs", "created"),
        ("north board", "created"),
        ("", "role_changed"),
    ]
    assert demo[0]["role"] == "admin" and demo[0]["branches"] == []
    assert north[-1]["id"] == "nora" and north[-1]["branches"] == ["demo"]  # she left north
    path = f"/api/v1/branches/{DEMO_ID}/audit"
    for outsider in (nick, await browser("sam"), await browser("nora")):
        assert api.refused(await outsider.get(path), 403) == "forbidden"
    other_staff = {"Authorization": f"Bearer {api.tokens.other_staff}"}
    assert api.refused(await api.client.get(path, headers=other_staff), 403) == "forbidden"


async def test_a_change_that_changes_nothing_is_not_recorded(api: Api, browser: Browser) -> None:
    alice = await browser("alice")
    csrf = await csrf_headers(alice)
    for _ in range(2):
        enabled = await alice.patch("/api/v1/users/sam", json={"disabled": False}, headers=csrf)
        assert enabled.status_code == 200, enabled.text
    made = await alice.post(
        "/api/v1/tokens", json={"role": "staff", "branches": [DEMO_ID]}, headers=csrf
    )
    for _ in range(2):
        gone = await alice.delete(f"/api/v1/tokens/{made.json()['id']}", headers=csrf)
        assert gone.status_code == 200

    assert [r["action"] for r in await access_rows(alice)] == ["created", "revoked"]


async def test_a_display_learns_only_that_something_administrative_happened(
    app: Starlette, api: Api, browser: Browser, clock: FakeClock
) -> None:
    hub = app.state.hub
    display, first = await hub.watch_branch(DEMO_ID, None, None)
    start = json.loads(first[0])["version"]
    alice = await browser("alice")
    csrf = await csrf_headers(alice)
    screen = await alice.post(
        f"/api/v1/branches/{DEMO_ID}/devices",
        json={"kind": "display", "label": "Hall"},
        headers=csrf,
    )
    assert screen.status_code == 201
    elsewhere = AccessChanges(BranchService(app.state.store, clock), app.state.tokens)
    await elsewhere.create_user(CLI, "kim", "staff", [DEMO_ID], PASSWORD)  # another process
    await hub.catch_up(DEMO_ID)
    await api.ok("1", "open")

    messages = []
    while (text := await display.next(0)) is not None:
        messages.append(json.loads(text))
    _, missed = await hub.watch_branch(DEMO_ID, start, None)  # a display coming back
    resumed = [json.loads(m) for m in missed]

    assert [(m["from"], m["version"]) for m in messages] == [
        (v, v) for v in range(start + 1, start + 4)
    ]
    events = [e for m in messages for e in m["events"]]
    assert [e["type"] for e in events] == ["access_changed", "access_changed", "counter_changed"]
    for event in events[:2]:
        assert set(event) == {"type", "at"}
    assert resumed == messages
    for text in ("Hall", "kim", screen.json()["id"], "user:alice", "cli"):
        assert text not in json.dumps(messages)
