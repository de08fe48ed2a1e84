"""The branch queue engine, pure: no I/O, no clock, no asyncio.

``decide(state, command, now) -> events`` holds every rule;
``apply_all(state, events) -> state`` folds the log into a state; ``views``
turns a state into what screens show. Time always comes in as an argument.
"""

from queueapp.domain.config import BranchConfig, ConfigError, dump_config, parse_config
from queueapp.domain.decide import decide
from queueapp.domain.errors import Conflict, DomainError, Invalid, NotFound
from queueapp.domain.state import BranchState, Status, Ticket, apply, apply_all

__all__ = [
    "BranchConfig",
    "BranchState",
    "ConfigError",
    "Conflict",
    "DomainError",
    "Invalid",
    "NotFound",
    "Status",
    "Ticket",
    "apply",
    "apply_all",
    "decide",
    "dump_config",
    "parse_config",
]
