"""A branch's configuration: counters, services, hours, capacity rules, grace times.

The configuration is one document, validated whole: a manager's edit either
yields a consistent branch or is refused with every problem listed. Parsing
goes through pydantic so that a bad file or request body says *where* it is
wrong (``services.2.letter: ...``) instead of failing later inside the engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from functools import cached_property
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, TypeAdapter, ValidationError

LANGUAGES = ("en", "cs", "bg", "vi")
"""Languages the screens and catalogs support; a branch picks among them."""

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)
"""Unknown keys are refused: a typo in a config file must not pass silently."""

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_LETTER = re.compile(r"^[A-Z]$")
_COUNTER_ID = re.compile(r"^[A-Za-z0-9]{1,8}$")


class ConfigError(ValueError):
    """A configuration that cannot be used; ``problems`` lists each one with its place."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Interval:
    __pydantic_config__ = _STRICT

    open: time
    close: time

    def __post_init__(self) -> None:
        if self.close <= self.open and self.close != time(0, 0):
            raise ValueError("an interval must close after it opens (00:00 closes at midnight)")

    def contains(self, moment: time) -> bool:
        closes_at_midnight = self.close == time(0, 0)
        return self.open <= moment and (closes_at_midnight or moment < self.close)


@dataclass(frozen=True, slots=True)
class Suspension:
    """Why a service is paused, and where the visit can be done instead."""

    __pydantic_config__ = _STRICT

    reason: dict[str, str]
    online_url: str | None = None


@dataclass(frozen=True, slots=True)
class Service:
    __pydantic_config__ = _STRICT

    letter: str
    names: dict[str, str]
    priority: int = 0
    daily_cap: int | None = None
    minutes_per_visit: float = 6.0
    suspended: Suspension | None = None

    def __post_init__(self) -> None:
        if not _LETTER.match(self.letter):
            raise ValueError("a service letter is one capital letter A-Z")
        if not self.names:
            raise ValueError("a service needs a name in at least one language")
        if self.daily_cap is not None and self.daily_cap < 1:
            raise ValueError("daily_cap must be at least 1 (leave it out for no cap)")
        if not 0.5 <= self.minutes_per_visit <= 240:
            raise ValueError("minutes_per_visit must be between 0.5 and 240")
        if not -100 <= self.priority <= 100:
            raise ValueError("priority must be between -100 and 100")

    def name(self, lang: str) -> str:
        return self.names.get(lang) or next(iter(self.names.values()))


@dataclass(frozen=True, slots=True)
class Counter:
    __pydantic_config__ = _STRICT

    id: str
    services: tuple[str, ...]
    name: str = ""

    def __post_init__(self) -> None:
        if not _COUNTER_ID.match(self.id):
            raise ValueError("a counter id is 1-8 letters or digits")
        if not self.services:
            raise ValueError("a counter must serve at least one service")


@dataclass(frozen=True, slots=True)
class CapacityRule:
    """``people_per_counter x open counters + extra``, clamped to ``[minimum, maximum]``."""

    __pydantic_config__ = _STRICT

    people_per_counter: int = 1
    extra: int = 0
    minimum: int = 0
    maximum: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.people_per_counter <= 100:
            raise ValueError("people_per_counter must be between 0 and 100")
        if not -1000 <= self.extra <= 1000:
            raise ValueError("extra must be between -1000 and 1000")
        if not 0 <= self.minimum <= 10000:
            raise ValueError("minimum must be between 0 and 10000")
        if self.maximum is not None and not self.minimum <= self.maximum <= 10000:
            raise ValueError("maximum must be at least the minimum and at most 10000")

    def limit(self, open_counters: int) -> int:
        raw = self.people_per_counter * open_counters + self.extra
        clamped = max(self.minimum, raw)
        return clamped if self.maximum is None else min(self.maximum, clamped)


@dataclass(frozen=True, slots=True)
class ScheduledRule:
    """A rule in force on some weekdays between two times, e.g. an epidemic rule."""

    __pydantic_config__ = _STRICT

    rule: CapacityRule
    days: tuple[Weekday, ...]
    start: time = time(0, 0)
    end: time = time(0, 0)
    name: str = ""


@dataclass(frozen=True, slots=True)
class Capacity:
    __pydantic_config__ = _STRICT

    default: CapacityRule = field(default_factory=CapacityRule)
    schedule: tuple[ScheduledRule, ...] = ()
    hold: bool = False
    reserve_after_minutes: float | None = 10.0
    """A party too big for the room left is passed over, but only for this long after it
    took its ticket; from then on the room is kept for it (``None``: passed over always).

    Places free one at a time, and each is taken at once by the next single
    visitor, so without a reservation a pair or a family could wait all day.
    """

    def __post_init__(self) -> None:
        if self.reserve_after_minutes is not None and not 0 <= self.reserve_after_minutes <= 600:
            raise ValueError("reserve_after_minutes must be between 0 and 600, or null")


@dataclass(frozen=True, slots=True)
class Grace:
    """How long visitors have, and what happens when they miss it.

    ``enter_seconds`` is only enforced where door staff confirm entries; without
    them nobody can tell who came in, and the counter's call grace catches
    absentees instead.
    """

    __pydantic_config__ = _STRICT

    enter_seconds: int = 300
    call_seconds: int = 180
    requeue_no_show_once: bool = True
    delay_places: int = 3

    def __post_init__(self) -> None:
        if not 30 <= self.enter_seconds <= 3600 or not 30 <= self.call_seconds <= 3600:
            raise ValueError("grace times must be between 30 and 3600 seconds")
        if not 1 <= self.delay_places <= 50:
            raise ValueError("delay_places must be between 1 and 50")


@dataclass(frozen=True, slots=True)
class JoinPolicy:
    """How phones join: ``open`` from anywhere (a virtual queue), or at the ``door`` only,
    with the code of the door QR, which changes every minute."""

    __pydantic_config__ = _STRICT

    mode: Literal["open", "door"] = "open"
    max_active_per_phone: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.max_active_per_phone <= 20:
            raise ValueError("max_active_per_phone must be between 1 and 20")


@dataclass(frozen=True)
class BranchConfig:
    __pydantic_config__ = _STRICT

    id: str
    name: str
    timezone: str
    counters: tuple[Counter, ...]
    services: tuple[Service, ...]
    address: str = ""
    languages: tuple[str, ...] = ("en",)
    hours: dict[Weekday, tuple[Interval, ...]] = field(default_factory=dict)
    capacity: Capacity = field(default_factory=Capacity)
    grace: Grace = field(default_factory=Grace)
    join: JoinPolicy = field(default_factory=JoinPolicy)
    door_confirmation: bool = False
    max_party_size: int = 6
    revision: int = 0

    def __post_init__(self) -> None:
        problems = []
        if not _SLUG.match(self.id):
            problems.append("id: lower-case letters, digits and '-', at most 40")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"timezone: unknown time zone {self.timezone!r}")
        if not self.languages or any(lang not in LANGUAGES for lang in self.languages):
            problems.append(f"languages: choose among {', '.join(LANGUAGES)}")
        letters = [s.letter for s in self.services]
        if not letters:
            problems.append("services: at least one service")
        if len(set(letters)) != len(letters):
            problems.append("services: each letter once")
        ids = [c.id for c in self.counters]
        if not ids:
            problems.append("counters: at least one counter")
        if len(set(ids)) != len(ids):
            problems.append("counters: each id once")
        for counter in self.counters:
            unknown = sorted(set(counter.services) - set(letters))
            if unknown:
                problems.append(f"counters.{counter.id}: unknown services {', '.join(unknown)}")
        if not 1 <= self.max_party_size <= 20:
            problems.append("max_party_size: between 1 and 20")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def service(self, letter: str) -> Service | None:
        return self._services.get(letter)

    def counter(self, counter_id: str) -> Counter | None:
        return self._counters.get(counter_id)

    @cached_property
    def _services(self) -> dict[str, Service]:
        """Looked up once per ticket when queues are ordered, so kept as a table."""
        return {s.letter: s for s in self.services}

    @cached_property
    def priorities(self) -> dict[str, int]:
        """Each service's priority by letter: read for every ticket whenever a queue is sorted."""
        return {s.letter: s.priority for s in self.services}

    @cached_property
    def _counters(self) -> dict[str, Counter]:
        return {c.id: c for c in self.counters}

    def services_of(self, counter_id: str) -> tuple[str, ...]:
        counter = self.counter(counter_id)
        return counter.services if counter else ()


_ADAPTER: TypeAdapter[BranchConfig] = TypeAdapter(BranchConfig)


def parse_config(data: Any) -> BranchConfig:
    """Validate a whole configuration document, or raise ConfigError naming each problem."""
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise ConfigError(
            [
                f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {_message(err)}"
                for err in exc.errors()
            ]
        ) from None


def dump_config(config: BranchConfig) -> dict[str, Any]:
    """The JSON-ready document that :func:`parse_config` reads back to an equal config."""
    return _ADAPTER.dump_python(config, mode="json")  # type: ignore[no-any-return]


def _message(err: Any) -> str:
    message = str(err["msg"])
    return message.removeprefix("Value error, ")
