"""Request bodies: read within the size limit, parsed as JSON, checked by a schema.

A body that is too large, not JSON, or not of the expected shape is refused
before any command is built, so bad input can never reach the engine.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from queueapp.web.errors import ApiError

Model = TypeVar("Model", bound=BaseModel)


async def read_body(request: Request) -> bytes:
    """The raw body, refused with 413 past the limit, whether or not a Content-Length says so.

    It is kept where Starlette keeps a body it has read, so a route can read
    it again after a guard (the CSRF check reads a page's form first).
    """
    limit: int = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise ApiError(413, "body_too_large", f"Request bodies are limited to {limit} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise ApiError(413, "body_too_large", f"Request bodies are limited to {limit} bytes.")
    request._body = bytes(body)
    return request._body


async def read_json(request: Request, optional: bool = False) -> Any:
    body = await read_body(request)
    if not body.strip():
        if optional:
            return {}
        raise ApiError(400, "body_required", "This request needs a JSON body.")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        # RecursionError: nesting too deep for the parser ("[[[[...").
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None


async def read_model(request: Request, model: type[Model], optional: bool = False) -> Model:
    data = await read_json(request, optional=optional)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ApiError(422, "invalid_body", "; ".join(problems), problems=problems) from None
