"""Sign-in, sessions and CSRF: who may call the staff and manager routes, from pages and scripts.

The protected routes are read from the app itself: every ``/api/`` route
that is not listed in :data:`PUBLIC` must refuse strangers, people of other
branches, staff where a manager is needed, revoked tokens, and cookie
requests without their CSRF token. A route added later is checked the
moment it exists; a new public route has to be listed here on purpose.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from browsers import PASSWORD, Browser, csrf_of, sign_in
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from queueapp.service import accounts
from queueapp.service.access import create_token, list_tokens, revoke_token
from queueapp.web import pages_login
from queueapp.web.auth import page_context, require_page
from queueapp.web.pages import render
from queueapp.web.sessions import SESSION_COOKIE, SESSION_SECONDS

if TYPE_CHECKING:
    from tests.web.conftest import Api, FakeClock

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("cheap_hashing")]

DEMO = "demo"

PUBLIC = {
    ("GET", "/api/v1/branches"),
    ("GET", "/api/v1/branches/{branch}"),
    ("POST", "/api/v1/branches/{branch}/tickets"),
    ("GET", "/api/v1/tickets/{token}"),
    ("DELETE", "/api/v1/tickets/{token}"),
    ("POST", "/api/v1/tickets/{token}/delay"),
}
"""The API routes anyone may call: visitors, kiosks, displays."""

MANAGER_PREFIXES = (
    "/api/v1/branches/{branch}/config",
    "/api/v1/branches/{branch}/report",
    "/api/v1/tokens",
    "/api/v1/users",
)
EXPECTED = {
    ("POST", "/api/v1/branches/{branch}/counters/{counter}/{action}"),
    ("POST", "/api/v1/branches/{branch}/occupancy"),
    ("POST", "/api/v1/branches/{branch}/entries"),
    ("GET", "/api/v1/branches/{branch}/config"),
    ("PUT", "/api/v1/branches/{branch}/config"),
    ("GET", "/api/v1/branches/{branch}/report"),
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{id}"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("PATCH", "/api/v1/users/{name}"),
}
"""Routes that must be among the protected ones (so that the route scan cannot go blind)."""

BODIES: dict[str, Any] = {
    "/api/v1/tokens": {"role": "staff", "branches": [DEMO], "label": "test"},
    "/api/v1/users": {"name": "newbie", "role": "staff", "branches": [DEMO], "password": PASSWORD},
    "/api/v1/users/{name}": {"disabled": False},
    "/api/v1/branches/{branch}/occupancy": {"delta": 1, "reason": "courier"},
    "/api/v1/branches/{branch}/config": {"id": DEMO},
}


# Helpers -----------------------------------------------------------------------


def protected_routes(app: Starlette) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if isinstance(route, Route) and route.path.startswith("/api/"):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                if (method, route.path) not in PUBLIC:
                    found.append((method, route.path))
    return found


def is_manager_route(path: str) -> bool:
    return path.startswith(MANAGER_PREFIXES)


def concrete(path: str, token_id: str = "000000000000") -> str:
    values = {"branch": DEMO, "counter": "1", "action": "open", "id": token_id, "name": "dana"}
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "x"), path)


async def call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    token_id: str,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = BODIES.get(path)
    kwargs: dict[str, Any] = {"headers": headers or {}}
    if method not in ("GET", "DELETE") and body is not None:
        kwargs["json"] = body
    return await client.request(method, concrete(path, token_id), **kwargs)


def refusal(response: httpx.Response) -> tuple[int, str | None]:
    if not response.headers.get("content-type", "").startswith("application/json"):
        return response.status_code, None
    return response.status_code, response.json().get("error", {}).get("code")


async def demo_token(app: Starlette) -> str:
    _, token_id = await create_token(app.state.store, "staff", [DEMO], label="integration")
    return token_id


async def state_of(api: Api) -> tuple[Any, ...]:
    """What a refused request must leave as it was: the log, tokens, accounts."""
    store = api.app.state.store
    return (
        await api.log(),
        await list_tokens(store),
        [u.view() for u in await accounts.list_users(store)],
        (await api.client.get("/api/v1/branches/demo")).json()["version"],
    )


# Every protected route ---------------------------------------------------------


async def test_the_route_scan_sees_the_protected_routes(app: Starlette) -> None:
    found = set(protected_routes(app))

    assert found >= EXPECTED, EXPECTED - found
    for method, path in found:
        assert "{branch}" in path or path.startswith(("/api/v1/tokens", "/api/v1/users")), (
            f"{method} {path}: new protected route outside a branch; say here who may call it"
        )


async def test_no_session_and_bad_cookies_401(
    api: Api, people: None, browser: Browser, clock: FakeClock
) -> None:
    token_id = await demo_token(api.app)
    expired = await browser("root")
    clock.advance(seconds=SESSION_SECONDS + 1)
    strangers = {
        "no cookie": await browser(),
        "garbage cookie": await browser(),
        "forged cookie": await browser(),
        "expired session": expired,
    }
    strangers["garbage cookie"].cookies.set(SESSION_COOKIE, "x" * 500)
    strangers["forged cookie"].cookies.set(SESSION_COOKIE, "abc.def")
    before = await state_of(api)

    wrong = []
    for method, path in protected_routes(api.app):
        for label, client in strangers.items():
            response = await call(client, method, path, token_id)
            if refusal(response) != (401, "unauthorized"):
                wrong.append((label, method, path, response.status_code, response.text[:80]))

    assert not wrong
    assert await state_of(api) == before


async def test_people_of_another_branch_403(api: Api, people: None, browser: Browser) -> None:
    token_id = await demo_token(api.app)
    nora, nick = await browser("nora"), await browser("nick")
    before = await state_of(api)

    wrong = []
    for method, path in protected_routes(api.app):
        for label, client in (("nora", nora), ("nick", nick)):
            headers = {"X-CSRF-Token": await csrf_of(client)}
            response = await call(client, method, path, token_id, headers)
            listing = method == "GET" and "{branch}" not in path
            if listing and label == "nick":
                # A manager may list tokens and users, but sees nothing of other branches.
                assert response.status_code == 200, response.text
                items = next(iter(response.json().values()))
                assert all(DEMO not in item["branches"] for item in items), (path, items)
            elif refusal(response) != (403, "forbidden"):
                wrong.append((label, method, path, response.status_code, response.text[:80]))
        response = await call(
            api.client,
            method,
            path,
            token_id,
            {"Authorization": f"Bearer {api.tokens.other_staff}"},
        )
        if refusal(response) != (403, "forbidden"):
            wrong.append(("north token", method, path, response.status_code, response.text[:80]))

    assert not wrong
    assert await state_of(api) == before


async def test_staff_on_manager_routes_403(api: Api, people: None, browser: Browser) -> None:
    token_id = await demo_token(api.app)
    sam = await browser("sam")
    headers = {"X-CSRF-Token": await csrf_of(sam)}
    before = await state_of(api)

    wrong = []
    for method, path in protected_routes(api.app):
        if not is_manager_route(path):
            continue
        for label, client, extra in (
            ("session", sam, headers),
            ("token", api.client, {"Authorization": f"Bearer {api.tokens.staff}"}),
        ):
            response = await call(client, method, path, token_id, extra)
            if refusal(response) != (403, "forbidden"):
                wrong.append((label, method, path, response.status_code, response.text[:80]))

    assert not wrong
    assert await state_of(api) == before


async def test_a_revoked_token_401(api: Api) -> None:
    store = api.app.state.store
    token_id = await demo_token(api.app)
    admin, admin_id = await create_token(store, "admin", [], label="revoked-admin")
    assert await revoke_token(store, admin_id)
    before = await state_of(api)

    wrong = []
    for method, path in protected_routes(api.app):
        response = await call(
            api.client, method, path, token_id, {"Authorization": f"Bearer {admin}"}
        )
        if refusal(response) != (401, "unauthorized"):
            wrong.append((method, path, response.status_code, response.text[:80]))

    assert not wrong
    assert await state_of(api) == before


async def test_cookie_requests_need_the_csrf_token(
    api: Api, people: None, browser: Browser
) -> None:
    token_id = await demo_token(api.app)
    root = await browser("root")
    token = await csrf_of(root)
    forged = [
        {},
        {"X-CSRF-Token": ""},
        {"X-CSRF-Token": "not-the-token"},
        {"X-CSRF-Token": token, "Origin": "https://evil.example"},
        {"X-CSRF-Token": token, "Origin": "null"},
        {"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"},
    ]
    before = await state_of(api)

    wrong = []
    unsafe = [(m, p) for m, p in protected_routes(api.app) if m not in ("GET", "HEAD")]
    assert unsafe
    for method, path in unsafe:
        for headers in forged:
            response = await call(root, method, path, token_id, headers)
            if refusal(response) != (403, "csrf_failed"):
                wrong.append((headers, method, path, response.status_code, response.text[:80]))
    assert not wrong
    assert await state_of(api) == before

    # The same requests with the token (and our own origin) get past the check.
    for method, path in unsafe:
        headers = {"X-CSRF-Token": token, "Origin": "http://test"}
        response = await call(root, method, path, token_id, headers)
        assert response.status_code not in (401, 403), (method, path, response.text)


async def test_bearer_requests_need_no_csrf_token(api: Api) -> None:
    response = await api.client.post(
        "/api/v1/branches/demo/counters/1/open", headers=api.auth("staff")
    )
    assert response.status_code == 200, response.text


async def test_a_session_acts_in_the_users_name(api: Api, people: None, browser: Browser) -> None:
    sam = await browser("sam")

    response = await sam.post(
        "/api/v1/branches/demo/counters/1/open", headers={"X-CSRF-Token": await csrf_of(sam)}
    )

    assert response.status_code == 200, response.text
    assert (await api.log())[-1]["by"] == "user:sam"
    north = await sam.post(
        "/api/v1/branches/north/counters/1/open", headers={"X-CSRF-Token": await csrf_of(sam)}
    )
    assert api.refused(north, 403) == "forbidden"


async def test_staff_and_manager_pages_send_strangers_to_sign_in(
    app: Starlette, browser: Browser
) -> None:
    pages = [
        r.path
        for r in app.routes
        if isinstance(r, Route) and r.path.startswith(("/staff", "/manage"))
    ]
    stranger = await browser()
    for path in pages:
        response = await stranger.get(concrete(path))
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next="), path


# Sign-in -----------------------------------------------------------------------


async def test_signing_in_makes_a_new_session_and_ends_the_old(
    api: Api, people: None, browser: Browser
) -> None:
    client = await browser()
    client.cookies.set(SESSION_COOKIE, "planted-by-someone-else")

    first = await sign_in(client, "alice")
    assert first.status_code == 303
    alice = first.cookies[SESSION_COOKIE]
    assert alice != "planted-by-someone-else"
    set_cookie = first.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie and "path=/" in set_cookie
    assert "secure" not in set_cookie  # plain http here; https gets Secure
    assert (await client.get("/api/v1/users")).status_code == 200

    second = await sign_in(client, "alice")
    assert second.cookies[SESSION_COOKIE] != alice

    replay = await browser()
    replay.cookies.set(SESSION_COOKIE, alice)
    assert api.refused(await replay.get("/api/v1/users"), 401) == "unauthorized"
    assert (await client.get("/api/v1/users")).status_code == 200


async def test_the_cookie_is_secure_over_https(app: Starlette, people: None) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
        response = await sign_in(client, "alice")
    assert response.status_code == 303
    assert "secure" in response.headers["set-cookie"].lower()


async def test_signing_out_ends_the_session(api: Api, people: None, browser: Browser) -> None:
    sam = await browser("sam")
    cookie = sam.cookies[SESSION_COOKIE]
    forged = await sam.post("/logout", data={})
    assert forged.headers["location"] == "/login"
    assert (await sam.get("/api/v1/branches/demo/report")).status_code == 403  # still signed in

    response = await sam.post("/logout", data={"csrf_token": await csrf_of(sam)})

    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    replay = await browser()
    replay.cookies.set(SESSION_COOKIE, cookie)
    response = await replay.post("/api/v1/branches/demo/counters/1/open")
    assert api.refused(response, 401) == "unauthorized"


@pytest.mark.parametrize(
    "next_path",
    [
        "//evil.example",
        "//evil.example/manage",
        "https://evil.example",
        "http:/evil.example",
        "/\\evil.example",
        "/\\/evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/login",
        "",
    ],
)
async def test_no_open_redirect(people: None, browser: Browser, next_path: str) -> None:
    for user, home in (("alice", "/manage"), ("sam", "/staff")):
        response = await sign_in(await browser(), user, next_path=next_path)

        assert response.status_code == 303
        assert response.headers["location"] == home


async def test_a_local_next_is_followed(people: None, browser: Browser) -> None:
    response = await sign_in(await browser(), "alice", next_path="/manage/demo?tab=users")

    assert response.headers["location"] == "/manage/demo?tab=users"


async def test_a_foreign_sign_in_form_is_refused(app: Starlette, people: None) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        no_nonce = await client.post("/login", data={"username": "alice", "password": PASSWORD})
        assert no_nonce.status_code == 403
        page = await client.get("/login")
        nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
        assert nonce is not None
        form = {"username": "alice", "password": PASSWORD, "nonce": nonce.group(1)}
        cross = await client.post("/login", data=form, headers={"Origin": "https://evil.example"})
        assert cross.status_code == 403
        assert SESSION_COOKIE not in cross.cookies


async def test_failures_slow_down_then_429(
    people: None, browser: Browser, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(pages_login, "_sleep", record)
    client = await browser()
    unknown = await sign_in(client, "nobody-here", "wrong password")

    failures = [await sign_in(client, "alice", "wrong password") for _ in range(5)]

    assert [r.status_code for r in failures] == [401] * 5
    assert all("Wrong username or password." in r.text for r in failures)
    assert _message(unknown.text) == _message(failures[0].text)  # no hint the name exists
    assert waits == sorted(waits) and waits[-1] > waits[1] > 0
    refused = await sign_in(client, "alice")  # even with the right password
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert "Too many failed sign-in attempts. Try again in 15 minutes." in refused.text
    assert SESSION_COOKIE not in refused.cookies
    assert (await sign_in(client, "sam")).status_code == 303  # another name is not locked

    clock.advance(minutes=15)
    assert (await sign_in(client, "alice")).status_code == 303
    for _ in range(4):
        await sign_in(client, "alice", "wrong password")
    assert (await sign_in(client, "alice")).status_code == 303  # success started afresh


async def test_too_many_failures_from_one_address_429(
    people: None, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_wait(seconds: float) -> None:
        pass

    monkeypatch.setattr(pages_login, "_sleep", no_wait)
    client = await browser(address="10.1.2.3")
    for number in range(accounts.MAX_FAILURES_PER_ADDRESS):
        assert (await sign_in(client, f"guess{number}", "wrong password")).status_code == 401

    assert (await sign_in(client, "alice")).status_code == 429
    assert (await sign_in(await browser(address="10.9.9.9"), "alice")).status_code == 303


@pytest.mark.parametrize(
    ("usernames", "allowed"),
    [
        (["alice"] * (3 * accounts.MAX_FAILURES_PER_USER), accounts.MAX_FAILURES_PER_USER),
        (
            [f"guess{n}" for n in range(2 * accounts.MAX_FAILURES_PER_ADDRESS)],
            accounts.MAX_FAILURES_PER_ADDRESS,
        ),
    ],
    ids=["one username", "one address"],
)
async def test_concurrent_failures_get_exactly_the_allowed_attempts(
    people: None,
    browser: Browser,
    monkeypatch: pytest.MonkeyPatch,
    usernames: list[str],
    allowed: int,
) -> None:
    checked: list[str] = []
    verify = accounts.verify_password

    def counted(password: str, record: dict[str, Any]) -> bool:
        checked.append(password)
        return verify(password, record)

    async def no_wait(seconds: float) -> None:
        pass

    monkeypatch.setattr(accounts, "verify_password", counted)
    monkeypatch.setattr(pages_login, "_sleep", no_wait)
    attempts = [(await browser(address="10.1.2.3"), name) for name in usernames]

    responses = await asyncio.gather(
        *(sign_in(client, name, "wrong password") for client, name in attempts)
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [401] * allowed + [429] * (len(usernames) - allowed)
    assert len(checked) == allowed  # a refused attempt never reaches the password check
    assert (await sign_in(*attempts[0])).status_code == 429


def _message(page: str) -> str:
    match = re.search(r'role="alert">(.*?)</p>', page, re.S)
    assert match is not None
    return " ".join(match.group(1).split())


# Accounts changing under a session ---------------------------------------------


async def test_a_disabled_users_session_stops_working(
    api: Api, people: None, browser: Browser
) -> None:
    sam, alice = await browser("sam"), await browser("alice")
    open_counter = "/api/v1/branches/demo/counters/1/open"
    sam_csrf = {"X-CSRF-Token": await csrf_of(sam)}
    assert (await sam.post(open_counter, headers=sam_csrf)).status_code == 200

    disabled = await alice.patch(
        "/api/v1/users/sam", json={"disabled": True}, headers={"X-CSRF-Token": await csrf_of(alice)}
    )

    assert disabled.status_code == 200, disabled.text
    assert api.refused(await sam.post(open_counter, headers=sam_csrf), 401) == "unauthorized"
    again = await sign_in(await browser(), "sam")
    assert again.status_code == 401
    assert "This account is disabled." in again.text
    await alice.patch(
        "/api/v1/users/sam",
        json={"disabled": False},
        headers={"X-CSRF-Token": await csrf_of(alice)},
    )
    assert api.refused(await sam.post(open_counter, headers=sam_csrf), 401) == "unauthorized"
    assert (await sign_in(await browser(), "sam")).status_code == 303


async def test_a_new_password_ends_the_other_sessions(
    api: Api, people: None, browser: Browser
) -> None:
    sam, other = await browser("sam"), await browser("sam")
    new = "a much better passphrase"
    changed = await sam.patch(
        "/api/v1/users/sam",
        json={"password": new, "current_password": PASSWORD},
        headers={"X-CSRF-Token": await csrf_of(sam)},
    )
    assert changed.status_code == 200, changed.text

    assert api.refused(await other.get("/api/v1/branches/demo/report"), 401) == "unauthorized"
    assert (await sign_in(await browser(), "sam", new)).status_code == 303


async def test_role_changes_apply_to_live_sessions(
    api: Api, people: None, browser: Browser
) -> None:
    sam, root = await browser("sam"), await browser("root")
    assert api.refused(await sam.get("/api/v1/branches/demo/report"), 403) == "forbidden"

    promoted = await root.patch(
        "/api/v1/users/sam", json={"role": "manager"}, headers={"X-CSRF-Token": await csrf_of(root)}
    )

    assert promoted.status_code == 200, promoted.text
    assert (await sam.get("/api/v1/branches/demo/report")).status_code == 200


# The page guard ----------------------------------------------------------------


async def test_the_page_guard(app: Starlette, people: None, browser: Browser) -> None:
    async def manager_page(request: Request) -> Response:
        await require_page(request, "manager", request.path_params["branch"])
        if request.method == "POST":  # the guard read the form; the page still can
            return PlainTextResponse(str((await request.form())["note"]))
        return render(
            request, "login.html", "en", **_login_context(), **await page_context(request)
        )

    app.router.routes.append(Route("/test-manage/{branch}", manager_page, methods=["GET", "POST"]))

    stranger = await browser()
    response = await stranger.get("/test-manage/demo?tab=users")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/test-manage/demo%3Ftab%3Dusers"

    sam = await browser("sam")
    response = await sam.get("/test-manage/demo")
    assert response.status_code == 403
    assert "You are signed in as sam." in response.text

    alice = await browser("alice")
    response = await alice.get("/test-manage/demo")
    assert response.status_code == 200
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', response.text)
    assert token is not None
    assert (await alice.get("/test-manage/north")).status_code == 403
    assert (await alice.post("/test-manage/demo", data={})).status_code == 403
    posted = await alice.post(
        "/test-manage/demo", data={"csrf_token": token.group(1), "note": "hello"}
    )
    assert posted.status_code == 200
    assert posted.text == "hello"


def _login_context() -> dict[str, Any]:
    return {
        "action": "/login",
        "next_path": "",
        "username": "",
        "nonce": "",
        "error": None,
        "minutes": 0,
        "needs_role": "",
        "signed_out": False,
        "language_links": [],
    }
