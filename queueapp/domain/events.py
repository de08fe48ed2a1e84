"""What happened in a branch: the facts the event log keeps, in order.

Events are flat, JSON-ready dataclasses. ``at`` is UTC epoch seconds. A
configuration travels inside the events that apply it, so one day's log is
self-contained: replaying it needs nothing else, and audits and reports can
trust it years later.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from queueapp.domain.config import BranchConfig, dump_config, parse_config


@dataclass(frozen=True, slots=True)
class Event:
    at: float
    type: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class DayOpened(Event):
    config: BranchConfig
    type: ClassVar[str] = "day_opened"


@dataclass(frozen=True, slots=True)
class ConfigApplied(Event):
    config: BranchConfig
    type: ClassVar[str] = "config_applied"


@dataclass(frozen=True, slots=True)
class TicketIssued(Event):
    number: str
    token: str
    service: str
    party_size: int
    priority: bool
    lang: str
    idempotency_key: str | None = None
    fingerprint: str = ""
    type: ClassVar[str] = "ticket_issued"


@dataclass(frozen=True, slots=True)
class TicketAdmitted(Event):
    """``inside`` counts the ticket; ``limit`` is the limit in force when it was admitted."""

    number: str
    inside: int
    limit: int
    type: ClassVar[str] = "ticket_admitted"


@dataclass(frozen=True, slots=True)
class EntryConfirmed(Event):
    number: str
    type: ClassVar[str] = "entry_confirmed"


@dataclass(frozen=True, slots=True)
class TicketCalled(Event):
    number: str
    counter: str
    type: ClassVar[str] = "ticket_called"


@dataclass(frozen=True, slots=True)
class TicketRecalled(Event):
    number: str
    counter: str
    type: ClassVar[str] = "ticket_recalled"


@dataclass(frozen=True, slots=True)
class ServiceStarted(Event):
    number: str
    counter: str
    type: ClassVar[str] = "service_started"


@dataclass(frozen=True, slots=True)
class ServiceFinished(Event):
    number: str
    counter: str
    type: ClassVar[str] = "service_finished"


@dataclass(frozen=True, slots=True)
class TicketNoShow(Event):
    """``requeued``: the branch gave the ticket its one return to the queue."""

    number: str
    requeued: bool
    type: ClassVar[str] = "ticket_no_show"


@dataclass(frozen=True, slots=True)
class TicketCancelled(Event):
    number: str
    by_staff: bool
    type: ClassVar[str] = "ticket_cancelled"


@dataclass(frozen=True, slots=True)
class TicketDelayed(Event):
    number: str
    order: float
    type: ClassVar[str] = "ticket_delayed"


@dataclass(frozen=True, slots=True)
class TicketTransferred(Event):
    number: str
    counter: str
    service: str
    type: ClassVar[str] = "ticket_transferred"


@dataclass(frozen=True, slots=True)
class CounterChanged(Event):
    counter: str
    status: str
    type: ClassVar[str] = "counter_changed"


@dataclass(frozen=True, slots=True)
class OccupancyAdjusted(Event):
    delta: int
    reason: str
    type: ClassVar[str] = "occupancy_adjusted"


@dataclass(frozen=True, slots=True)
class AccessChanged(Event):
    """A token, device or account of the branch changed (see ``commands.RecordAccess``).

    It changes nothing in the queue; it is here so that the day's log, which
    is the branch's audit trail, also says who gave or took away access.
    Public feeds show only that it happened (``views.public_event``).
    """

    subject: str
    action: str
    id: str
    label: str = ""
    kind: str = ""
    role: str = ""
    branches: tuple[str, ...] = ()
    type: ClassVar[str] = "access_changed"


_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        DayOpened,
        ConfigApplied,
        TicketIssued,
        TicketAdmitted,
        EntryConfirmed,
        TicketCalled,
        TicketRecalled,
        ServiceStarted,
        ServiceFinished,
        TicketNoShow,
        TicketCancelled,
        TicketDelayed,
        TicketTransferred,
        CounterChanged,
        OccupancyAdjusted,
        AccessChanged,
    )
}


def to_dict(event: Event) -> dict[str, Any]:
    data: dict[str, Any] = {"type": event.type}
    for f in fields(event):
        value = getattr(event, f.name)
        if isinstance(value, BranchConfig):
            value = dump_config(value)
        data[f.name] = list(value) if isinstance(value, tuple) else value
    return data


def from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from the log; keys the event does not know (such as ``by``) are ignored."""
    cls = _TYPES[data["type"]]
    values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
    if "config" in values:
        values["config"] = parse_config(values["config"])
    if "branches" in values:
        values["branches"] = tuple(values["branches"])
    return cls(**values)
