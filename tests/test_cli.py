"""The ``queueapp`` command, run in process against a SQLite file of the test's own."""

from __future__ import annotations

import asyncio
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml

from queueapp.cli import main
from queueapp.configfile import read_config
from queueapp.domain.config import dump_config
from queueapp.service.access import Principal, verify_token
from queueapp.service.accounts import authenticate
from queueapp.service.branches import BranchService
from queueapp.service.devices import pair_device
from queueapp.store import Stream, open_store

RIVERSIDE_YAML = """\
# Times are unquoted on purpose: YAML 1.1 would read 12:00 as 720.
id: riverside
name: Riverside office
timezone: Europe/Prague
languages: [en, cs]
counters:
  - id: "1"
    services: [A]
  - id: "2"
    services: [A, B]
services:
  - letter: A
    names: {en: Payments, cs: Platby}
  - letter: B
    names: {en: Contracts, cs: Smlouvy}
    daily_cap: 30
hours:
  mon:
    - open: 08:00
      close: 12:00
    - open: 13:00
      close: 17:30
  sat:
    - {open: 09:00, close: 11:00}
capacity:
  default: {people_per_counter: 2, minimum: 1}
"""


@pytest.fixture
def riverside(tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]) -> Path:
    """The riverside branch, imported from YAML."""
    path = tmp_path / "riverside.yaml"
    path.write_text(RIVERSIDE_YAML, encoding="utf-8")
    assert main(["branch", "import", str(path), "--store", store_url]) == 0
    assert "branch 'riverside' saved (revision 1)" in capsys.readouterr().err
    return path


def verify(store_url: str, token: str) -> Principal | None:
    async def work() -> Principal | None:
        store = await open_store(store_url)
        try:
            return await verify_token(store, token)
        finally:
            await store.close()

    return asyncio.run(work())


def create_token(store_url: str, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["token", "create", *args, "--store", store_url]) == 0
    out = capsys.readouterr().out
    [token] = out.splitlines()
    return token


@pytest.mark.usefixtures("riverside")
def test_export_keeps_clock_times(
    tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.json"
    assert main(["branch", "export", "riverside", str(out), "--store", store_url]) == 0

    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["hours"]["mon"] == [
        {"open": "08:00:00", "close": "12:00:00"},
        {"open": "13:00:00", "close": "17:30:00"},
    ]
    assert document["hours"]["sat"] == [{"open": "09:00:00", "close": "11:00:00"}]
    assert "revision" not in document
    assert f"wrote {out}" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_export_import_round_trips(
    riverside: Path,
    tmp_path: Path,
    store_url: str,
    capsys: pytest.CaptureFixture[str],
    suffix: str,
) -> None:
    exported = tmp_path / f"exported{suffix}"
    assert main(["branch", "export", "riverside", str(exported), "--store", store_url]) == 0
    if suffix == ".yaml":
        assert yaml.safe_load(exported.read_text(encoding="utf-8"))["id"] == "riverside"
    else:
        assert json.loads(exported.read_text(encoding="utf-8"))["id"] == "riverside"
    other_store = f"sqlite:///{tmp_path / 'other.db'}"

    assert main(["branch", "import", str(exported), "--store", other_store]) == 0
    assert main(["branch", "export", "riverside", "--store", other_store]) == 0

    again = capsys.readouterr().out
    assert yaml.safe_load(again)["hours"]["mon"][0]["close"] == "12:00:00"
    assert read_config(exported) == read_config(riverside)
    assert dump_config(read_config(exported)) == dump_config(read_config(riverside))


@pytest.mark.usefixtures("riverside")
def test_export_to_stdout_is_yaml(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["branch", "export", "riverside", "--store", store_url]) == 0

    document = yaml.safe_load(capsys.readouterr().out)
    assert document["name"] == "Riverside office"
    assert document["services"][1]["daily_cap"] == 30


def test_reimport_makes_a_new_revision(
    riverside: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["branch", "import", str(riverside), "--store", store_url]) == 0

    assert "revision 2" in capsys.readouterr().err


def test_export_of_an_unknown_branch(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["branch", "export", "nowhere", "--store", store_url]) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert "There is no branch 'nowhere'" in captured.err


@pytest.mark.usefixtures("riverside")
def test_token_create_prints_a_working_token(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    token = create_token(store_url, capsys, "--role", "staff", "--branch", "riverside")

    who = verify(store_url, token)
    assert who is not None
    assert (who.role, who.branches) == ("staff", frozenset({"riverside"}))
    assert who.may("staff", "riverside") and not who.may("staff", "elsewhere")
    assert not who.may("manager", "riverside")
    assert verify(store_url, token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_token_for_an_unknown_branch_fails(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["token", "create", "--role", "staff", "--branch", "nowhere", "--store", store_url])

    assert code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "There is no branch 'nowhere'" in captured.err
    assert main(["token", "list", "--store", store_url]) == 0
    assert capsys.readouterr().out == ""


def test_a_staff_token_needs_a_branch(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "create", "--role", "staff", "--store", store_url]) == 1

    assert "needs at least one branch" in capsys.readouterr().err


@pytest.mark.usefixtures("riverside")
def test_token_list_and_revoke(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    staff = create_token(
        store_url, capsys, "--role", "staff", "--branch", "riverside", "--label", "desk-1"
    )
    admin = create_token(store_url, capsys, "--role", "admin", "--label", "ops")

    assert main(["token", "list", "--store", store_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    staff_line, admin_line = lines
    assert staff_line.split()[1:] == ["staff", "riverside", "active", "desk-1"]
    assert admin_line.split()[1:] == ["admin", "*", "active", "ops"]
    staff_id = staff_line.split()[0]
    assert staff not in staff_line  # the token itself is shown once, never listed

    assert main(["token", "revoke", staff_id, "--store", store_url]) == 0
    assert f"token {staff_id} revoked" in capsys.readouterr().err
    assert verify(store_url, staff) is None
    assert verify(store_url, admin) is not None
    assert main(["token", "list", "--store", store_url]) == 0
    assert capsys.readouterr().out.splitlines()[0].split()[3] == "revoked"


def test_revoking_an_unknown_id_fails(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "revoke", "0123456789ab", "--store", store_url]) == 1

    assert "no token with id '0123456789ab'" in capsys.readouterr().err


BAD_CONFIGS = {
    "problems.yaml": (
        RIVERSIDE_YAML.replace("Europe/Prague", "Mars/Olympus").replace("[A, B]", "[A, Q]"),
        ["timezone: unknown time zone 'Mars/Olympus'", "counters.2: unknown services Q"],
    ),
    "unknown-key.yaml": (RIVERSIDE_YAML + "colour: red\n", ["colour: Unexpected keyword"]),
    "hours.yaml": (
        RIVERSIDE_YAML.replace("close: 12:00", "close: 07:00"),
        ["hours.mon.0", "must close after it opens"],
    ),
    "list.yaml": ("- just\n- a list\n", ["config"]),
    "empty.yaml": ("", ["config"]),
    "broken.json": ('{"id": "riverside",', ["Expecting property name"]),
    "broken.yaml": ("id: [riverside\nname: {", ["broken.yaml", "line 2"]),
}


@pytest.mark.parametrize("name", BAD_CONFIGS)
def test_a_bad_config_file_lists_its_problems(
    name: str, tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text, problems = BAD_CONFIGS[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")

    assert main(["branch", "import", str(path), "--store", store_url]) == 1

    err = capsys.readouterr().err
    assert err.startswith("queueapp: ")
    assert "Traceback" not in err
    for problem in problems:
        assert problem in err
    assert main(["branch", "export", "riverside", "--store", store_url]) == 1


def test_a_missing_config_file(
    tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.yaml"

    assert main(["branch", "import", str(missing), "--store", store_url]) == 1

    assert "missing.yaml" in capsys.readouterr().err


def test_several_workers_need_redis(
    store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_server(*args: object, **kwargs: object) -> None:
        pytest.fail("a server was started")

    monkeypatch.setattr(uvicorn, "run", no_server)

    assert main(["serve", "--workers", "2", "--store", store_url]) == 1

    assert "Redis" in capsys.readouterr().err


def test_an_unsupported_store_url(capsys: pytest.CaptureFixture[str], store_url: str) -> None:
    assert main(["token", "list", "--store", "postgres://db/queue"]) == 1

    assert "unsupported store URL" in capsys.readouterr().err


def test_the_demo_seeds_once_with_a_kiosk_link_and_a_login(
    store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: served.append(kwargs))

    assert main(["serve", "--demo", "--store", store_url]) == 0
    first = capsys.readouterr().err
    assert main(["serve", "--demo", "--store", store_url]) == 0
    again = capsys.readouterr().err

    assert "seeded demo branch 'demo'" in first
    assert "already exists" in again
    assert "/b/demo/display" in first and "/b/demo/join" in first
    pairing = re.search(r"/b/demo/kiosk\?pair=(\S+)", first)
    login = re.search(r"as manager / (\S+)", first)
    assert pairing and login, first
    assert "?pair=" not in again and "as manager /" not in again

    async def check() -> None:
        store = await open_store(store_url)
        try:
            assert await authenticate(store, "manager", login.group(1)) is not None
            assert await pair_device(store, pairing.group(1)) is not None
        finally:
            await store.close()

    asyncio.run(check())
    assert len(served) == 2


def todays_log(store_url: str, branch: str) -> list[dict[str, Any]]:
    """The branch's event log of today, as stored."""

    async def work() -> list[dict[str, Any]]:
        store = await open_store(store_url)
        try:
            day = (await BranchService(store).state(branch)).day
            return [e.data for e in await store.read(Stream(branch, day))]
        finally:
            await store.close()

    return asyncio.run(work())


def test_access_changes_from_the_command_line_are_on_record(
    demo_store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = ["--store", demo_store_url]
    token = create_token(demo_store_url, capsys, "--role", "staff", "--branch", "demo")
    assert main(["token", "list", *url]) == 0
    token_id = capsys.readouterr().out.split()[0]
    assert main(["token", "revoke", token_id, *url]) == 0
    assert (
        main(["device", "create", "--branch", "demo", "--kind", "display", "--label", "Hall", *url])
        == 0
    )
    link = capsys.readouterr().out.strip()
    device_id = link.split("pair=")[1].split(".")[0]
    assert main(["device", "revoke", device_id, *url]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\nanother passphrase\n"))
    assert (
        main(
            ["user", "add", "ada", "--role", "staff", "--branch", "demo", "--password-stdin", *url]
        )
        == 0
    )
    assert main(["user", "disable", "ada", *url]) == 0
    assert main(["user", "enable", "ada", *url]) == 0
    assert main(["user", "password", "ada", "--password-stdin", *url]) == 0

    log = todays_log(demo_store_url, "demo")

    changes = [e for e in log if e["type"] == "access_changed"]
    assert [(e["by"], e["subject"], e["action"], e["id"]) for e in changes] == [
        ("cli", "token", "created", token_id),
        ("cli", "token", "revoked", token_id),
        ("cli", "device", "created", device_id),
        ("cli", "device", "revoked", device_id),
        ("cli", "user", "created", "ada"),
        ("cli", "user", "disabled", "ada"),
        ("cli", "user", "enabled", "ada"),
        ("cli", "user", "password_changed", "ada"),
    ]
    assert (changes[2]["kind"], changes[2]["label"]) == ("display", "Hall")
    stored = json.dumps(log)
    for secret in (token, link.split("pair=")[1], "correct horse battery", "another passphrase"):
        assert secret not in stored
