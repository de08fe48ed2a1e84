"""Browser tests: Debian's Chromium driven by Playwright against a real server process.

Playwright's own browser download does not work offline, so the tests use
the system Chromium (``scripts/test`` installs it where missing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from queueapp.demo import demo_config
from queueapp.service.access import create_token
from queueapp.service.branches import BranchService
from queueapp.store import open_store
from queueapp.testing import CHROMIUM, CHROMIUM_FLAGS, PHONE, ServerProcess

__all__ = ["CHROMIUM", "CHROMIUM_FLAGS", "PHONE"]  # from queueapp.testing, shared with scripts


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Per module: a running sync Playwright holds an event loop that async tests after it
    could not run beside, so it must stop when the browser tests do."""
    if not CHROMIUM.exists():
        pytest.fail(
            "Chromium is missing: run scripts/test, which installs it (apt-get install chromium)"
        )
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
    yield browser
    browser.close()


class Site:
    """A running server with the demo branch, and a staff token to drive it like a counter."""

    def __init__(self, server: ServerProcess, staff_token: str, manager_token: str) -> None:
        self.server = server
        self.url = server.url
        self.staff = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {staff_token}"}
        )
        self.manager = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {manager_token}"}
        )

    def counter(self, counter: str, action: str, **body: str) -> httpx.Response:
        response = self.staff.post(
            f"/api/v1/branches/demo/counters/{counter}/{action}", json=body or None
        )
        response.raise_for_status()
        return response

    def close(self) -> None:
        self.staff.close()
        self.manager.close()


def seed_demo(store_url: str) -> tuple[str, str]:
    async def seed() -> tuple[str, str]:
        store = await open_store(store_url)
        try:
            await BranchService(store).save_config(demo_config())
            staff, _ = await create_token(store, "staff", ["demo"], label="browser-tests")
            manager, _ = await create_token(store, "manager", ["demo"], label="browser-tests")
            return staff, manager
        finally:
            await store.close()

    # Playwright's sync API keeps an event loop running in this thread, so the
    # seeding gets a thread (and a loop) of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, seed()).result()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    store_url = f"sqlite:///{tmp_path / 'queueapp.db'}"
    staff, manager = seed_demo(store_url)
    with ServerProcess(store_url, tmp_path, env={"QUEUEAPP_TICK_INTERVAL": "0.5"}) as server:
        site = Site(server, staff, manager)
        yield site
        site.close()
