"""Every refusal as JSON ``{"error": {"code", "message", ...}}`` with a 4xx status.

Domain refusals map by kind; the store being unreachable is a 503 that
clients may retry; anything unforeseen is logged and answered as a 500
without internals. Pages get the same codes, in plain text.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from queueapp.domain.config import ConfigError
from queueapp.domain.errors import Conflict, DomainError, Invalid, NotFound
from queueapp.store import StoreError

log = logging.getLogger(__name__)

_STATUS = {NotFound: 404, Invalid: 422, Conflict: 409}


class ApiError(Exception):
    """A refusal decided by the web layer (authentication, malformed bodies, limits)."""

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def error_response(
    request: Request, status: int, code: str, message: str, **details: Any
) -> Response:
    headers = {"Retry-After": "1"} if status == 503 else None
    if not request.url.path.startswith("/api/"):
        return PlainTextResponse(f"{status} {message}", status_code=status, headers=headers)
    body = {"error": {"code": code, "message": message, **details}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(request, exc.status, exc.code, exc.message, **exc.details)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    status = next((s for kind, s in _STATUS.items() if isinstance(exc, kind)), 409)
    return error_response(request, status, exc.code, exc.message, **exc.details)


async def _config_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConfigError)
    return error_response(
        request, 422, "invalid_config", "The configuration is not valid.", problems=exc.problems
    )


async def _store_error(request: Request, exc: Exception) -> Response:
    log.warning("store unavailable: %s", exc)
    return error_response(request, 503, "unavailable", "Busy or unavailable; try again shortly.")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return error_response(
        request, exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail)
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(request, 500, "internal", "Something went wrong on our side.")


HANDLERS: dict[Any, Any] = {
    ApiError: _api_error,
    DomainError: _domain_error,
    ConfigError: _config_error,
    StoreError: _store_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
