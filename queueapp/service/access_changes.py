"""Changes to who and what may act in a branch, made and put on the branch's record.

Creating or revoking a bearer token, making, pairing or revoking a kiosk or
display, and adding, disabling, enabling an account or changing its
password or role are each recorded as an ``access_changed`` event in the
day's log of every branch the change touches, with who made it (``by``:
``user:NAME``, a token's ``label:id``, ``cli`` for the command line, a
device for its own pairing) and its subject by id, label, kind, role and
branches: never a token, pairing code, password or hash.

Why the log and not a store of its own: the log already is the branch's
audit trail, per branch and day, read by that branch's managers
through one route with one permission check, kept as long as the branch's
records are, and it needs nothing new from the store port. The price is
that the public live feed carries the event too, since its versions must
stay contiguous; ``views.public_event`` shows displays only that something
happened and when.

Which branches a change touches: a device's branch; a token's or an
account's branches, before and after the change, so that the branch an
account leaves sees it leave. An admin token or account acts in every
branch, so its changes are recorded in every branch that exists at the
time (a branch made later does not learn of them).

The change is made first and recorded after it. Should the record fail
(the store went away between the two), the change stands unrecorded and the
caller hears of the failure; a record of a change that never happened would
be worse. A change that changes nothing (revoking what is already revoked,
enabling an enabled account) is not recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from queueapp.domain import commands as cmd
from queueapp.service import accounts
from queueapp.service.access import TokenCache, create_token, list_tokens
from queueapp.service.branches import BranchService
from queueapp.service.devices import Device, create_device, get_device, pair_device, revoke_device

CLI = "cli"
"""Who made a change from the ``queueapp`` command: it has no signed-in person."""


class AccessChanges:
    """The one way the API, the pages and the command line change access, so none goes unrecorded.

    ``actor`` is who asks, as the audit trail names them.
    """

    def __init__(self, branches: BranchService, tokens: TokenCache) -> None:
        self._branches = branches
        self._tokens = tokens
        self._store = branches.store

    # Tokens ------------------------------------------------------------------

    async def create_token(
        self, actor: str, role: str, branches: list[str], label: str = ""
    ) -> tuple[str, str]:
        """A new bearer token and its id, as :func:`access.create_token` makes them."""
        token, token_id = await create_token(self._store, role, branches, label)
        kept = () if role == "admin" else tuple(sorted(branches))  # as the token keeps them
        change = cmd.RecordAccess(
            "token", "created", token_id, label=label, role=role, branches=kept
        )
        await self._record(actor, change, _scope(role, kept))
        return token, token_id

    async def revoke_token(self, actor: str, token_id: str) -> dict[str, Any] | None:
        """Revoke by id, at once in this process; the token as listed, or None if unknown."""
        listed = {token["id"]: token for token in await list_tokens(self._store)}
        token = listed.get(token_id[:12])
        if token is None or not await self._tokens.revoke(token_id):
            return None
        if not token["revoked"]:
            change = cmd.RecordAccess(
                "token",
                "revoked",
                token["id"],
                label=token["label"],
                role=token["role"],
                branches=tuple(token["branches"]),
            )
            await self._record(actor, change, _scope(token["role"], token["branches"]))
        return token

    # Devices -----------------------------------------------------------------

    async def create_device(
        self, actor: str, branch: str, kind: str, label: str = ""
    ) -> tuple[Device, str]:
        """A new device of ``branch`` and its one-time pairing code."""
        device, code = await create_device(self._store, branch, kind, label)
        await self._record_device(actor, "created", device)
        return device, code

    async def pair_device(self, code: str) -> tuple[Device, str] | None:
        """Trade a pairing code for a credential, on record in the device's own name."""
        paired = await pair_device(self._store, code)
        if paired is not None:
            device = paired[0]
            await self._record_device(f"{device.kind}:{device.id}", "paired", device)
        return paired

    async def revoke_device(self, actor: str, device_id: str) -> Device | None:
        """Refuse a device from now on; the device as it was, or None if there is none."""
        device = await get_device(self._store, device_id)
        if device is None or not await revoke_device(self._store, device_id):
            return None
        if not device.revoked:
            await self._record_device(actor, "revoked", device)
        return device

    async def _record_device(self, actor: str, action: str, device: Device) -> None:
        change = cmd.RecordAccess("device", action, device.id, label=device.label, kind=device.kind)
        await self._record(actor, change, [device.branch])

    # Accounts ----------------------------------------------------------------

    async def create_user(
        self, actor: str, name: str, role: str, branches: list[str], password: str
    ) -> accounts.User:
        user = await accounts.create_user(self._store, name, role, branches, password)
        await self._record(actor, _user_change("created", user), _scope(user.role, user.branches))
        return user

    async def update_user(
        self,
        actor: str,
        name: str,
        *,
        role: str | None = None,
        branches: list[str] | None = None,
        disabled: bool | None = None,
        password: str | None = None,
    ) -> accounts.User:
        """Change an account as :func:`accounts.update_user` does; each kind of change on record."""
        was = await accounts.get_user(self._store, name)
        user = await accounts.update_user(
            self._store, name, role=role, branches=branches, disabled=disabled, password=password
        )
        before = was or user  # None only if it was made between the two: nothing to compare
        actions = []
        if password is not None:
            actions.append("password_changed")
        if user.disabled != before.disabled:
            actions.append("disabled" if user.disabled else "enabled")
        if (user.role, user.branches) != (before.role, before.branches):
            actions.append("role_changed")
        admin = "admin" in (user.role, before.role)
        scope = None if admin else before.branches | user.branches
        for action in actions:
            await self._record(actor, _user_change(action, user), scope)
        return user

    # Recording -----------------------------------------------------------------

    async def _record(
        self, actor: str, change: cmd.RecordAccess, branches: Iterable[str] | None
    ) -> None:
        """Record ``change`` in each of ``branches``; None: in every branch there is."""
        if branches is None:
            targets = [config.id for config in await self._branches.configs()]
        else:
            targets = sorted(set(branches))
        await asyncio.gather(
            *(self._branches.execute(branch, change, actor=actor) for branch in targets)
        )


def _scope(role: str, branches: Iterable[str]) -> Iterable[str] | None:
    """The branches a token or account of ``role`` acts in; None for every branch."""
    return None if role == "admin" else branches


def _user_change(action: str, user: accounts.User) -> cmd.RecordAccess:
    return cmd.RecordAccess(
        "user", action, user.name, role=user.role, branches=tuple(sorted(user.branches))
    )
