"""The visitor's journey in Chromium: a ticket from the kiosk, followed on a phone, called by staff.

The kiosk is paired the way a manager does it (``queueapp device create``);
the phone is a phone-sized touch context of its own that only knows the
address in the printed QR code.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from queueapp.demo import demo_config
from queueapp.i18n import catalog
from queueapp.testing import PHONE
from queueapp.web.pages_visitor import qr_svg

if TYPE_CHECKING:
    from tests.browser.conftest import Site

LANGUAGE_BUTTONS = {"en": "English", "cs": "Čeština", "vi": "Tiếng Việt"}
KIOSK = {"viewport": {"width": 1280, "height": 800}}

NewPage = Callable[..., Page]


@pytest.fixture
def new_page(browser: Browser) -> Iterator[NewPage]:
    """Pages in fresh contexts (a kiosk, a phone: separate cookies); any script error fails."""
    errors: list[str] = []
    contexts = []

    def new_page(**options: Any) -> Page:
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield new_page
    for context in contexts:
        context.close()
    assert errors == []


def _(lang: str, message: str, **values: Any) -> str:
    return catalog(lang).gettext(message).format(**values)


def service_name(letter: str, lang: str) -> str:
    service = demo_config().service(letter)
    assert service is not None
    return service.name(lang)


def pairing_link(site: Site, kind: str = "kiosk") -> str:
    """What the manager runs: the CLI prints the one-time link."""
    command = [
        sys.executable, "-m", "queueapp", "device", "create",
        "--branch", "demo", "--kind", kind, "--label", "browser test",
        "--base-url", site.url, "--store", site.server.store_url,
    ]  # fmt: skip
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def kiosk_ticket(new_page: NewPage, site: Site, lang: str, letter: str = "A") -> tuple[Page, str]:
    """Take a ticket at a freshly paired kiosk in ``lang``; the kiosk page and the QR's address."""
    kiosk = new_page(**KIOSK)
    kiosk.goto(pairing_link(site))
    assert kiosk.url == f"{site.url}/b/demo/kiosk"

    if lang != "en":
        kiosk.get_by_role("link", name=LANGUAGE_BUTTONS[lang]).click()
    expect(kiosk.get_by_role("heading", name=_(lang, "Choose a service"))).to_be_visible()
    kiosk.get_by_role("button", name=re.compile(re.escape(service_name(letter, lang)))).click()
    expect(kiosk.get_by_role("button", name="1", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    kiosk.get_by_role("button", name=_(lang, "Get a ticket")).click()

    number = kiosk.locator("#result-number")
    expect(number).to_have_text(re.compile(rf"^{letter}\d{{3}}$"))
    expect(kiosk.locator("#result-service")).to_have_text(service_name(letter, lang))
    qr = kiosk.get_by_role("img", name=_(lang, "QR code of your ticket page"))
    expect(qr).to_be_visible()
    source = qr.get_attribute("src")
    assert source is not None and source.endswith("/qr.svg")
    address = site.url + source.removesuffix("/qr.svg")
    svg = httpx.get(site.url + source).content
    assert svg == qr_svg(address)  # the code says exactly this address
    return kiosk, address


@pytest.mark.parametrize("lang", ["en", "cs", "vi"])
def test_kiosk_ticket_followed_on_a_phone_until_called(
    new_page: NewPage, site: Site, lang: str
) -> None:
    kiosk, address = kiosk_ticket(new_page, site, lang)
    number = kiosk.locator("#result-number").inner_text()

    phone = new_page(**PHONE, locale="en-GB")  # the ticket keeps its own language
    phone.goto(address)
    expect(phone.locator("html")).to_have_attribute("lang", lang)
    expect(phone.locator("#number")).to_have_text(number)
    expect(phone.locator("#service")).to_have_text(service_name("A", lang))
    waiting = [_(lang, "Please wait"), _(lang, "Please enter now")]
    expect(phone.locator("#status-title")).to_have_text(re.compile("|".join(waiting)))

    display = new_page(viewport={"width": 1920, "height": 1080})
    display.goto(f"{site.url}/b/demo/display?sound=off")
    expect(display.locator("body")).to_have_attribute("data-status", "online")

    site.counter("1", "open")
    site.counter("1", "call-next")

    expect(display.locator("#now-number")).to_have_text(number, timeout=1000)
    title = phone.locator("#status-title")
    expect(title).to_have_text(_(lang, "Go to counter {counter}", counter="1"), timeout=3000)
    expect(phone.locator("#status")).to_have_class(re.compile("status-called"))
    expect(phone.locator("#countdown")).to_have_text(re.compile(r"\d:\d\d"))
    expect(phone.locator("#offline")).to_be_hidden()


def test_the_kiosk_returns_to_its_start_language(new_page: NewPage, site: Site) -> None:
    kiosk, _address = kiosk_ticket(new_page, site, "cs")
    kiosk.get_by_role("button", name=_("cs", "Done")).click()
    expect(kiosk.locator("html")).to_have_attribute("lang", "en")
    expect(kiosk.get_by_role("heading", name="Choose a service")).to_be_visible()
    assert kiosk.url == f"{site.url}/b/demo/kiosk"


def test_an_unpaired_browser_cannot_be_a_kiosk(new_page: NewPage, site: Site) -> None:
    page = new_page(**KIOSK)
    page.goto(f"{site.url}/b/demo/kiosk")
    expect(page.get_by_role("heading", name="This screen is not paired")).to_be_visible()
    assert page.locator(".service-pick").count() == 0


def test_a_phone_joins_asks_for_more_time_and_cancels(new_page: NewPage, site: Site) -> None:
    config = site.manager.get("/api/v1/branches/demo/config").json()
    config["capacity"]["hold"] = True  # nobody is admitted: the tickets wait outside
    config.pop("revision", None)
    site.manager.put("/api/v1/branches/demo/config", json=config).raise_for_status()
    for service in ("B", "B"):
        httpx.post(f"{site.url}/api/v1/branches/demo/tickets", json={"service": service})

    phone = new_page(**PHONE, locale="cs-CZ")
    phone.goto(f"{site.url}/b/demo/join")
    expect(phone.locator("html")).to_have_attribute("lang", "cs")
    phone.get_by_label(re.compile(service_name("B", "cs"))).check()
    phone.get_by_label(_("cs", "How many people are coming?")).select_option("2")
    phone.get_by_role("button", name=_("cs", "Join the queue")).click()

    expect(phone).to_have_url(re.compile(r"/t/demo\.\d{8}\.[\w-]{22,}$"))
    expect(phone.locator("#number")).to_have_text("B003")
    expect(phone.locator("#status-title")).to_have_text(_("cs", "Please wait"))
    expect(phone.locator("#position")).to_have_text("Před vámi jsou 2 osoby")
    expect(phone.locator("#almost")).to_be_visible()

    phone.get_by_role("button", name=_("cs", "I need more time")).click()
    expect(phone.locator("#message")).to_contain_text("Hotovo")
    expect(phone.get_by_role("button", name=_("cs", "I need more time"))).to_be_hidden()

    phone.get_by_role("button", name=_("cs", "Cancel my ticket")).click()
    dialog = phone.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=_("cs", "Keep my ticket")).click()
    expect(phone.locator("#status-title")).to_have_text(_("cs", "Please wait"))
    phone.get_by_role("button", name=_("cs", "Cancel my ticket")).click()
    phone.get_by_role("dialog").get_by_role("button", name=_("cs", "Yes, cancel it")).click()
    expect(phone.locator("#status-title")).to_have_text(_("cs", "This ticket is cancelled"))

    phone.goto(f"{site.url}/b/demo/join")  # the join page lists the phone's tickets: none active
    expect(phone.locator(".my-tickets")).to_have_count(0)


def test_the_ticket_page_comes_back_after_the_server_restarts(
    new_page: NewPage, site: Site
) -> None:
    ticket = httpx.post(
        f"{site.url}/api/v1/branches/demo/tickets", json={"service": "A", "lang": "vi"}
    ).json()
    phone = new_page(**PHONE)
    phone.goto(site.url + ticket["links"]["page"])
    expect(phone.locator("#number")).to_have_text(ticket["number"])

    site.server.stop()
    expect(phone.locator("#offline")).to_be_visible(timeout=30000)
    site.server.start()
    site.counter("1", "open")
    site.counter("1", "call-next")

    expect(phone.locator("#status-title")).to_have_text("Mời đến quầy 1", timeout=20000)
    expect(phone.locator("#offline")).to_be_hidden()


# The kiosk's screen ----------------------------------------------------------------


def paired_kiosk(new_page: NewPage, site: Site, width: int, height: int) -> Page:
    kiosk = new_page(viewport={"width": width, "height": height}, has_touch=True)
    kiosk.goto(pairing_link(site))
    expect(kiosk.get_by_role("heading", name="Choose a service")).to_be_visible()
    return kiosk


def tile_boxes(kiosk: Page) -> list[dict[str, float]]:
    boxes = [tile.bounding_box() for tile in kiosk.locator(".service-pick").all()]
    assert len(boxes) == len(demo_config().services)
    return [box for box in boxes if box is not None]


@pytest.mark.parametrize(
    ("width", "height", "columns", "cover"),
    [(1080, 1920, 1, 0.75), (1920, 1080, 2, 0.65)],
    ids=["portrait", "landscape"],
)
def test_the_service_tiles_fill_the_kiosk_screen(
    new_page: NewPage, site: Site, width: int, height: int, columns: int, cover: float
) -> None:
    """Tall tiles for standing people's fingers: the tiles take the screen's height
    below the heading, every one reachable without scrolling."""
    kiosk = paired_kiosk(new_page, site, width, height)

    boxes = tile_boxes(kiosk)

    assert len({round(box["x"]) for box in boxes}) == columns
    top = min(box["y"] for box in boxes)
    bottom = max(box["y"] + box["height"] for box in boxes)
    assert bottom <= height
    assert bottom - top >= cover * height, (top, bottom)
    rows = len(boxes) // columns
    assert min(box["height"] for box in boxes) >= 0.8 * cover * height / rows
    assert kiosk.evaluate("document.documentElement.scrollHeight") <= height


def test_the_kiosk_tiles_fit_a_phone_sized_screen(new_page: NewPage, site: Site) -> None:
    kiosk = paired_kiosk(new_page, site, 390, 844)

    boxes = tile_boxes(kiosk)

    assert len({round(box["x"]) for box in boxes}) == 1
    assert all(box["x"] >= 0 and box["x"] + box["width"] <= 390 for box in boxes)
    assert min(box["height"] for box in boxes) >= 96  # twice the smallest target
    assert kiosk.evaluate("document.documentElement.scrollWidth") <= 390


@pytest.mark.parametrize(
    ("width", "height", "cover"),
    [(1080, 1920, 0.75), (1920, 1080, 0.6)],
    ids=["portrait", "landscape"],
)
def test_the_party_size_step_fills_the_kiosk_screen(
    new_page: NewPage, site: Site, width: int, height: int, cover: float
) -> None:
    """A number button for each party size, tall enough for standing people's fingers:
    they, the priority toggle and the ticket button take the height below the heading,
    nothing scrolls, even with a notice above them, and what is chosen is asked for."""
    kiosk = paired_kiosk(new_page, site, width, height)
    kiosk.get_by_role("button", name=re.compile(service_name("A", "en"))).click()
    unserved = kiosk.locator("#details-unserved")
    expect(unserved).to_be_visible()
    assert kiosk.evaluate("document.documentElement.scrollHeight") <= height
    site.counter("1", "open")  # serves A: the notice goes, the buttons take its room
    expect(unserved).to_be_hidden()
    sizes = kiosk.get_by_role("group", name="How many people are coming?").get_by_role("button")
    expect(sizes).to_have_text([str(n) for n in range(1, demo_config().max_party_size + 1)])
    priority = kiosk.locator("label.toggle")
    issue = kiosk.get_by_role("button", name="Get a ticket")

    boxes = [box for box in (s.bounding_box() for s in sizes.all()) if box is not None]
    controls = [*boxes, priority.bounding_box(), issue.bounding_box()]
    top = min(box["y"] for box in controls if box is not None)
    bottom = max(box["y"] + box["height"] for box in controls if box is not None)
    assert bottom <= height
    assert bottom - top >= cover * height, (top, bottom)
    assert min(box["height"] for box in boxes) >= 0.1 * height
    assert kiosk.evaluate("document.documentElement.scrollHeight") <= height

    sizes.nth(2).click()
    expect(sizes.nth(2)).to_have_attribute("aria-pressed", "true")
    expect(sizes.nth(0)).to_have_attribute("aria-pressed", "false")
    kiosk.get_by_label("I need priority").check()
    with kiosk.expect_request(re.compile(r"/tickets$")) as request:
        issue.click()
    asked = request.value.post_data_json
    assert (asked["party_size"], asked["priority"]) == (3, True)


def kiosk_result(kiosk: Page) -> None:
    """Take a ticket for the first service; the ticket's screen and its code shown."""
    kiosk.locator(".service-pick").first.click()
    kiosk.get_by_role("button", name="Get a ticket").click()
    expect(kiosk.locator("#result-qr")).to_have_js_property("complete", True)
    expect(kiosk.locator("#result-qr")).to_be_visible()


def test_the_ticket_fills_a_landscape_kiosk_screen(new_page: NewPage, site: Site) -> None:
    """The number and its code side by side, as big as the height allows, the ticket as
    wide as the screen, the buttons below it without scrolling."""
    width, height = 1920, 1080
    kiosk = paired_kiosk(new_page, site, width, height)

    kiosk_result(kiosk)

    ticket, number, code, done = (
        kiosk.locator(selector).bounding_box()
        for selector in (".printed-ticket", "#result-number", "#result-qr", "#done")
    )
    assert ticket is not None and number is not None and code is not None and done is not None
    assert number["x"] + number["width"] <= code["x"]
    assert code["height"] >= 0.35 * height
    assert number["height"] >= 0.15 * height
    assert ticket["width"] >= 0.9 * width
    assert ticket["height"] >= 0.55 * height
    assert done["y"] + done["height"] <= height
    assert kiosk.evaluate("document.documentElement.scrollHeight") <= height


def test_the_ticket_fits_a_phone_sized_screen(new_page: NewPage, site: Site) -> None:
    kiosk = paired_kiosk(new_page, site, 390, 844)

    kiosk_result(kiosk)

    assert kiosk.evaluate("document.documentElement.scrollWidth") <= 390
    box = kiosk.locator("#result-number").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390


def test_a_service_no_open_counter_serves_says_so_until_one_opens(
    new_page: NewPage, site: Site
) -> None:
    unserved = _("en", "No counter open for this service right now")
    not_known = _("en", "Not known until a counter opens")
    site.counter("4", "open")  # serves C and D
    kiosk = paired_kiosk(new_page, site, 1080, 1920)
    display = new_page(viewport={"width": 1920, "height": 1080})
    display.goto(f"{site.url}/b/demo/display?sound=off&lang2=none")
    payments_row = display.locator("#services .service").first

    def note(letter: str) -> Any:
        return kiosk.locator(f'[data-letter="{letter}"] .service-unserved')

    expect(note("A")).to_have_text(unserved)
    expect(note("A")).to_be_visible()
    expect(note("C")).to_be_hidden()
    expect(kiosk.locator('[data-letter="A"] .service-wait')).to_have_text("0 waiting")
    expect(kiosk.locator('[data-letter="C"] .service-wait')).to_have_text(
        "0 waiting · less than a minute"
    )
    expect(payments_row).to_contain_text(_("en", "No counter open"))

    kiosk.get_by_role("button", name=re.compile(service_name("A", "en"))).click()
    expect(kiosk.locator("#details-unserved")).to_be_visible()
    kiosk.get_by_role("button", name="Get a ticket").click()  # still issued: it waits outside
    expect(kiosk.locator("#result-wait")).to_have_text(f"Estimated wait: {not_known}")
    source = kiosk.locator("#result-qr").get_attribute("src")
    assert source is not None
    phone = new_page(**PHONE)
    phone.goto(site.url + source.removesuffix("/qr.svg"))
    expect(phone.locator("#status-title")).to_have_text("Please wait")
    expect(phone.locator("#wait")).to_have_text(not_known)
    kiosk.get_by_role("button", name="Done").click()

    site.counter("1", "open")  # serves A and B: the screens follow the live feed

    expect(note("A")).to_be_hidden()
    expect(kiosk.locator('[data-letter="A"] .service-wait')).to_have_text(re.compile("about"))
    expect(payments_row).not_to_contain_text(_("en", "No counter open"))
    expect(phone.locator("#status-title")).to_have_text("Please enter now")
