"""The ``queueapp`` command: serve, accounts, tokens, paired devices, branch configuration files."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from queueapp.configfile import read_config, render_config
from queueapp.demo import DEMO_ID, demo_config
from queueapp.domain.config import ConfigError
from queueapp.domain.errors import DomainError, NotFound
from queueapp.service import accounts
from queueapp.service.access import CACHE_SECONDS, ROLES, TokenCache, list_tokens
from queueapp.service.access_changes import CLI, AccessChanges
from queueapp.service.branches import BranchService
from queueapp.service.devices import KINDS, list_devices, pairing_path
from queueapp.settings import DEFAULT_STORE, Settings
from queueapp.store import EventStore, StoreError, open_store


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        result: int = args.run(args)
        return result
    except (ConfigError, DomainError, StoreError, ValueError, OSError) as exc:
        print(f"queueapp: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    store_help = f"event store URL (default: $QUEUEAPP_STORE, else {DEFAULT_STORE})"
    parser = argparse.ArgumentParser(
        prog="queueapp",
        description="Visitor capacity and queue manager for customer-service branches.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the web service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--store", help=store_help)
    serve.add_argument("--workers", type=int, default=1, help="processes (needs the Redis store)")
    serve.add_argument("--demo", action="store_true", help="seed the demo branch if it is absent")
    serve.add_argument("--access-log", action="store_true", help="log every HTTP request")
    serve.set_defaults(run=_serve)

    token = commands.add_parser("token", help="bearer tokens for scripts and integrations")
    token_commands = token.add_subparsers(required=True, metavar="ACTION")
    create = token_commands.add_parser("create", help="make a token and print it (shown once)")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--branch", action="append", default=[], help="repeat for several")
    create.add_argument("--label", default="", help="who or what the token is for")
    create.add_argument("--store", help=store_help)
    create.set_defaults(run=_token_create)
    listing = token_commands.add_parser("list", help="list tokens (ids, roles, branches)")
    listing.add_argument("--store", help=store_help)
    listing.set_defaults(run=_token_list)
    revoke = token_commands.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id")
    revoke.add_argument("--store", help=store_help)
    revoke.set_defaults(run=_token_revoke)

    _user_parsers(commands, store_help)

    device = commands.add_parser("device", help="kiosks and displays paired to a branch")
    device_commands = device.add_subparsers(required=True, metavar="ACTION")
    pair = device_commands.add_parser("create", help="make a device and print its pairing link")
    pair.add_argument("--branch", required=True)
    pair.add_argument("--kind", required=True, choices=KINDS)
    pair.add_argument("--label", default="", help="where the screen is, e.g. 'front door'")
    pair.add_argument("--base-url", default="http://127.0.0.1:8000", help="where screens reach us")
    pair.add_argument("--store", help=store_help)
    pair.set_defaults(run=_device_create)
    devices = device_commands.add_parser("list", help="list devices (ids, kinds, branches)")
    devices.add_argument("--store", help=store_help)
    devices.set_defaults(run=_device_list)
    unpair = device_commands.add_parser("revoke", help="unpair a device by its id")
    unpair.add_argument("id")
    unpair.add_argument("--store", help=store_help)
    unpair.set_defaults(run=_device_revoke)

    branch = commands.add_parser("branch", help="import or export a branch configuration")
    branch_commands = branch.add_subparsers(required=True, metavar="ACTION")
    load = branch_commands.add_parser("import", help="create or replace a branch from YAML or JSON")
    load.add_argument("file", type=Path)
    load.add_argument("--store", help=store_help)
    load.set_defaults(run=_branch_import)
    save = branch_commands.add_parser("export", help="write a branch's configuration")
    save.add_argument("branch")
    save.add_argument("file", type=Path, nargs="?", help=".yaml, .yml or .json (default: stdout)")
    save.add_argument("--store", help=store_help)
    save.set_defaults(run=_branch_export)
    return parser


def _user_parsers(commands: Any, store_help: str) -> None:
    user = commands.add_parser("user", help="staff, manager and admin accounts (sign-in on pages)")
    actions = user.add_subparsers(required=True, metavar="ACTION")
    stdin_help = "read the password from the first line of standard input (for scripts)"
    add = actions.add_parser("add", help="make an account (asks for its password)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--branch", action="append", default=[], help="repeat for several")
    add.add_argument("--password-stdin", action="store_true", help=stdin_help)
    add.add_argument("--store", help=store_help)
    add.set_defaults(run=_user_add)
    listing = actions.add_parser("list", help="list accounts (names, roles, branches)")
    listing.add_argument("--store", help=store_help)
    listing.set_defaults(run=_user_list)
    for action, disabled, text in (
        ("disable", True, "stop an account signing in and end its sessions"),
        ("enable", False, "let a disabled account sign in again"),
    ):
        switch = actions.add_parser(action, help=text)
        switch.add_argument("name")
        switch.add_argument("--store", help=store_help)
        switch.set_defaults(run=_user_switch, disabled=disabled)
    password = actions.add_parser("password", help="set a new password (ends its sessions)")
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true", help=stdin_help)
    password.add_argument("--store", help=store_help)
    password.set_defaults(run=_user_password)


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if args.store:
        settings = Settings(**{**_fields(settings), "store_url": args.store})
    return settings


def _fields(settings: Settings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__slots__}


def _with_store(settings: Settings, work: Callable[[EventStore], Awaitable[int]]) -> int:
    async def run() -> int:
        store = await open_store(settings.store_url)
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def _access(store: EventStore) -> AccessChanges:
    """Token, device and account changes, each on the record of its branches as made by ``cli``."""
    return AccessChanges(BranchService(store), TokenCache(store))


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings(args)
    if args.workers > 1 and not settings.store_url.startswith(("redis://", "rediss://")):
        raise ValueError(
            "several workers share state through Redis: add --store redis://HOST:6379/0"
        )
    print(f"queueapp: store {settings.store_url}", file=sys.stderr)
    if args.demo:
        _with_store(settings, lambda store: _seed_demo(store, args))
    os.environ.update(settings.to_env())
    uvicorn.run(
        "queueapp.web.app:create_served_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # uvicorn's sans-I/O binding of websockets: one protocol object per socket
        # instead of the legacy implementation's three tasks and stream reader
        # (31 KB instead of 44 KB per idle display, and fewer objects for the
        # collector to walk); the legacy one is deprecated besides. Compression
        # stays off: a deflate context per socket costs far more memory than the
        # small JSON messages would save.
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        log_level="info",
        access_log=args.access_log,
    )
    return 0


async def _seed_demo(store: EventStore, args: argparse.Namespace) -> int:
    """Seed the demo branch once, with what a first look needs: a kiosk link and a login."""
    service = BranchService(store)
    base = f"http://{args.host}:{args.port}"
    try:
        await service.config(DEMO_ID)
        print(f"queueapp: demo branch '{DEMO_ID}' already exists", file=sys.stderr)
        kiosk = "queueapp device create --branch demo --kind kiosk  (a new pairing link)"
        login = "queueapp user add NAME --role manager --branch demo  (a new account)"
    except NotFound:
        await service.save_config(demo_config(), actor="demo")
        password = secrets.token_urlsafe(9)
        access = _access(store)
        await access.create_user(CLI, "manager", "manager", [DEMO_ID], password)
        device, code = await access.create_device(CLI, DEMO_ID, "kiosk", "demo kiosk")
        kiosk = base + pairing_path(device, code) + "  (opens once; it pairs that browser)"
        login = f"{base}/login  as manager / {password}  (shown once)"
        print(f"queueapp: seeded demo branch '{DEMO_ID}'", file=sys.stderr)
    lines = [
        ("branch directory", f"{base}/"),
        ("wall display", f"{base}/b/{DEMO_ID}/display   (?layout=portrait, ?layout=door)"),
        ("join from a phone", f"{base}/b/{DEMO_ID}/join"),
        ("door kiosk", kiosk),
        ("counter and manager consoles", login),
        ("API snapshot", f"{base}/api/v1/branches/{DEMO_ID}"),
    ]
    for label, value in lines:
        print(f"  {label + ':':<30} {value}", file=sys.stderr)
    return 0


def _token_create(args: argparse.Namespace) -> int:
    async def work(store: EventStore) -> int:
        service = BranchService(store)
        for branch in args.branch:
            await service.config(branch)
        token, token_id = await _access(store).create_token(CLI, args.role, args.branch, args.label)
        print(token)
        print(f"queueapp: {args.role} token {token_id} created; keep it secret", file=sys.stderr)
        return 0

    return _with_store(_settings(args), work)


def _token_list(args: argparse.Namespace) -> int:
    async def work(store: EventStore) -> int:
        for token in await list_tokens(store):
            state = "revoked" if token["revoked"] else "active"
            branches = ",".join(token["branches"]) or "*"
            print(f"{token['id']}  {token['role']:<8} {branches:<20} {state:<8} {token['label']}")
        return 0

    return _with_store(_settings(args), work)


def _token_revoke(args: argparse.Namespace) -> int:
    async def work(store: EventStore) -> int:
        if await _access(store).revoke_token(CLI, args.id) is None:
            raise ValueError(f"no token with id {args.id!r} (see 'queueapp token list')")
        print(
            f"queueapp: token {args.id} revoked; running servers refuse it "
            f"within {CACHE_SECONDS:g} s",
            file=sys.stderr,
        )
        return 0

    return _with_store(_settings(args), work)


def _read_password(args: argparse.Namespace, name: str) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass(f"New password for {name}: ")
    if getpass.getpass("Repeat it: ") != password:
        raise ValueError("the two passwords differ; nothing changed")
    return password


def _describe(user: accounts.User) -> str:
    where = "all branches" if user.role == "admin" else ", ".join(sorted(user.branches))
    return f"{user.role} of {where}"


def _user_add(args: argparse.Namespace) -> int:
    name = accounts.normalize_username(args.name)
    branches = accounts.check_role(args.role, args.branch)

    async def work(store: EventStore) -> int:
        service = BranchService(store)
        for branch in branches:
            await service.config(branch)
        if await accounts.get_user(store, name) is not None:
            raise ValueError(
                f"there is already an account named {name!r} (see 'queueapp user list')"
            )
        user = await _access(store).create_user(
            CLI, name, args.role, branches, _read_password(args, name)
        )
        print(f"queueapp: account {user.name} created ({_describe(user)})", file=sys.stderr)
        return 0

    return _with_store(_settings(args), work)


def _user_list(args: argparse.Namespace) -> int:
    async def work(store: EventStore) -> int:
        for user in await accounts.list_users(store):
            branches = ",".join(sorted(user.branches)) or "*"
            state = "disabled" if user.disabled else "active"
            print(f"{user.name:<20} {user.role:<8} {branches:<20} {state}")
        return 0

    return _with_store(_settings(args), work)


def _user_switch(args: argparse.Namespace) -> int:
    async def work(store: EventStore) -> int:
        user = await _access(store).update_user(CLI, args.name, disabled=args.disabled)
        state = "disabled: it cannot sign in" if user.disabled else "enabled"
        print(f"queueapp: account {user.name} {state}", file=sys.stderr)
        return 0

    return _with_store(_settings(args), work)


def _user_password(args: argparse.Namespace) -> int:
    name = accounts.normalize_username(args.name)

    async def work(store: EventStore) -> int:
        if await accounts.get_user(store, name) is None:
            raise ValueError(f"there is no account named {name!r} (see 'queueapp user list')")
        await _access(store).update_user(CLI, name, password=_read_password(args, name))
        print(f"queueapp: password of {name} changed; its sessions have ended", file=sys.stderr)
        return 0

    return _with_store(_settings(args), work)


def _device_create(args: argparse.Namespace) -> int:
    async def work(store: EventStore) -> int:
        await BranchService(store).config(args.branch)
        device, code = await _access(store).create_device(CLI, args.branch, args.kind, args.label)
        print(args.base_url.rstrip("/") + pairing_path(device, code))
        print(
            f"queueapp: {args.kind} {device.id} created; open the link on that screen "
            "(it works once)",
            file=sys.stderr,
        )
        return 0

    return _with_store(_settings(args), work)


def _device_list(args: argparse.Namespace) -> int:
    async def work(store: EventStore) -> int:
        for device in await list_devices(store):
            print(
                f"{device.id}  {device.kind:<8} {device.branch:<20} {device.state:<8} "
                f"{device.label}"
            )
        return 0

    return _with_store(_settings(args), work)


def _device_revoke(args: argparse.Namespace) -> int:
    async def work(store: EventStore) -> int:
        if await _access(store).revoke_device(CLI, args.id) is None:
            raise ValueError(f"no device with id {args.id!r} (see 'queueapp device list')")
        print(f"queueapp: device {args.id} revoked", file=sys.stderr)
        return 0

    return _with_store(_settings(args), work)


def _branch_import(args: argparse.Namespace) -> int:
    try:
        config = read_config(args.file)
    except yaml.YAMLError as exc:
        raise ValueError(f"{args.file} is not valid YAML: {exc}") from None

    async def work(store: EventStore) -> int:
        saved = await BranchService(store).save_config(config, actor=CLI)
        print(f"queueapp: branch '{saved.id}' saved (revision {saved.revision})", file=sys.stderr)
        return 0

    return _with_store(_settings(args), work)


def _branch_export(args: argparse.Namespace) -> int:
    async def work(store: EventStore) -> int:
        config = await BranchService(store).config(args.branch)
        text = render_config(config, as_json=args.file is not None and args.file.suffix == ".json")
        if args.file is None:
            sys.stdout.write(text)
        else:
            args.file.write_text(text, encoding="utf-8")
            print(f"queueapp: wrote {args.file}", file=sys.stderr)
        return 0

    return _with_store(_settings(args), work)
