"""Accounts: password hashing, the ``queueapp user`` command, and who may manage whom."""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from browsers import PASSWORD, Browser, csrf_headers

from queueapp.cli import main
from queueapp.service import accounts
from queueapp.service.access import create_token
from queueapp.store import open_store

if TYPE_CHECKING:
    from tests.web.conftest import Api

# Hashing -----------------------------------------------------------------------


def test_a_hash_verifies_its_password_only() -> None:
    record = accounts.hash_password(PASSWORD)

    assert accounts.verify_password(PASSWORD, record)
    assert not accounts.verify_password(PASSWORD + " ", record)
    assert not accounts.verify_password("", record)
    assert accounts.hash_password(PASSWORD)["hash"] != record["hash"]  # salted


def test_a_hash_keeps_its_parameters() -> None:
    record = accounts.hash_password(PASSWORD)

    assert record["kdf"] == "scrypt"
    assert (record["n"], record["r"], record["p"]) == (2**14, 8, 1)
    assert len(bytes.fromhex(record["salt"])) == 16
    assert len(bytes.fromhex(record["hash"])) == 32
    assert not accounts.needs_rehash(record)
    weaker = {**record, "n": 2**12}
    assert accounts.needs_rehash(weaker)


def test_passwords_out_of_bounds_are_refused() -> None:
    for password in ("short", "x" * (accounts.MAX_PASSWORD + 1)):
        with pytest.raises(accounts.AccountError) as refused:
            accounts.hash_password(password)
        assert refused.value.code == "weak_password"
    assert not accounts.verify_password("x" * 5000, accounts.hash_password(PASSWORD))


@pytest.mark.anyio
async def test_stored_accounts_hold_no_password_and_upgrade_their_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        user = await accounts.create_user(store, "Ada", "staff", ["demo"], PASSWORD)
        assert user.name == "ada" and user.principal.name == "user:ada"
        document = await store.get_document(accounts.USER_DOCS, "ada")
        assert document is not None
        assert PASSWORD not in repr(document)
        assert document["password"]["n"] == 2**14

        monkeypatch.setattr(accounts, "SCRYPT_N", 2**15)
        assert await accounts.authenticate(store, "ADA ", "wrong password") is None
        assert (await store.get_document(accounts.USER_DOCS, "ada") or {})["password"]["n"] == 2**14
        assert await accounts.authenticate(store, "ADA ", PASSWORD) == user
        upgraded = await store.get_document(accounts.USER_DOCS, "ada")
        assert upgraded is not None and upgraded["password"]["n"] == 2**15
        assert await accounts.authenticate(store, "ada", PASSWORD) == user
    finally:
        await store.close()


@pytest.mark.anyio
async def test_hashing_runs_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[bool] = []
    original = accounts._scrypt

    def spy(*args: Any) -> bytes:
        threads.append(threading.current_thread() is threading.main_thread())
        return original(*args)

    monkeypatch.setattr(accounts, "_scrypt", spy)
    store = await open_store(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        await accounts.create_user(store, "ada", "staff", ["demo"], PASSWORD)
        await accounts.authenticate(store, "ada", PASSWORD)
        await accounts.authenticate(store, "nobody", PASSWORD)  # the decoy, too
        await accounts.update_user(store, "ada", password="another passphrase")
    finally:
        await store.close()

    assert len(threads) >= 4
    assert not any(threads), "scrypt ran on the event loop's thread"


# The command line --------------------------------------------------------------


def _user(url: str, name: str, password: str | None = None) -> tuple[Any, Any]:
    async def read() -> tuple[Any, Any]:
        store = await open_store(url)
        try:
            user = await accounts.get_user(store, name)
            checked = (
                None if password is None else await accounts.authenticate(store, name, password)
            )
            return user, checked
        finally:
            await store.close()

    return asyncio.run(read())


def test_cli_user_add_reads_the_password_from_stdin(
    demo_store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))

    code = main(
        ["user", "add", "Ada", "--role", "staff", "--branch", "demo", "--password-stdin",
         "--store", demo_store_url]
    )  # fmt: skip

    assert code == 0
    assert "account ada created (staff of demo)" in capsys.readouterr().err
    user, checked = _user(demo_store_url, "ada", PASSWORD)
    assert user.role == "staff" and user.branches == {"demo"} and checked == user

    assert main(["user", "list", "--store", demo_store_url]) == 0
    assert capsys.readouterr().out.split() == ["ada", "staff", "demo", "active"]


def test_cli_user_add_refuses_clearly(
    demo_store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def add(*extra: str, stdin: str = PASSWORD + "\n") -> tuple[int, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(["user", "add", *extra, "--password-stdin", "--store", demo_store_url])
        return code, capsys.readouterr().err

    assert add("ada", "--role", "staff", "--branch", "demo")[0] == 0
    code, err = add("ADA", "--role", "staff", "--branch", "demo")
    assert code == 1 and "already an account named 'ada'" in err
    code, err = add("bob", "--role", "staff")
    assert code == 1 and "needs at least one branch" in err
    code, err = add("bob", "--role", "staff", "--branch", "nowhere")
    assert code == 1 and "nowhere" in err
    code, err = add("bob", "--role", "staff", "--branch", "demo", stdin="short\n")
    assert code == 1 and "8 to 1024 characters" in err
    code, err = add("bad name!", "--role", "admin")
    assert code == 1 and "username" in err
    assert _user(demo_store_url, "bob")[0] is None


def test_cli_user_add_asks_twice(
    demo_store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter([PASSWORD, "something else"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))

    assert main(["user", "add", "root", "--role", "admin", "--store", demo_store_url]) == 1
    assert "the two passwords differ" in capsys.readouterr().err

    answers = iter([PASSWORD, PASSWORD])
    assert main(["user", "add", "root", "--role", "admin", "--store", demo_store_url]) == 0
    user, checked = _user(demo_store_url, "root", PASSWORD)
    assert user.role == "admin" and user.branches == frozenset() and checked == user


def test_cli_user_disable_and_password(
    demo_store_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    main(["user", "add", "ada", "--role", "manager", "--branch", "demo", "--password-stdin",
          "--store", demo_store_url])  # fmt: skip

    assert main(["user", "disable", "ada", "--store", demo_store_url]) == 0
    assert "ada disabled" in capsys.readouterr().err
    user, _ = _user(demo_store_url, "ada")
    assert user.disabled and user.generation == 1
    assert main(["user", "enable", "ada", "--store", demo_store_url]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a new passphrase\n"))
    assert main(["user", "password", "ada", "--password-stdin", "--store", demo_store_url]) == 0
    assert "sessions have ended" in capsys.readouterr().err
    user, checked = _user(demo_store_url, "ada", "a new passphrase")
    assert not user.disabled and user.generation == 2 and checked == user
    assert main(["user", "disable", "nobody", "--store", demo_store_url]) == 1
    assert "no account named 'nobody'" in capsys.readouterr().err


# Who may manage whom -----------------------------------------------------------


async def _people(api: Api) -> None:
    store = api.app.state.store
    await accounts.create_user(store, "alice", "manager", ["demo"], PASSWORD)
    await accounts.create_user(store, "sam", "staff", ["demo"], PASSWORD)
    await accounts.create_user(store, "nora", "staff", ["north"], PASSWORD)
    await accounts.create_user(store, "both", "staff", ["demo", "north"], PASSWORD)
    await accounts.create_user(store, "root", "admin", [], PASSWORD)


def _user_body(name: str, role: str, *branches: str, password: str = PASSWORD) -> dict[str, Any]:
    return {"name": name, "role": role, "branches": list(branches), "password": password}


@pytest.mark.anyio
async def test_a_manager_creates_accounts_for_their_branches_only(api: Api) -> None:
    await _people(api)
    manager = api.auth("manager")  # a token of a demo manager

    async def create(body: dict[str, Any], headers: dict[str, str] = manager) -> httpx.Response:
        return await api.client.post("/api/v1/users", json=body, headers=headers)

    created = await create(_user_body("Kim", "staff", "demo"))
    assert created.status_code == 201, created.text
    assert created.json() == {
        "name": "kim", "role": "staff", "branches": ["demo"], "disabled": False,
        "created_at": created.json()["created_at"],
    }  # fmt: skip
    assert (await create(_user_body("lee", "manager", "demo"))).status_code == 201
    for body in (
        _user_body("x1", "staff", "north"),
        _user_body("x2", "staff", "demo", "north"),
        _user_body("x3", "manager", "north"),
        _user_body("x4", "admin"),
        _user_body("x5", "staff", "nowhere"),
    ):
        assert api.refused(await create(body), 403) == "forbidden", body
    assert api.refused(await create(_user_body("x6", "staff", "demo"), api.auth("staff")), 403)
    assert api.refused(await create(_user_body("kim", "staff", "demo")), 409) == "user_exists"
    weak = _user_body("x7", "staff", "demo", password="short")
    assert api.refused(await create(weak), 422) == "weak_password"
    bad_name = _user_body("no spaces", "staff", "demo")
    assert api.refused(await create(bad_name), 422) == "invalid_username"
    admin = api.auth("admin")
    assert (await create(_user_body("x8", "admin"), admin)).status_code == 201
    assert api.refused(await create(_user_body("x9", "staff", "nowhere"), admin), 422)

    listed = (await api.client.get("/api/v1/users", headers=manager)).json()["users"]
    assert [u["name"] for u in listed] == ["alice", "kim", "lee", "sam"]
    everyone = (await api.client.get("/api/v1/users", headers=admin)).json()["users"]
    assert len(everyone) == 8
    assert all("password" not in u for u in everyone)


@pytest.mark.anyio
async def test_a_manager_changes_accounts_of_their_branches_only(api: Api) -> None:
    await _people(api)
    manager = api.auth("manager")

    async def patch(name: str, headers: dict[str, str] = manager, **body: Any) -> httpx.Response:
        return await api.client.patch(f"/api/v1/users/{name}", json=body, headers=headers)

    disabled = await patch("sam", disabled=True)
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert (await patch("sam", disabled=False, password="a new passphrase")).status_code == 200
    assert (await patch("sam", role="manager")).json()["role"] == "manager"
    for name, body in (
        ("nora", {"disabled": True}),
        ("both", {"disabled": True}),  # also in a branch this manager does not run
        ("root", {"password": "taken over!"}),
        ("sam", {"role": "admin"}),
        ("sam", {"branches": ["north"]}),
        ("sam", {"branches": ["demo", "north"]}),
    ):
        assert api.refused(await patch(name, **body), 403) == "forbidden", (name, body)
    assert api.refused(await patch("nobody", disabled=True), 404) == "unknown_user"
    assert api.refused(await patch("sam", branches=[]), 403) == "forbidden"
    staff = api.auth("staff")
    assert api.refused(await patch("alice", staff, disabled=True), 403) == "forbidden"
    assert api.refused(await patch("nobody", staff, disabled=True), 403) == "forbidden"

    admin = api.auth("admin")
    moved = await patch("nora", admin, branches=["demo", "north"])
    assert moved.json()["branches"] == ["demo", "north"]
    assert api.refused(await patch("nora", admin, branches=["nowhere"]), 422) == "unknown_branch"
    assert api.refused(await patch("nora", admin, branches=[]), 422) == "branch_required"


@pytest.mark.anyio
async def test_nobody_changes_their_own_role_or_disables_themselves(
    api: Api, browser: Browser
) -> None:
    await _people(api)
    alice = await browser("alice")
    csrf = await csrf_headers(alice)

    async def patch(**body: Any) -> httpx.Response:
        return await alice.patch("/api/v1/users/alice", json=body, headers=csrf)

    assert api.refused(await patch(role="staff"), 403) == "own_account"
    assert api.refused(await patch(disabled=True), 403) == "own_account"
    assert api.refused(await patch(password="new passphrase"), 403) == "wrong_password"
    wrong = await patch(password="new passphrase", current_password="not it at all")
    assert api.refused(wrong, 403) == "wrong_password"
    changed = await patch(password="new passphrase", current_password=PASSWORD)
    assert changed.status_code == 200, changed.text
    assert (await patch(role="manager", branches=["demo"])).status_code == 401  # signed out

    assert await accounts.authenticate(api.app.state.store, "alice", "new passphrase")


@pytest.mark.anyio
async def test_token_scoping(api: Api) -> None:
    store = api.app.state.store
    _, north_id = await create_token(store, "staff", ["north"], label="north display feed")
    manager, admin = api.auth("manager"), api.auth("admin")

    created = await api.client.post(
        "/api/v1/tokens",
        json={"role": "staff", "branches": ["demo"], "label": "queue board"},
        headers=manager,
    )
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    token, token_id = created.json()["token"], created.json()["id"]
    opened = await api.client.post(
        "/api/v1/branches/demo/counters/1/open", headers={"Authorization": f"Bearer {token}"}
    )
    assert opened.status_code == 200

    listed = await api.client.get("/api/v1/tokens", headers=manager)
    assert token not in listed.text
    labels = {t["label"] for t in listed.json()["tokens"]}
    assert labels == {"staff", "manager", "queue board"}
    assert set(listed.json()["tokens"][0]) == {
        "id", "role", "branches", "label", "created_at", "revoked",
    }  # fmt: skip
    every = (await api.client.get("/api/v1/tokens", headers=admin)).json()["tokens"]
    assert {t["label"] for t in every} >= {"admin", "north-staff", "north display feed"}

    for body in (
        {"role": "admin"},
        {"role": "staff", "branches": ["north"]},
        {"role": "manager", "branches": ["demo", "north"]},
        {"role": "staff", "branches": []},
    ):
        response = await api.client.post("/api/v1/tokens", json=body, headers=manager)
        assert api.refused(response, 403) == "forbidden", body
    refused = await api.client.delete(f"/api/v1/tokens/{north_id}", headers=manager)
    assert api.refused(refused, 403) == "forbidden"
    missing = await api.client.delete("/api/v1/tokens/abcdefabcdef", headers=manager)
    assert api.refused(missing, 404) == "unknown_token"

    revoked = await api.client.delete(f"/api/v1/tokens/{token_id}", headers=manager)
    assert revoked.json() == {"id": token_id, "revoked": True}
    paused = await api.client.post(
        "/api/v1/branches/demo/counters/1/pause", headers={"Authorization": f"Bearer {token}"}
    )
    assert api.refused(paused, 401) == "unauthorized"
    assert (await api.client.delete(f"/api/v1/tokens/{north_id}", headers=admin)).status_code == 200
