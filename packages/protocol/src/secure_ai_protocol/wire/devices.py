"""Device enrollment on the wire: what a device sends to `POST /v1/devices` and what it gets back.

A signed-in user's device sends `EnrollmentRequest` with the app's OIDC token in
`Authorization: Bearer`; the gateway answers `201` with `DeviceCredentials`, the only time the
device secret is ever sent. `POST /v1/devices/renew`, signed by the device's current key (body
`{}`), answers `200` with the next `DeviceCredentials`: same device, next key version. The device
keeps the document as its credentials file (secure_ai_protocol.credentials reads `key_id` and
`secret` from it). docs/enrollment.md describes the flow.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from secure_ai_protocol.key_ids import CLIENT_ID_PATTERN, DEVICE_ID_PATTERN

DEVICE_SECRET_BYTES: Final = 32

AppId = Annotated[str, StringConstraints(pattern=CLIENT_ID_PATTERN)]
DeviceId = Annotated[str, StringConstraints(pattern=DEVICE_ID_PATTERN)]
EpochSeconds = Annotated[int, Field(ge=0)]


class EnrollmentRequest(BaseModel):
    """The body of `POST /v1/devices`: which app the device enrolls with."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    app_id: AppId


class RenewalRequest(BaseModel):
    """The body of `POST /v1/devices/renew`: empty; the signature says which device."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")


class DeviceCredentials(BaseModel):
    """A device's key, as issued: sent once, kept by the device (mode 0600, or a non-extractable key).

    `key_id` is `<device_id>.<version>`; the device signs with it and seals requests with
    `client_id = device_id` in the encryption context. The key verifies from `issued_at` until
    `expires_at` (epoch seconds, half-open); renew after `renew_after`, before `expires_at`.
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    app_id: AppId
    device_id: DeviceId
    key_id: Annotated[str, StringConstraints(max_length=80)]
    secret: str = Field(repr=False)
    issued_at: EpochSeconds
    renew_after: EpochSeconds
    expires_at: EpochSeconds
    signature_tag: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]

    @field_validator("secret")
    @classmethod
    def _secret_is_32_bytes_of_base64(cls, value: str) -> str:
        try:
            decoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("secret is not standard base64") from None
        if len(decoded) != DEVICE_SECRET_BYTES:
            raise ValueError("secret is not 32 bytes")
        return value

    @property
    def secret_bytes(self) -> bytes:
        """The 32-byte HMAC key."""
        return base64.b64decode(self.secret, validate=True)
