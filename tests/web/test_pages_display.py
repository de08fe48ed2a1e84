"""The wall display and the branch directory as pages: layouts, languages, catalogs, errors."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from starlette.applications import Starlette

from queueapp.demo import DEMO_ID
from queueapp.domain.config import dump_config, parse_config
from queueapp.i18n import catalog, parse_po
from queueapp.service.devices import create_device, pairing_path
from queueapp.web.pages_display import LAYOUTS

if TYPE_CHECKING:
    from tests.web.conftest import Api

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = ("cs", "bg", "vi")


class _Scripts(HTMLParser):
    """The JSON of each ``<script type="application/json">`` by its id."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, Any] = {}
        self._id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("type") == "application/json":
            self._id = values.get("id")

    def handle_data(self, data: str) -> None:
        if self._id is not None:
            self.data[self._id] = json.loads(data)
            self._id = None


def scripts_of(html: str) -> dict[str, Any]:
    parser = _Scripts()
    parser.feed(html)
    return parser.data


async def test_the_display_renders_in_each_layout(client: httpx.AsyncClient) -> None:
    for layout in LAYOUTS:
        response = await client.get(f"/b/{DEMO_ID}/display?layout={layout}")

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        html = response.text
        assert f'class="display layout-{layout}"' in html
        assert 'id="occupancy"' in html and 'id="may-enter"' in html
        assert ('id="now-number"' in html) is (layout != "door")
        assert ('id="services"' in html) is (layout != "door")
        assert (f'src="/b/{DEMO_ID}/join/qr.svg"' in html) is (layout == "door")
        assert "style=" not in html  # the content security policy forbids style attributes
        settings = scripts_of(html)["display-settings"]
        assert settings["branch"] == DEMO_ID
        assert settings["layout"] == layout
        assert settings["sound"] is (layout != "door")


async def test_an_unknown_layout_is_the_landscape_one(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/b/{DEMO_ID}/display?layout=sideways")

    assert response.status_code == 200
    assert 'class="display layout-landscape"' in response.text


@pytest.mark.parametrize(
    ("lang", "heading", "phrase"),
    [
        ("en", "Now calling", "Ticket {number}, please go to counter {counter}."),
        ("cs", "Právě voláme", "Číslo {number}, dostavte se prosím k přepážce {counter}."),
        ("bg", "Сега се извиква", "Номер {number}, моля, отидете на гише {counter}."),  # noqa: RUF001
        ("vi", "Đang gọi", "Mời số {number} đến quầy số {counter}."),
    ],
)
async def test_the_display_speaks_and_reads_each_language(
    client: httpx.AsyncClient, lang: str, heading: str, phrase: str
) -> None:
    response = await client.get(f"/b/{DEMO_ID}/display?lang={lang}&lang2=none")

    assert response.status_code == 200
    html = response.text
    assert f'<html lang="{lang}">' in html
    assert heading in html
    data = scripts_of(html)
    assert data["catalog"]["lang"] == lang
    assert data["catalog-second"] is None
    assert data["display-settings"]["speech"] == [
        {"lang": lang, "tag": data["display-settings"]["speech"][0]["tag"], "text": phrase}
    ]


async def test_the_display_has_a_second_language(client: httpx.AsyncClient) -> None:
    """By default the branch's next language: English first, then Czech, for the demo."""
    response = await client.get(f"/b/{DEMO_ID}/display")

    html = response.text
    assert "Now calling" in html and "Právě voláme" in html
    data = scripts_of(html)
    assert data["catalog-second"]["lang"] == "cs"
    assert [p["lang"] for p in data["display-settings"]["speech"]] == ["en", "cs"]
    assert [p["tag"] for p in data["display-settings"]["speech"]] == ["en-GB", "cs-CZ"]


async def test_the_spoken_languages_can_be_chosen(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/b/{DEMO_ID}/display?lang=cs&speak=vi,bg,xx")

    speech = scripts_of(response.text)["display-settings"]["speech"]
    assert [p["lang"] for p in speech] == ["vi", "bg"]
    silent = await client.get(f"/b/{DEMO_ID}/display?speak=none")
    assert scripts_of(silent.text)["display-settings"]["speech"] == []


async def test_an_unknown_branch_has_a_page_saying_so(client: httpx.AsyncClient) -> None:
    response = await client.get("/b/nowhere/display?lang=cs")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Pobočka nenalezena" in response.text
    assert "Pobočka „nowhere“ neexistuje." in response.text
    assert 'href="/?lang=cs"' in response.text


async def test_a_display_is_paired_by_its_link(app: Starlette, client: httpx.AsyncClient) -> None:
    device, code = await create_device(app.state.store, DEMO_ID, "display", "Hall")

    response = await client.get(pairing_path(device, code))

    assert response.status_code == 303
    assert response.headers["location"] == f"/b/{DEMO_ID}/display"
    assert "queueapp_device=" in response.headers["set-cookie"]


async def test_the_door_shows_the_join_address_only_when_anyone_may_join(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    response = await client.get(f"/b/{DEMO_ID}/display?layout=door")
    assert f'<p class="join-url">test/<wbr>b/<wbr>{DEMO_ID}/<wbr>join</p>' in response.text

    door_only = dump_config(await app.state.branches.config(DEMO_ID))
    door_only["join"] = {"mode": "door"}
    await app.state.branches.save_config(parse_config(door_only))
    response = await client.get(f"/b/{DEMO_ID}/display?layout=door")
    assert 'class="join-url"' not in response.text
    assert 'id="join-unpaired"' in response.text


async def test_the_directory_lists_branches_with_their_queues(
    api: Api, client: httpx.AsyncClient
) -> None:
    await api.ok("1", "open")
    for _ in range(3):
        await api.issued("A")  # one may enter, two wait outside

    response = await client.get("/")

    assert response.status_code == 200
    html = response.text
    assert '<li class="branch" data-branch="demo" data-open="true" data-waiting="2"' in html
    assert "\u2248 12 min" in html  # three queued, 4 minutes each, one counter
    assert 'data-branch="north"' in html
    assert "Demo customer centre" in html and "North" in html
    assert "1 Power Street" in html
    assert "2 waiting" in html
    assert "Open 24 hours" in html
    assert f'href="/b/{DEMO_ID}/join?lang=en"' in html
    assert "/static/display/directory.js" in html


async def test_the_directory_claims_no_wait_where_no_counter_is_open(
    api: Api, client: httpx.AsyncClient
) -> None:
    await api.issued("A")

    html = (await client.get("/?lang=vi")).text

    demo = html[html.index('data-branch="demo"') : html.index('data-branch="north"')]
    assert 'data-open="true"' in demo and 'data-served="false"' in demo
    assert f'<dd data-field="wait">{catalog("vi").gettext("No counter open")}</dd>' in demo
    assert catalog("vi").gettext("No wait") not in demo


async def test_the_directory_speaks_the_visitors_language(
    api: Api, client: httpx.AsyncClient
) -> None:
    for _ in range(3):
        await api.issued("A")

    czech = await client.get("/", headers={"Accept-Language": "cs-CZ,cs;q=0.9"})
    assert "Naše pobočky" in czech.text
    assert "3 čekají" in czech.text
    assert "Otevřeno nonstop" in czech.text
    assert "Pondělí" in czech.text
    bulgarian = await client.get("/?lang=bg")
    assert "Нашите офиси" in bulgarian.text and "3 чакат" in bulgarian.text
    vietnamese = await client.get("/?lang=vi")
    assert "Các chi nhánh của chúng tôi" in vietnamese.text
    assert "3 người đang chờ" in vietnamese.text


async def test_the_directory_shows_opening_hours(app: Starlette, client: httpx.AsyncClient) -> None:
    document = dump_config(await app.state.branches.config("north"))
    office = [{"open": "08:00", "close": "12:00"}, {"open": "13:00", "close": "00:00"}]
    document["hours"] = {"mon": office, "tue": office}
    await app.state.branches.save_config(parse_config(document))

    html = (await client.get("/")).text

    north = html[html.index('data-branch="north"') :]
    assert 'data-open="true"' in north[:40]  # Monday 10:00 in Prague
    assert "08:00\u201312:00, 13:00\u201324:00" in north
    assert re.search(r"<th scope=\"row\">Wednesday</th><td>Closed</td>", north)


async def test_the_directory_without_branches(client: httpx.AsyncClient, app: Starlette) -> None:
    for branch in ("demo", "north"):
        await app.state.store.delete_document("branch", branch)

    response = await client.get("/")

    assert response.status_code == 200
    assert "No branches yet." in response.text


# The catalogs ------------------------------------------------------------------

_TEMPLATE_TEXT = re.compile(r"""(?:\b_|\blabel)\(\s*(["'])(.+?)\1""")
_SCRIPT_TEXT = re.compile(r"""\b(?:t|t2|nt)\(\s*"((?:[^"\\]|\\.)+)\"""")
_PYTHON_TEXT = re.compile(r'gettext\("(.+?)"\)|_\("(.+?)"\)|: "([A-Z][a-z]+day)"')


def display_messages() -> set[str]:
    """Every message the display, the directory and their scripts ask to translate."""
    messages: set[str] = set()
    for template in (ROOT / "display" / "templates").glob("*.html"):
        messages |= {m.group(2) for m in _TEMPLATE_TEXT.finditer(template.read_text())}
        messages |= set(re.findall(r'ngettext\("(.+?)"', template.read_text()))
    for script in (ROOT / "display" / "static").glob("*.js"):
        messages |= {m.group(1) for m in _SCRIPT_TEXT.finditer(script.read_text())}
    source = (ROOT / "queueapp" / "web" / "pages_display.py").read_text()
    messages |= {next(g for g in m.groups() if g) for m in _PYTHON_TEXT.finditer(source)}
    return messages


def test_every_display_message_is_translated() -> None:
    messages = display_messages()
    assert {"Now calling", "≈ {n} min", "{n} waiting", "Monday", "Closed"} <= messages
    for lang in TRANSLATED:
        po = parse_po(lang, (ROOT / "queueapp" / "locale" / lang / "display.po").read_text())
        known = set(po.messages) | set(po.plurals)
        assert messages - known == set(), lang
        assert all(all(forms) for forms in po.plurals.values()), lang


def test_translations_keep_their_placeholders() -> None:
    for lang in TRANSLATED:
        po = parse_po(lang, (ROOT / "queueapp" / "locale" / lang / "display.po").read_text())
        for message, translation in po.messages.items():
            assert set(re.findall(r"\{\w+\}", message)) == set(
                re.findall(r"\{\w+\}", translation)
            ), (lang, message)
        for message, forms in po.plurals.items():
            for form in forms:
                assert re.findall(r"\{\w+\}", form) == ["{n}"], (lang, message)


def test_the_czech_catalog_has_its_diacritics() -> None:
    czech = catalog("cs")
    assert czech.gettext("Counter") == "Přepážka"
    assert czech.ngettext("{n} waiting", "{n} waiting", 5) == "{n} čeká"
    assert catalog("vi").gettext("Opening hours") == "Giờ mở cửa"
    assert catalog("bg").gettext("Today") == "Днес"
