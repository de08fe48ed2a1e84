"""Visitors: issuing, following, cancelling and delaying a ticket over the API."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import anyio
import pytest

if TYPE_CHECKING:
    from tests.web.conftest import Api, FakeClock

pytestmark = pytest.mark.anyio

URLSAFE = re.compile(r"^[A-Za-z0-9_-]+$")


async def test_issue_returns_the_ticket_with_a_strong_token(api: Api) -> None:
    await api.ok("1", "open")

    response = await api.issue("A", party_size=2, lang="cs")

    assert response.status_code == 201
    view = response.json()
    assert view["number"] == "A001"
    assert view["service"] == "A"
    assert view["service_name"] == "Platby"
    assert view["party_size"] == 2
    assert view["status"] == "waiting"  # a party of 2 does not fit a limit of 1
    assert view["position"] == 1
    assert view["estimated_wait_minutes"] == 0
    branch, day, secret = view["token"].split(".")
    assert (branch, day) == ("demo", api.day.replace("-", ""))
    assert len(secret) >= 22 and URLSAFE.match(secret)  # 22 urlsafe characters: 132 bits
    token = view["token"]
    assert view["links"] == {
        "self": f"/api/v1/tickets/{token}",
        "page": f"/t/{token}",
        "qr": f"/t/{token}/qr.svg",
        "live": f"/api/v1/tickets/{token}/live",
    }


async def test_tokens_differ_and_a_later_ticket_waits_behind(api: Api) -> None:
    first = await api.issued("A")
    second = await api.issued("A")

    assert first["token"] != second["token"]
    assert second["position"] == 2
    assert second["estimated_wait_minutes"] is None  # no counter serves A yet


async def test_no_wait_is_claimed_where_no_open_counter_serves(api: Api) -> None:
    ticket = await api.issued("A")

    def waits(snapshot: dict[str, Any]) -> dict[str, tuple[bool, int | None]]:
        return {
            s["letter"]: (s["served"], s["estimated_wait_minutes"]) for s in snapshot["services"]
        }

    async def listed() -> dict[str, Any]:
        branches = (await api.client.get("/api/v1/branches")).json()["branches"]
        return next(b for b in branches if b["id"] == "demo")

    closed = {letter: (False, None) for letter in "ABCD"}
    assert waits(await api.snapshot()) == closed
    assert (await listed())["served"] is False
    assert (await listed())["estimated_wait_minutes"] is None
    assert (await api.ticket(ticket["token"]))["served"] is False

    await api.ok("1", "open")  # serves A and B; A001 is let in and is next at the counter

    assert waits(await api.snapshot()) == {
        "A": (True, 4),
        "B": (True, 0),
        "C": (False, None),
        "D": (False, None),
    }
    assert {k: (await listed())[k] for k in ("served", "estimated_wait_minutes", "waiting")} == {
        "served": True,
        "estimated_wait_minutes": 4,
        "waiting": 0,
    }
    assert (await api.ticket(ticket["token"]))["served"] is True
    outside = await api.issued("C")  # still issued: it waits outside until a counter opens
    assert (outside["status"], outside["served"], outside["estimated_wait_minutes"]) == (
        "waiting",
        False,
        None,
    )


async def test_same_idempotency_key_returns_the_same_ticket(api: Api) -> None:
    key = "kiosk-1:7f3a9c2e"
    first = await api.issue("B", key=key, party_size=1)
    again = await api.issue("B", key=key, party_size=1)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["number"] == first.json()["number"] == "B001"
    assert again.json()["token"] == first.json()["token"]
    assert list(await api.tickets()) == ["B001"]
    assert (await api.issued("B"))["number"] == "B002"


async def test_same_idempotency_key_with_another_body_is_refused(api: Api) -> None:
    key = "kiosk-1:7f3a9c2e"
    assert (await api.issue("A", key=key)).status_code == 201
    version = (await api.snapshot())["version"]

    changed: list[tuple[str, dict[str, Any]]] = [
        ("B", {}),
        ("A", {"party_size": 2}),
        ("A", {"priority": True}),
        ("A", {"lang": "cs"}),
    ]
    for service, body in changed:
        response = await api.issue(service, key=key, **body)
        assert api.refused(response, 422) == "idempotency_key_reused"

    assert (await api.snapshot())["version"] == version
    assert list(await api.tickets()) == ["A001"]


async def test_get_ticket_by_token(api: Api) -> None:
    issued = await api.issued("C", lang="vi")

    view = await api.ticket(issued["token"])

    assert view["number"] == "C001"
    assert view["status"] == "waiting"
    assert view["service_name"] == "Thay đổi hợp đồng"
    assert view["can_cancel"] is True and view["can_delay"] is True


async def test_cancel_then_cancel_again_is_harmless(api: Api) -> None:
    issued = await api.issued("A")
    url = f"/api/v1/tickets/{issued['token']}"

    cancelled = await api.client.delete(url)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    version = (await api.snapshot())["version"]

    again = await api.client.delete(url)
    assert again.status_code == 200
    assert again.json()["status"] == "cancelled"
    assert (await api.snapshot())["version"] == version
    assert (await api.ticket(issued["token"]))["can_cancel"] is False


async def test_cancelling_frees_the_place_inside(api: Api) -> None:
    await api.ok("1", "open")
    first = await api.issued("A")
    second = await api.issued("A")
    assert first["status"] == "admitted" and second["status"] == "waiting"

    await api.client.delete(f"/api/v1/tickets/{first['token']}")

    assert (await api.ticket(second["token"]))["status"] == "admitted"


async def test_delay_moves_back_once(api: Api) -> None:
    tickets = [await api.issued("A") for _ in range(5)]
    first = tickets[0]
    url = f"/api/v1/tickets/{first['token']}/delay"

    delayed = await api.client.post(url)
    assert delayed.status_code == 200
    assert delayed.json()["position"] == 4  # three places back (the demo's delay_places)
    assert delayed.json()["can_delay"] is False
    assert (await api.ticket(tickets[1]["token"]))["position"] == 1

    again = await api.client.post(url)
    assert api.refused(again, 409) == "already_delayed"
    assert (await api.ticket(first["token"]))["position"] == 4


async def test_only_a_waiting_ticket_may_delay(api: Api) -> None:
    await api.ok("1", "open")
    admitted = await api.issued("A")
    assert admitted["status"] == "admitted"

    response = await api.client.post(f"/api/v1/tickets/{admitted['token']}/delay")

    assert api.refused(response, 409) == "not_waiting"


async def test_suspended_service_answers_with_reason_and_online_url(api: Api) -> None:
    document = api.config_doc()
    document["services"][2]["suspended"] = {
        "reason": {"en": "Contracts are online only.", "cs": "Smlouvy jen online."},
        "online_url": "https://example.com/contracts",
    }
    assert (await api.put_config(document)).status_code == 200

    response = await api.issue("C")
    assert api.refused(response, 409) == "service_suspended"
    error = response.json()["error"]
    assert error["message"] == "Contracts are online only."
    assert error["online_url"] == "https://example.com/contracts"
    czech = await api.issue("C", lang="cs")
    assert czech.json()["error"]["message"] == "Smlouvy jen online."

    snapshot = await api.snapshot()
    assert snapshot["services"][2]["suspended"]["online_url"] == "https://example.com/contracts"
    assert await api.tickets() == {}
    assert (await api.issue("A")).status_code == 201  # other services go on


async def test_daily_cap(api: Api) -> None:
    document = api.config_doc()
    document["services"][0]["daily_cap"] = 2
    assert (await api.put_config(document)).status_code == 200
    first = await api.issued("A")
    await api.issued("A")
    await api.client.delete(f"/api/v1/tickets/{first['token']}")  # a cancel frees no number

    response = await api.issue("A")

    assert api.refused(response, 409) == "daily_cap_reached"
    assert sorted(await api.tickets()) == ["A001", "A002"]
    assert (await api.issued("B"))["number"] == "B001"


async def test_numbers_are_unique_and_consecutive_per_service(api: Api) -> None:
    order = ["A", "B", "A", "C", "A", "B", "D"]

    numbers = [(await api.issued(service))["number"] for service in order]

    assert numbers == ["A001", "B001", "A002", "C001", "A003", "B002", "D001"]
    assert sorted(await api.tickets()) == sorted(numbers)


async def test_issue_refused_when_the_branch_is_closed(api: Api) -> None:
    document = api.config_doc(hours={"sat": [{"open": "09:00", "close": "12:00"}]})
    assert (await api.put_config(document)).status_code == 200

    response = await api.issue("A")

    assert api.refused(response, 409) == "branch_closed"
    assert await api.tickets() == {}


async def test_concurrent_retries_make_one_ticket(api: Api) -> None:
    statuses: list[int] = []
    numbers: set[str] = set()

    async def issue() -> None:
        response = await api.issue("A", key="double-tap-0001")
        statuses.append(response.status_code)
        numbers.add(response.json()["number"])

    async with anyio.create_task_group() as group:
        for _ in range(8):
            group.start_soon(issue)

    assert sorted(statuses) == [200] * 7 + [201]
    assert numbers == {"A001"}
    assert list(await api.tickets()) == ["A001"]


async def test_concurrent_issues_get_distinct_numbers(api: Api) -> None:
    numbers: list[str] = []

    async def issue() -> None:
        numbers.append((await api.issued("B"))["number"])

    async with anyio.create_task_group() as group:
        for _ in range(10):
            group.start_soon(issue)

    assert sorted(numbers) == [f"B{n:03d}" for n in range(1, 11)]


async def test_yesterdays_ticket_can_be_read_but_not_changed(api: Api, clock: FakeClock) -> None:
    ticket = await api.issued("A")
    clock.advance(days=1)

    view = await api.ticket(ticket["token"])
    assert (view["number"], view["day"], view["status"]) == ("A001", api.day, "waiting")
    for response in (
        await api.client.delete(f"/api/v1/tickets/{ticket['token']}"),
        await api.client.post(f"/api/v1/tickets/{ticket['token']}/delay"),
    ):
        assert api.refused(response, 409) == "ticket_expired"
    assert (await api.ticket(ticket["token"]))["status"] == "waiting"
    assert (await api.issued("A"))["number"] == "A001"  # numbers start again each day
