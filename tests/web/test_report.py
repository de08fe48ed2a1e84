"""The manager's report: a row per service and day, as JSON or CSV, from the event log."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import pytest

from queueapp.domain.report import COLUMNS

if TYPE_CHECKING:
    from tests.web.conftest import Api, FakeClock

pytestmark = pytest.mark.anyio

REPORT = "/api/v1/branches/demo/report"


@pytest.fixture
async def served_day(api: Api, clock: FakeClock) -> None:
    """Three A tickets and one C ticket; A001 and A002 served, A003 cancelled, C001 waits.

    A001 waits 2 minutes and is served in 4; A002 waits 6 and is served in 5.
    """
    await api.ok("1", "open")
    await api.issued("A")
    await api.issued("A")
    third = await api.issued("A")
    await api.issued("C")  # counter 1 serves A and B only
    await api.client.delete(f"/api/v1/tickets/{third['token']}")
    clock.advance(minutes=2)
    await api.ok("1", "call-next")
    await api.ok("1", "start", "A001")
    clock.advance(minutes=4)
    await api.ok("1", "done", "A001")
    assert (await api.ok("1", "call-next"))["ticket"]["number"] == "A002"
    await api.ok("1", "start", "A002")
    clock.advance(minutes=5)
    await api.ok("1", "done", "A002")


@pytest.mark.usefixtures("served_day")
async def test_json_report(api: Api) -> None:
    response = await api.client.get(REPORT, headers=api.auth("manager"))

    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["branch"], report["from"], report["to"]) == ("demo", api.day, api.day)
    rows = {row["service"]: row for row in report["rows"]}
    assert set(rows) == {"A", "C"}
    a, c = rows["A"], rows["C"]
    assert (a["day"], a["issued"], a["served"], a["cancelled"], a["no_show"]) == (
        api.day,
        3,
        2,
        1,
        0,
    )
    assert a["wait_median_min"] == 4.0  # waits of 2 and 6 minutes
    assert a["wait_p90_min"] == 6.0
    assert a["service_median_min"] == 4.5  # 4 and 5 minutes
    assert a["max_inside"] == 1
    assert (c["issued"], c["served"], c["wait_median_min"], c["service_median_min"]) == (
        1,
        0,
        None,
        None,
    )


@pytest.mark.usefixtures("served_day")
async def test_csv_report(api: Api) -> None:
    response = await api.client.get(
        f"{REPORT}?from={api.day}&to={api.day}",
        headers={**api.auth("manager"), "Accept": "text/csv"},
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    lines = response.text.splitlines()
    assert lines[0] == ",".join(COLUMNS)
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["service"], r["issued"], r["served"]) for r in rows] == [
        ("A", "3", "2"),
        ("C", "1", "0"),
    ]
    assert rows[0]["wait_median_min"] == "4.0"


@pytest.mark.usefixtures("served_day")
async def test_report_spans_days(api: Api, clock: FakeClock) -> None:
    clock.advance(days=1)
    await api.issued("D")
    tomorrow = (await api.snapshot())["day"]

    response = await api.client.get(
        f"{REPORT}?from={api.day}&to={tomorrow}",
        headers=api.auth("admin"),
    )

    rows = [(r["day"], r["service"], r["issued"]) for r in response.json()["rows"]]
    assert rows == [(api.day, "A", 3), (api.day, "C", 1), (tomorrow, "D", 1)]
    only_today = await api.client.get(REPORT, headers=api.auth("admin"))
    assert [(r["day"], r["service"]) for r in only_today.json()["rows"]] == [(tomorrow, "D")]


async def test_an_empty_day_has_no_rows(api: Api) -> None:
    response = await api.client.get(REPORT, headers=api.auth("manager"))

    assert response.json()["rows"] == []
