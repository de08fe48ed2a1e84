"""Screenshots of every screen, for the README: ``scripts/screenshots [FOLDER] [--only NAME...]``.

Starts its own server on a throwaway SQLite file, seeds the demo branch,
makes a morning's worth of activity through the API (counters open, tickets
issued, calls), then photographs each screen in Debian's Chromium, launched
as the browser tests launch it. A screen whose page does not exist yet is
skipped with a message, not an error.

To add a screen, write a function that takes the ``Scene`` and returns the
PNG's bytes (raise ``Skip`` when it cannot be taken) and add it to ``SHOTS``.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from queueapp.demo import DEMO_ID, demo_config
from queueapp.domain.config import WEEKDAYS, dump_config, parse_config
from queueapp.service.access import create_token
from queueapp.service.branches import BranchService
from queueapp.store import open_store
from queueapp.testing import CHROMIUM, CHROMIUM_FLAGS, PHONE, ServerProcess

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FOLDER = ROOT / "docs" / "screenshots"

LANDSCAPE = {"width": 1920, "height": 1080}
PORTRAIT = {"width": 1080, "height": 1920}
DESKTOP = {"width": 1280, "height": 900}
KIOSK = {"width": 1080, "height": 1920}
PAPER_80MM = {"width": 302, "height": 100}
"""80 mm thermal paper at the CSS 96 dpi: 80 / 25.4 * 96 = 302 px (as long as the ticket)."""


class Skip(Exception):
    """This screen cannot be taken (yet); the message says why."""


@dataclass
class Scene:
    """The running server, a staff client, and what the shots need from the activity."""

    server: ServerProcess
    browser: Browser
    staff: httpx.Client
    kiosk_pairing: str | None = None
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    console_users: bool = False
    _kiosk_cookies: list[Any] | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def issue(
        self, service: str, lang: str = "en", party_size: int = 1, branch: str = DEMO_ID
    ) -> dict[str, Any]:
        response = self.staff.post(
            f"/api/v1/branches/{branch}/tickets",
            json={"service": service, "lang": lang, "party_size": party_size},
        )
        response.raise_for_status()
        ticket: dict[str, Any] = response.json()
        return ticket

    def counter(
        self, counter: str, action: str, ticket: str | None = None, branch: str = DEMO_ID
    ) -> dict[str, Any]:
        response = self.staff.post(
            f"/api/v1/branches/{branch}/counters/{counter}/{action}",
            json={"ticket": ticket} if ticket else None,
        )
        response.raise_for_status()
        view: dict[str, Any] = response.json()
        return view

    def call_next(self, counter: str) -> str | None:
        """The number this counter called, or None when nobody it serves may be called."""
        response = self.staff.post(f"/api/v1/branches/{DEMO_ID}/counters/{counter}/call-next")
        if response.status_code == 409:
            return None
        response.raise_for_status()
        ticket = response.json()["ticket"]
        return str(ticket["number"]) if ticket else None

    @contextmanager
    def page(self, kiosk: bool = False, **options: Any) -> Iterator[Page]:
        """A page in a fresh browser context; ``kiosk`` makes it the branch's paired kiosk."""
        cookies = self.kiosk_cookies() if kiosk else []
        context: BrowserContext = self.browser.new_context(**options)
        context.add_init_script("window.print = () => {};")  # no print dialog in the kiosk shots
        context.add_cookies(cookies)
        try:
            yield context.new_page()
        finally:
            context.close()

    def kiosk_cookies(self) -> list[Any]:
        """The paired kiosk's cookie: its one-time pairing address is opened once, here."""
        if self._kiosk_cookies is None:
            if self.kiosk_pairing is None:
                raise Skip("no kiosk could be paired (queueapp.service.devices is missing)")
            context = self.browser.new_context()
            try:
                context.new_page().goto(self.url + self.kiosk_pairing)
                self._kiosk_cookies = context.cookies()
            finally:
                context.close()
        return self._kiosk_cookies

    def open(self, page: Page, path: str) -> None:
        response = page.goto(self.url + path)
        if response is None or response.status == 404:
            raise Skip(f"{path} is not there yet (404)")
        if response.status >= 400:
            raise Skip(f"{path} answered {response.status}")
        page.wait_for_load_state("networkidle")
        page.evaluate("document.fonts.ready")


def _settle(page: Page) -> bytes:
    page.wait_for_timeout(400)  # let a flash or a transition finish
    return page.screenshot()


# The shots ------------------------------------------------------------------


def directory(scene: Scene) -> bytes:
    with scene.page(viewport=DESKTOP) as page:
        scene.open(page, "/")
        page.locator("#updated").wait_for()
        return _settle(page)


def _display(scene: Scene, query: str, viewport: dict[str, int], branch: str = DEMO_ID) -> bytes:
    with scene.page(viewport=viewport) as page:
        scene.open(page, f"/b/{branch}/display{query}")
        page.locator("#screen:not([data-version=''])").wait_for()
        return _settle(page)


def display_landscape(scene: Scene) -> bytes:
    return _display(scene, "?sound=off", LANDSCAPE)


def display_portrait(scene: Scene) -> bytes:
    return _display(scene, "?layout=portrait&sound=off", PORTRAIT)


def display_door(scene: Scene) -> bytes:
    """At the quieter branch, so that the README shows the green signal too."""
    return _display(scene, "?layout=door", LANDSCAPE, branch="riverside")


def _kiosk(scene: Scene, page: Page) -> None:
    scene.open(page, f"/b/{DEMO_ID}/kiosk")
    if not page.locator(".service-pick").count():
        raise Skip("the kiosk page shows no services to pick")


def kiosk_start(scene: Scene) -> bytes:
    with scene.page(kiosk=True, viewport=KIOSK) as page:
        _kiosk(scene, page)
        return _settle(page)


def _kiosk_details(scene: Scene, page: Page) -> None:
    _kiosk(scene, page)
    page.locator('[data-letter="A"] .service-pick').click()


def kiosk_details(scene: Scene) -> bytes:
    with scene.page(kiosk=True, viewport=KIOSK) as page:
        _kiosk_details(scene, page)
        page.locator('.party-size[data-size="2"]').click()  # a choice made, not the default
        return _settle(page)


def _kiosk_ticket(scene: Scene, page: Page) -> None:
    _kiosk_details(scene, page)
    page.locator("#issue").click()
    page.locator("#result-number:not(:empty)").wait_for()
    page.wait_for_load_state("networkidle")


def kiosk_result(scene: Scene) -> bytes:
    with scene.page(kiosk=True, viewport=KIOSK) as page:
        _kiosk_ticket(scene, page)
        return _settle(page)


def printed_ticket(scene: Scene) -> bytes:
    with scene.page(kiosk=True, viewport=PAPER_80MM, device_scale_factor=2) as page:
        _kiosk_ticket(scene, page)
        page.emulate_media(media="print")
        page.wait_for_timeout(300)
        return page.screenshot(full_page=True)


def _phone_ticket(scene: Scene, which: str) -> bytes:
    ticket = scene.tickets.get(which)
    if ticket is None:
        raise Skip(f"no {which} ticket in the scene")
    phone: dict[str, Any] = dict(PHONE)
    with scene.page(**phone) as page:
        scene.open(page, ticket["links"]["page"])
        page.locator("#status-title:not(:empty)").wait_for()
        return _settle(page)


def phone_join(scene: Scene) -> bytes:
    """At the quieter branch, where counters 1 and 2 are open: C and D have nobody to serve them."""
    with scene.page(**PHONE) as page:
        scene.open(page, "/b/riverside/join")
        return _settle(page)


def phone_waiting(scene: Scene) -> bytes:
    return _phone_ticket(scene, "waiting")


def phone_called(scene: Scene) -> bytes:
    return _phone_ticket(scene, "called")


# The consoles: signed in as their people, made the way an administrator makes them.

CONSOLE_PASSWORD = "screenshots only"
CONSOLE_USERS = {"sam": ("staff", [DEMO_ID]), "maria": ("manager", [DEMO_ID, "riverside", "north"])}


def _console_users(scene: Scene) -> None:
    if scene.console_users:
        return
    for name, (role, branches) in CONSOLE_USERS.items():
        where = [arg for branch in branches for arg in ("--branch", branch)]
        command = [
            sys.executable, "-m", "queueapp", "user", "add", name, "--role", role, *where,
            "--password-stdin", "--store", scene.server.store_url,
        ]  # fmt: skip
        subprocess.run(
            command, input=CONSOLE_PASSWORD + "\n", check=True, capture_output=True, text=True
        )
    scene.console_users = True


@contextmanager
def _console(scene: Scene, user: str, path: str, height: int = 900) -> Iterator[Page]:
    """A console page, signed in through /login as ``user``, its live feed connected."""
    _console_users(scene)
    with scene.page(viewport={"width": 1280, "height": height}, locale="en-GB") as page:
        scene.open(page, f"/login?next={quote(path)}")
        page.fill("#username", user)
        page.fill("#password", CONSOLE_PASSWORD)
        page.click(".login-form button[type=submit]")
        page.wait_for_load_state("networkidle")
        if not page.locator("#console-data").count():
            raise Skip(f"{path} is not a console page (yet)")
        page.locator("body[data-status='online']").wait_for()
        yield page


def console_counter(scene: Scene) -> bytes:
    with _console(scene, "sam", "/staff") as page:
        page.locator("#queue-summary:not(:empty)").wait_for()
        return _settle(page)


def console_door(scene: Scene) -> bytes:
    with _console(scene, "sam", "/staff/door") as page:
        page.locator("#inside:not(:text-is('\u2013'))").wait_for()
        png = _settle(page)
        # Afterwards, for the audit trail's picture: what door staff do in a day.
        page.locator(".enter-confirm").first.click()
        page.fill("#reason", "Courier")
        page.click("#add")
        page.locator("#toast:not(.hidden)").wait_for()
        return png


def console_overview(scene: Scene) -> bytes:
    with _console(scene, "maria", "/manage", height=1000) as page:
        for branch in (DEMO_ID, "riverside"):
            card = page.locator(f"[data-branch={branch}]")
            card.locator("[data-field=longest]:not(:text-is('\u2013'))").wait_for()
        return _settle(page)


def console_capacity(scene: Scene) -> bytes:
    """The capacity rules with an unsaved epidemic rule and the preview of what it gives."""
    with _console(scene, "maria", f"/manage/{DEMO_ID}?tab=settings", height=1000) as page:
        page.locator("#capacity-preview[data-limit]").wait_for()
        section = page.locator("#section-capacity")
        section.get_by_role("button", name="Add a scheduled rule").click()
        page.fill("#f-capacity-schedule-0-name", "Epidemic rule")
        page.fill("#f-capacity-schedule-0-rule-people_per_counter", "1")
        page.fill("#f-capacity-schedule-0-rule-maximum", "8")
        page.locator("#capacity-preview tr.in-force").nth(0).wait_for()
        page.wait_for_timeout(500)  # the preview follows the typing
        section.evaluate("(el) => window.scrollTo(0, el.offsetTop - 64)")
        return _settle(page)


def _make_display(page: Page, label: str) -> None:
    """Make a wall display in the devices tab, as a manager does, up to its pairing link."""
    page.fill("#device-label", label)
    page.select_option("#device-kind", "display")
    page.click("#device-form button[type=submit]")
    page.locator("#pairing:not(.hidden)").wait_for()


def console_devices(scene: Scene) -> bytes:
    with _console(scene, "maria", f"/manage/{DEMO_ID}?tab=devices") as page:
        _make_display(page, "Door display")
        page.locator("#devices tbody tr").nth(1).wait_for()
        return _settle(page)


def console_audit(scene: Scene) -> bytes:
    """Today's trail: a display made in this console, the kiosk pairing itself, the
    accounts made from the command line, and the counters' and door's work."""
    scene.kiosk_cookies()
    with _console(scene, "maria", f"/manage/{DEMO_ID}?tab=devices") as page:
        _make_display(page, "Hall display")
        page.click("#tab-audit")
        page.locator(".audit-item[data-type=access_changed]").first.wait_for()
        return _settle(page)


@dataclass(frozen=True)
class Shot:
    name: str
    what: str
    take: Callable[[Scene], bytes]


SHOTS = [
    Shot("kiosk-start", "the door kiosk, choosing a service", kiosk_start),
    Shot("kiosk-details", "the door kiosk: how many people, priority", kiosk_details),
    Shot("kiosk-result", "the door kiosk after issuing a ticket", kiosk_result),
    Shot("ticket-printed", "the printed ticket, 80 mm paper", printed_ticket),
    Shot("phone-join", "joining from a phone, two services with no counter open", phone_join),
    Shot("phone-ticket-waiting", "a visitor's ticket page on a phone, waiting", phone_waiting),
    Shot("phone-ticket-called", "a visitor's ticket page on a phone, called", phone_called),
    Shot("display-landscape", "the wall display, 1920 x 1080", display_landscape),
    Shot("display-portrait", "the wall display, portrait 1080 x 1920", display_portrait),
    Shot("display-door", "the door display: go / wait, who may enter, join QR", display_door),
    Shot("directory", "the public branch directory", directory),
    Shot("console-counter", "the counter console: its visitor, who waits", console_counter),
    Shot("console-door", "the door console: who may enter, people without a ticket", console_door),
    Shot("console-overview", "the manager console: every branch, live", console_overview),
    Shot("console-capacity", "the manager console: capacity rules, their limits", console_capacity),
    Shot("console-devices", "the manager console: pairing kiosks and displays", console_devices),
    Shot("console-audit", "the manager console: who did what, and when", console_audit),
]


# The scene ------------------------------------------------------------------


OTHER_BRANCHES = {
    "riverside": {"name": "Riverside customer centre", "address": "12 River Walk"},
    "north": {"name": "North customer centre", "address": "3 Hill Road"},
}
"""For the directory: one open and quieter than the demo, one closed today."""


def _branch_documents() -> list[dict[str, Any]]:
    demo = dump_config(demo_config())
    demo["capacity"] = {"default": {"people_per_counter": 2, "minimum": 1}}
    riverside = {**demo, "id": "riverside", **OTHER_BRANCHES["riverside"]}
    weekday = WEEKDAYS[datetime.now(ZoneInfo(demo["timezone"])).weekday()]
    office_hours = [{"open": "08:00", "close": "12:00"}, {"open": "13:00", "close": "17:00"}]
    north = {
        **demo,
        "id": "north",
        **OTHER_BRANCHES["north"],
        "hours": {day: office_hours for day in WEEKDAYS if day != weekday},
    }
    return [demo, riverside, north]


def seed(store_url: str) -> tuple[str, str | None]:
    """The demo branch (two people per open counter, so some may enter) and two more,
    a staff token, and a paired kiosk's pairing address when devices exist."""

    async def run() -> tuple[str, str | None]:
        store = await open_store(store_url)
        try:
            service = BranchService(store)
            for document in _branch_documents():
                await service.save_config(parse_config(document))
            staff, _ = await create_token(
                store, "staff", [DEMO_ID, *OTHER_BRANCHES], label="screenshots"
            )
            try:
                from queueapp.service.devices import create_device, pairing_path
            except ImportError:
                return staff, None
            device, code = await create_device(store, DEMO_ID, "kiosk", "Entrance")
            return staff, pairing_path(device, code)
        finally:
            await store.close()

    return asyncio.run(run())


def activity(scene: Scene) -> None:
    """A busy morning: three counters open, a dozen tickets, a few calls done."""
    for counter in ("1", "2", "3"):
        scene.counter(counter, "open")
    for service, lang, party in [
        ("A", "cs", 1), ("B", "en", 2), ("A", "vi", 1), ("A", "bg", 1), ("B", "cs", 1),
        ("A", "en", 1), ("A", "cs", 1), ("B", "en", 1), ("A", "en", 1), ("A", "cs", 1),
    ]:  # fmt: skip
        scene.issue(service, lang, party)
    current: dict[str, str] = {}
    for counter in ("1", "2", "3", "1", "2", "3"):
        if counter in current:
            number = current.pop(counter)
            scene.counter(counter, "start", number)
            scene.counter(counter, "done", number)
        called = scene.call_next(counter)
        if called:
            current[counter] = called
    scene.tickets["waiting"] = scene.issue("A")
    # The "called" phone: a payment plan, which only counter 4 serves.
    scene.tickets["called"] = scene.issue("D")
    scene.counter("4", "open")
    scene.call_next("4")
    for counter in ("1", "2"):
        scene.counter(counter, "open", branch="riverside")
    for service in ("A", "B", "A"):
        scene.issue(service, branch="riverside")


def write_index(folder: Path, shots: list[Shot]) -> None:
    """A README.md beside the pictures, so the folder shows them on a repository's page."""
    lines = [
        "# Screenshots",
        "",
        "Made by `scripts/screenshots` from the demo branch with some activity;",
        "run it again after changing a screen.",
        "",
    ]
    for shot in shots:
        lines += [
            f"## {shot.what[0].upper()}{shot.what[1:]}",
            "",
            f"![{shot.what}]({shot.name}.png)",
            "",
        ]
    (folder / "README.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=[s.name for s in SHOTS])
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium fonts-noto-core", file=sys.stderr)
        return 1
    folder: Path = args.folder
    folder.mkdir(parents=True, exist_ok=True)
    shots = [s for s in SHOTS if not args.only or s.name in args.only]
    taken, skipped = 0, 0
    with tempfile.TemporaryDirectory(prefix="queueapp-screenshots-") as tmp:
        store_url = f"sqlite:///{Path(tmp) / 'queueapp.db'}"
        staff_token, kiosk_pairing = seed(store_url)
        with (
            ServerProcess(store_url, Path(tmp)) as server,
            httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {staff_token}"}
            ) as staff,
            sync_playwright() as driver,
        ):
            browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            scene = Scene(server, browser, staff, kiosk_pairing)
            activity(scene)
            for shot in shots:
                started = time.monotonic()
                try:
                    png = shot.take(scene)
                except Skip as reason:
                    skipped += 1
                    print(f"  skipped  {shot.name}: {reason}")
                    continue
                path = folder / f"{shot.name}.png"
                path.write_bytes(png)
                taken += 1
                print(f"  {time.monotonic() - started:5.1f} s  {path}  ({shot.what})")
            browser.close()
    if not args.only:
        write_index(folder, [s for s in shots if (folder / f"{s.name}.png").exists()])
    print(f"{taken} screenshots in {folder}" + (f", {skipped} skipped" if skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
