"""Helpers for the domain tests: configuration documents and a branch driver.

Everything takes time as an argument: the driver keeps its own clock, which
only moves when a test says so, so no test sleeps or reads the wall clock.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from queueapp.domain import commands as cmd
from queueapp.domain import events as ev
from queueapp.domain.capacity import local_day
from queueapp.domain.config import WEEKDAYS, BranchConfig, parse_config
from queueapp.domain.decide import decide
from queueapp.domain.errors import DomainError
from queueapp.domain.queueing import current_limit
from queueapp.domain.state import BranchState, Status, Ticket, apply_all

ZONE = "Europe/Prague"
MONDAY_10 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
"""Monday 4 March 2024, 10:00 in Prague (CET, UTC+1)."""

ALWAYS_OPEN = {day: [{"open": "00:00", "close": "00:00"}] for day in WEEKDAYS}


def build_doc(**overrides: Any) -> dict[str, Any]:
    """A valid branch document: counter 1 serves A, counter 2 serves B, open all day.

    Keyword arguments replace top-level keys, except ``capacity`` and ``grace``
    whose own keys are replaced one by one: ``capacity={"hold": True}`` keeps
    the default rule.
    """
    doc: dict[str, Any] = {
        "id": "main",
        "name": "Main street",
        "timezone": ZONE,
        "languages": ["en", "cs"],
        "counters": [{"id": "1", "services": ["A"]}, {"id": "2", "services": ["B"]}],
        "services": [
            {"letter": "A", "names": {"en": "Payments", "cs": "Platby"}},
            {"letter": "B", "names": {"en": "Contracts", "cs": "Smlouvy"}},
        ],
        "hours": ALWAYS_OPEN,
        "capacity": {"default": {"people_per_counter": 1}},
    }
    for key, value in overrides.items():
        if key in ("capacity", "grace"):
            doc[key] = {**doc.get(key, {}), **value}
        else:
            doc[key] = value
    return copy.deepcopy(doc)


def build_config(**overrides: Any) -> BranchConfig:
    return parse_config(build_doc(**overrides))


class Branch:
    """One branch day driven through ``decide`` and ``apply_all``, with its own clock."""

    def __init__(self, config: BranchConfig, now: datetime = MONDAY_10) -> None:
        self.now = now
        self.state = BranchState(branch=config.id, day=local_day(config, now))
        self.log: list[ev.Event] = []
        self.last: list[ev.Event] = []
        self._tokens = 0
        self.do(cmd.OpenDay(config))

    # -- driving ---------------------------------------------------------

    def do(self, command: cmd.Command) -> list[ev.Event]:
        """Decide and apply; a refusal propagates and leaves the state as it was."""
        events = decide(self.state, command, self.now)
        self.state = apply_all(self.state, events)
        self.log.extend(events)
        self.last = events
        return events

    def refuse(self, command: cmd.Command) -> DomainError:
        """Assert that the command is refused and changes nothing; return the refusal."""
        before = self.state
        with pytest.raises(DomainError) as refusal:
            self.do(command)
        assert self.state is before
        return refusal.value

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def tick(self, seconds: float = 0) -> list[ev.Event]:
        self.advance(seconds)
        return self.do(cmd.Tick())

    def next_token(self) -> str:
        self._tokens += 1
        return f"token-{self._tokens:04d}"

    def issue(
        self,
        service: str = "A",
        party_size: int = 1,
        *,
        priority: bool = False,
        key: str | None = None,
        lang: str = "en",
    ) -> str:
        """Issue a ticket and return its number."""
        events = self.do(
            cmd.IssueTicket(
                token=self.next_token(),
                service=service,
                party_size=party_size,
                priority=priority,
                lang=lang,
                idempotency_key=key,
            )
        )
        issued = [e for e in events if isinstance(e, ev.TicketIssued)]
        assert len(issued) == 1
        return issued[0].number

    def set_counters(self, status: str, *counters: str) -> None:
        for counter in counters:
            self.do(cmd.SetCounter(counter, status))

    def open(self, *counters: str) -> None:
        self.set_counters("open", *counters)

    def call(self, counter: str) -> str:
        events = self.do(cmd.CallNext(counter))
        assert isinstance(events[0], ev.TicketCalled)
        return events[0].number

    def act(self, counter: str, action: str, number: str) -> list[ev.Event]:
        return self.do(cmd.CounterAction(counter, action, number))

    def apply_config(self, **overrides: Any) -> list[ev.Event]:
        return self.do(cmd.ApplyConfig(build_config(**overrides)))

    # -- looking ---------------------------------------------------------

    def ticket(self, number: str) -> Ticket:
        return self.state.tickets[number]

    def status(self, number: str) -> Status:
        return self.state.tickets[number].status

    def admitted_now(self) -> list[str]:
        return [e.number for e in self.last if isinstance(e, ev.TicketAdmitted)]

    @property
    def inside(self) -> int:
        return self.state.inside

    @property
    def limit(self) -> int:
        return current_limit(self.state, self.now)


@pytest.fixture
def make_doc() -> Callable[..., dict[str, Any]]:
    """``make_doc(**overrides)``: a valid configuration document with changes merged in."""
    return build_doc


@pytest.fixture
def make_config() -> Callable[..., BranchConfig]:
    """``make_config(**overrides)``: the parsed configuration of ``make_doc(**overrides)``."""
    return build_config


@pytest.fixture
def new_branch() -> Callable[..., Branch]:
    """``new_branch(**overrides)`` or ``new_branch(config=...)``: a day opened at ``now``.

    ``now`` defaults to Monday 10:00 in Prague.
    """

    def build(
        config: BranchConfig | None = None, now: datetime = MONDAY_10, **overrides: Any
    ) -> Branch:
        return Branch(config or build_config(**overrides), now)

    return build
