"""Enrolled devices: the pure domain, no AWS (the DynamoDB shape is adapters/device_store.py).

A device belongs to one user (`user_sub`, the OIDC `sub`) of one app (a client record with
`enrollment` settings). It signs with numbered key versions exactly as a client does, under the key
id `<device_id>.<version>`; each version lives at most the deployment's device-key lifetime, and a
renewal adds the next one. A device counts against its user's limit while it is active and its
newest key has not expired. `user_ref` is the keyed hash of (app, sub) that logs, metrics and
budgets use instead of the `sub` (secure_ai_gateway.device_registry.user_refs).
"""

from __future__ import annotations

import secrets
from base64 import b32encode
from typing import Annotated, Final, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from secure_ai_gateway.client_registry.records import ClientId, EpochSeconds, KeyVersion, Status
from secure_ai_protocol.key_ids import DEVICE_ID_PATTERN, DEVICE_ID_PREFIX

DEFAULT_KEY_LIFETIME_SECONDS: Final = 24 * 60 * 60
# How long the key a renewal replaces still verifies: requests already signed and in flight land.
RENEWAL_OVERLAP_SECONDS: Final = 5 * 60
DeviceId = Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
Subject = Annotated[str, StringConstraints(min_length=1, max_length=255)]
UserRef = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]


def new_device_id() -> str:
    """A fresh device id: `dev-` and 26 base32 letters (130 random bits)."""
    return DEVICE_ID_PREFIX + b32encode(secrets.token_bytes(17)).decode("ascii")[:26].lower()


class DeviceRecord(BaseModel):
    """One enrolled device: whose it is, whether it is active, and its key versions."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    device_id: DeviceId
    app_id: ClientId
    user_sub: Subject = Field(repr=False)
    user_ref: UserRef
    status: Status
    created_at: EpochSeconds
    key_versions: tuple[KeyVersion, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _versions_are_unique_and_bounded(self) -> Self:
        versions = [key.version for key in self.key_versions]
        if len(versions) != len(set(versions)):
            raise ValueError("duplicate key version")
        if any(key.not_after is None for key in self.key_versions):
            raise ValueError("a device key always expires")
        return self

    def key_version(self, version: int) -> KeyVersion | None:
        """The key version numbered `version`, if the device has one."""
        return next((key for key in self.key_versions if key.version == version), None)

    @property
    def latest(self) -> KeyVersion:
        """The newest key version (the one a renewal replaces)."""
        return max(self.key_versions, key=lambda key: key.version)

    @property
    def expires_at(self) -> int:
        """When the newest key stops verifying; the device is gone after it unless renewed."""
        # Never None: the validator above refuses a device key without an end.
        return self.latest.not_after or 0

    def counts_against_limit(self, now: float) -> bool:
        """Whether the device holds one of its user's slots at `now`."""
        return self.status == "active" and now < self.expires_at
