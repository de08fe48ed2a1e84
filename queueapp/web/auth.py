"""Who is calling: a bearer token for scripts and integrations.

Staff and manager routes call :func:`require` first; visitor routes need no
identity (a ticket's token is its own credential).
"""

from __future__ import annotations

from starlette.requests import Request

from queueapp.service.access import Principal, verify_token
from queueapp.web.errors import ApiError


async def principal(request: Request) -> Principal | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return await verify_token(request.app.state.store, token.strip())


async def require(request: Request, role: str, branch: str | None) -> Principal:
    """The caller, if they may act as ``role`` in ``branch``; else 401 or 403."""
    who = await principal(request)
    if who is None:
        raise ApiError(
            401, "unauthorized", "Sign in, or send a valid 'Authorization: Bearer' token."
        )
    if not who.may(role, branch):
        raise ApiError(403, "forbidden", f"This needs the {role} role for this branch.")
    return who
