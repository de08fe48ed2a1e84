"""Manager routes: a branch's whole configuration, and its reports."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from queueapp.domain import events as ev
from queueapp.domain.config import dump_config, parse_config
from queueapp.domain.errors import NotFound
from queueapp.domain.report import COLUMNS, day_report
from queueapp.service.branches import BranchService
from queueapp.store import Stream
from queueapp.web.auth import require
from queueapp.web.bodies import read_json
from queueapp.web.errors import ApiError

MAX_REPORT_DAYS = 92


def _service(request: Request) -> BranchService:
    return request.app.state.branches  # type: ignore[no-any-return]


async def get_config(request: Request) -> JSONResponse:
    branch = request.path_params["branch"]
    await require(request, "manager", branch)
    return JSONResponse(dump_config(await _service(request).config(branch)))


async def put_config(request: Request) -> JSONResponse:
    """Replace the whole configuration; creating a new branch is for admins."""
    branch = request.path_params["branch"]
    who = await require(request, "manager", branch)
    data = await read_json(request)
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_config", "The configuration is a JSON object.")
    data.setdefault("id", branch)
    if data["id"] != branch:
        raise ApiError(422, "invalid_config", f"The configuration's id must be {branch!r}.")
    config = parse_config({**data, "revision": 0})
    service = _service(request)
    try:
        await service.config(branch)
    except NotFound:
        await require(request, "admin", None)
    saved = await service.save_config(config, actor=who.name)
    return JSONResponse(dump_config(saved))


async def get_report(request: Request) -> Response:
    branch = request.path_params["branch"]
    await require(request, "manager", branch)
    service = _service(request)
    today = date.fromisoformat((await service.state(branch)).day)
    first = _day(request, "from", today)
    last = _day(request, "to", today)
    if first > last or (last - first).days >= MAX_REPORT_DAYS:
        raise ApiError(
            422, "invalid_range", f"'from' must not be after 'to', at most {MAX_REPORT_DAYS} days."
        )
    rows = []
    for offset in range((last - first).days + 1):
        day = (first + timedelta(days=offset)).isoformat()
        stored = await service.store.read(Stream(branch, day))
        rows.extend(day_report(day, (ev.from_dict(e.data) for e in stored)))
    if "text/csv" in request.headers.get("accept", ""):
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        return Response(
            out.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{branch}-{first}-{last}.csv"'},
        )
    return JSONResponse(
        {"branch": branch, "from": first.isoformat(), "to": last.isoformat(), "rows": rows}
    )


def _day(request: Request, name: str, default: date) -> date:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(422, "invalid_date", f"'{name}' is a date like 2026-11-23.") from None


routes = [
    Route("/api/v1/branches/{branch}/config", get_config, methods=["GET"]),
    Route("/api/v1/branches/{branch}/config", put_config, methods=["PUT"]),
    Route("/api/v1/branches/{branch}/report", get_report, methods=["GET"]),
]
