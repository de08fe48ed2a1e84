"""Visitor pages in process: the kiosk and its pairing, the join page and its policy, the ticket
page and its QR code."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree

import httpx
import pytest
from qrcode.base import rs_blocks
from starlette.applications import Starlette

from queueapp.demo import DEMO_ID, demo_config
from queueapp.i18n import catalog
from queueapp.service.devices import create_device, pair_device, revoke_device
from queueapp.service.joining import door_code
from queueapp.service.keys import secret_key
from queueapp.web.visitor_access import DEVICE_COOKIE, DOOR_COOKIE, VISITOR_COOKIE

if TYPE_CHECKING:
    from tests.web.conftest import Api, FakeClock

pytestmark = pytest.mark.anyio

LANGS = ("en", "cs", "bg", "vi")


def text(lang: str, message: str) -> str:
    return catalog(lang).gettext(message)


def visitor(app: Starlette, base_url: str = "http://test") -> httpx.AsyncClient:
    """Another browser: its own cookies."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def paired_kiosk(app: Starlette, kind: str = "kiosk") -> tuple[httpx.AsyncClient, str]:
    """A browser holding a paired device's cookie, and the device's id."""
    device, code = await create_device(app.state.store, DEMO_ID, kind)
    paired = await pair_device(app.state.store, code)
    assert paired is not None
    browser = visitor(app)
    browser.cookies.set(DEVICE_COOKIE, paired[1])
    return browser, device.id


async def issue(client: httpx.AsyncClient, service: str = "A", **body: Any) -> httpx.Response:
    return await client.post(
        f"/api/v1/branches/{DEMO_ID}/tickets", json={"service": service, **body}
    )


async def set_join(api: Api, **join: Any) -> None:
    response = await api.put_config(api.config_doc(join=join))
    assert response.status_code == 200, response.text


# The kiosk and its pairing ------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_an_unpaired_screen_shows_how_to_pair(client: httpx.AsyncClient, lang: str) -> None:
    response = await client.get(f"/b/{DEMO_ID}/kiosk?lang={lang}")

    assert response.status_code == 403
    assert text(lang, "This screen is not paired") in response.text
    assert "kiosk.js" not in response.text


async def test_the_pairing_link_sets_the_device_cookie_and_redirects(app: Starlette) -> None:
    device, code = await create_device(app.state.store, DEMO_ID, "kiosk")
    async with visitor(app) as browser:
        response = await browser.get(f"/b/{DEMO_ID}/kiosk?pair={code}&print=off")

        assert response.status_code == 303
        assert response.headers["location"] == f"/b/{DEMO_ID}/kiosk?print=off"
        cookie = response.headers["set-cookie"].lower()
        assert cookie.startswith(f"{DEVICE_COOKIE}=")
        assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=" in cookie
        assert "secure" not in cookie  # plain http on a LAN would lose a Secure cookie

        page = await browser.get(f"/b/{DEMO_ID}/kiosk")
        assert page.status_code == 200
        assert "/static/kiosk/kiosk.js" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'self'")

    async with visitor(app) as thief:  # the link works once
        again = await thief.get(f"/b/{DEMO_ID}/kiosk?pair={code}")
        assert again.status_code == 303 and "set-cookie" not in again.headers
        assert (await thief.get(f"/b/{DEMO_ID}/kiosk")).status_code == 403
    assert device.id


async def test_pairing_over_https_sets_a_secure_cookie(app: Starlette) -> None:
    _, code = await create_device(app.state.store, DEMO_ID, "kiosk")
    async with visitor(app, "https://test") as browser:
        response = await browser.get(f"/b/{DEMO_ID}/kiosk?pair={code}")
    assert "secure" in response.headers["set-cookie"].lower()


async def test_a_link_for_another_branch_or_kind_does_not_pair(app: Starlette) -> None:
    _, display_code = await create_device(app.state.store, DEMO_ID, "display")
    _, north_code = await create_device(app.state.store, "north", "kiosk")
    async with visitor(app) as browser:
        for code in (display_code, north_code, "junk", ""):
            response = await browser.get(f"/b/{DEMO_ID}/kiosk", params={"pair": code})
            assert response.status_code == 303
            assert "set-cookie" not in response.headers
        assert (await browser.get(f"/b/{DEMO_ID}/kiosk")).status_code == 403


@pytest.mark.parametrize("lang", LANGS)
async def test_a_paired_kiosk_renders_in_each_language(app: Starlette, lang: str) -> None:
    browser, _ = await paired_kiosk(app)
    async with browser:
        response = await browser.get(f"/b/{DEMO_ID}/kiosk?lang={lang}")

    assert response.status_code == 200
    assert f'<html lang="{lang}">' in response.text
    assert text(lang, "Choose a service") in response.text
    assert demo_name(lang, "A") in response.text
    assert DEVICE_COOKIE in response.headers["set-cookie"]  # renewed on every visit


def demo_name(lang: str, letter: str) -> str:
    service = demo_config().service(letter)
    assert service is not None
    return service.name(lang)


async def test_a_revoked_kiosk_is_refused_on_the_page_and_the_api(app: Starlette) -> None:
    browser, device_id = await paired_kiosk(app)
    async with browser:
        assert (await browser.get(f"/b/{DEMO_ID}/kiosk")).status_code == 200
        assert (await issue(browser, via="kiosk")).status_code == 201

        await revoke_device(app.state.store, device_id)

        page = await browser.get(f"/b/{DEMO_ID}/kiosk")
        assert page.status_code == 403
        assert "This screen is not paired" in page.text
        response = await issue(browser, via="kiosk")
    assert refused(response, 403) == "device_not_paired"


def refused(response: httpx.Response, status: int) -> str:
    """Assert a JSON refusal with ``status``; return its code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["message"]
    return str(error["code"])


async def test_kiosk_issues_need_a_paired_kiosk(app: Starlette, api: Api) -> None:
    assert refused(await issue(api.client, via="kiosk"), 403) == "device_not_paired"
    display, _ = await paired_kiosk(app, kind="display")
    async with display:
        assert refused(await issue(display, via="kiosk"), 403) == "device_not_paired"
    assert await api.tickets() == {}

    kiosk, device_id = await paired_kiosk(app)
    async with kiosk:
        response = await issue(kiosk, "B", party_size=2, lang="cs", via="kiosk")
    assert response.status_code == 201, response.text
    issued = [e for e in await api.log() if e["type"] == "ticket_issued"]
    assert issued[-1]["by"] == f"kiosk:{device_id}"


async def test_a_kiosk_is_not_held_to_the_phone_limits(app: Starlette, api: Api) -> None:
    await set_join(api, mode="door", max_active_per_phone=1)
    kiosk, _ = await paired_kiosk(app)
    async with kiosk:
        for _ in range(3):
            assert (await issue(kiosk, via="kiosk")).status_code == 201


# Joining from a phone -------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_the_join_page_renders_in_each_language(app: Starlette, lang: str) -> None:
    async with visitor(app) as phone:
        response = await phone.get(f"/b/{DEMO_ID}/join", headers={"Accept-Language": lang})

    assert response.status_code == 200
    assert f'<html lang="{lang}">' in response.text
    assert text(lang, "Join the queue") in response.text
    assert demo_name(lang, "C") in response.text
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith(f"{VISITOR_COOKIE}=") and "httponly" in cookie


async def test_a_suspended_service_shows_its_reason_and_online_alternative(
    app: Starlette, api: Api
) -> None:
    document = api.config_doc()
    document["services"][2]["suspended"] = {
        "reason": {
            "en": "Contracts are paused during the lockdown.",
            "cs": "Smlouvy nyní nevyřizujeme.",
        },
        "online_url": "https://example.org/contracts",
    }
    assert (await api.put_config(document)).status_code == 200
    kiosk, _ = await paired_kiosk(app)
    async with kiosk, visitor(app) as phone:
        for client, path in ((kiosk, "kiosk"), (phone, "join")):
            page = await client.get(f"/b/{DEMO_ID}/{path}?lang=cs")
            assert "Smlouvy nyní nevyřizujeme." in page.text
            assert "https://example.org/contracts" in page.text
            assert text("cs", "Not available at the moment") in page.text
        response = await issue(phone, "C", lang="cs")
    assert refused(response, 409) == "service_suspended"
    assert response.json()["error"]["online_url"] == "https://example.org/contracts"


async def test_door_mode_refuses_a_phone_without_the_code(app: Starlette, api: Api) -> None:
    await set_join(api, mode="door")
    async with visitor(app) as phone:
        page = await phone.get(f"/b/{DEMO_ID}/join")
        assert text("en", "To join the queue, scan the QR code at the branch door.") in page.text
        assert 'id="join-form"' not in page.text

        assert refused(await issue(phone), 403) == "door_code_required"
        wrong = await issue(phone, door_code="AAAAAAAAAAAA")
        assert refused(wrong, 403) == "door_code_expired"
        expired = await phone.get(f"/b/{DEMO_ID}/join", params={"code": "AAAAAAAAAAAA"})
        assert "This code has expired" in expired.text
        assert DOOR_COOKIE not in expired.headers.get("set-cookie", "")
    assert await api.tickets() == {}


async def test_door_mode_accepts_the_current_code(
    app: Starlette, api: Api, clock: FakeClock
) -> None:
    await set_join(api, mode="door")
    key = await secret_key(app.state.store)
    async with visitor(app) as phone:
        code = door_code(key, DEMO_ID, clock())
        assert (await issue(phone, door_code=code, via="phone")).status_code == 201

        clock.advance(seconds=60)  # the previous minute's code still works
        assert (await issue(phone, door_code=code)).status_code == 201
        clock.advance(seconds=60)
        assert refused(await issue(phone, door_code=code), 403) == "door_code_expired"


async def test_the_door_qr_gives_a_pass_for_a_few_minutes(
    app: Starlette, api: Api, clock: FakeClock
) -> None:
    await set_join(api, mode="door")
    code = door_code(await secret_key(app.state.store), DEMO_ID, clock())
    async with visitor(app) as phone, visitor(app) as other:
        page = await phone.get(f"/b/{DEMO_ID}/join", params={"code": code})
        assert 'id="join-form"' in page.text
        assert f'"door_code": "{code}"' in page.text
        assert DOOR_COOKIE in page.headers["set-cookie"]

        clock.advance(minutes=5)  # choosing took a while: the code moved on, the pass holds
        assert (await issue(phone)).status_code == 201
        assert refused(await issue(other), 403) == "door_code_required"
        clock.advance(minutes=15)
        assert refused(await issue(phone), 403) == "door_code_required"


async def test_a_phone_may_hold_only_a_few_tickets(app: Starlette, api: Api) -> None:
    await set_join(api, mode="open", max_active_per_phone=2)
    async with visitor(app) as phone, visitor(app) as other:
        await phone.get(f"/b/{DEMO_ID}/join")  # the join page gives the phone its id
        await other.get(f"/b/{DEMO_ID}/join")
        first = (await issue(phone, "A")).json()
        assert (await issue(phone, "B")).status_code == 201

        third = await issue(phone, "C")
        assert refused(third, 429) == "too_many_tickets"
        assert third.json()["error"]["max_active_per_phone"] == 2
        assert f"/t/{first['token']}" in third.json()["error"]["tickets"]
        assert (await issue(other, "C")).status_code == 201  # another phone is not affected

        page = await phone.get(f"/b/{DEMO_ID}/join")
        assert first["number"] in page.text and f"/t/{first['token']}" in page.text
        assert 'id="join-form"' not in page.text

        assert (await phone.delete(f"/api/v1/tickets/{first['token']}")).status_code == 200
        assert (await issue(phone, "C")).status_code == 201  # a cancelled ticket frees a place


async def test_a_retry_of_a_phones_last_ticket_is_not_refused_by_the_limit(
    app: Starlette, api: Api
) -> None:
    await set_join(api, max_active_per_phone=1)
    async with visitor(app) as phone:
        await phone.get(f"/b/{DEMO_ID}/join")
        headers = {"Idempotency-Key": "phone-retry-0001"}
        url = f"/api/v1/branches/{DEMO_ID}/tickets"
        first = await phone.post(url, json={"service": "A"}, headers=headers)
        again = await phone.post(url, json={"service": "A"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["token"] == again.json()["token"]


async def test_a_forged_visitor_cookie_counts_for_nothing(app: Starlette, api: Api) -> None:
    await set_join(api, max_active_per_phone=1)
    async with visitor(app) as phone:
        phone.cookies.set(VISITOR_COOKIE, "someone.forged")
        page = await phone.get(f"/b/{DEMO_ID}/join")
        assert VISITOR_COOKIE in page.headers["set-cookie"]  # replaced by a genuine one


async def test_staff_issue_on_behalf_of_visitors_without_limits(api: Api) -> None:
    await set_join(api, mode="door", max_active_per_phone=1)
    for _ in range(2):
        response = await api.client.post(
            f"/api/v1/branches/{DEMO_ID}/tickets",
            json={"service": "A"},
            headers={"Authorization": f"Bearer {api.tokens.staff}"},
        )
        assert response.status_code == 201, response.text


async def test_join_pages_of_unknown_branches_are_404(client: httpx.AsyncClient) -> None:
    for path in ("/b/nope/join", "/b/nope/kiosk", "/b/nope/join/qr.svg"):
        assert (await client.get(path)).status_code == 404


async def test_the_door_qr_is_shown_to_paired_screens_only_in_door_mode(
    app: Starlette, api: Api, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    poster = await client.get(f"/b/{DEMO_ID}/join/qr.svg")
    assert poster.status_code == 200
    assert decode_qr_svg(poster.content) == f"http://test/b/{DEMO_ID}/join"

    await set_join(api, mode="door")
    assert (await client.get(f"/b/{DEMO_ID}/join/qr.svg")).status_code == 404
    display, _ = await paired_kiosk(app, kind="display")
    async with display:
        response = await display.get(f"/b/{DEMO_ID}/join/qr.svg")
    assert response.headers["cache-control"] == "no-store"
    code = door_code(await secret_key(app.state.store), DEMO_ID, clock())
    assert decode_qr_svg(response.content) == f"http://test/b/{DEMO_ID}/join?code={code}"


# The ticket page and its QR code -----------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_the_ticket_page_speaks_the_tickets_language(api: Api, lang: str) -> None:
    ticket = await api.issued("A", lang=lang)

    response = await api.client.get(ticket["links"]["page"])

    assert response.status_code == 200
    assert f'<html lang="{lang}">' in response.text
    assert ticket["number"] in response.text
    assert text(lang, "Your number") in response.text
    assert demo_name(lang, "A") in response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_the_ticket_page_can_switch_language(api: Api) -> None:
    ticket = await api.issued("A", lang="cs")
    response = await api.client.get(ticket["links"]["page"] + "?lang=vi")
    assert '<html lang="vi">' in response.text
    assert text("vi", "Your number") in response.text


async def test_an_unknown_ticket_page_is_404(client: httpx.AsyncClient) -> None:
    for token in ("nope", "demo.20261123.AAAAAAAAAAAAAAAAAAAAAAAA"):
        response = await client.get(f"/t/{token}")
        assert response.status_code == 404
        assert "Ticket not found" in response.text
        assert (await client.get(f"/t/{token}/qr.svg")).status_code == 404


async def test_the_qr_code_is_svg_of_the_ticket_pages_address(api: Api) -> None:
    ticket = await api.issued("B")

    response = await api.client.get(ticket["links"]["qr"])

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(response.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox")
    assert decode_qr_svg(response.content) == f"http://test/t/{ticket['token']}"


async def test_bad_join_fields_are_refused_as_json(client: httpx.AsyncClient) -> None:
    for body in ({"via": "fax"}, {"door_code": 123}, {"door_code": "x" * 65}, {"via": None}):
        response = await issue(client, **body)
        if body == {"via": None}:
            assert response.status_code == 201
        else:
            assert refused(response, 422) == "invalid_body"


# A service nobody serves ------------------------------------------------------------


UNSERVED = "No counter open for this service right now"


async def test_the_kiosk_marks_the_services_no_open_counter_serves(
    app: Starlette, api: Api
) -> None:
    await api.ok("3", "open")  # serves B and C
    kiosk, _ = await paired_kiosk(app)
    async with kiosk:
        page = (await kiosk.get(f"/b/{DEMO_ID}/kiosk?lang=bg")).text

    tiles = re.findall(r'<div class="service( is-unserved)?" data-letter="([A-Z])"', page)
    assert [(letter, bool(unserved)) for unserved, letter in tiles] == [
        ("A", True),
        ("B", False),
        ("C", False),
        ("D", True),
    ]
    assert text("bg", UNSERVED) in page
    data = json.loads(re.search(r'id="kiosk-data" type="application/json">(.*?)</script>', page)[1])
    assert [(s["letter"], s["served"]) for s in data["services"]] == [
        ("A", False),
        ("B", True),
        ("C", True),
        ("D", False),
    ]


async def test_the_join_page_says_which_services_no_open_counter_serves(
    app: Starlette, api: Api
) -> None:
    await api.ok("4", "open")  # serves C and D
    async with visitor(app) as phone:
        page = (await phone.get(f"/b/{DEMO_ID}/join?lang=cs")).text

    notes = {
        letter: text("cs", UNSERVED) in choice
        for letter, choice in re.findall(r'value="([A-Z])" required>(.*?)</label>', page, re.S)
    }
    assert notes == {"A": True, "B": True, "C": False, "D": False}
    assert text("cs", "less than a minute") in page  # C and D: nobody waits, a counter is open


# Every visitor string is translated ---------------------------------------------------

_QUOTED = r'"((?:[^"\\]|\\.)*)"'


def visitor_messages() -> tuple[set[str], set[str]]:
    """Messages of the kiosk's templates (``_``, ``ngettext``) and scripts (``t``, ``nt``)."""
    folder = Path(str(files("queueapp.kiosk")))
    singles: set[str] = set()
    plurals: set[str] = set()
    for path in folder.glob("templates/*.html"):
        source = path.read_text(encoding="utf-8")
        singles |= set(re.findall(r"(?<![\w.])_\(\s*" + _QUOTED, source))
        singles |= set(re.findall(r"(?<![\w.])_\(\s*'([^']*)'", source))
        plurals |= set(re.findall(r"ngettext\(\s*" + _QUOTED, source))
    for path in folder.glob("static/*.js"):
        source = path.read_text(encoding="utf-8")
        singles |= {json.loads(f'"{m}"') for m in re.findall(r"(?<![\w.])t\(\s*" + _QUOTED, source)}
        plurals |= {
            json.loads(f'"{m}"') for m in re.findall(r"(?<![\w.])nt\(\s*" + _QUOTED, source)
        }
    return singles, plurals


@pytest.mark.parametrize("lang", ["cs", "bg", "vi"])
def test_every_visitor_string_is_translated(lang: str) -> None:
    singles, plurals = visitor_messages()
    assert len(singles) > 50 and len(plurals) > 4
    translations = catalog(lang)
    assert sorted(singles - set(translations.messages)) == []
    assert sorted(plurals - set(translations.plurals)) == []
    for message in singles:
        assert set(re.findall(r"\{\w+\}", translations.gettext(message))) == set(
            re.findall(r"\{\w+\}", message)
        ), message
    for message in plurals:
        assert all("{n}" in form for form in translations.plurals[message]), message


# A QR decoder for the perfect matrices of an SVG: enough to prove what a code says ----------


def decode_qr_svg(svg: bytes) -> str:
    """The text of a QR code drawn as one SVG path of unit squares (qrcode's SvgPathImage)."""
    root = ElementTree.fromstring(svg)
    size_with_border = int(float(root.get("viewBox", "0 0 0 0").split()[2]))
    path = next(e for e in root.iter() if e.tag.endswith("path"))
    dark = {
        (int(float(y)), int(float(x)))
        for x, y in re.findall(r"M([\d.]+),([\d.]+)", path.get("d", ""))
    }
    border = min(min(r for r, _ in dark), min(c for _, c in dark))
    size = size_with_border - 2 * border
    grid = [[(r + border, c + border) in dark for c in range(size)] for r in range(size)]
    return decode_matrix(grid)


_MASKS = [
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
]
_ALIGNMENT_STEP = {7: 16, 8: 18, 9: 20, 10: 22}
"""Spacing of alignment patterns from version 7 on; below, one pattern near the corner."""


def decode_matrix(grid: list[list[bool]]) -> str:
    size = len(grid)
    version = (size - 17) // 4
    assert 1 <= version <= 10 and size == 17 + 4 * version
    # Format information beside the top-left finder (bit i, least significant first).
    spots = [(r, 8) for r in (0, 1, 2, 3, 4, 5, 7, 8)] + [(8, c) for c in (7, 5, 4, 3, 2, 1, 0)]
    bits = sum(grid[r][c] << i for i, (r, c) in enumerate(spots)) ^ 0x5412
    level, mask = bits >> 13, (bits >> 10) & 7

    reserved = _function_modules(size, version)
    stream: list[int] = []
    column, upward = size - 1, True
    while column > 0:
        if column == 6:
            column -= 1
        rows = range(size - 1, -1, -1) if upward else range(size)
        for r in rows:
            for c in (column, column - 1):
                if (r, c) not in reserved:
                    stream.append(int(grid[r][c] != _MASKS[mask](r, c)))
        column, upward = column - 2, not upward
    codewords = [int("".join(map(str, stream[i : i + 8])), 2) for i in range(0, len(stream) - 7, 8)]

    blocks = rs_blocks(version, level)  # the standard's block table; same numbering as the bits
    data: list[list[int]] = [[] for _ in blocks]
    longest = max(b.data_count for b in blocks)
    position = 0
    for index in range(longest):
        for number, block in enumerate(blocks):
            if index < block.data_count:
                data[number].append(codewords[position])
                position += 1
    bitstring = "".join(f"{byte:08b}" for block in data for byte in block)
    return _segments(bitstring, version)


def _segments(bits: str, version: int) -> str:
    alphanumeric = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
    text, at = b"", 0
    while at + 4 <= len(bits):
        mode = bits[at : at + 4]
        at += 4
        if mode == "0000":
            break
        width = {"0001": 10, "0010": 9, "0100": 8}[mode] + (8 if version >= 10 else 0)
        count = int(bits[at : at + width], 2)
        at += width
        if mode == "0100":
            text += bytes(int(bits[at + 8 * i : at + 8 * i + 8], 2) for i in range(count))
            at += 8 * count
        elif mode == "0010":
            for _ in range(count // 2):
                value = int(bits[at : at + 11], 2)
                text += (alphanumeric[value // 45] + alphanumeric[value % 45]).encode()
                at += 11
            if count % 2:
                text += alphanumeric[int(bits[at : at + 6], 2)].encode()
                at += 6
        else:
            digits = ""
            while len(digits) < count:
                take = min(3, count - len(digits))
                width = {3: 10, 2: 7, 1: 4}[take]
                digits += str(int(bits[at : at + width], 2)).zfill(take)
                at += width
            text += digits.encode()
    return text.decode("utf-8")


def _function_modules(size: int, version: int) -> set[tuple[int, int]]:
    """Finders with separators and format areas, timing lines, alignment and version blocks."""
    reserved = {(r, c) for r in range(9) for c in range(9)}
    reserved |= {(r, c) for r in range(9) for c in range(size - 8, size)}
    reserved |= {(r, c) for r in range(size - 8, size) for c in range(9)}
    reserved |= {(6, i) for i in range(size)} | {(i, 6) for i in range(size)}
    if version >= 2:
        last = size - 7
        step = _ALIGNMENT_STEP.get(version, last - 6)
        centres = sorted({6, *range(last, 7, -step)})
        for r in centres:
            for c in centres:
                if (r, c) in ((6, 6), (6, last), (last, 6)):
                    continue
                reserved |= {(r + dr, c + dc) for dr in range(-2, 3) for dc in range(-2, 3)}
    if version >= 7:
        reserved |= {(r, c) for r in range(6) for c in range(size - 11, size - 8)}
        reserved |= {(r, c) for r in range(size - 11, size - 8) for c in range(6)}
    return reserved
