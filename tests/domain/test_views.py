"""What the screens are told about waits: never a wait for a service nobody serves.

The default test branch has counter 1 serving A and counter 2 serving B, all
counters closed at the start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from queueapp.domain.views import branch_snapshot, branch_summary, ticket_view

NewBranch = Callable[..., Any]


def services(branch: Any) -> dict[str, dict[str, Any]]:
    snapshot = branch_snapshot(branch.state, branch.now)
    return {s["letter"]: s for s in snapshot["services"]}


def test_with_no_counter_open_no_service_claims_a_wait(new_branch: NewBranch) -> None:
    branch = new_branch()
    branch.issue("A")

    for service in services(branch).values():
        assert service["served"] is False
        assert service["estimated_wait_minutes"] is None


def test_a_service_is_served_while_an_open_counter_serves_it(new_branch: NewBranch) -> None:
    branch = new_branch()
    branch.issue("A")
    branch.open("1")

    # A newcomer to A waits for the one ahead: 6 minutes, the guess when none is configured.
    assert {k: (v["served"], v["estimated_wait_minutes"]) for k, v in services(branch).items()} == {
        "A": (True, 6),
        "B": (False, None),
    }

    branch.set_counters("paused", "1")
    assert services(branch)["A"]["served"] is False
    assert services(branch)["A"]["estimated_wait_minutes"] is None


def test_the_summary_has_no_wait_for_a_branch_with_no_counter_open(new_branch: NewBranch) -> None:
    branch = new_branch()
    for service in ("A", "B", "B"):
        branch.issue(service)

    summary = branch_summary(branch_snapshot(branch.state, branch.now))

    assert summary == {
        "open_now": True,
        "waiting": 3,
        "estimated_wait_minutes": None,
        "served": False,
    }


def test_the_summary_wait_counts_only_the_services_being_served(new_branch: NewBranch) -> None:
    branch = new_branch(
        services=[
            {"letter": "A", "names": {"en": "Payments"}, "minutes_per_visit": 4},
            {"letter": "B", "names": {"en": "Contracts"}, "minutes_per_visit": 30},
        ]
    )
    branch.open("1")
    for service in ("A", "A", "B", "B", "B"):
        branch.issue(service)

    summary = branch_summary(branch_snapshot(branch.state, branch.now))

    # A: two queued, 4 minutes each, one counter; B's 90 minutes are nobody's guess yet.
    assert (summary["estimated_wait_minutes"], summary["served"]) == (8, True)
    assert summary["waiting"] == 4


def test_a_ticket_says_whether_an_open_counter_serves_it(new_branch: NewBranch) -> None:
    branch = new_branch()
    number = branch.issue("B")

    view = ticket_view(branch.state, branch.ticket(number))
    assert (view["served"], view["estimated_wait_minutes"]) == (False, None)

    branch.open("1")
    assert ticket_view(branch.state, branch.ticket(number))["served"] is False
    branch.open("2")
    view = ticket_view(branch.state, branch.ticket(number))
    assert (view["served"], view["estimated_wait_minutes"]) == (True, 0)
