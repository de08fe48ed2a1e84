"""The consoles in Chromium against a real server, signed in through /login as people do.

A manager lowers the capacity rule and the wall display's limit follows; a
counter calls the next visitor from its console and both the display and
the visitor's phone show it; the door console and the manager's accounts
and devices work end to end, and the audit trail says who changed them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Browser, Page, expect

from queueapp.demo import DEMO_ID
from queueapp.testing import PHONE

if TYPE_CHECKING:
    from tests.browser.conftest import Site

PASSWORD = "correct horse battery"
DESKTOP = {"width": 1280, "height": 900}

NewPage = Callable[..., Page]


@pytest.fixture
def new_page(browser: Browser) -> Iterator[NewPage]:
    """Pages in fresh contexts (their own cookies and storage); any script error fails."""
    errors: list[str] = []
    contexts = []

    def new_page(**options: Any) -> Page:
        context = browser.new_context(**{"viewport": DESKTOP, **options})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield new_page
    for context in contexts:
        context.close()
    assert errors == []


def add_user(site: Site, name: str, role: str) -> None:
    """What an administrator runs on the server: ``queueapp user add``."""
    command = [
        sys.executable, "-m", "queueapp", "user", "add", name,
        "--role", role, "--branch", DEMO_ID, "--password-stdin",
        "--store", site.server.store_url,
    ]  # fmt: skip
    subprocess.run(command, input=PASSWORD + "\n", check=True, capture_output=True, text=True)


def sign_in(page: Page, site: Site, name: str, path: str, password: str = PASSWORD) -> None:
    page.goto(f"{site.url}/login?next={path}")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("body")).to_have_attribute("data-status", "online")


def display(new_page: NewPage, site: Site) -> Page:
    page = new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{site.url}/b/{DEMO_ID}/display?sound=off")
    expect(page.locator("body")).to_have_attribute("data-status", "online")
    return page


def test_a_manager_lowers_the_capacity_and_the_display_follows(
    new_page: NewPage, site: Site
) -> None:
    add_user(site, "mia", "manager")
    config = site.manager.get(f"/api/v1/branches/{DEMO_ID}/config").json()
    config["capacity"]["default"] = {"people_per_counter": 3, "extra": 0, "minimum": 1}
    site.manager.put(f"/api/v1/branches/{DEMO_ID}/config", json=config).raise_for_status()
    site.counter("1", "open")
    site.counter("2", "open")
    wall = display(new_page, site)
    expect(wall.locator("#count")).to_have_text("0/6")

    console = new_page()
    sign_in(console, site, "mia", f"/manage/{DEMO_ID}?tab=settings")
    rule = console.locator("#section-capacity")
    preview = console.locator("#capacity-preview .preview-headline")
    expect(preview).to_have_text("With 2 counters open, the limit is 6.")
    rule.get_by_label("People per open counter").fill("1")

    expect(preview).to_have_text("With 2 counters open, the limit is 2.")
    expect(wall.locator("#count")).to_have_text("0/6")  # a preview changes nothing
    console.get_by_role("button", name="Save settings").click()

    expect(console.locator("#save-state")).to_have_text(re.compile(r"^Saved: revision \d+\.$"))
    expect(wall.locator("#count")).to_have_text("0/2", timeout=2000)
    rule.get_by_label("People per open counter").fill("-1")
    expect(preview).to_have_text("No preview: the rule has problems.")
    console.get_by_role("button", name="Save settings").click()
    problem = console.locator('[data-path="capacity.default.people_per_counter"] .problem')
    expect(problem).to_have_text("people_per_counter must be between 0 and 100")
    expect(wall.locator("#count")).to_have_text("0/2")

    console.get_by_role("tab", name="Audit trail").click()
    latest = console.locator(".audit-item").first
    expect(latest.locator(".audit-who")).to_have_text("user:mia")
    expect(latest.locator(".audit-what")).to_have_text(re.compile(r"^changed the settings"))


def test_a_counter_calls_the_next_visitor_onto_the_display_and_the_phone(
    new_page: NewPage, site: Site
) -> None:
    add_user(site, "sid", "staff")
    issued = site.staff.post(f"/api/v1/branches/{DEMO_ID}/tickets", json={"service": "A"})
    issued.raise_for_status()
    number = issued.json()["number"]
    phone = new_page(**PHONE)
    phone.goto(site.url + issued.json()["links"]["page"])
    expect(phone.locator("#status-title")).to_have_text("Please wait")
    wall = display(new_page, site)

    console = new_page()
    sign_in(console, site, "sid", "/staff")
    console.locator("#counter").select_option("2")
    expect(console.locator("#counter-title")).to_have_text("Counter 2")
    expect(console.locator("#call-next")).to_be_disabled()  # the counter is closed
    console.get_by_role("button", name="Open counter").click()
    expect(console.locator("#counter-status")).to_have_text("Open")
    waiting = console.locator(f'#queue [data-number="{number}"]')
    expect(waiting).to_have_attribute("data-status", "admitted")
    expect(console.locator("#hint")).to_have_text(f"Press N to call {number}.")

    console.keyboard.press("n")

    expect(console.locator("#current-number")).to_have_text(number)
    expect(wall.locator("#now-number")).to_have_text(number, timeout=2000)
    expect(wall.locator("#now-counter")).to_have_text("2")
    expect(phone.locator("#status-title")).to_have_text("Go to counter 2", timeout=3000)
    expect(console.locator("#current-grace")).to_have_text(re.compile(r"^No-show in \d:\d\d"))
    expect(console.locator("#call-next")).to_be_disabled()
    expect(console.locator("#close")).to_be_disabled()  # not with a visitor at the counter

    console.keyboard.press("s")
    expect(console.locator("#current-state")).to_have_text("Serving")
    expect(phone.locator("#status-title")).to_have_text("You are being served at counter 2")
    console.keyboard.press("d")
    expect(console.locator("#current-number")).to_have_text("\u2013")
    expect(phone.locator("#status-title")).to_have_text("Thank you for your visit")

    console.reload()  # the console remembers its counter
    expect(console.locator("#counter")).to_have_value("2")
    expect(console.locator("#counter-status")).to_have_text("Open")


def test_the_counter_console_catches_up_and_says_what_went_wrong(
    new_page: NewPage, site: Site
) -> None:
    add_user(site, "sid", "staff")
    site.counter("1", "open")
    first = site.staff.post(f"/api/v1/branches/{DEMO_ID}/tickets", json={"service": "A"})
    number = first.json()["number"]
    console = new_page()
    sign_in(console, site, "sid", "/staff")
    expect(console.locator("#counter")).to_have_value("1")
    console.get_by_role("button", name=re.compile("^Call next")).click()
    expect(console.locator("#current-number")).to_have_text(number)

    site.counter("1", "done", ticket=number)  # someone else finished it meanwhile

    expect(console.locator("#current-number")).to_have_text("\u2013")
    site.counter("1", "pause")
    expect(console.locator("#counter-status")).to_have_text("Paused")
    expect(console.locator("#hint")).to_have_text("The counter is paused: nobody is called to it.")

    door = new_page()
    sign_in(door, site, "sid", "/staff/door")
    door.get_by_label("Reason").fill("Courier")
    door.get_by_role("button", name="Count 1 person out").click()
    expect(door.locator("#message")).to_have_text(
        "There are not that many people without a ticket inside."
    )
    door.locator("#more").click()
    door.get_by_role("button", name="Count 2 people in").click()
    expect(door.locator("#inside")).to_have_text("2")
    expect(door.locator("#message")).to_be_hidden()
    door.get_by_role("button", name="Count 1 person in").click()
    expect(door.locator("#message")).to_have_text("Give a reason.")


def test_the_door_confirms_who_comes_in(new_page: NewPage, site: Site) -> None:
    add_user(site, "sid", "staff")
    site.counter("1", "open")
    site.counter("2", "open")
    numbers = [
        site.staff.post(f"/api/v1/branches/{DEMO_ID}/tickets", json={"service": "A"}).json()[
            "number"
        ]
        for _ in range(2)
    ]
    door = new_page()
    sign_in(door, site, "sid", "/staff/door")
    expect(door.locator("#may-enter .enter-number")).to_have_text(numbers)
    expect(door.locator("#occupancy")).to_have_attribute("data-signal", "wait")

    door.locator(f'[data-number="{numbers[0]}"]').get_by_role("button").click()

    expect(door.locator("#may-enter .enter-number")).to_have_text(numbers[1:])
    door.get_by_label("Ticket number").fill(numbers[1].lower())
    door.get_by_label("Ticket number").press("Enter")
    expect(door.locator("#may-enter .enter-number")).to_have_count(0)
    expect(door.locator("#confirmed li")).to_have_count(2)


def test_a_manager_makes_accounts_and_pairs_screens_from_the_console(
    new_page: NewPage, site: Site
) -> None:
    add_user(site, "mia", "manager")
    console = new_page()
    sign_in(console, site, "mia", f"/manage/{DEMO_ID}?tab=users")
    form = console.locator("#user-form")
    form.get_by_label("Username").fill("nina")
    form.get_by_label("Password").fill("a long enough one")
    form.get_by_role("button", name="Create account").click()
    expect(console.locator('[data-user="nina"]')).to_contain_text("Staff")

    nina = new_page()
    sign_in(nina, site, "nina", "/staff", password="a long enough one")
    expect(nina.locator("#counter-title")).to_have_text("Counter 1")
    assert nina.locator(".console-nav").get_by_text("Manage").count() == 0

    disable = console.locator('[data-user="nina"]').get_by_role("button", name="Disable")
    disable.click()
    console.locator('[data-user="nina"]').get_by_role("button", name="Sure? Disable").click()
    expect(console.locator('[data-user="nina"]')).to_have_attribute("data-state", "disabled")

    console.get_by_role("tab", name="Devices").click()
    console.get_by_label("Label").fill("Entrance")
    console.get_by_role("button", name="Make a pairing link").click()
    link = console.locator("#pairing-url")
    expect(link).to_have_text(re.compile(rf"^{re.escape(site.url)}/b/{DEMO_ID}/kiosk\?pair="))
    kiosk = new_page()
    kiosk.goto(link.inner_text())
    expect(kiosk.get_by_role("heading", name="Choose a service")).to_be_visible()
    row = console.locator("#devices tbody tr").first
    row.get_by_role("button", name="Revoke").click()
    row.get_by_role("button", name="Sure? Revoke").click()
    expect(console.locator("#devices tbody tr").first).to_have_attribute("data-state", "revoked")
    kiosk.reload()
    expect(kiosk.get_by_role("heading", name="This screen is not paired")).to_be_visible()

    console.get_by_role("tab", name="Audit trail").click()
    changes = console.locator('.audit-item[data-type="access_changed"]')
    expect(changes).to_have_count(6)
    revoked, paired = changes.nth(0), changes.nth(1)
    expect(revoked.locator(".audit-who")).to_have_text("user:mia")
    expect(revoked.locator(".audit-what")).to_have_text(
        re.compile(r"^revoked a screen: Entrance \(Kiosk [0-9a-f]{12}\)$")
    )
    expect(paired.locator(".audit-who")).to_have_text(re.compile(r"^kiosk [0-9a-f]{12}$"))
    expect(paired.locator(".audit-what")).to_have_text(re.compile(r"^was paired: Entrance"))
    expect(changes.nth(3).locator(".audit-what")).to_have_text("disabled an account: nina")
    expect(changes.last.locator(".audit-who")).to_have_text("the command line")
    expect(changes.last.locator(".audit-what")).to_have_text(
        "added an account: mia, Manager of demo"
    )
