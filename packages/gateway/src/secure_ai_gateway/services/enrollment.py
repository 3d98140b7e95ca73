"""Device enrollment and renewal: a signed-in user's device gets its own short-lived key.

Enrollment (`POST /v1/devices`, no signature): size-capped strict body → bearer token → the app's
enrollment settings → the token verified against the app's issuer (secure_ai_gateway.identity.oidc,
through the `TokenVerifier` port) → the token spent (one token enrolls one device) → a fresh
32-byte secret sealed under KMS → the device stored if its user is under the app's device limit →
the credentials, returned once. Every refusal of the token, of an unknown app, or of an app that
does not enroll, is the same 401: a caller learns nothing about which part failed.

Renewal (`POST /v1/devices/renew`, signed by the device's newest key): the next key version, valid
for the key lifetime but never past the device's maximum age; the key it replaces keeps verifying
for `RENEWAL_OVERLAP_SECONDS`. docs/enrollment.md describes both.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable
from typing import Final

from secure_ai_gateway.api.authorized_call import AuthorizedCall
from secure_ai_gateway.api.cors import check_origin
from secure_ai_gateway.client_registry.records import KeyVersion
from secure_ai_gateway.device_registry.records import RENEWAL_OVERLAP_SECONDS, DeviceRecord, new_device_id
from secure_ai_gateway.device_registry.user_refs import user_ref
from secure_ai_gateway.ports import (
    ClientRecords,
    DeviceDirectory,
    EnrollmentReplays,
    SecretSealing,
    TokenVerifier,
)
from secure_ai_protocol.errors import BadRequest, Forbidden, Unauthenticated
from secure_ai_protocol.json_bounds import parse_json_model
from secure_ai_protocol.key_ids import MAX_KEY_VERSION, format_key_id, parse_key_id
from secure_ai_protocol.wire.devices import (
    DEVICE_SECRET_BYTES,
    DeviceCredentials,
    EnrollmentRequest,
    RenewalRequest,
)

MAX_ENROLLMENT_BODY_BYTES: Final = 1024
# RFC 6750 §2.1: `Bearer` (any case), one space, a token68. A JWT is three base64url parts.
_BEARER: Final = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] ([A-Za-z0-9._~+/-]+=*)")
MAX_AUTHORIZATION_LENGTH: Final = 8 * 1024 + 7
MAX_SUBJECT_LENGTH: Final = 255  # device_registry.records.Subject


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer` header; Unauthenticated("no_token") otherwise."""
    if authorization is None or len(authorization) > MAX_AUTHORIZATION_LENGTH:
        raise Unauthenticated("no_token")
    match = _BEARER.fullmatch(authorization)
    if match is None:
        raise Unauthenticated("no_token")
    return match[1]


def renew_after(issued_at: int, expires_at: int) -> int:
    """When a device should renew: three quarters of the way through its key's life."""
    return issued_at + (expires_at - issued_at) * 3 // 4


class EnrollmentService:
    """Enrolls and renews devices with injected collaborators (adapters in production, fakes in tests)."""

    def __init__(
        self,
        *,
        clients: ClientRecords,
        devices: DeviceDirectory,
        tokens: TokenVerifier,
        replays: EnrollmentReplays,
        sealer: SecretSealing,
        user_ref_key: Callable[[], bytes],
        signature_tag: str,
        key_lifetime_seconds: int,
        device_max_age_seconds: int,
        clock: Callable[[], float],
        token_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        if not 0 < key_lifetime_seconds <= device_max_age_seconds:
            raise ValueError("the key lifetime must be positive and within the device's maximum age")
        self._clients = clients
        self._devices = devices
        self._tokens = tokens
        self._replays = replays
        self._sealer = sealer
        self._user_ref_key = user_ref_key
        self._signature_tag = signature_tag
        self._key_lifetime = key_lifetime_seconds
        self._max_age = device_max_age_seconds
        self._clock = clock
        self._token_bytes = token_bytes

    def enroll(self, authorization: str | None, body: bytes, *, origin: str | None) -> DeviceCredentials:
        """Enroll a device for the user whose token is in `authorization`; return its credentials.

        Raises BadRequest for a malformed body, Unauthenticated for any token or app problem,
        Forbidden("origin_not_allowed") for a browser origin the app does not list,
        DeviceLimitReached, DependencyUnavailable.
        """
        request = parse_enrollment_request(body)
        token = bearer_token(authorization)
        app = self._clients.get(request.app_id)
        if app is None or app.status != "active" or app.enrollment is None:
            raise Unauthenticated("enrollment_not_allowed")
        settings = app.enrollment
        now = int(self._clock())
        verified = self._tokens.verify(token, settings, now)
        # After the token, never before: a 403 for a bad origin ahead of the token would tell an
        # anonymous caller which app ids exist and enroll (an unknown app is the same 401 as a bad token).
        # Before the token is spent: a refused origin costs the user nothing.
        check_origin(origin, settings.allowed_origins)
        if not 1 <= len(verified.subject) <= MAX_SUBJECT_LENGTH:
            # A `sub` the device table cannot hold is a token refused, not a 500 after it was spent.
            raise Unauthenticated("enrollment_not_allowed")
        # One token, one device: a token replayed (stolen from a log, a proxy) enrolls nothing more.
        self._replays.remember_enrollment(app.client_id, token_digest(token), verified.expires_at)
        device_id = new_device_id()
        secret, key = self._new_key(device_id, 1, now, created_at=now)
        device = DeviceRecord(
            device_id=device_id,
            app_id=app.client_id,
            user_sub=verified.subject,
            user_ref=user_ref(self._user_ref_key(), app.client_id, verified.subject),
            status="active",
            created_at=now,
            key_versions=(key,),
        )
        self._devices.enroll(device, limit=settings.max_devices, now=now)
        return self._credentials(device, key, secret)

    def renew(self, call: AuthorizedCall) -> DeviceCredentials:
        """The next key of the device that signed `call` (with its newest key).

        Raises Forbidden ("not_a_device", "enrollment_disabled"), BadRequest for a body other than
        `{}`, Unauthenticated ("unknown_key", "stale_key", "device_expired"), ClientConflict.
        """
        if not call.is_device:
            raise Forbidden("not_a_device")
        parse_renewal_request(call.body_bytes(MAX_ENROLLMENT_BODY_BYTES))
        device = self._devices.get(call.device_id)
        if device is None or device.status != "active":
            raise Unauthenticated("unknown_key")
        # Only the newest key renews: an older one (kept for in-flight requests) cannot fork the chain.
        if parse_key_id(call.key_id) != (device.device_id, device.latest.version):
            raise Unauthenticated("stale_key")
        self._app_enrolling(device.app_id)
        now = int(self._clock())
        version = device.latest.version + 1
        if version > MAX_KEY_VERSION or now >= device.created_at + self._max_age:
            raise Unauthenticated("device_expired")
        secret, key = self._new_key(device.device_id, version, now, created_at=device.created_at)
        current_end = device.expires_at
        self._devices.add_key_version(device, key, retire_at=min(current_end, now + RENEWAL_OVERLAP_SECONDS))
        return self._credentials(device, key, secret)

    def _app_enrolling(self, app_id: str) -> None:
        app = self._clients.get(app_id)
        if app is None or app.status != "active" or app.enrollment is None:
            raise Forbidden("enrollment_disabled")

    def _new_key(
        self, device_id: str, version: int, now: int, *, created_at: int
    ) -> tuple[bytes, KeyVersion]:
        secret = self._token_bytes(DEVICE_SECRET_BYTES)
        sealed = self._sealer.seal(device_id, version, secret)
        not_after = min(now + self._key_lifetime, created_at + self._max_age)
        return secret, KeyVersion(
            version=version,
            sealed_secret=sealed,
            status="active",
            not_before=now,
            not_after=not_after,
            created_at=now,
        )

    def _credentials(self, device: DeviceRecord, key: KeyVersion, secret: bytes) -> DeviceCredentials:
        expires_at = key.not_after or key.not_before
        return DeviceCredentials(
            app_id=device.app_id,
            device_id=device.device_id,
            key_id=format_key_id(device.device_id, key.version),
            secret=base64.b64encode(secret).decode("ascii"),
            issued_at=key.not_before,
            renew_after=renew_after(key.not_before, expires_at),
            expires_at=expires_at,
            signature_tag=self._signature_tag,
        )


def parse_enrollment_request(body: bytes) -> EnrollmentRequest:
    """The enrollment body, strictly, size-capped before parsing."""
    if len(body) > MAX_ENROLLMENT_BODY_BYTES:
        raise BadRequest("body_too_large")
    return parse_json_model(EnrollmentRequest, body)


def parse_renewal_request(body: bytes) -> RenewalRequest:
    """The renewal body: `{}`."""
    return parse_json_model(RenewalRequest, body)


def token_digest(token: str) -> str:
    """What the replay store keeps of a spent token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()
