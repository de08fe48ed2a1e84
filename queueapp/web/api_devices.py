"""A branch's paired screens (kiosks and wall displays), for its managers and admins.

The same rule as for tokens: a manager manages what lies wholly inside their
branches, and a device belongs to exactly one branch. A new device's pairing
link is shown once, in the answer that creates it; only its digest is kept.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, StrictStr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from queueapp.service.access_changes import AccessChanges
from queueapp.service.branches import BranchService
from queueapp.service.devices import Device, get_device, list_devices, pairing_path
from queueapp.store import EventStore
from queueapp.web.auth import require
from queueapp.web.bodies import read_model
from queueapp.web.errors import ApiError


class DeviceBody(BaseModel):
    kind: Literal["kiosk", "display"]
    label: StrictStr = Field(default="", max_length=100)


def _store(request: Request) -> EventStore:
    return request.app.state.store  # type: ignore[no-any-return]


def _access(request: Request) -> AccessChanges:
    return request.app.state.access  # type: ignore[no-any-return]


async def _branch(request: Request) -> tuple[str, str]:
    """The branch of the path and who asks, once they are known to manage it and it exists."""
    branch: str = request.path_params["branch"]
    who = await require(request, "manager", branch)
    service: BranchService = request.app.state.branches
    await service.config(branch)  # NotFound: 404 unknown_branch
    return branch, who.name


def _view(device: Device) -> dict[str, Any]:
    return {
        "id": device.id,
        "branch": device.branch,
        "kind": device.kind,
        "label": device.label,
        "state": device.state,
        "created_at": device.created_at,
        "paired_at": device.paired_at,
    }


async def get_devices(request: Request) -> JSONResponse:
    branch, _ = await _branch(request)
    devices = [d for d in await list_devices(_store(request)) if d.branch == branch]
    return JSONResponse({"devices": [_view(d) for d in devices]})


async def post_device(request: Request) -> JSONResponse:
    branch, who = await _branch(request)
    body = await read_model(request, DeviceBody)
    device, code = await _access(request).create_device(who, branch, body.kind, body.label.strip())
    path = pairing_path(device, code)
    # The pairing link is shown this once; nothing on the way should keep a copy.
    return JSONResponse(
        {
            **_view(device),
            "pairing_path": path,
            "pairing_url": str(request.base_url).rstrip("/") + path,
        },
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


async def delete_device(request: Request) -> JSONResponse:
    branch, who = await _branch(request)
    device_id = request.path_params["id"]
    device = await get_device(_store(request), device_id)
    if device is None or device.branch != branch:
        raise ApiError(404, "unknown_device", f"This branch has no device {device_id!r}.")
    await _access(request).revoke_device(who, device_id)
    return JSONResponse({"id": device_id, "revoked": True})


routes: list[BaseRoute] = [
    Route("/api/v1/branches/{branch}/devices", get_devices, methods=["GET"]),
    Route("/api/v1/branches/{branch}/devices", post_device, methods=["POST"]),
    Route("/api/v1/branches/{branch}/devices/{id}", delete_device, methods=["DELETE"]),
]
