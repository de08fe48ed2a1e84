"""The wall display and the directory in Chromium, against a real server: live calls,
occupancy, going offline and coming back, layouts, and the spoken-call queue."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Browser, Page, expect

from queueapp.demo import DEMO_ID

if TYPE_CHECKING:
    from tests.browser.conftest import Site

LANDSCAPE = {"width": 1920, "height": 1080}
PORTRAIT = {"width": 1080, "height": 1920}

SPEECH_RECORDER = """
window.__speech = { log: [], speaking: 0, overlaps: 0 };
speechSynthesis.getVoices = () => [];
speechSynthesis.speak = (utterance) => {
  const speech = window.__speech;
  if (speech.speaking > 0) speech.overlaps += 1;
  speech.speaking += 1;
  speech.log.push({ text: utterance.text, lang: utterance.lang });
  setTimeout(() => {
    speech.speaking -= 1;
    utterance.dispatchEvent(new Event("end"));
  }, 300);
};
"""
"""Stands in for the browser's voice: records each utterance, takes 300 ms to say it,
and counts an utterance started while another was still being spoken."""


OpenPage = Callable[..., Page]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[OpenPage]:
    """Opens pages in fresh contexts and fails the test on any script error in them."""
    errors: list[str] = []
    contexts = []

    def open_page(path_url: str, viewport: dict[str, int] = LANDSCAPE, init: str = "") -> Page:
        context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        contexts.append(context)
        if init:
            context.add_init_script(init)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(path_url)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == []


def issue(site: Site, service: str = "A") -> str:
    response = site.staff.post(f"/api/v1/branches/{DEMO_ID}/tickets", json={"service": service})
    response.raise_for_status()
    return str(response.json()["number"])


def live_display(open_page: OpenPage, site: Site, query: str = "", **options: Any) -> Page:
    page: Page = open_page(f"{site.url}/b/{DEMO_ID}/display?sound=off{query}", **options)
    expect(page.locator("body")).to_have_attribute("data-status", "online")
    expect(page.locator("#screen")).not_to_have_attribute("data-version", "")
    return page


def test_the_display_shows_a_call_within_a_second(open_page: OpenPage, site: Site) -> None:
    page = live_display(open_page, site)
    expect(page.locator("#now-number")).to_have_text("\u2013")  # a dash: nobody called yet
    site.counter("1", "open")
    number = issue(site)

    site.counter("1", "call-next")

    expect(page.locator("#now-number")).to_have_text(number, timeout=1000)
    expect(page.locator("#now-counter")).to_have_text("1", timeout=1000)

    site.counter("2", "open")
    second = issue(site)
    site.counter("2", "call-next")
    expect(page.locator("#now-number")).to_have_text(second, timeout=1000)
    expect(page.locator("#recent .call")).to_have_text([f"{number}→1"], timeout=1000)


def test_occupancy_and_the_go_wait_signal_follow_the_branch(
    open_page: OpenPage, site: Site
) -> None:
    page = live_display(open_page, site)
    occupancy = page.locator("#occupancy")
    site.counter("1", "open")
    expect(occupancy).to_have_attribute("data-signal", "go")
    expect(page.locator("#count")).to_have_text("0/1")
    expect(page.locator(".signal-go .first")).to_be_visible()
    expect(page.locator(".signal-wait .first")).to_be_hidden()

    number = issue(site)

    expect(occupancy).to_have_attribute("data-signal", "wait", timeout=1000)
    expect(page.locator("#count")).to_have_text("1/1")
    expect(page.locator(".signal-wait .first")).to_have_text("WAIT")
    expect(page.locator("#may-enter .chip")).to_have_text([number])
    waiting = issue(site)
    expect(page.locator("#services .service-count").first).to_have_text("1")

    site.counter("1", "call-next")
    site.counter("1", "start", ticket=number)
    site.counter("1", "done", ticket=number)

    expect(page.locator("#may-enter .chip")).to_have_text([waiting], timeout=1000)
    expect(page.locator("#count")).to_have_text("1/1")
    site.counter("1", "call-next")
    site.counter("1", "start", ticket=waiting)
    site.counter("1", "done", ticket=waiting)
    expect(occupancy).to_have_attribute("data-signal", "go", timeout=1000)
    expect(page.locator("#count")).to_have_text("0/1")


def test_the_display_goes_offline_and_recovers_by_itself(open_page: OpenPage, site: Site) -> None:
    page = live_display(open_page, site)
    site.counter("1", "open")
    first = issue(site)
    site.counter("1", "call-next")
    expect(page.locator("#now-number")).to_have_text(first, timeout=1000)

    site.server.stop()

    expect(page.locator("#offline")).to_be_visible(timeout=5000)
    expect(page.locator("body")).to_have_class(re.compile(r"\boffline\b"))
    expect(page.locator("#now-number")).to_have_text(first)  # the last known state stays

    site.server.start()

    expect(page.locator("#offline")).to_be_hidden(timeout=20000)
    expect(page.locator("body")).to_have_attribute("data-status", "online")
    site.counter("1", "done", ticket=first)
    second = issue(site)
    site.counter("1", "call-next")
    expect(page.locator("#now-number")).to_have_text(second, timeout=1000)
    expect(page.locator("#recent .call")).to_have_text([f"{first}→1"])


def _fits(page: Page) -> None:
    """Nothing spills out of the screen: every panel ends inside the viewport."""
    overflow = page.evaluate(
        """() => [...document.querySelectorAll('.screen > section, .screen > header')]
            .filter((el) => {
              const box = el.getBoundingClientRect();
              return box.right > innerWidth + 1 || box.bottom > innerHeight + 1;
            })
            .map((el) => el.className)"""
    )
    assert overflow == []


def test_the_layouts_render_readably(open_page: OpenPage, site: Site) -> None:
    site.counter("1", "open")
    site.counter("3", "open")
    for service in "AABBC":
        issue(site, service)
    called = site.counter("1", "call-next").json()["ticket"]["number"]

    landscape = live_display(open_page, site)
    expect(landscape.locator("#services .service")).to_have_count(4)
    _fits(landscape)
    size = landscape.evaluate(
        "parseFloat(getComputedStyle(document.getElementById('now-number')).fontSize)"
    )
    assert size >= 180  # about 2.5 cm high on a 55-inch 1080p screen: readable from 5 m

    portrait = live_display(open_page, site, "&layout=portrait", viewport=PORTRAIT)
    expect(portrait.locator("body")).to_have_class("display layout-portrait ready")
    expect(portrait.locator("#now-number")).to_have_text(called)
    expect(portrait.locator("#services .service")).to_have_count(4)
    _fits(portrait)

    door = live_display(open_page, site, "&layout=door")
    expect(door.locator("#now-number")).to_have_count(0)
    expect(door.locator("#occupancy")).to_be_visible()
    expect(door.locator("#may-enter .chip").first).to_be_visible()
    qr = door.locator("#join-qr")
    expect(qr).to_be_visible()
    assert qr.evaluate("image => image.naturalWidth") > 0
    count_size = "parseFloat(getComputedStyle(document.querySelector('.count')).fontSize)"
    assert door.evaluate(count_size) >= 200
    _fits(door)


def test_calls_are_spoken_one_after_the_other(open_page: OpenPage, site: Site) -> None:
    """Two quick calls and a recall: a chime and both languages for each, never overlapping."""
    page: Page = open_page(f"{site.url}/b/{DEMO_ID}/display?lang=en&lang2=cs", init=SPEECH_RECORDER)
    expect(page.locator("body")).to_have_attribute("data-status", "online")
    site.counter("1", "open")
    site.counter("2", "open")
    first, second = issue(site), issue(site)

    site.counter("1", "call-next")
    site.counter("2", "call-next")
    site.counter("1", "recall", ticket=first)

    page.wait_for_function("() => window.__speech.log.length >= 6", timeout=20000)
    page.wait_for_timeout(500)
    speech = page.evaluate("window.__speech")
    assert speech["overlaps"] == 0
    assert speech["log"] == [
        {"text": "Ticket A 1, please go to counter 1.", "lang": "en-GB"},
        {"text": "Číslo A 1, dostavte se prosím k přepážce 1.", "lang": "cs-CZ"},
        {"text": "Ticket A 2, please go to counter 2.", "lang": "en-GB"},
        {"text": "Číslo A 2, dostavte se prosím k přepážce 2.", "lang": "cs-CZ"},
        {"text": "Ticket A 1, please go to counter 1.", "lang": "en-GB"},
        {"text": "Číslo A 1, dostavte se prosím k přepážce 1.", "lang": "cs-CZ"},
    ]
    assert (first, second) == ("A001", "A002")


def test_a_muted_display_says_nothing(open_page: OpenPage, site: Site) -> None:
    page: Page = open_page(f"{site.url}/b/{DEMO_ID}/display?sound=off", init=SPEECH_RECORDER)
    expect(page.locator("body")).to_have_attribute("data-status", "online")
    site.counter("1", "open")
    number = issue(site)
    site.counter("1", "call-next")
    expect(page.locator("#now-number")).to_have_text(number, timeout=1000)
    page.wait_for_timeout(2000)
    assert page.evaluate("window.__speech.log") == []


def test_the_directory_follows_the_queues_live(open_page: OpenPage, site: Site) -> None:
    page: Page = open_page(f"{site.url}/")
    demo = page.locator('[data-branch="demo"]')
    expect(demo.locator('[data-field="waiting"]')).to_have_text("0 waiting")
    expect(demo.locator(".badge-open")).to_be_visible()
    expect(page.locator("#updated")).to_have_text("Updated just now")
    page.wait_for_timeout(300)  # the branch feed connects

    issue(site)
    issue(site)

    expect(demo.locator('[data-field="waiting"]')).to_have_text("2 waiting", timeout=2000)
    expect(page.locator("#offline")).to_be_hidden()
    expect(page.locator("#updated")).to_have_text(re.compile(r"^Updated \d+ s ago$"), timeout=8000)
