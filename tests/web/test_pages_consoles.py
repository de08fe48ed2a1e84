"""The consoles as pages (who may open which, for which branches) and the API routes they
added: a counter's queue, the audit trail, the capacity preview, and a branch's devices."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from browsers import Browser, csrf_headers

from queueapp.demo import DEMO_ID, demo_config
from queueapp.domain.config import dump_config
from queueapp.i18n import catalog, parse_po
from queueapp.service.devices import pair_device, verify_device
from queueapp.web import api_consoles, api_devices

if TYPE_CHECKING:
    from tests.web.conftest import Api, FakeClock

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("cheap_hashing")]

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = ("cs", "bg", "vi")
PAGES = ["/staff", "/staff/door", "/manage", f"/manage/{DEMO_ID}"]


@pytest.fixture
def browser(browser: Browser, people: None) -> Browser:
    """The consoles' browsers, with everyone's account made."""
    return browser


class _Page(HTMLParser):
    """A page's embedded JSON, its scripts and whether anything is styled inline."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, Any] = {}
        self.scripts: list[dict[str, str | None]] = []
        self.inline_styles = 0
        self._json: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.inline_styles += "style" in values or tag == "style"
        if tag == "script":
            self.scripts.append(values)
            if values.get("type") == "application/json":
                self._json = values.get("id")

    def handle_data(self, data: str) -> None:
        if self._json is not None:
            self.data[self._json] = json.loads(data)
            self._json = None


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


# The pages ---------------------------------------------------------------------


async def test_the_consoles_send_strangers_to_sign_in(browser: Browser) -> None:
    stranger = await browser()
    for path in PAGES:
        response = await stranger.get(path + "?lang=cs")

        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=" + path), path


async def test_staff_may_not_open_the_manager_console(browser: Browser) -> None:
    sam = await browser("sam")
    for path in ("/manage", f"/manage/{DEMO_ID}"):
        response = await sam.get(path)

        assert response.status_code == 403, path
        assert "This page needs another role." in response.text
    assert (await sam.get("/staff")).status_code == 200
    assert (await sam.get("/staff/door")).status_code == 200


async def test_each_console_shows_only_the_users_branches(browser: Browser) -> None:
    expected = {
        "sam": ("/staff", [DEMO_ID]),
        "nora": ("/staff/door", ["north"]),
        "alice": ("/manage", [DEMO_ID]),
        "nick": ("/manage", ["north"]),
        "root": ("/manage", [DEMO_ID, "north"]),
    }
    for user, (path, branches) in expected.items():
        response = await (await browser(user)).get(path)

        assert response.status_code == 200, (user, response.text[:200])
        data = parse(response.text).data["console-data"]
        assert [b["id"] for b in data["branches"]] == branches, user
        assert data["user"] == f"user:{user}"
    root_staff = parse((await (await browser("root")).get("/staff")).text).data["console-data"]
    assert [b["id"] for b in root_staff["branches"]] == [DEMO_ID, "north"]


async def test_a_manager_of_another_branch_cannot_open_it(browser: Browser) -> None:
    nick = await browser("nick")

    response = await nick.get(f"/manage/{DEMO_ID}")

    assert response.status_code == 403
    assert "Demo customer centre" not in response.text
    overview = await nick.get("/manage")
    assert 'data-branch="north"' in overview.text
    assert f'data-branch="{DEMO_ID}"' not in overview.text
    assert (await nick.get("/manage/north")).status_code == 200


async def test_the_pages_keep_the_content_security_policy(browser: Browser) -> None:
    alice = await browser("alice")
    for path in [*PAGES, f"/manage/{DEMO_ID}?tab=audit"]:
        response = await alice.get(path)

        assert response.status_code == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"
        page = parse(response.text)
        assert page.inline_styles == 0, path
        for script in page.scripts:  # every script is a file or data, never inline code
            assert script.get("src") or script.get("type") == "application/json", (path, script)
        assert '<meta name="csrf-token"' in response.text
        for asset in re.findall(r'(?:src|href)="(/static/consoles/[^"]+)"', response.text):
            assert (await alice.get(asset)).status_code == 200, asset


async def test_every_console_script_is_served(client: httpx.AsyncClient) -> None:
    for script in (ROOT / "consoles" / "static").glob("*.js"):
        response = await client.get(f"/static/consoles/{script.name}")

        assert response.status_code == 200, script.name
        imports = re.findall(r'from "(/static/[^"]+)"', response.text)
        for imported in imports:
            assert (await client.get(imported)).status_code == 200, (script.name, imported)


async def test_the_branch_console_opens_on_the_asked_tab(browser: Browser) -> None:
    alice = await browser("alice")

    data = parse((await alice.get(f"/manage/{DEMO_ID}?tab=users")).text).data["console-data"]

    assert data["tab"] == "users"
    assert data["branch"]["id"] == DEMO_ID
    assert data["roles"] == ["staff", "manager"]  # a manager may not make admins
    unknown = parse((await alice.get(f"/manage/{DEMO_ID}?tab=nope")).text).data["console-data"]
    assert unknown["tab"] == "settings"
    root = parse((await (await browser("root")).get(f"/manage/{DEMO_ID}")).text)
    assert root.data["console-data"]["roles"] == ["staff", "manager", "admin"]


async def test_an_unknown_branch_is_404_for_an_admin(browser: Browser) -> None:
    response = await (await browser("root")).get("/manage/nowhere")

    assert response.status_code == 404
    assert "There is no branch nowhere." in response.text


async def test_the_consoles_speak_the_chosen_language(browser: Browser) -> None:
    sam = await browser("sam")

    czech = await sam.get("/staff?lang=cs")

    assert '<html lang="cs">' in czech.text
    assert "Zavolat dalšího" in czech.text
    assert 'href="/staff/door?lang=cs"' in czech.text
    scripts = parse(czech.text).data["catalog"]
    assert scripts["messages"]["Press N to call {number}."] == "Stiskněte N a zavolejte {number}."


# The queue ---------------------------------------------------------------------


async def test_the_queue_lists_those_inside_first_with_their_times(
    api: Api, clock: FakeClock
) -> None:
    await api.ok("1", "open")  # serves A and B; the limit is 1 per open counter
    first = (await api.issued("A"))["number"]
    clock.advance(minutes=2)
    priority = (await api.issued("B"))["number"]
    outside = (await api.issued("A"))["number"]
    await api.issued("C")  # counter 1 does not serve C
    clock.advance(minutes=3)

    response = await api.client.get(
        f"/api/v1/branches/{DEMO_ID}/queue?counter=1", headers=api.auth("staff")
    )

    assert response.status_code == 200, response.text
    queue = response.json()
    assert [t["number"] for t in queue["tickets"]] == [first, priority, outside]
    assert [t["status"] for t in queue["tickets"]] == ["admitted", "waiting", "waiting"]
    assert (queue["inside"], queue["outside"]) == (1, 2)
    assert queue["counter"] == {
        "id": "1",
        "name": "Counter 1",
        "services": ["A", "B"],
        "status": "open",
        "ticket": None,
    }
    assert queue["current"] is None
    assert queue["now"] == clock.now.timestamp()
    assert queue["longest_wait_seconds"] == 5 * 60
    assert "token" not in json.dumps(queue)

    called = await api.ok("1", "call-next")
    current = (
        await api.client.get(
            f"/api/v1/branches/{DEMO_ID}/queue?counter=1", headers=api.auth("staff")
        )
    ).json()["current"]
    assert current["number"] == first == called["ticket"]["number"]
    assert current["grace_deadline"] == clock.now.timestamp() + demo_config().grace.call_seconds
    whole = await api.client.get(f"/api/v1/branches/{DEMO_ID}/queue", headers=api.auth("staff"))
    assert {t["service"] for t in whole.json()["tickets"]} == {"A", "B", "C"}
    assert whole.json()["counter"] is None


async def test_the_queue_is_for_the_branchs_staff(api: Api) -> None:
    path = f"/api/v1/branches/{DEMO_ID}/queue"
    assert api.refused(await api.client.get(path), 401) == "unauthorized"
    north = {"Authorization": f"Bearer {api.tokens.other_staff}"}
    assert api.refused(await api.client.get(path, headers=north), 403) == "forbidden"
    unknown = await api.client.get(path + "?counter=99", headers=api.auth("staff"))
    assert api.refused(unknown, 404) == "unknown_counter"


# The audit trail ---------------------------------------------------------------


async def test_the_audit_trail_says_who_did_what_and_when(
    api: Api, browser: Browser, clock: FakeClock
) -> None:
    sam = await browser("sam")
    opened = await sam.post(
        f"/api/v1/branches/{DEMO_ID}/counters/2/open", headers=await csrf_headers(sam)
    )
    assert opened.status_code == 200, opened.text
    await api.issued("A")
    clock.advance(minutes=1)
    document = api.config_doc(capacity={"default": {"people_per_counter": 2}})
    assert (await api.put_config(document)).status_code == 200
    alice = await browser("alice")

    response = await alice.get(f"/api/v1/branches/{DEMO_ID}/audit")

    assert response.status_code == 200, response.text
    audit = response.json()
    assert audit["day"] == api.day and audit["timezone"] == "Europe/Prague"
    events = audit["events"]
    assert [e["version"] for e in events] == sorted((e["version"] for e in events), reverse=True)
    latest = events[0]
    assert latest["type"] == "config_applied"
    assert latest["by"].startswith("manager:")  # the manager token, by its label and id
    assert latest["changed"] == ["capacity"]
    assert latest["revision"] == 2
    assert latest["at"] == clock.now.timestamp()
    counter = next(e for e in events if e["type"] == "counter_changed")
    assert (counter["by"], counter["counter"], counter["status"]) == ("user:sam", "2", "open")
    issued = next(e for e in events if e["type"] == "ticket_issued")
    assert "token" not in issued and "idempotency_key" not in issued
    assert all("config" not in e for e in events)

    limited = await alice.get(f"/api/v1/branches/{DEMO_ID}/audit?limit=2")
    assert [e["version"] for e in limited.json()["events"]] == [e["version"] for e in events[:2]]
    assert limited.json()["total"] == len(events)
    earlier = await alice.get(f"/api/v1/branches/{DEMO_ID}/audit?day=2026-11-01")
    assert earlier.json()["events"] == []
    bad = await alice.get(f"/api/v1/branches/{DEMO_ID}/audit?day=yesterday")
    assert api.refused(bad, 422) == "invalid_date"
    assert api.refused(await alice.get(f"/api/v1/branches/{DEMO_ID}/audit?limit=0"), 422)


async def test_the_audit_trail_is_for_managers(api: Api, browser: Browser) -> None:
    path = f"/api/v1/branches/{DEMO_ID}/audit"
    sam, nick = await browser("sam"), await browser("nick")
    assert api.refused(await sam.get(path), 403) == "forbidden"
    assert api.refused(await nick.get(path), 403) == "forbidden"
    assert api.refused(await api.client.get(path, headers=api.auth("staff")), 403)
    assert (await api.client.get(path, headers=api.auth("manager"))).status_code == 200


# The capacity preview ----------------------------------------------------------


async def test_the_preview_gives_the_engines_limits_without_saving(
    api: Api, browser: Browser
) -> None:
    for counter in ("1", "2"):
        await api.ok(counter, "open")
    alice = await browser("alice")
    config_path = f"/api/v1/branches/{DEMO_ID}/config"
    before = (await api.client.get(config_path, headers=api.auth("manager"))).json()
    capacity = {
        "default": {"people_per_counter": 3, "extra": 1, "minimum": 2, "maximum": 6},
        "schedule": [
            {
                "name": "Epidemic rule",
                "days": ["mon"],
                "start": "08:00",
                "end": "12:00",
                "rule": {"people_per_counter": 1},
            }
        ],
        "hold": False,
    }

    response = await alice.post(
        f"/api/v1/branches/{DEMO_ID}/capacity/preview",
        json={"capacity": capacity},
        headers=await csrf_headers(alice),
    )

    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["in_force"] == 0  # Monday 10:00 in Prague
    assert (preview["open_counters"], preview["limit"]) == (2, 2)
    assert preview["counters"] == 4
    assert preview["rules"][0] == {"rule": "default", "name": "", "limits": [2, 4, 6, 6, 6]}
    assert preview["rules"][1]["limits"] == [0, 1, 2, 3, 4]
    assert preview["rules"][1]["start"] == "08:00"
    asked = await alice.post(
        f"/api/v1/branches/{DEMO_ID}/capacity/preview",
        json={"capacity": {"default": {"people_per_counter": 2}}, "open_counters": 3},
        headers=await csrf_headers(alice),
    )
    assert (asked.json()["limit"], asked.json()["in_force"]) == (6, "default")
    after = (await api.client.get(config_path, headers=api.auth("manager"))).json()
    assert after == before
    assert (await api.snapshot())["limit"] == 2


async def test_a_bad_rule_gets_its_problems_by_path(api: Api) -> None:
    response = await api.client.post(
        f"/api/v1/branches/{DEMO_ID}/capacity/preview",
        json={"capacity": {"default": {"people_per_counter": -1, "minimum": "x"}}},
        headers=api.auth("manager"),
    )

    assert api.refused(response, 422) == "invalid_config"
    problems = response.json()["error"]["problems"]
    assert any(p.startswith("capacity.default") for p in problems), problems
    many = await api.client.post(
        f"/api/v1/branches/{DEMO_ID}/capacity/preview",
        json={"capacity": {}, "open_counters": 1000},
        headers=api.auth("manager"),
    )
    assert api.refused(many, 422) == "invalid_body"


async def test_the_preview_is_for_managers_with_the_pages_token(api: Api, browser: Browser) -> None:
    path = f"/api/v1/branches/{DEMO_ID}/capacity/preview"
    body = {"capacity": dump_config(demo_config())["capacity"]}
    alice, sam = await browser("alice"), await browser("sam")
    assert api.refused(await alice.post(path, json=body), 403) == "csrf_failed"
    assert api.refused(await sam.post(path, json=body, headers=await csrf_headers(sam)), 403)
    staff = await api.client.post(path, json=body, headers=api.auth("staff"))
    assert api.refused(staff, 403) == "forbidden"


# Devices -----------------------------------------------------------------------


async def test_a_manager_pairs_and_revokes_a_branchs_screens(api: Api, browser: Browser) -> None:
    alice = await browser("alice")
    headers = await csrf_headers(alice)
    path = f"/api/v1/branches/{DEMO_ID}/devices"

    created = await alice.post(path, json={"kind": "kiosk", "label": " Entrance "}, headers=headers)

    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    device = created.json()
    assert (device["kind"], device["label"], device["state"]) == ("kiosk", "Entrance", "unpaired")
    assert device["pairing_url"] == "http://test" + device["pairing_path"]
    assert device["pairing_path"].startswith(f"/b/{DEMO_ID}/kiosk?pair=")
    listed = (await alice.get(path)).json()["devices"]
    assert [d["id"] for d in listed] == [device["id"]]
    assert "pairing" not in json.dumps(listed)  # the link is shown once, at creation

    store = api.app.state.store
    paired = await pair_device(store, device["pairing_path"].split("pair=")[1])
    assert paired is not None
    assert (await alice.get(path)).json()["devices"][0]["state"] == "paired"

    revoked = await alice.delete(f"{path}/{device['id']}", headers=headers)

    assert revoked.status_code == 200, revoked.text
    assert await verify_device(store, paired[1]) is None
    assert (await alice.get(path)).json()["devices"][0]["state"] == "revoked"


async def test_devices_keep_to_their_branch(api: Api, browser: Browser) -> None:
    root, nick, sam = await browser("root"), await browser("nick"), await browser("sam")
    north = await root.post(
        "/api/v1/branches/north/devices", json={"kind": "display"}, headers=await csrf_headers(root)
    )
    north_id = north.json()["id"]
    demo_path = f"/api/v1/branches/{DEMO_ID}/devices"

    assert (await root.get(demo_path)).json()["devices"] == []
    wrong_branch = await root.delete(f"{demo_path}/{north_id}", headers=await csrf_headers(root))
    assert api.refused(wrong_branch, 404) == "unknown_device"
    assert api.refused(await nick.get(demo_path), 403) == "forbidden"
    nick_delete = await nick.delete(f"{demo_path}/{north_id}", headers=await csrf_headers(nick))
    assert api.refused(nick_delete, 403) == "forbidden"
    assert api.refused(await sam.get(demo_path), 403) == "forbidden"
    made = await sam.post(demo_path, json={"kind": "kiosk"}, headers=await csrf_headers(sam))
    assert api.refused(made, 403) == "forbidden"
    unknown = await root.get("/api/v1/branches/nowhere/devices")
    assert api.refused(unknown, 404) == "unknown_branch"
    bad = await root.post(demo_path, json={"kind": "printer"}, headers=await csrf_headers(root))
    assert api.refused(bad, 422) == "invalid_body"
    assert (await nick.get("/api/v1/branches/north/devices")).json()["devices"][0]["id"] == north_id


# Every new route, as the security scan checks the others -------------------------------


NEW_ROUTES = [
    (method, route.path)
    for module in (api_consoles, api_devices)
    for route in module.routes
    for method in sorted(getattr(route, "methods", set()) - {"HEAD"})
]
MANAGER_ONLY = [(m, p) for m, p in NEW_ROUTES if not p.endswith("/queue")]


def _concrete(path: str) -> str:
    return path.replace("{branch}", DEMO_ID).replace("{id}", "000000000000")


async def test_the_new_routes_refuse_strangers_staff_and_forged_posts(
    api: Api, browser: Browser
) -> None:
    assert len(NEW_ROUTES) == 6
    stranger, sam, alice = await browser(), await browser("sam"), await browser("alice")
    for method, path in NEW_ROUTES:
        response = await stranger.request(method, _concrete(path))
        assert api.refused(response, 401) == "unauthorized", (method, path)
    for method, path in MANAGER_ONLY:
        response = await sam.request(method, _concrete(path), headers=await csrf_headers(sam))
        assert api.refused(response, 403) == "forbidden", (method, path)
        token = await api.client.request(method, _concrete(path), headers=api.auth("staff"))
        assert api.refused(token, 403) == "forbidden", (method, path)
    for method, path in NEW_ROUTES:
        if method in ("GET", "HEAD"):
            continue
        forged = await alice.request(method, _concrete(path), json={})
        assert api.refused(forged, 403) == "csrf_failed", (method, path)


# The catalogs ------------------------------------------------------------------

_TEMPLATE_TEXT = re.compile(r"""\b_\(\s*(["'])(.+?)\1""")
_SCRIPT_TEXT = re.compile(r"""\b(?:t|nt)\(\s*"((?:[^"\\]|\\.)+)\"""")


def console_messages() -> tuple[set[str], set[str]]:
    """Every message the consoles ask to translate: (plain messages, plural messages)."""
    messages: set[str] = set()
    plurals: set[str] = set()
    for template in (ROOT / "consoles" / "templates").glob("*.html"):
        messages |= {m.group(2) for m in _TEMPLATE_TEXT.finditer(template.read_text())}
    for script in (ROOT / "consoles" / "static").glob("*.js"):
        text = script.read_text()
        plurals |= set(re.findall(r'\bnt\(\s*"((?:[^"\\]|\\.)+)"', text))
        messages |= {m.group(1) for m in _SCRIPT_TEXT.finditer(text)} - plurals
    return messages, plurals


def test_every_console_message_is_translated() -> None:
    messages, plurals = console_messages()
    assert {"Call next", "Press N to call {number}.", "Audit trail"} <= messages
    assert "With {n} counter open, the limit is {limit}." in plurals
    for lang in TRANSLATED:
        merged = catalog(lang)
        assert messages - set(merged.messages) == set(), lang
        assert plurals - set(merged.plurals) == set(), lang
        assert all(all(merged.plurals[p]) for p in plurals), lang


def test_the_staff_catalogs_keep_their_placeholders() -> None:
    for lang in TRANSLATED:
        po = parse_po(lang, (ROOT / "queueapp" / "locale" / lang / "staff.po").read_text())
        for message, translation in po.messages.items():
            assert sorted(re.findall(r"\{\w+\}", message)) == sorted(
                re.findall(r"\{\w+\}", translation)
            ), (lang, message)
        for message, forms in po.plurals.items():
            wanted = sorted(set(re.findall(r"\{\w+\}", message)))
            for form in forms:
                assert sorted(set(re.findall(r"\{\w+\}", form))) == wanted, (lang, message)


def test_the_staff_catalogs_agree_with_the_others() -> None:
    """The catalogs of a language are merged: a message in two must mean the same in both."""
    for lang in TRANSLATED:
        folder = ROOT / "queueapp" / "locale" / lang
        staff = parse_po(lang, (folder / "staff.po").read_text())
        for other in ("display.po", "visitor.po"):
            theirs = parse_po(lang, (folder / other).read_text())
            for message in set(staff.messages) & set(theirs.messages):
                assert staff.messages[message] == theirs.messages[message], (lang, other, message)
