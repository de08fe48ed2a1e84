"""How many people a branch may hold right now, and whether it is open.

Both answers depend on the branch's local clock (schedules and hours are
written in local time), so callers pass an aware UTC instant and the branch's
zone does the rest.
"""

from __future__ import annotations

from datetime import datetime, time

from queueapp.domain.config import WEEKDAYS, BranchConfig, CapacityRule, ScheduledRule


def local_time(config: BranchConfig, now: datetime) -> datetime:
    return now.astimezone(config.zone)


def local_day(config: BranchConfig, now: datetime) -> str:
    """The branch day an instant belongs to: ticket numbers start again each day."""
    return local_time(config, now).date().isoformat()


def rule_in_force(config: BranchConfig, now: datetime) -> CapacityRule:
    """The first scheduled rule covering this local moment, else the default rule."""
    local = local_time(config, now)
    for scheduled in config.capacity.schedule:
        if _covers(scheduled, local.weekday(), local.time()):
            return scheduled.rule
    return config.capacity.default


def limit(config: BranchConfig, open_counters: int, now: datetime) -> int:
    return rule_in_force(config, now).limit(open_counters)


def is_open(config: BranchConfig, now: datetime) -> bool:
    local = local_time(config, now)
    intervals = config.hours.get(WEEKDAYS[local.weekday()], ())
    return any(interval.contains(local.time()) for interval in intervals)


def _covers(scheduled: ScheduledRule, weekday: int, moment: time) -> bool:
    """Whether the rule is in force; an overnight window belongs to the day it starts on."""
    start, end = scheduled.start, scheduled.end
    today = WEEKDAYS[weekday] in scheduled.days
    if start == end:
        return today
    if start < end:
        return today and start <= moment < end
    yesterday = WEEKDAYS[weekday - 1] in scheduled.days
    return (today and moment >= start) or (yesterday and moment < end)
