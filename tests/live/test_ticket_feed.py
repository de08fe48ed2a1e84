"""A visitor's ticket feed: each status change as it happens, and never anybody's token.

A ticket token is the visitor's credential (README, "How it works"): the
ticket feed is opened with it but must not echo it, and the public branch
feed must carry no token at all. Changes are made through server B; the
phones and the display watch through server A.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from livefeeds import Cluster, Message, Recorder, Staff, branch_feed, record, ticket_feed
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

pytestmark = [pytest.mark.slow, pytest.mark.anyio]


def statuses(recorder: Recorder) -> list[str]:
    """The ticket's statuses as delivered, repeats (position or wait updates) folded."""
    folded: list[str] = []
    for message in recorder.feed():
        assert message["type"] == "ticket", message
        status = message["ticket"]["status"]
        if not folded or folded[-1] != status:
            folded.append(status)
    return folded


def reached(status: str) -> Callable[[list[Message]], bool]:
    def done(messages: list[Message]) -> bool:
        return any(m["type"] == "ticket" and m["ticket"]["status"] == status for m in messages)

    return done


async def test_a_phone_sees_every_step_of_its_ticket(cluster: Cluster) -> None:
    async with Staff.at(cluster.b, cluster.token) as staff:
        branch = await staff.new_branch()
        # One open counter: the limit is one person, so the first ticket is
        # admitted and the second waits outside.
        await staff.counter(branch, "1", "open")
        first = await staff.issue(branch)
        mine = await staff.issue(branch)
        assert (first["status"], mine["status"]) == ("admitted", "waiting")
        async with record(ticket_feed(cluster.a, mine["token"])) as phone:
            await phone.wait_for(reached("waiting"))
            await staff.serve_one(branch, "1")  # the first visitor leaves: mine may enter
            await phone.wait_for(reached("admitted"))
            called = await staff.counter(branch, "1", "call-next")
            assert called["ticket"]["number"] == mine["number"]
            await phone.wait_for(reached("called"))
            await staff.counter(branch, "1", "start", mine["number"])
            await phone.wait_for(reached("serving"))
            finished = await staff.counter(branch, "1", "done", mine["number"])
            await phone.wait_for(reached("done"))

    assert statuses(phone) == ["waiting", "admitted", "called", "serving", "done"]
    views = {m["ticket"]["status"]: m for m in phone.feed()}
    assert views["waiting"]["ticket"]["position"] == 1
    assert views["waiting"]["ticket"]["grace_deadline"] is None
    call = views["called"]
    assert call["ticket"]["counter"] == "1"
    grace = call["ticket"]["grace_deadline"]
    assert grace == pytest.approx(called["ticket"]["called_at"] + 180)
    assert views["serving"]["ticket"]["counter"] == "1"
    assert views["serving"]["ticket"]["grace_deadline"] is None
    assert views["done"]["version"] == finished["version"]
    for message in phone.feed():
        assert message["ticket"]["number"] == mine["number"]
        assert message["ticket"]["branch"] == branch
    versions = [m["version"] for m in phone.feed()]
    assert versions == sorted(versions)


async def test_no_feed_ever_carries_a_token(cluster: Cluster) -> None:
    """Two phones and a display follow a busy branch; no message names any issued token."""
    async with Staff.at(cluster.b, cluster.token) as staff:
        branch = await staff.new_branch()
        tickets = [await staff.issue(branch, "A") for _ in range(3)]
        async with (
            record(ticket_feed(cluster.a, tickets[0]["token"])) as phone,
            record(ticket_feed(cluster.a, tickets[1]["token"])) as other_phone,
            record(branch_feed(cluster.a, branch)) as display,
        ):
            for recorder in (phone, other_phone, display):
                await recorder.wait_for(lambda m: len(m) >= 1)
            tickets += [await staff.issue(branch, service) for service in "ABBCD"]
            for counter in ("1", "2", "3"):
                await staff.counter(branch, counter, "open")
            await asyncio.gather(*(staff.serve_one(branch, c) for c in ("1", "2", "3")))
            # Nobody serves D today: that visitor gives up and cancels from their phone.
            cancel = await staff.client.delete(f"/api/v1/tickets/{tickets[-1]['token']}")
            assert cancel.status_code == 200, cancel.text
            # Someone is sent to another service, someone does not come.
            called = await staff.call_next(branch, "1")
            transfer = await staff.client.post(
                f"/api/v1/branches/{branch}/counters/1/transfer",
                json={"ticket": called["ticket"]["number"], "service": "C"},
                headers=staff.headers,
            )
            assert transfer.status_code == 200, transfer.text
            called = await staff.call_next(branch, "2")
            await staff.counter(branch, "2", "no-show", called["ticket"]["number"])
            # The counters serve whoever is left (the no-show came back to the queue once).
            served = True
            while served:
                served = False
                for counter in ("1", "2", "3"):
                    response = await staff.client.post(
                        f"/api/v1/branches/{branch}/counters/{counter}/call-next",
                        headers=staff.headers,
                    )
                    if response.status_code == 200:
                        number = response.json()["ticket"]["number"]
                        await staff.counter(branch, counter, "done", number)
                        served = True
            last = (await staff.snapshot(branch))["version"]
            await display.wait_for_version(last)
            for recorder in (phone, other_phone):
                await recorder.wait_for(reached("done"))

    tokens = [t["token"] for t in tickets]
    secrets = tokens + [token.rsplit(".", 1)[1] for token in tokens]
    assert len(display.raw) > 10
    assert len(phone.raw) >= 3 and len(other_phone.raw) >= 3
    for recorder in (phone, other_phone, display):
        for text in recorder.raw:
            leaked = [secret for secret in secrets if secret in text]
            assert not leaked, f"{text} carries {leaked}"
            assert "token" not in text, text
    for recorder, ticket in ((phone, tickets[0]), (other_phone, tickets[1])):
        assert {m["ticket"]["number"] for m in recorder.feed()} == {ticket["number"]}


async def test_unknown_ticket_is_refused_with_4404(cluster: Cluster) -> None:
    async with Staff.at(cluster.b, cluster.token) as staff:
        branch = await staff.new_branch()
        real = await staff.issue(branch)
    day = real["token"].split(".")[1]
    for token in (f"{branch}.{day}.{uuid.uuid4().hex}", "not-a-token"):
        async with connect(ticket_feed(cluster.a, token)) as socket:
            with pytest.raises(ConnectionClosedError) as refused:
                await socket.recv()
        assert refused.value.rcvd is not None
        assert refused.value.rcvd.code == 4404, token
