"""Device administration: list and revoke (what `secure-ai devices` runs).

Revocation marks the device revoked and frees its user's slot in one transaction; the authorizer
refuses the device's keys from its next request that misses the key cache, so within
`client_registry.resolver.DEFAULT_CACHE_SECONDS` (60 s). Views carry no secret or sealed blob.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict

from secure_ai_gateway.adapters.device_store import DeviceStore
from secure_ai_gateway.device_registry.records import DeviceRecord
from secure_ai_protocol.errors import NotFound
from secure_ai_protocol.key_ids import format_key_id

DeviceState = Literal["active", "expired", "revoked"]


class DeviceKeyView(BaseModel):
    """A device key version as an operator sees it."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    not_before: int
    not_after: int | None


class DeviceView(BaseModel):
    """A device as an operator sees it: whose it is and its keys' times, no secret."""

    model_config = ConfigDict(frozen=True)

    device_id: str
    app_id: str
    user_sub: str
    user_ref: str
    state: DeviceState
    created_at: int
    expires_at: int
    keys: tuple[DeviceKeyView, ...]


def device_view(device: DeviceRecord, now: float) -> DeviceView:
    """What an operator may see of `device` at `now`."""
    state: DeviceState = (
        "revoked" if device.status == "revoked" else "active" if now < device.expires_at else "expired"
    )
    return DeviceView(
        device_id=device.device_id,
        app_id=device.app_id,
        user_sub=device.user_sub,
        user_ref=device.user_ref,
        state=state,
        created_at=device.created_at,
        expires_at=device.expires_at,
        keys=tuple(
            DeviceKeyView(
                key_id=format_key_id(device.device_id, key.version),
                not_before=key.not_before,
                not_after=key.not_after,
            )
            for key in device.key_versions
        ),
    )


class DeviceAdmin:
    """The operations behind `secure-ai devices`."""

    def __init__(self, store: DeviceStore, *, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock

    def list_devices(self, app_id: str, user_sub: str | None = None) -> Iterator[DeviceView]:
        """An app's devices, or one user's there."""
        now = self._clock()
        for device in self._store.list_devices(app_id, user_sub):
            yield device_view(device, now)

    def revoke(self, device_id: str) -> DeviceView:
        """Revoke one device; raise NotFound("unknown_device")."""
        revoked = self._store.revoke(device_id)
        return device_view(revoked.model_copy(update={"status": "revoked"}), self._clock())

    def revoke_all(self, app_id: str, user_sub: str | None = None) -> list[str]:
        """Revoke every active device of an app, or of one user there; the ids revoked, maybe none."""
        targets = [device.device_id for device in self._store.list_devices(app_id, user_sub)]
        revoked = []
        for device_id in targets:
            device = self._store.get(device_id)
            if device is None or device.status == "revoked":
                continue
            try:
                self._store.revoke(device_id)
            except NotFound:
                continue
            revoked.append(device_id)
        return revoked
