"""Waiting and service times per day and service, computed from the event log.

Waiting runs from issue to the first call; service from the start (or, when a
counter skipped "start", the call) to done. Medians and 90th percentiles
rather than means: one forgotten ticket must not make a whole day look slow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from queueapp.domain import events as ev

COLUMNS = (
    "day",
    "service",
    "issued",
    "served",
    "no_show",
    "cancelled",
    "wait_median_min",
    "wait_p90_min",
    "service_median_min",
    "max_inside",
)


@dataclass
class _Tally:
    issued: int = 0
    served: int = 0
    no_show: int = 0
    cancelled: int = 0
    waits: list[float] = field(default_factory=list)
    services: list[float] = field(default_factory=list)


def day_report(day: str, events: Iterable[ev.Event]) -> list[dict[str, Any]]:
    """One row per service that issued tickets that day."""
    tallies: dict[str, _Tally] = {}
    service_of: dict[str, str] = {}
    issued_at: dict[str, float] = {}
    called_at: dict[str, float] = {}
    started_at: dict[str, float] = {}
    max_inside = 0
    for event in events:
        match event:
            case ev.TicketIssued():
                service_of[event.number] = event.service
                issued_at[event.number] = event.at
                tallies.setdefault(event.service, _Tally()).issued += 1
            case ev.TicketAdmitted():
                max_inside = max(max_inside, event.inside)
            case ev.TicketCalled() if event.number not in called_at:
                called_at[event.number] = event.at
                tallies[service_of[event.number]].waits.append(event.at - issued_at[event.number])
            case ev.ServiceStarted():
                started_at[event.number] = event.at
            case ev.ServiceFinished():
                tally = tallies[service_of[event.number]]
                tally.served += 1
                began = started_at.get(event.number, called_at.get(event.number, event.at))
                tally.services.append(event.at - began)
            case ev.TicketNoShow() if not event.requeued:
                tallies[service_of[event.number]].no_show += 1
            case ev.TicketCancelled():
                tallies[service_of[event.number]].cancelled += 1
    return [
        {
            "day": day,
            "service": letter,
            "issued": tally.issued,
            "served": tally.served,
            "no_show": tally.no_show,
            "cancelled": tally.cancelled,
            "wait_median_min": _minutes(median(tally.waits)) if tally.waits else None,
            "wait_p90_min": _minutes(_p90(tally.waits)) if tally.waits else None,
            "service_median_min": _minutes(median(tally.services)) if tally.services else None,
            "max_inside": max_inside,
        }
        for letter, tally in sorted(tallies.items())
    ]


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def _minutes(seconds: float) -> float:
    return round(seconds / 60, 1)
