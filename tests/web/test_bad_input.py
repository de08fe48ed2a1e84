"""Bad input is refused with a 4xx JSON error, and refusing it changes nothing.

Each case is sent to a branch in the middle of a day (counter 1 is calling
A001, A002 waits outside) and must come back with the documented error shape
and code; the branch's snapshot, its tickets, its event log and the stored
configurations must be exactly as they were before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from queueapp.domain.commands import COUNTER_ACTIONS

if TYPE_CHECKING:
    from tests.web.conftest import Api

pytestmark = pytest.mark.anyio

NO_BODY = object()
TOO_BIG = 64 * 1024 + 1
DEMO = "/api/v1/branches/demo"
NOPE = "/api/v1/branches/nope"
TICKETS = f"{DEMO}/tickets"
OCCUPANCY = f"{DEMO}/occupancy"
SECRET = "A" * 22
UNKNOWN_TOKEN = f"demo.20261123.{SECRET}"
PADDED = b'{"service": "A", "pad": "' + b"x" * TOO_BIG + b'"}'
NESTED = b'{"service": ' + b"[" * 30000 + b"]" * 30000 + b"}"


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    status: int
    code: str
    json: Any = NO_BODY
    content: bytes | None = None
    stream: bool = False
    """Send ``content`` in chunks without a Content-Length."""
    headers: dict[str, str] = field(default_factory=dict)
    auth: str | None = None
    """The role whose token is sent: staff, manager or admin (of demo)."""
    problem: str | None = None
    """Text that one of the error's ``problems`` must contain."""


def req(name: str, request: str, status: int, code: str, **options: Any) -> Case:
    """A case from ``"METHOD /path"``; options are the other fields of :class:`Case`."""
    method, path = request.split(" ")
    return Case(name, method, path, status, code, **options)


def issue(name: str, body: Any, status: int, code: str, key: str | None = None) -> Case:
    headers = {} if key is None else {"Idempotency-Key": key}
    return Case(name, "POST", TICKETS, status, code, json=body, headers=headers)


def counter(name: str, action: str, body: Any, status: int, code: str, at: str = "1") -> Case:
    path = f"{DEMO}/counters/{at}/{action}"
    return Case(name, "POST", path, status, code, json=body, auth="staff")


def occupancy(name: str, delta: Any, reason: Any, status: int, code: str) -> Case:
    body = {k: v for k, v in (("delta", delta), ("reason", reason)) if v is not NO_BODY}
    return Case(name, "POST", OCCUPANCY, status, code, json=body, auth="staff")


def config(name: str, status: int, code: str, problem: str | None, **changes: Any) -> Case:
    path = f"{DEMO}/config"
    return Case(name, "PUT", path, status, code, json=changes, auth="manager", problem=problem)


def report(name: str, query: str, code: str) -> Case:
    return Case(name, "GET", f"{DEMO}/report?{query}", 422, code, auth="manager")


def ticket(name: str, method: str, token: str, status: int, code: str) -> Case:
    path = f"/api/v1/tickets/{token}" + ("/delay" if method == "POST" else "")
    return Case(name, method, path, status, code)


A = {"service": "A"}
X = NO_BODY

CASES = [
    # unknown branches, counters, services, actions and tickets
    req("issue-unknown-branch", f"POST {NOPE}/tickets", 404, "unknown_branch", json=A),
    req("snapshot-unknown-branch", f"GET {NOPE}", 404, "unknown_branch"),
    req("counter-unknown-branch", f"POST {NOPE}/counters/1/open", 404, "unknown_branch",
        auth="admin"),
    req("occupancy-unknown-branch", f"POST {NOPE}/occupancy", 404, "unknown_branch",
        json={"delta": 1, "reason": "x"}, auth="admin"),
    req("config-unknown-branch", f"GET {NOPE}/config", 404, "unknown_branch", auth="admin"),
    req("report-unknown-branch", f"GET {NOPE}/report", 404, "unknown_branch", auth="admin"),
    counter("unknown-counter-open", "open", X, 404, "unknown_counter", at="9"),
    counter("unknown-counter-call", "call-next", X, 404, "unknown_counter", at="9"),
    counter("unknown-counter-done", "done", {"ticket": "A001"}, 404, "unknown_counter", at="9"),
    counter("unknown-action", "explode", {"ticket": "A001"}, 404, "unknown_action"),
    issue("unknown-service", {"service": "Z"}, 422, "unknown_service"),
    issue("lower-case-service", {"service": "a"}, 422, "unknown_service"),
    issue("unsupported-language", {**A, "lang": "de"}, 422, "unsupported_language"),
    ticket("unknown-token", "GET", UNKNOWN_TOKEN, 404, "unknown_ticket"),
    ticket("token-x", "GET", "x", 404, "unknown_ticket"),
    ticket("token-short", "GET", "demo.20261123.short", 404, "unknown_ticket"),
    ticket("token-bad-date", "GET", f"demo.20261399.{SECRET}", 404, "unknown_ticket"),
    ticket("token-other-day", "GET", f"demo.20261122.{SECRET}", 404, "unknown_ticket"),
    ticket("token-unknown-branch", "GET", f"nope.20261123.{SECRET}", 404, "unknown_ticket"),
    ticket("token-path-traversal", "GET", "..%2F..%2Fetc", 404, "not_found"),
    ticket("token-dot-segments", "GET", "../../etc", 404, "not_found"),
    ticket("cancel-unknown-token", "DELETE", UNKNOWN_TOKEN, 404, "unknown_ticket"),
    ticket("cancel-token-x", "DELETE", "x", 404, "unknown_ticket"),
    ticket("delay-unknown-token", "POST", UNKNOWN_TOKEN, 404, "unknown_ticket"),
    ticket("delay-token-short", "POST", "demo.20261123.short", 404, "unknown_ticket"),
    # wrong JSON types and missing fields
    issue("party-size-string", {**A, "party_size": "2"}, 422, "invalid_body"),
    issue("party-size-float", {**A, "party_size": 2.5}, 422, "invalid_body"),
    issue("party-size-bool", {**A, "party_size": True}, 422, "invalid_body"),
    issue("party-size-null", {**A, "party_size": None}, 422, "invalid_body"),
    issue("service-number", {"service": 5}, 422, "invalid_body"),
    issue("priority-string", {**A, "priority": "yes"}, 422, "invalid_body"),
    issue("priority-number", {**A, "priority": 1}, 422, "invalid_body"),
    issue("lang-number", {**A, "lang": 5}, 422, "invalid_body"),
    issue("missing-service", {"party_size": 1}, 422, "invalid_body"),
    issue("empty-object", {}, 422, "invalid_body"),
    issue("json-array", [A], 422, "invalid_body"),
    issue("json-string", "A", 422, "invalid_body"),
    req("json-null", f"POST {TICKETS}", 422, "invalid_body", content=b"null"),
    counter("done-missing-ticket", "done", {}, 422, "invalid_body"),
    counter("done-ticket-number", "done", {"ticket": 1}, 422, "invalid_body"),
    counter("done-json-array", "done", ["A001"], 422, "invalid_body"),
    counter("done-ticket-too-short", "done", {"ticket": "A"}, 422, "invalid_body"),
    counter("transfer-missing-service", "transfer", {"ticket": "A001"}, 422, "invalid_body"),
    occupancy("occupancy-missing-reason", 1, X, 422, "invalid_body"),
    occupancy("occupancy-missing-delta", X, "courier", 422, "invalid_body"),
    occupancy("occupancy-delta-string", "1", "courier", 422, "invalid_body"),
    occupancy("occupancy-delta-bool", True, "courier", 422, "invalid_body"),
    occupancy("occupancy-delta-float", 1.5, "courier", 422, "invalid_body"),
    occupancy("occupancy-long-reason", 1, "x" * 201, 422, "invalid_body"),
    # bodies that are not JSON, are empty, or are too large
    req("not-json", f"POST {TICKETS}", 400, "invalid_json", content=b"service=A"),
    req("truncated-json", f"POST {TICKETS}", 400, "invalid_json", content=b'{"service": "A"'),
    req("not-utf8", f"POST {TICKETS}", 400, "invalid_json", content=b'{"service": "\xff"}'),
    req("deeply-nested", f"POST {TICKETS}", 400, "invalid_json", content=NESTED),
    req("issue-no-body", f"POST {TICKETS}", 400, "body_required"),
    req("issue-blank-body", f"POST {TICKETS}", 400, "body_required", content=b" \n "),
    counter("done-no-body", "done", X, 400, "body_required"),
    counter("transfer-no-body", "transfer", X, 400, "body_required"),
    req("occupancy-no-body", f"POST {OCCUPANCY}", 400, "body_required", auth="staff"),
    req("config-no-body", f"PUT {DEMO}/config", 400, "body_required", auth="manager"),
    req("too-large", f"POST {TICKETS}", 413, "body_too_large", content=PADDED),
    req("too-large-streamed", f"POST {TICKETS}", 413, "body_too_large", content=PADDED,
        stream=True),
    req("config-too-large-streamed", f"PUT {DEMO}/config", 413, "body_too_large",
        content=b" " * TOO_BIG + b"{}", stream=True, auth="manager"),
    req("bad-content-length", f"POST {TICKETS}", 413, "body_too_large", content=b"{}",
        headers={"Content-Length": "1e3"}),
    # out of range
    issue("party-size-0", {**A, "party_size": 0}, 422, "invalid_party_size"),
    issue("party-size-negative", {**A, "party_size": -1}, 422, "invalid_party_size"),
    issue("party-size-7", {**A, "party_size": 7}, 422, "invalid_party_size"),
    issue("party-size-huge", {**A, "party_size": 10**40}, 422, "invalid_party_size"),
    issue("key-too-short", A, 422, "invalid_idempotency_key", key="short"),
    issue("key-too-long", A, 422, "invalid_idempotency_key", key="k" * 101),
    issue("key-with-spaces", A, 422, "invalid_idempotency_key", key="my key is long"),
    issue("key-with-symbols", A, 422, "invalid_idempotency_key", key="abc;def/ghi"),
    issue("key-empty", A, 422, "invalid_idempotency_key", key=""),
    # counter commands that name a ticket the counter does not hold
    counter("recall-wrong-ticket", "recall", {"ticket": "A002"}, 409, "unexpected_ticket"),
    counter("start-wrong-ticket", "start", {"ticket": "A002"}, 409, "unexpected_ticket"),
    counter("done-wrong-ticket", "done", {"ticket": "A002"}, 409, "unexpected_ticket"),
    counter("no-show-wrong-ticket", "no-show", {"ticket": "A002"}, 409, "unexpected_ticket"),
    counter("transfer-wrong-ticket", "transfer", {"ticket": "A002", "service": "C"}, 409,
            "unexpected_ticket"),
    counter("done-unknown-ticket", "done", {"ticket": "Z999"}, 404, "unknown_ticket"),
    counter("done-at-idle-counter", "done", {"ticket": "A001"}, 409, "unexpected_ticket", at="2"),
    counter("transfer-unknown-service", "transfer", {"ticket": "A001", "service": "Q"}, 422,
            "unknown_service"),
    counter("transfer-same-service", "transfer", {"ticket": "A001", "service": "A"}, 422,
            "same_service"),
    counter("call-next-busy", "call-next", X, 409, "counter_busy"),
    counter("close-busy", "close", X, 409, "counter_busy"),
    # occupancy out of range
    occupancy("delta-zero", 0, "courier", 422, "invalid_delta"),
    occupancy("delta-51", 51, "courier", 422, "invalid_delta"),
    occupancy("delta-huge", 10**40, "courier", 422, "invalid_delta"),
    occupancy("delta-huge-negative", -(10**40), "courier", 422, "invalid_delta"),
    occupancy("reason-blank", 1, "   ", 422, "invalid_reason"),
    occupancy("below-zero", -1, "left", 409, "adjustment_below_zero"),
    # configurations
    config("config-bad-timezone", 422, "invalid_config", "timezone", timezone="Mars/Olympus"),
    config("config-unknown-service", 422, "invalid_config", "unknown services Q",
           counters=[{"id": "1", "services": ["A", "Q"]}]),
    config("config-unknown-key", 422, "invalid_config", "colour", colour="red"),
    config("config-bad-hours", 422, "invalid_config", "hours.mon.0",
           hours={"mon": [{"open": "18:00", "close": "08:00"}]}),
    config("config-bad-weekday", 422, "invalid_config", "hours.monday", hours={"monday": []}),
    config("config-other-id", 422, "invalid_config", None, id="north"),
    config("config-drops-busy-counter", 409, "counter_in_use", None,
           counters=[{"id": "2", "services": ["A", "B", "C", "D"]}]),
    config("config-drops-waited-service", 409, "service_in_use", None,
           services=[{"letter": "B", "names": {"en": "Outages"}}],
           counters=[{"id": c, "services": ["B"]} for c in "1234"]),
    req("config-array", f"PUT {DEMO}/config", 422, "invalid_config", json=[], auth="manager"),
    # reports
    report("report-bad-from", "from=yesterday", "invalid_date"),
    report("report-bad-to", "to=2026-13-01", "invalid_date"),
    report("report-from-after-to", "from=2026-11-23&to=2026-11-22", "invalid_range"),
    report("report-too-long", "from=2026-01-01&to=2026-11-23", "invalid_range"),
    # routes and methods
    req("unknown-route", "GET /api/v1/nothing-here", 404, "not_found"),
    req("wrong-method", f"PATCH {DEMO}", 405, "method_not_allowed"),
]  # fmt: skip


def _body(api: Api, case: Case) -> Any:
    """A configuration case's changes applied to the demo's whole document."""
    if case.method == "PUT" and isinstance(case.json, dict):
        return api.config_doc(**case.json)
    return case.json


async def _chunks(content: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(content), 8192):
        yield content[start : start + 8192]


async def send(api: Api, case: Case) -> Any:
    headers = dict(case.headers)
    if case.auth is not None:
        headers.update(api.auth(case.auth))
    kwargs: dict[str, Any] = {"headers": headers}
    if case.content is not None:
        kwargs["content"] = _chunks(case.content) if case.stream else case.content
    elif case.json is not NO_BODY:
        kwargs["json"] = _body(api, case)
    return await api.client.request(case.method, case.path, **kwargs)


async def observe(api: Api) -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    store = api.app.state.store
    return {
        "snapshot": await api.snapshot(),
        "tickets": await api.tickets(),
        "log": await api.log(),
        "configs": await store.list_documents("branch"),
        "directory": (await api.client.get("/api/v1/branches")).json(),
    }


@pytest.fixture
async def busy(api: Api) -> None:
    """Counter 1 is calling A001; A002 waits outside (one open counter, one place)."""
    await api.ok("1", "open")
    await api.issued("A")
    await api.issued("A")
    await api.ok("1", "call-next")


@pytest.mark.usefixtures("busy")
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
async def test_refused_without_any_change(api: Api, case: Case) -> None:
    before = await observe(api)
    assert before["snapshot"]["counters"][0]["ticket"] == "A001"

    response = await send(api, case)

    assert api.refused(response, case.status) == case.code
    if case.problem is not None:
        problems = response.json()["error"]["problems"]
        assert any(case.problem in p for p in problems), problems
    assert await observe(api) == before


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


GARBAGE = [
    b"",
    b"null",
    b"[]",
    b"{}",
    b'"text"',
    b"1e999",
    b"NaN",
    b"-Infinity",
    b"{" * 5,
    b'{"ticket": null, "service": null, "delta": null, "reason": null}',
    b'{"ticket": {"x": 1}, "service": ["A"], "delta": 1e400, "reason": []}',
    b'{"ticket": NaN, "service": NaN, "party_size": NaN, "delta": NaN, "reason": NaN}',
    b'{"ticket": "\\u0000\\ud800", "service": "\\ud800"}',
    b'{"delta": 99999999999999999999999999999999, "reason": "x"}',
    b"\xef\xbb\xbf{}",
    b"\x00\x01\x02",
    b"[" * 5000 + b"]" * 5000,
    b'{"id": "demo", "services": "everything", "counters": {"1": "A"}}',
    b'{"id": "demo", "timezone": "../../../../etc/passwd"}',
    b'{"id": "demo", "timezone": "' + b"a" * 5000 + b'"}',
]

ROUTES = [
    ("POST", TICKETS),
    *(("POST", f"{DEMO}/counters/1/{action}") for action in (*COUNTER_ACTIONS, "transfer")),
    ("POST", OCCUPANCY),
    ("POST", f"{DEMO}/entries"),
    ("PUT", f"{DEMO}/config"),
    ("POST", f"/api/v1/tickets/{UNKNOWN_TOKEN}/delay"),
]


@pytest.mark.usefixtures("busy")
@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_garbage_is_never_a_server_error(api: Api, method: str, path: str) -> None:
    headers = api.auth("admin")
    before = await observe(api)
    for body in GARBAGE:
        response = await api.client.request(method, path, content=body, headers=headers)
        assert 400 <= response.status_code < 500, (body[:60], response.text)
        assert response.json()["error"]["code"]
    assert await observe(api) == before
