"""Runs commands against a branch: load, decide, compare-and-append, retry.

Each process keeps the branch state it last saw and decides on it without
reading first. The append names the version that decision was made on, so a
state made stale by another process or worker costs one conflict, a catch-up
read of the missed events and a second decision: two counters pressing "call
next" at once call two different tickets. Within a process a lock per branch
keeps the process from racing itself.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from queueapp.domain import commands as cmd
from queueapp.domain import events as ev
from queueapp.domain.capacity import local_day
from queueapp.domain.config import BranchConfig, ConfigError, dump_config, parse_config
from queueapp.domain.decide import decide
from queueapp.domain.errors import NotFound
from queueapp.domain.state import BranchState, Ticket, apply_all
from queueapp.store import EventStore, StoreError, Stream, VersionConflict

log = logging.getLogger(__name__)

BRANCH_DOCS = "branch"
MAX_ATTEMPTS = 40
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Busy(StoreError):
    """Too many concurrent writers on one branch; the caller may retry shortly."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The state after a command and the events it added (none for a repeat)."""

    state: BranchState
    events: list[ev.Event]

    @property
    def changed(self) -> bool:
        return bool(self.events)


class BranchService:
    def __init__(self, store: EventStore, clock: Clock = utc_now) -> None:
        self.store = store
        self.clock = clock
        self._states: dict[str, BranchState] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def config(self, branch: str) -> BranchConfig:
        document = await self.store.get_document(BRANCH_DOCS, branch)
        if document is None:
            raise NotFound("unknown_branch", f"There is no branch {branch!r}.")
        return parse_config(document)

    async def configs(self) -> list[BranchConfig]:
        documents = await self.store.list_documents(BRANCH_DOCS)
        return sorted((parse_config(d) for d in documents.values()), key=lambda c: c.id)

    async def save_config(self, config: BranchConfig, actor: str | None = None) -> BranchConfig:
        """Store a new revision and apply it to today's branch at once."""
        document = await self.store.get_document(BRANCH_DOCS, config.id)
        revision = 1 if document is None else int(document.get("revision", 0)) + 1
        saved = parse_config({**dump_config(config), "revision": revision})
        if document is not None:
            await self.execute(config.id, cmd.ApplyConfig(saved), actor=actor, dry_run=True)
        await self.store.put_document(BRANCH_DOCS, config.id, dump_config(saved))
        if document is not None:
            await self.execute(config.id, cmd.ApplyConfig(saved), actor=actor)
        return saved

    async def state(self, branch: str) -> BranchState:
        """Today's state, caught up with everything any process has appended."""
        async with self._lock(branch):
            return await self._current(branch, self.clock(), catch_up=True)

    async def state_of_day(self, branch: str, day: str) -> BranchState:
        """A past day's state, read from its log (today's comes from the cache)."""
        today = await self.state(branch)
        if day == today.day:
            return today
        stored = await self.store.read(Stream(branch, day))
        return apply_all(BranchState(branch, day), (ev.from_dict(e.data) for e in stored))

    async def execute(
        self,
        branch: str,
        command: cmd.Command | Callable[[BranchState], cmd.Command],
        actor: str | None = None,
        dry_run: bool = False,
    ) -> Outcome:
        """Decide and append; a refused command raises DomainError and changes nothing.

        ``command`` may be a function of the state, for commands that need it
        to be built (a new ticket's token names the day it is issued on).
        ``dry_run`` decides without appending, to check that a change would be accepted.
        """
        async with self._lock(branch):
            for attempt in range(MAX_ATTEMPTS):
                now = self.clock()
                state = await self._current(branch, now, catch_up=attempt > 0)
                decided = command(state) if callable(command) else command
                events = decide(state, decided, now)
                if not events or dry_run:
                    return Outcome(state, [] if dry_run else events)
                try:
                    await self._append(state, events, actor)
                except VersionConflict:
                    await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))
                    continue
                state = apply_all(state, events)
                self._states[branch] = state
                return Outcome(state, events)
        raise Busy(f"branch {branch} is too busy; try again")

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

    def known_branches(self) -> list[str]:
        return list(self._states)

    def _lock(self, branch: str) -> asyncio.Lock:
        return self._locks.setdefault(branch, asyncio.Lock())

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
        self._states[branch] = state
        return state

    async def _open_day(self, state: BranchState, now: datetime) -> BranchState:
        """Start a day's log with the configuration in force; a racing process may win."""
        config = await self.config(state.branch)
        opened = decide(state, cmd.OpenDay(config), now)
        try:
            await self._append(state, opened, None)
        except VersionConflict:
            stored = await self.store.read(Stream(state.branch, state.day), after=state.version)
            return apply_all(state, (ev.from_dict(e.data) for e in stored))
        return apply_all(state, opened)

    async def _append(self, state: BranchState, events: list[ev.Event], actor: str | None) -> None:
        records = [ev.to_dict(e) for e in events]
        if actor:
            for record in records:
                record["by"] = actor
        await self.store.append(Stream(state.branch, state.day), state.version, records)


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
