"""Runs commands against a branch: load, decide, compare-and-append, retry.

Each process keeps the branch state it last saw and decides on it without
reading first. The append names the version that decision was made on, so a
state made stale by another process costs one conflict, a catch-up read of
the missed events and a second decision: two counters pressing "call next"
at once call two different tickets.

Within a process, a branch's commands go through one queue. Whatever has
queued up while the last append was on its way is decided in order, each on
the state its predecessors left, and written in one append: one fsync or one
script call for the lot, so a busy branch is not paced by its disk. A refused
command adds nothing and gets its own error; its neighbours are unaffected.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from queueapp.domain import commands as cmd
from queueapp.domain import events as ev
from queueapp.domain.capacity import local_day
from queueapp.domain.config import BranchConfig, ConfigError, dump_config, parse_config
from queueapp.domain.decide import decide
from queueapp.domain.errors import DomainError, NotFound
from queueapp.domain.state import BranchState, Ticket, apply_all
from queueapp.store import EventStore, StoreError, Stream, VersionConflict

log = logging.getLogger(__name__)

BRANCH_DOCS = "branch"
MAX_ATTEMPTS = 40
Clock = Callable[[], datetime]
AppendListener = Callable[[BranchState, int, list[dict[str, Any]]], None]
"""Told of each append this process makes: the state it led to, its first version, its records."""
CommandSource = cmd.Command | Callable[[BranchState], cmd.Command]
"""A command, or a function building it from the state it will be decided on
(a new ticket's token names the day it is issued on)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Busy(StoreError):
    """Too many concurrent writers on one branch; the caller may retry shortly."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The state right after a command and the events it added (none for a repeat)."""

    state: BranchState
    events: list[ev.Event]

    @property
    def changed(self) -> bool:
        return bool(self.events)


@dataclass(slots=True)
class _Pending:
    command: CommandSource
    actor: str | None
    reply: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class BranchService:
    def __init__(self, store: EventStore, clock: Clock = utc_now) -> None:
        self.store = store
        self.clock = clock
        self._states: dict[str, BranchState] = {}
        self._queues: dict[str, list[_Pending]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._listeners: list[AppendListener] = []

    def on_append(self, listener: AppendListener) -> None:
        """Hear of this process's appends at once (the live hub), before any read-back."""
        self._listeners.append(listener)

    async def config(self, branch: str) -> BranchConfig:
        document = await self.store.get_document(BRANCH_DOCS, branch)
        if document is None:
            raise NotFound("unknown_branch", f"There is no branch {branch!r}.")
        return parse_config(document)

    async def configs(self) -> list[BranchConfig]:
        documents = await self.store.list_documents(BRANCH_DOCS)
        return sorted((parse_config(d) for d in documents.values()), key=lambda c: c.id)

    async def save_config(self, config: BranchConfig, actor: str | None = None) -> BranchConfig:
        """Store a new revision and apply it to today's branch at once.

        Today's branch must accept it first (a counter still serving cannot
        be removed), so a refused configuration is not stored either.
        """
        document = await self.store.get_document(BRANCH_DOCS, config.id)
        revision = 1 if document is None else int(document.get("revision", 0)) + 1
        saved = parse_config({**dump_config(config), "revision": revision})
        if document is not None:
            await self.check(config.id, cmd.ApplyConfig(saved))
        await self.store.put_document(BRANCH_DOCS, config.id, dump_config(saved))
        if document is not None:
            await self.execute(config.id, cmd.ApplyConfig(saved), actor=actor)
        return saved

    async def state(self, branch: str) -> BranchState:
        """Today's state, caught up with everything any process has appended."""
        return await self._current(branch, self.clock(), catch_up=True)

    async def state_of_day(self, branch: str, day: str) -> BranchState:
        """A past day's state, read from its log (today's comes from the cache)."""
        today = await self.state(branch)
        if day == today.day:
            return today
        stored = await self.store.read(Stream(branch, day))
        return apply_all(BranchState(branch, day), (ev.from_dict(e.data) for e in stored))

    async def check(self, branch: str, command: cmd.Command) -> None:
        """Raise the DomainError that ``command`` would meet now, without doing it."""
        now = self.clock()
        decide(await self._current(branch, now, catch_up=True), command, now)

    async def execute(
        self, branch: str, command: CommandSource, actor: str | None = None
    ) -> Outcome:
        """Decide and append; a refused command raises DomainError and changes nothing."""
        pending = _Pending(command, actor)
        self._queues.setdefault(branch, []).append(pending)
        if branch not in self._workers:
            self._workers[branch] = asyncio.create_task(self._work(branch))
        return await pending.reply

    async def find_ticket(self, token: str) -> tuple[BranchState, Ticket]:
        """The ticket behind a visitor's token, wherever and whenever it was issued."""
        branch, day = parse_token(token)
        try:
            state = await self.state_of_day(branch, day)
        except NotFound:
            state = None
        ticket = state.by_token(token) if state is not None else None
        if state is None or ticket is None:
            raise NotFound("unknown_ticket", "There is no such ticket.")
        return state, ticket

    async def _work(self, branch: str) -> None:
        try:
            while batch := self._queues.pop(branch, None):
                live = [p for p in batch if not p.reply.done()]
                try:
                    await self._run(branch, live)
                except Exception as exc:  # every caller in the batch must hear of it
                    for pending in live:
                        if not pending.reply.done():
                            pending.reply.set_exception(exc)
        finally:
            del self._workers[branch]

    async def _run(self, branch: str, batch: list[_Pending]) -> None:
        """Decide the batch in order and append it at once, deciding again after a conflict."""
        for attempt in range(MAX_ATTEMPTS):
            now = self.clock()
            state = await self._current(branch, now, catch_up=attempt > 0)
            replies: list[tuple[_Pending, Outcome | DomainError]] = []
            records: list[dict[str, Any]] = []
            working = state
            for pending in batch:
                try:
                    events = decide(working, _build(pending.command, working), now)
                except DomainError as refusal:
                    replies.append((pending, refusal))
                    continue
                working = apply_all(working, events)
                replies.append((pending, Outcome(working, events)))
                records.extend(_records(events, pending.actor))
            if records:
                stream = Stream(branch, state.day)
                try:
                    await self.store.append(stream, state.version, records)
                except VersionConflict:
                    await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))
                    continue
                self._remember(working)
                self._tell(working, state.version + 1, records)
            for pending, reply in replies:
                if pending.reply.done():
                    continue
                if isinstance(reply, DomainError):
                    pending.reply.set_exception(reply)
                else:
                    pending.reply.set_result(reply)
            return
        raise Busy(f"branch {branch} is too busy; try again")

    def _tell(self, state: BranchState, first: int, records: list[dict[str, Any]]) -> None:
        """Tell listeners; the append is done, so a failing listener must not fail the commands."""
        for listener in self._listeners:
            try:
                listener(state, first, records)
            except Exception:
                log.exception("append listener failed on %s/%s", state.branch, state.day)

    def _remember(self, state: BranchState) -> None:
        """Cache a state unless a newer one of the same day is cached already."""
        cached = self._states.get(state.branch)
        if cached is None or cached.day != state.day or cached.version < state.version:
            self._states[state.branch] = state

    async def _current(self, branch: str, now: datetime, catch_up: bool) -> BranchState:
        state = self._states.get(branch)
        if state is None or state.config is None or state.day != local_day(state.config, now):
            config = await self.config(branch)
            state = BranchState(branch, local_day(config, now))
            catch_up = True
        if catch_up:
            stored = await self.store.read(Stream(branch, state.day), after=state.version)
            state = apply_all(state, (ev.from_dict(e.data) for e in stored))
        if state.config is None:
            state = await self._open_day(state, now)
        self._remember(state)
        return state

    async def _open_day(self, state: BranchState, now: datetime) -> BranchState:
        """Start a day's log with the configuration in force; a racing process may win."""
        config = await self.config(state.branch)
        opened = decide(state, cmd.OpenDay(config), now)
        stream = Stream(state.branch, state.day)
        try:
            await self.store.append(stream, state.version, _records(opened, None))
        except VersionConflict:
            stored = await self.store.read(stream, after=state.version)
            return apply_all(state, (ev.from_dict(e.data) for e in stored))
        return apply_all(state, opened)


def _build(command: CommandSource, state: BranchState) -> cmd.Command:
    return command(state) if callable(command) else command


def _records(events: list[ev.Event], actor: str | None) -> list[dict[str, Any]]:
    """Events as the log keeps them, with who caused them (the audit trail)."""
    records = [ev.to_dict(e) for e in events]
    if actor:
        for record in records:
            record["by"] = actor
    return records


def new_token(branch: str, day: str) -> str:
    """A visitor's credential: 128 random bits, prefixed with where to find the ticket.

    The prefix is not secret (branch and day are public); it lets any process
    find the ticket's log without a shared index.
    """
    return f"{branch}.{day.replace('-', '')}.{secrets.token_urlsafe(16)}"


def parse_token(token: str) -> tuple[str, str]:
    unknown = NotFound("unknown_ticket", "There is no such ticket.")
    parts = token.split(".")
    if len(parts) != 3 or len(parts[2]) < 22 or len(parts[1]) != 8 or not parts[1].isdigit():
        raise unknown
    branch, compact, _ = parts
    try:
        day = date(int(compact[:4]), int(compact[4:6]), int(compact[6:8]))
    except ValueError:
        raise unknown from None
    return branch, day.isoformat()


__all__ = [
    "BRANCH_DOCS",
    "BranchService",
    "Busy",
    "ConfigError",
    "Outcome",
    "new_token",
    "parse_token",
    "utc_now",
]
