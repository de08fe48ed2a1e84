"""Rendering pages: one template environment over the app's, the kiosk's, the display's and
the consoles' templates, the translations of the page's language, and the static files.

Pages are plain HTML with their own scripts and styles, served from this
process: no build step, no CDN, nothing from the internet, so a branch's
screens keep working on its own network.
"""

from __future__ import annotations

import json
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from queueapp.domain.config import LANGUAGES
from queueapp.i18n import LANGUAGE_NAMES, catalog, negotiate

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

_environment = Environment(
    loader=ChoiceLoader(
        [
            PackageLoader("queueapp.web", "templates"),
            PackageLoader("queueapp.kiosk", "templates"),
            PackageLoader("queueapp.display", "templates"),
            PackageLoader("queueapp.consoles", "templates"),
        ]
    ),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def page_language(request: Request, offered: tuple[str, ...] = LANGUAGES) -> str:
    """``?lang=`` first, then the browser's languages, then the first the branch offers."""
    return negotiate(
        request.query_params.get("lang"), request.headers.get("accept-language", ""), offered
    )


def render(
    request: Request, template: str, lang: str, status_code: int = 200, **context: Any
) -> Response:
    translations = catalog(lang)
    body = _environment.get_template(template).render(
        request=request,
        lang=lang,
        languages=LANGUAGE_NAMES,
        catalog_json=_script_json(translations.for_scripts()),
        _=translations.gettext,
        gettext=translations.gettext,
        ngettext=translations.ngettext,
        **context,
    )
    return HTMLResponse(
        body, status_code=status_code, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY}
    )


def _script_json(data: object) -> str:
    """JSON safe inside a <script> element: no '<' can close it early."""
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


async def catalog_json(request: Request) -> JSONResponse:
    """The same catalog a page embeds, for scripts that switch language without a reload."""
    lang = request.path_params["lang"]
    if lang not in LANGUAGES:
        return JSONResponse(
            {
                "error": {
                    "code": "unknown_language",
                    "message": f"Languages: {', '.join(LANGUAGES)}",
                }
            },
            status_code=404,
        )
    return JSONResponse(catalog(lang).for_scripts())


routes = [
    Route("/i18n/{lang}.json", catalog_json, methods=["GET"]),
    Mount("/static/app", StaticFiles(packages=[("queueapp.web", "static")]), name="static-app"),
    Mount(
        "/static/kiosk", StaticFiles(packages=[("queueapp.kiosk", "static")]), name="static-kiosk"
    ),
    Mount(
        "/static/display",
        StaticFiles(packages=[("queueapp.display", "static")]),
        name="static-display",
    ),
    Mount(
        "/static/consoles",
        StaticFiles(packages=[("queueapp.consoles", "static")]),
        name="static-consoles",
    ),
]
