"""The JSON text every store keeps events and documents as.

One encoding for both stores, kept compact because a busy day's log holds
thousands of events.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from queueapp.store.port import JSON


def dumps(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), separators=(",", ":"))


def loads(text: str | bytes) -> JSON:
    value: JSON = json.loads(text)
    return value
