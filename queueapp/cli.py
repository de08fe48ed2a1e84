"""The ``queueapp`` command: serve, tokens, branch configuration files."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from queueapp.configfile import read_config, render_config
from queueapp.demo import DEMO_ID, demo_config
from queueapp.domain.config import ConfigError
from queueapp.domain.errors import DomainError, NotFound
from queueapp.service.access import ROLES, create_token, list_tokens, revoke_token
from queueapp.service.branches import BranchService
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
        "queueapp.web.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        ws="websockets",
        ws_per_message_deflate=False,
        log_level="info",
    )
    return 0


async def _seed_demo(store: EventStore, args: argparse.Namespace) -> int:
    service = BranchService(store)
    base = f"http://{args.host}:{args.port}"
    try:
        await service.config(DEMO_ID)
        print(f"queueapp: demo branch '{DEMO_ID}' already exists", file=sys.stderr)
    except NotFound:
        await service.save_config(demo_config(), actor="demo")
        token, _ = await create_token(store, "manager", [DEMO_ID], label="demo")
        print(f"queueapp: seeded demo branch '{DEMO_ID}'", file=sys.stderr)
        print(f"  manager token (shown once): {token}", file=sys.stderr)
    print(f"  branch snapshot: {base}/api/v1/branches/{DEMO_ID}", file=sys.stderr)
    print(
        f"  issue a ticket:  curl -X POST {base}/api/v1/branches/{DEMO_ID}/tickets "
        "-H 'Content-Type: application/json' -d '{\"service\": \"A\"}'",
        file=sys.stderr,
    )
    return 0


def _token_create(args: argparse.Namespace) -> int:
    async def work(store: EventStore) -> int:
        service = BranchService(store)
        for branch in args.branch:
            await service.config(branch)
        token, token_id = await create_token(store, args.role, args.branch, args.label)
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
        if not await revoke_token(store, args.id):
            raise ValueError(f"no token with id {args.id!r} (see 'queueapp token list')")
        print(f"queueapp: token {args.id} revoked", file=sys.stderr)
        return 0

    return _with_store(_settings(args), work)


def _branch_import(args: argparse.Namespace) -> int:
    config = read_config(args.file)

    async def work(store: EventStore) -> int:
        saved = await BranchService(store).save_config(config, actor="cli")
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
