"""Accounts and integration tokens, for managers (their branches) and admins (everything).

A manager manages what lies wholly inside their branches: staff and manager
accounts and tokens whose branches are all theirs. They may not make admins,
nor give anyone a branch they do not manage, and they see only what they
manage. Nobody changes their own role or branches or disables themselves
(that is for another manager or an admin), and changing one's own password
asks for the current one, so a borrowed session cannot take an account over.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, StrictBool, StrictStr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from queueapp.service import accounts
from queueapp.service.access import Principal, list_tokens
from queueapp.service.access_changes import AccessChanges
from queueapp.service.accounts import AccountError, User
from queueapp.service.branches import BranchService
from queueapp.store import EventStore
from queueapp.web.auth import require
from queueapp.web.bodies import read_model
from queueapp.web.errors import ApiError

Role = Literal["staff", "manager", "admin"]
Branches = list[StrictStr]


class TokenBody(BaseModel):
    role: Role
    branches: Branches = Field(default_factory=list, max_length=100)
    label: StrictStr = Field(default="", max_length=100)


class NewUserBody(BaseModel):
    name: StrictStr = Field(max_length=64)
    role: Role
    branches: Branches = Field(default_factory=list, max_length=100)
    password: StrictStr = Field(max_length=accounts.MAX_PASSWORD)


class UserChangeBody(BaseModel):
    role: Role | None = None
    branches: Branches | None = Field(default=None, max_length=100)
    disabled: StrictBool | None = None
    password: StrictStr | None = Field(default=None, max_length=accounts.MAX_PASSWORD)
    current_password: StrictStr | None = Field(default=None, max_length=accounts.MAX_PASSWORD)


def manages(who: Principal, role: str, branches: list[str] | frozenset[str]) -> bool:
    """Whether ``who`` may create, change or revoke an account or token of ``role`` there."""
    if who.role == "admin":
        return True
    return (
        who.role == "manager"
        and role in ("staff", "manager")
        and bool(branches)
        and set(branches) <= who.branches
    )


def _store(request: Request) -> EventStore:
    return request.app.state.store  # type: ignore[no-any-return]


def _access(request: Request) -> AccessChanges:
    return request.app.state.access  # type: ignore[no-any-return]


async def _check_branches(request: Request, branches: list[str]) -> None:
    service: BranchService = request.app.state.branches
    known = {config.id for config in await service.configs()}
    unknown = sorted(set(branches) - known)
    if unknown:
        raise ApiError(422, "unknown_branch", f"No such branch: {', '.join(unknown)}.")


async def _grantable(
    request: Request, who: Principal, role: str, requested: list[str]
) -> list[str]:
    """The branches a new token or user of ``role`` gets, once ``who`` may grant them all."""
    branches = [] if role == "admin" else sorted(set(requested))
    if not manages(who, role, branches):
        raise _refuse(who, role)
    await _check_branches(request, branches)
    return branches


def _refuse(who: Principal, role: str) -> ApiError:
    return ApiError(
        403, "forbidden", f"A {who.role} may not manage a {role} of branches they do not manage."
    )


def _account_error(exc: AccountError) -> ApiError:
    status = {"user_exists": 409, "unknown_user": 404}.get(exc.code, 422)
    return ApiError(status, exc.code, exc.message)


# Tokens ----------------------------------------------------------------------


async def get_tokens(request: Request) -> JSONResponse:
    who = await require(request, "manager", None)
    tokens = [
        {key: token[key] for key in ("id", "role", "branches", "label", "created_at", "revoked")}
        for token in await list_tokens(_store(request))
        if manages(who, token["role"], token["branches"])
    ]
    return JSONResponse({"tokens": tokens})


async def post_token(request: Request) -> JSONResponse:
    who = await require(request, "manager", None)
    body = await read_model(request, TokenBody)
    branches = await _grantable(request, who, body.role, body.branches)
    try:
        token, token_id = await _access(request).create_token(
            who.name, body.role, branches, body.label
        )
    except ValueError as exc:
        raise ApiError(422, "invalid_token", str(exc)) from None
    view = {"id": token_id, "role": body.role, "branches": branches, "label": body.label}
    # The token is shown this once; nothing on the way should keep a copy.
    return JSONResponse(
        {**view, "token": token}, status_code=201, headers={"Cache-Control": "no-store"}
    )


async def delete_token(request: Request) -> JSONResponse:
    who = await require(request, "manager", None)
    token_id = request.path_params["id"]
    found = [t for t in await list_tokens(_store(request)) if t["id"] == token_id]
    if not found:
        raise ApiError(404, "unknown_token", f"There is no token {token_id!r}.")
    if not manages(who, found[0]["role"], found[0]["branches"]):
        raise _refuse(who, found[0]["role"])
    await _access(request).revoke_token(who.name, token_id)
    return JSONResponse({"id": token_id, "revoked": True})


# Users -----------------------------------------------------------------------


async def get_users(request: Request) -> JSONResponse:
    who = await require(request, "manager", None)
    users = await accounts.list_users(_store(request))
    return JSONResponse({"users": [u.view() for u in users if manages(who, u.role, u.branches)]})


async def post_user(request: Request) -> JSONResponse:
    who = await require(request, "manager", None)
    body = await read_model(request, NewUserBody)
    branches = await _grantable(request, who, body.role, body.branches)
    try:
        user = await _access(request).create_user(
            who.name, body.name, body.role, branches, body.password
        )
    except AccountError as exc:
        raise _account_error(exc) from None
    return JSONResponse(user.view(), status_code=201)


async def patch_user(request: Request) -> JSONResponse:
    """Change an account; staff may use this too, to change their own password."""
    who = await require(request, "staff", None)
    body = await read_model(request, UserChangeBody)
    store = _store(request)
    user = await accounts.get_user(store, request.path_params["name"])
    own = user is not None and who.name == user.principal.name
    if not own and who.role == "staff":
        raise ApiError(403, "forbidden", "This needs the manager role for this branch.")
    if user is None:
        raise ApiError(404, "unknown_user", "There is no such account.")
    if own:
        await _check_own_change(store, user, body)
    elif not manages(who, user.role, user.branches):
        raise _refuse(who, user.role)
    role = body.role or user.role
    wanted = body.branches if body.branches is not None else user.branches
    branches = [] if role == "admin" else sorted(set(wanted))
    if not own and not manages(who, role, branches):
        raise _refuse(who, role)
    if body.branches is not None:
        await _check_branches(request, branches)
    try:
        changed = await _access(request).update_user(
            who.name,
            user.name,
            role=body.role,
            branches=branches if body.role is not None or body.branches is not None else None,
            disabled=body.disabled,
            password=body.password,
        )
    except AccountError as exc:
        raise _account_error(exc) from None
    return JSONResponse(changed.view())


async def _check_own_change(store: EventStore, user: User, body: UserChangeBody) -> None:
    if body.role not in (None, user.role) or (
        body.branches is not None and set(body.branches) != user.branches
    ):
        raise ApiError(403, "own_account", "Ask another manager or an admin to change your role.")
    if body.disabled:
        raise ApiError(403, "own_account", "You cannot disable your own account.")
    if body.password is not None:
        current = body.current_password or ""
        if await accounts.authenticate(store, user.name, current) is None:
            raise ApiError(403, "wrong_password", "Your current password is not right.")


routes: list[BaseRoute] = [
    Route("/api/v1/tokens", get_tokens, methods=["GET"]),
    Route("/api/v1/tokens", post_token, methods=["POST"]),
    Route("/api/v1/tokens/{id}", delete_token, methods=["DELETE"]),
    Route("/api/v1/users", get_users, methods=["GET"]),
    Route("/api/v1/users", post_user, methods=["POST"]),
    Route("/api/v1/users/{name}", patch_user, methods=["PATCH"]),
]
