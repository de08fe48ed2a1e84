"""Counter staff and door staff over the API: calls, service, transfers, capacity."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

from queueapp.service.ticker import Ticker

if TYPE_CHECKING:
    from tests.web.conftest import Api, FakeClock

pytestmark = pytest.mark.anyio


async def test_call_start_done(api: Api) -> None:
    opened = await api.ok("1", "open")
    assert opened["counter"] == {"id": "1", "status": "open", "ticket": None}
    ticket = await api.issued("A")
    assert ticket["status"] == "admitted"

    called = await api.ok("1", "call-next")
    assert called["counter"]["ticket"] == "A001"
    assert called["ticket"]["status"] == "called"
    assert (await api.ticket(ticket["token"]))["counter"] == "1"

    started = await api.ok("1", "start", "A001")
    assert started["ticket"]["status"] == "serving"

    done = await api.ok("1", "done", "A001")
    assert done["counter"]["ticket"] is None
    assert done["ticket"] is None
    assert (await api.ticket(ticket["token"]))["status"] == "done"


async def test_a_repeated_done_changes_nothing(api: Api) -> None:
    await api.ok("1", "open")
    await api.issued("A")
    await api.ok("1", "call-next")
    await api.ok("1", "done", "A001")
    version = (await api.snapshot())["version"]

    again = await api.counter("1", "done", "A001")

    assert again.status_code == 200
    assert again.json()["changed"] is False
    assert (await api.snapshot())["version"] == version


async def test_naming_another_ticket_is_refused(api: Api) -> None:
    await api.ok("1", "open")
    await api.ok("2", "open")
    await api.issued("A")
    await api.issued("A")
    await api.ok("1", "call-next")
    await api.ok("2", "call-next")

    response = await api.counter("1", "done", "A002")

    assert api.refused(response, 409) == "unexpected_ticket"
    assert response.json()["error"]["current"] == "A001"
    assert (await api.tickets())["A002"]["status"] == "called"


async def test_call_next_on_a_busy_counter(api: Api) -> None:
    await api.ok("1", "open")
    await api.issued("A")
    await api.ok("1", "call-next")

    response = await api.counter("1", "call-next")

    assert api.refused(response, 409) == "counter_busy"
    assert response.json()["error"]["ticket"] == "A001"


async def test_call_next_needs_an_open_counter_and_someone_to_call(api: Api) -> None:
    await api.issued("A")
    assert api.refused(await api.counter("1", "call-next"), 409) == "counter_not_open"
    await api.ok("3", "open")  # counter 3 serves B and C, not A
    assert api.refused(await api.counter("3", "call-next"), 409) == "nobody_to_call"


async def test_transfer_keeps_the_number_and_queues_inside_for_the_new_service(
    api: Api,
) -> None:
    await api.ok("1", "open")
    ticket = await api.issued("A")
    await api.ok("1", "call-next")
    await api.ok("1", "start", "A001")

    response = await api.counter("1", "transfer", "A001", service="C")

    assert response.status_code == 200, response.text
    assert response.json()["counter"]["ticket"] is None
    view = await api.ticket(ticket["token"])
    assert (view["number"], view["service"], view["status"]) == ("A001", "C", "admitted")
    assert view["counter"] is None
    await api.ok("4", "open")  # counter 4 serves C and D
    called = await api.ok("4", "call-next")
    assert called["ticket"]["number"] == "A001"
    assert called["ticket"]["service"] == "C"


async def test_transfer_repeated_is_harmless(api: Api) -> None:
    await api.ok("1", "open")
    await api.issued("A")
    await api.ok("1", "call-next")
    assert (await api.counter("1", "transfer", "A001", service="C")).json()["changed"] is True

    again = await api.counter("1", "transfer", "A001", service="C")

    assert again.status_code == 200
    assert again.json()["changed"] is False


async def test_no_show_requeues_once_then_drops(api: Api) -> None:
    await api.ok("1", "open")
    ticket = await api.issued("A")
    await api.ok("1", "call-next")

    first = await api.ok("1", "no-show", "A001")
    assert first["counter"]["ticket"] is None
    view = await api.ticket(ticket["token"])
    assert view["status"] == "admitted"  # back in the queue, and the room has space
    repeated = await api.counter("1", "no-show", "A001")
    assert repeated.status_code == 200 and repeated.json()["changed"] is False

    await api.ok("1", "call-next")
    await api.ok("1", "no-show", "A001")
    assert (await api.ticket(ticket["token"]))["status"] == "no_show"


async def test_a_requeued_ticket_goes_behind_those_waiting(api: Api) -> None:
    await api.ok("1", "open")
    await api.issued("A")
    await api.issued("A")
    await api.ok("1", "call-next")

    await api.ok("1", "no-show", "A001")

    tickets = await api.tickets()
    assert tickets["A002"]["status"] == "admitted"
    assert tickets["A001"]["status"] == "waiting"
    assert (await api.ok("1", "call-next"))["ticket"]["number"] == "A002"


async def test_recall_keeps_the_ticket_at_the_counter(api: Api, clock: FakeClock) -> None:
    await api.ok("1", "open")
    await api.issued("A")
    await api.ok("1", "call-next")
    clock.advance(seconds=90)

    recalled = await api.ok("1", "recall", "A001")

    assert recalled["counter"]["ticket"] == "A001"
    calls = (await api.snapshot())["calling"]
    assert [c["number"] for c in calls] == ["A001", "A001"]
    assert calls[0]["at"] - calls[1]["at"] == 90


async def test_grace_time_runs_out_on_the_ticker(api: Api, clock: FakeClock) -> None:
    await api.ok("1", "open")
    await api.issued("A")
    await api.issued("A")
    await api.ok("1", "call-next")
    ticker = Ticker(api.app.state.branches)

    clock.advance(seconds=179)
    await ticker.tick("demo")
    assert (await api.tickets())["A001"]["status"] == "called"

    clock.advance(seconds=1)
    await ticker.tick("demo")
    tickets = await api.tickets()
    assert tickets["A001"]["status"] == "waiting"  # requeued once, behind A002
    assert tickets["A002"]["status"] == "admitted"


async def test_occupancy_adjustments(api: Api) -> None:
    up = await api.occupancy(2, "courier")

    assert up.status_code == 200
    assert up.json()["changed"] is True
    assert up.json()["inside"] == 2
    assert (await api.snapshot())["inside"] == 2
    down = await api.occupancy(-2, "courier left")
    assert down.json()["inside"] == 0
    assert api.refused(await api.occupancy(-1, "nobody left"), 409) == "adjustment_below_zero"


async def test_adjusted_occupancy_holds_admissions(api: Api) -> None:
    await api.ok("1", "open")
    await api.occupancy(1, "companion")

    ticket = await api.issued("A")
    assert ticket["status"] == "waiting"

    await api.occupancy(-1, "companion left")
    assert (await api.ticket(ticket["token"]))["status"] == "admitted"


async def test_display_snapshot(api: Api) -> None:
    await api.ok("1", "open")
    await api.ok("3", "open")
    await api.issued("A")
    await api.issued("C", party_size=1)
    await api.issued("A")
    await api.ok("1", "call-next")

    snapshot = await api.snapshot()

    assert snapshot["branch"] == "demo"
    assert (snapshot["inside"], snapshot["limit"], snapshot["go"]) == (2, 2, False)
    assert snapshot["calling"][0]["number"] == "A001"
    assert snapshot["calling"][0]["counter"] == "1"
    counters = {c["id"]: (c["status"], c["ticket"]) for c in snapshot["counters"]}
    assert counters == {
        "1": ("open", "A001"),
        "2": ("closed", None),
        "3": ("open", None),
        "4": ("closed", None),
    }
    services = {s["letter"]: (s["waiting"], s["inside"]) for s in snapshot["services"]}
    assert services == {"A": (1, 0), "B": (0, 0), "C": (0, 1), "D": (0, 0)}
    assert snapshot["may_enter"] == ["C001"]
    assert "token" not in str(snapshot)


async def test_one_open_counter_admits_one(api: Api) -> None:
    await api.ok("1", "open")
    views = [await api.issued("A") for _ in range(4)]

    assert [v["status"] for v in views] == ["admitted", "waiting", "waiting", "waiting"]
    snapshot = await api.snapshot()
    assert (snapshot["inside"], snapshot["limit"]) == (1, 1)
    assert snapshot["services"][0]["waiting"] == 3

    await api.ok("1", "call-next")
    await api.ok("1", "done", "A001")
    statuses = [t["status"] for t in (await api.tickets()).values()]
    assert statuses == ["done", "admitted", "waiting", "waiting"]


async def test_closing_a_counter_lowers_the_limit_without_throwing_anyone_out(api: Api) -> None:
    await api.ok("1", "open")
    await api.ok("2", "open")
    await api.issued("A")
    await api.issued("A")
    await api.issued("A")

    await api.ok("2", "close")

    snapshot = await api.snapshot()
    assert (snapshot["inside"], snapshot["limit"]) == (2, 1)
    assert [t["status"] for t in (await api.tickets()).values()] == [
        "admitted",
        "admitted",
        "waiting",
    ]


async def test_a_busy_counter_cannot_close(api: Api) -> None:
    await api.ok("1", "open")
    await api.issued("A")
    await api.ok("1", "call-next")

    response = await api.counter("1", "close")

    assert api.refused(response, 409) == "counter_busy"
    assert (await api.ok("1", "pause"))["counter"]["status"] == "paused"


async def test_two_counters_calling_at_once_call_different_tickets(api: Api) -> None:
    await api.ok("1", "open")
    await api.ok("2", "open")
    await api.issued("A")
    await api.issued("A")
    called: dict[str, str] = {}

    async def call(counter: str) -> None:
        called[counter] = (await api.ok(counter, "call-next"))["ticket"]["number"]

    async with anyio.create_task_group() as group:
        group.start_soon(call, "1")
        group.start_soon(call, "2")

    assert sorted(called.values()) == ["A001", "A002"]
    counters = {c["id"]: c["ticket"] for c in (await api.snapshot())["counters"]}
    assert counters == {"1": called["1"], "2": called["2"], "3": None, "4": None}


async def test_door_staff_confirm_an_entry(api: Api) -> None:
    await api.ok("1", "open")
    await api.issued("A")
    assert (await api.snapshot())["may_enter"] == ["A001"]
    url = "/api/v1/branches/demo/entries"

    first = await api.client.post(url, json={"ticket": "A001"}, headers=api.auth())
    again = await api.client.post(url, json={"ticket": "A001"}, headers=api.auth())

    assert (first.status_code, first.json()["changed"]) == (200, True)
    assert (again.status_code, again.json()["changed"]) == (200, False)
    assert (await api.snapshot())["may_enter"] == []
