"""What people and devices ask a branch to do.

Commands name tickets by their number: the service layer turns a visitor's
token into a number before deciding, so the engine never needs to know how
visitors authenticate. Counter commands after a call name the ticket the
operator sees on screen, so that a double click or a stale console acts on
nothing it did not mean.
"""

from __future__ import annotations

from dataclasses import dataclass

from queueapp.domain.config import BranchConfig


@dataclass(frozen=True, slots=True)
class OpenDay:
    config: BranchConfig


@dataclass(frozen=True, slots=True)
class ApplyConfig:
    config: BranchConfig


@dataclass(frozen=True, slots=True)
class IssueTicket:
    token: str
    service: str
    party_size: int = 1
    priority: bool = False
    lang: str = "en"
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class CancelTicket:
    number: str
    by_staff: bool = False


@dataclass(frozen=True, slots=True)
class RequestDelay:
    number: str


@dataclass(frozen=True, slots=True)
class ConfirmEntry:
    number: str


@dataclass(frozen=True, slots=True)
class SetCounter:
    counter: str
    status: str


@dataclass(frozen=True, slots=True)
class CallNext:
    counter: str


@dataclass(frozen=True, slots=True)
class CounterAction:
    """recall, start, done or no-show of the ticket the counter is expected to hold."""

    counter: str
    action: str
    ticket: str


@dataclass(frozen=True, slots=True)
class Transfer:
    counter: str
    ticket: str
    service: str


@dataclass(frozen=True, slots=True)
class AdjustOccupancy:
    delta: int
    reason: str


@dataclass(frozen=True, slots=True)
class RecordAccess:
    """Put a change to who or what may act in the branch on its record.

    ``subject`` is a bearer token, a paired device or a console account, named
    by ``id`` (a token's id, a device's id, a username) and described by its
    ``label``, device ``kind``, ``role`` and ``branches``: never by a secret.
    The change itself is made elsewhere; the branch's log is its audit trail.
    Like any decision, it is followed by the admissions the clock has made room for.
    """

    subject: str
    action: str
    id: str
    label: str = ""
    kind: str = ""
    role: str = ""
    branches: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: expire grace times, follow scheduled rules, admit."""


Command = (
    OpenDay
    | ApplyConfig
    | IssueTicket
    | CancelTicket
    | RequestDelay
    | ConfirmEntry
    | SetCounter
    | CallNext
    | CounterAction
    | Transfer
    | AdjustOccupancy
    | RecordAccess
    | Tick
)

COUNTER_ACTIONS = ("recall", "start", "done", "no-show")

ACCESS_ACTIONS = {
    "token": ("created", "revoked"),
    "device": ("created", "paired", "revoked"),
    "user": ("created", "disabled", "enabled", "password_changed", "role_changed"),
}
"""What can happen to each kind of subject of :class:`RecordAccess`."""
