"""Public screens: the wall display and the branch directory.

Both pages are rendered with their labels in place and filled in by their
scripts from the live feeds, so the server says what the words are and the
branch feed says what the numbers are. The display speaks and reads in up
to two languages (``?lang=`` and ``?lang2=``, defaulting to the branch's);
``?speak=`` picks the languages of the spoken call, ``?sound=off`` mutes it
(the door layout is silent unless ``?sound=on``: calls are for the people inside).
A display may be paired as a branch device (``?pair=``), which lets its door
layout show the join QR of a branch that admits phones at the door only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, time
from typing import Any
from urllib.parse import urljoin

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from queueapp.domain.capacity import local_time
from queueapp.domain.config import LANGUAGES, WEEKDAYS, BranchConfig, Interval
from queueapp.domain.errors import NotFound
from queueapp.domain.state import BranchState
from queueapp.domain.views import branch_snapshot, branch_summary
from queueapp.i18n import catalog
from queueapp.service.branches import BranchService
from queueapp.web import visitor_access as access
from queueapp.web.pages import page_language, render

LAYOUTS = ("landscape", "portrait", "door")
"""The display's layouts: 1080p landscape (default), 1080p portrait, and the entrance."""

SPEECH_TAGS = {"en": "en-GB", "cs": "cs-CZ", "bg": "bg-BG", "vi": "vi-VN"}
"""The voice each language asks the browser for."""

QR_REFRESH_SECONDS = 30
"""How often the door display fetches its join QR again: in ``door`` mode the code in it
changes every minute (see :mod:`queueapp.service.joining`)."""

_DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}


def _service(request: Request) -> BranchService:
    return request.app.state.branches  # type: ignore[no-any-return]


async def display(request: Request) -> Response:
    branch = request.path_params["branch"]
    try:
        config = await _service(request).config(branch)
    except NotFound:
        return _missing(request, branch)
    paired = await access.accept_pairing(request, branch, "display")
    if paired is not None:
        return paired
    lang = page_language(request, config.languages)
    second = _second_language(request.query_params.get("lang2"), config.languages, lang)
    layout = request.query_params.get("layout", LAYOUTS[0])
    if layout not in LAYOUTS:
        layout = LAYOUTS[0]
    settings = {
        "branch": branch,
        "layout": layout,
        "timezone": config.timezone,
        "languages": [lang, *([second] if second else [])],
        "sound": request.query_params.get("sound", "off" if layout == "door" else "on") == "on",
        "speech": [
            {
                "lang": code,
                "tag": SPEECH_TAGS[code],
                "text": catalog(code).gettext("Ticket {number}, please go to counter {counter}."),
            }
            for code in _speech_languages(request.query_params.get("speak"), lang, second)
        ],
        "join_qr": f"/b/{branch}/join/qr.svg",
        "qr_refresh_seconds": QR_REFRESH_SECONDS,
    }
    secondary = catalog(second) if second else None
    response = render(
        request,
        "display.html",
        lang,
        branch=branch,
        name=config.name,
        layout=layout,
        second=second,
        _2=secondary.gettext if secondary else None,
        secondary_json=_json(secondary.for_scripts() if secondary else None),
        settings_json=_json(settings),
        join_address=_join_address(request, config),
    )
    access.renew_device_cookie(request, response)
    return response


def _join_address(request: Request, config: BranchConfig) -> str | None:
    """The join page's address to print under the door QR, without its scheme as people
    type it; None when the QR carries a door code (the bare address would not let anyone in)."""
    if config.join.mode != "open":
        return None
    address = urljoin(str(request.base_url), f"/b/{config.id}/join")
    return address.removeprefix("https://").removeprefix("http://")


async def directory(request: Request) -> Response:
    service = _service(request)
    lang = page_language(request)
    now = service.clock()
    translations = catalog(lang)
    branches = [
        _directory_entry(config, await service.state(config.id), now, translations.gettext)
        for config in await service.configs()
    ]
    return render(request, "directory.html", lang, branches=branches)


def _directory_entry(
    config: BranchConfig, state: BranchState, now: datetime, _: Callable[[str], str]
) -> dict[str, Any]:
    """What the directory shows of a branch; the waiting figures are those of the API's list."""
    snapshot = branch_snapshot(state, now)
    today = WEEKDAYS[local_time(config, now).weekday()]
    return {
        "id": config.id,
        "name": config.name,
        "address": config.address,
        **branch_summary(snapshot),
        "today": _hours_text(config.hours.get(today, ()), _),
        "week": [
            {
                "day": _(_DAY_NAMES[day]),
                "hours": _hours_text(config.hours.get(day, ()), _),
                "today": day == today,
            }
            for day in WEEKDAYS
        ],
    }


def _hours_text(intervals: tuple[Interval, ...], _: Callable[[str], str]) -> str:
    if not intervals:
        return _("Closed")
    if len(intervals) == 1 and intervals[0].open == intervals[0].close:
        return _("Open 24 hours")
    return ", ".join(f"{_clock(i.open)}\u2013{_clock(i.close, end=True)}" for i in intervals)


def _clock(moment: time, end: bool = False) -> str:
    """A local time as people read it on a door: an interval closing at midnight ends at 24:00."""
    return "24:00" if end and moment == time(0) else moment.strftime("%H:%M")


def _second_language(wanted: str | None, offered: tuple[str, ...], first: str) -> str | None:
    """The display's second language: ``?lang2=`` (``none`` for none), else the branch's next."""
    if wanted == "none":
        return None
    if wanted in LANGUAGES and wanted != first:
        return wanted
    return next((code for code in offered if code != first), None)


def _speech_languages(wanted: str | None, first: str, second: str | None) -> list[str]:
    """``?speak=en,cs`` if given, else the display's languages; ``?speak=none`` is silent."""
    if wanted is not None:
        codes = [code.strip() for code in wanted.split(",")]
        return list(dict.fromkeys(code for code in codes if code in LANGUAGES))
    return [first, *([second] if second else [])]


def _missing(request: Request, branch: str) -> Response:
    return render(
        request, "display_missing.html", page_language(request), status_code=404, branch=branch
    )


def _json(data: object) -> str:
    """JSON safe inside a <script> element: no '<' can close it early."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


routes: list[BaseRoute] = [
    Route("/", directory, methods=["GET"]),
    Route("/b/{branch}/display", display, methods=["GET"]),
]
