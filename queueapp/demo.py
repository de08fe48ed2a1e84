"""The demo branch: an electricity utility's customer centre with four counters."""

from __future__ import annotations

from typing import Any

from queueapp.domain.config import WEEKDAYS, BranchConfig, parse_config

DEMO_ID = "demo"

_ALL_DAY = [{"open": "00:00", "close": "00:00"}]


def demo_config() -> BranchConfig:
    """Open all day, every day, so that the demo works whenever someone tries it."""
    services: list[dict[str, Any]] = [
        {
            "letter": "A",
            "names": {"en": "Payments", "cs": "Platby", "bg": "Плащания", "vi": "Thanh toán"},
            "minutes_per_visit": 4,
        },
        {
            "letter": "B",
            "names": {
                "en": "Outages and meter readings",
                "cs": "Poruchy a odečty",
                "bg": "Аварии и отчитане",
                "vi": "Sự cố và chỉ số công tơ",
            },
            "priority": 1,
            "minutes_per_visit": 6,
        },
        {
            "letter": "C",
            "names": {
                "en": "Contract changes",
                "cs": "Změny smluv",
                "bg": "Промени в договора",
                "vi": "Thay đổi hợp đồng",
            },
            "minutes_per_visit": 12,
        },
        {
            "letter": "D",
            "names": {
                "en": "Payment plans",
                "cs": "Splátkové kalendáře",
                "bg": "Разсрочени плащания",
                "vi": "Kế hoạch trả góp",
            },
            "minutes_per_visit": 15,
            "daily_cap": 40,
        },
    ]
    return parse_config(
        {
            "id": DEMO_ID,
            "name": "Demo customer centre",
            "address": "1 Power Street",
            "timezone": "Europe/Prague",
            "languages": ["en", "cs", "bg", "vi"],
            "counters": [
                {"id": "1", "name": "Counter 1", "services": ["A", "B"]},
                {"id": "2", "name": "Counter 2", "services": ["A", "B"]},
                {"id": "3", "name": "Counter 3", "services": ["B", "C"]},
                {"id": "4", "name": "Counter 4", "services": ["C", "D"]},
            ],
            "services": services,
            "hours": {day: _ALL_DAY for day in WEEKDAYS},
            "capacity": {"default": {"people_per_counter": 1, "extra": 0, "minimum": 1}},
        }
    )
