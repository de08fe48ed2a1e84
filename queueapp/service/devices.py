"""Paired devices: the kiosks and wall displays of a branch, known without a staff login.

A manager creates a device and gets a one-time pairing link. Opening that
link on the screen trades it for the device's own credential, kept in a
long-lived cookie; a public screen never holds a staff login. Both secrets are
stored only as SHA-256 digests (they are random enough for a fast hash), and
revoking a device refuses its credential at once.

A pairing code and a credential both read ``DEVICE_ID.SECRET``: the id finds
the document, the secret proves possession.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from queueapp.store import EventStore

DEVICE_DOCS = "device"
KINDS = ("kiosk", "display")


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    branch: str
    kind: str
    label: str
    created_at: float
    paired_at: float | None
    revoked: bool

    @property
    def state(self) -> str:
        if self.revoked:
            return "revoked"
        return "paired" if self.paired_at is not None else "unpaired"


def pairing_path(device: Device, code: str) -> str:
    """Where a pairing code is opened: the device's own page, with the code to trade."""
    return f"/b/{device.branch}/{device.kind}?pair={code}"


async def create_device(
    store: EventStore, branch: str, kind: str, label: str = ""
) -> tuple[Device, str]:
    """A new device and its one-time pairing code (shown once, stored as a digest)."""
    if kind not in KINDS:
        raise ValueError(f"a device is one of {', '.join(KINDS)}")
    device_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24)
    document = {
        "branch": branch,
        "kind": kind,
        "label": label,
        "created_at": time.time(),
        "pairing": _digest(secret),
        "credential": None,
        "paired_at": None,
        "revoked": False,
    }
    await store.put_document(DEVICE_DOCS, device_id, document)
    return _device(device_id, document), f"{device_id}.{secret}"


async def pair_device(store: EventStore, code: str) -> tuple[Device, str] | None:
    """Trade a pairing code for the device's credential; None if unknown, used or revoked."""
    found = await _find(store, code, "pairing")
    if found is None:
        return None
    device_id, document = found
    secret = secrets.token_urlsafe(32)
    document = {
        **document,
        "pairing": None,
        "credential": _digest(secret),
        "paired_at": time.time(),
    }
    await store.put_document(DEVICE_DOCS, device_id, document)
    return _device(device_id, document), f"{device_id}.{secret}"


async def verify_device(store: EventStore, credential: str) -> Device | None:
    """The device a credential belongs to, unless it was revoked or replaced."""
    found = await _find(store, credential, "credential")
    return _device(*found) if found is not None else None


async def get_device(store: EventStore, device_id: str) -> Device | None:
    document = await store.get_document(DEVICE_DOCS, device_id)
    return None if document is None else _device(device_id, document)


async def list_devices(store: EventStore) -> list[Device]:
    documents = await store.list_documents(DEVICE_DOCS)
    return sorted((_device(key, doc) for key, doc in documents.items()), key=lambda d: d.created_at)


async def revoke_device(store: EventStore, device_id: str) -> bool:
    """Refuse the device's credential and pairing link from now on; False if there is none."""
    document = await store.get_document(DEVICE_DOCS, device_id)
    if document is None:
        return False
    await store.put_document(
        DEVICE_DOCS, device_id, {**document, "revoked": True, "pairing": None, "credential": None}
    )
    return True


async def _find(store: EventStore, presented: str, field: str) -> tuple[str, dict[str, Any]] | None:
    device_id, _, secret = presented.partition(".")
    if not device_id or not secret or len(presented) > 200 or not device_id.isalnum():
        return None
    document = await store.get_document(DEVICE_DOCS, device_id)
    if document is None or document.get("revoked") or not document.get(field):
        return None
    if not hmac.compare_digest(str(document[field]), _digest(secret)):
        return None
    return device_id, document


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _device(device_id: str, document: dict[str, Any]) -> Device:
    return Device(
        id=device_id,
        branch=document["branch"],
        kind=document["kind"],
        label=document.get("label", ""),
        created_at=document["created_at"],
        paired_at=document.get("paired_at"),
        revoked=bool(document.get("revoked")),
    )
