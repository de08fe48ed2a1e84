"""Browser-like clients for the web tests: people sign in through /login as a browser does,
and send the page's CSRF token with what they change."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx

PASSWORD = "correct horse battery"
"""Every test account's password."""

PEOPLE = {
    "alice": ("manager", ["demo"]),
    "sam": ("staff", ["demo"]),
    "dana": ("staff", ["demo"]),
    "nora": ("staff", ["north"]),
    "nick": ("manager", ["north"]),
    "root": ("admin", []),
}
"""The accounts of the ``people`` fixture: name to role and branches."""

Browser = Callable[..., Awaitable[httpx.AsyncClient]]
"""``browser()`` opens a client with its own cookie jar; ``browser("sam")`` is signed in."""


async def sign_in(
    client: httpx.AsyncClient, user: str, password: str = PASSWORD, next_path: str | None = None
) -> httpx.Response:
    """Open the sign-in page and post its form, as a browser does."""
    page = await client.get("/login")
    assert page.status_code == 200
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
    assert nonce is not None
    form = {"username": user, "password": password, "nonce": nonce.group(1)}
    if next_path is not None:
        form["next"] = next_path
    return await client.post("/login", data=form)


async def csrf_of(client: httpx.AsyncClient) -> str:
    """The CSRF token a page of this browser's session carries."""
    page = await client.get("/login")
    match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert match is not None, "the page has no CSRF token: not signed in?"
    return match.group(1)


async def csrf_headers(client: httpx.AsyncClient) -> dict[str, str]:
    """The header that carries :func:`csrf_of` with a request."""
    return {"X-CSRF-Token": await csrf_of(client)}
