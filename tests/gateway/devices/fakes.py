"""Test doubles for the device domain: records built from a few facts, and in-memory collaborators."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from secure_ai_gateway.client_registry.records import (
    ClientConflict,
    ClientRecord,
    EnrollmentSettings,
    KeyVersion,
)
from secure_ai_gateway.device_registry.records import DeviceRecord
from secure_ai_gateway.device_registry.user_refs import user_ref, user_ref_key
from secure_ai_protocol.errors import DeviceLimitReached, ReplayDetected, Unauthenticated
from tests.gateway.client_registry.fakes import START

APP_ID: Final = "acme-app"
SUB: Final = "user-0001"
DEVICE_ID: Final = "dev-" + "a" * 26
REF_KEY: Final = user_ref_key(b"unit-test deployment digest secret")
NOW: Final = int(START)


def enrollment_settings(**changes: Any) -> EnrollmentSettings:
    """An app's enrollment settings: one https issuer, one audience, small per-user budgets."""
    values: dict[str, Any] = {
        "issuer": "https://idp.example.com",
        "audiences": ("acme-web",),
        "user_token_budget": 10_000,
        "user_request_budget": 10,
        "max_devices": 3,
        "allowed_origins": ("https://app.example.com",),
    }
    return EnrollmentSettings.model_validate(values | changes)


def app_record(
    app_id: str = APP_ID,
    *,
    status: str = "active",
    enrollment: EnrollmentSettings | None = None,
    enrolls: bool = True,
    **changes: Any,
) -> ClientRecord:
    """An app: a client with enrollment settings (none when `enrolls` is False), no key of its own."""
    values: dict[str, Any] = {
        "client_id": app_id,
        "status": status,
        "scopes": ("chat:complete",),
        "allowed_models": ("gpt-4o-mini",),
        "max_tokens": 1024,
        "token_budget": 100_000,
        "request_budget": 1_000,
        "created_at": NOW - 86_400,
        "enrollment": (enrollment or enrollment_settings()) if enrolls else None,
    }
    return ClientRecord.model_validate(values | changes)


def device_key(
    version: int = 1,
    *,
    not_before: int = NOW - 3600,
    not_after: int | None = NOW + 3600,
    status: str = "active",
    sealed_secret: bytes | None = None,
) -> KeyVersion:
    """A device key version, valid an hour either side of START unless told otherwise."""
    return KeyVersion.model_validate(
        {
            "version": version,
            "sealed_secret": sealed_secret if sealed_secret is not None else f"sealed-dev-{version}".encode(),
            "status": status,
            "not_before": not_before,
            "not_after": not_after,
            "created_at": not_before,
        }
    )


def device_record(
    device_id: str = DEVICE_ID,
    *,
    app_id: str = APP_ID,
    sub: str = SUB,
    status: str = "active",
    keys: tuple[KeyVersion, ...] | None = None,
    created_at: int = NOW - 3600,
) -> DeviceRecord:
    """An active device of `sub` at `app_id` with key version 1 unless told otherwise."""
    return DeviceRecord.model_validate(
        {
            "device_id": device_id,
            "app_id": app_id,
            "user_sub": sub,
            "user_ref": user_ref(REF_KEY, app_id, sub),
            "status": status,
            "created_at": created_at,
            "key_versions": keys if keys is not None else (device_key(1),),
        }
    )


@dataclass
class FakeDevices:
    """Devices in a dict, with the store's limit and renewal checks; counts reads."""

    devices: dict[str, DeviceRecord] = field(default_factory=dict)
    reads: int = 0
    renewals: list[tuple[str, KeyVersion, int]] = field(default_factory=list)

    def get(self, device_id: str) -> DeviceRecord | None:
        self.reads += 1
        return self.devices.get(device_id)

    def enroll(self, device: DeviceRecord, *, limit: int, now: int) -> None:
        live = [
            other
            for other in self.devices.values()
            if (other.app_id, other.user_ref) == (device.app_id, device.user_ref)
            and other.counts_against_limit(now)
        ]
        if len(live) >= limit:
            raise DeviceLimitReached(limit)
        self.devices[device.device_id] = device

    def add_key_version(self, device: DeviceRecord, key: KeyVersion, *, retire_at: int) -> None:
        stored = self.devices[device.device_id]
        if stored.key_version(key.version) is not None:
            raise ClientConflict("concurrent_update")
        kept = tuple(
            old.model_copy(update={"not_after": retire_at}) if old.version == stored.latest.version else old
            for old in stored.key_versions
        )
        self.devices[device.device_id] = stored.model_copy(update={"key_versions": (*kept, key)})
        self.renewals.append((device.device_id, key, retire_at))


@dataclass(frozen=True)
class FakeUser:
    """What the fake verifier says a token proves."""

    subject: str
    expires_at: int


@dataclass
class FakeTokens:
    """Accepts `token` as `user`; raises `failure` (or Unauthenticated) for anything else."""

    accepted: dict[str, FakeUser] = field(default_factory=dict)
    failure: Exception | None = None
    verified: list[tuple[str, EnrollmentSettings, float]] = field(default_factory=list)

    def verify(self, token: str, settings: EnrollmentSettings, now: float) -> FakeUser:
        self.verified.append((token, settings, now))
        if self.failure is not None:
            raise self.failure
        if token not in self.accepted:
            raise Unauthenticated("token_invalid")
        return self.accepted[token]


@dataclass
class FakeReplays:
    """Spends each (app, digest) once, as NonceStore.remember_enrollment does."""

    spent: list[tuple[str, str, int]] = field(default_factory=list)

    def remember_enrollment(self, app_id: str, token_digest: str, expires_at: int) -> None:
        if any((app, digest) == (app_id, token_digest) for app, digest, _ in self.spent):
            raise ReplayDetected("replay")
        self.spent.append((app_id, token_digest, expires_at))


@dataclass
class FakeSealing:
    """'Seals' by prefixing the id and version; records what it sealed."""

    sealed: list[tuple[str, int, bytes]] = field(default_factory=list)

    def seal(self, client_id: str, version: int, secret: bytes) -> bytes:
        self.sealed.append((client_id, version, secret))
        return f"sealed:{client_id}.{version}:".encode() + secret

    @staticmethod
    def plaintext(sealed: bytes) -> bytes:
        """The secret inside a blob this fake sealed."""
        return sealed.split(b":", 2)[2]
