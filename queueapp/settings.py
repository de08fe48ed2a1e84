"""Every setting, read once from the environment, with its default and meaning.

The command line sets these variables for the server it starts, so that
uvicorn's worker processes (which import the app anew) see the same settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

DEFAULT_STORE = "sqlite:///./queueapp.db"


@dataclass(frozen=True, slots=True)
class Settings:
    store_url: str = DEFAULT_STORE
    """QUEUEAPP_STORE: where the event log lives (sqlite:///path or redis://host:port/db)."""
    tick_interval: float = 1.0
    """QUEUEAPP_TICK_INTERVAL: seconds between checks of grace times and scheduled rules."""
    max_body_bytes: int = 65536
    """QUEUEAPP_MAX_BODY_BYTES: larger request bodies are refused with 413."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        values: dict[str, object] = {}
        for field in fields(cls):
            raw = env.get(f"QUEUEAPP_{field.name.upper().removesuffix('_URL')}")
            if raw is not None:
                values[field.name] = type(getattr(cls(), field.name))(raw)
        return cls(**values)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        return {
            f"QUEUEAPP_{field.name.upper().removesuffix('_URL')}": str(getattr(self, field.name))
            for field in fields(self)
        }
