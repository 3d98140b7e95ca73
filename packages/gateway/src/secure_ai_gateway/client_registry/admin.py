"""Client administration: create, rotate, revoke, list and show (what `secure-ai clients` runs).

Secrets are 32 bytes from `secrets.token_bytes`, sealed under KMS before anything is stored, and
returned to the caller exactly once (create and rotate). Nothing here logs; the views returned by
`show_client` and `list_clients` have no field that could hold a secret or a sealed blob.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.secret_sealing import SECRET_BYTES, SecretSealer
from secure_ai_gateway.client_registry.records import (
    DEFAULT_POLICY_ID,
    ClientConflict,
    ClientRecord,
    EnrollmentSettings,
    KeyVersion,
)
from secure_ai_protocol.errors import NotFound
from secure_ai_protocol.key_ids import MAX_KEY_VERSION, format_key_id, is_device_id

DEFAULT_OVERLAP_SECONDS: Final = 24 * 60 * 60
KeyState = Literal["active", "scheduled", "expiring", "expired", "revoked"]


class KeyVersionView(BaseModel):
    """A key version as an operator sees it: no secret, no sealed blob."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    version: int
    status: Literal["active", "revoked"]
    state: KeyState
    not_before: int
    not_after: int | None
    created_at: int


class ClientView(BaseModel):
    """A client as an operator sees it: everything but secrets."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    status: Literal["active", "revoked"]
    scopes: tuple[str, ...]
    allowed_models: tuple[str, ...]
    max_tokens: int
    token_budget: int
    request_budget: int
    policy_id: str
    created_at: int
    keys: tuple[KeyVersionView, ...]


class ClientAdmin:
    """The operations behind `secure-ai clients`."""

    def __init__(
        self,
        store: ClientStore,
        sealer: SecretSealer | None,
        *,
        clock: Callable[[], float],
        token_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        # The sealer is optional: revoke, list and show need no KMS key.
        self._store = store
        self._sealer = sealer
        self._clock = clock
        self._token_bytes = token_bytes

    def create_client(
        self,
        *,
        client_id: str | None = None,
        scopes: Sequence[str],
        allowed_models: Sequence[str],
        max_tokens: int,
        token_budget: int,
        request_budget: int,
        policy_id: str = DEFAULT_POLICY_ID,
    ) -> tuple[ClientRecord, bytes]:
        """Create an active client with key version 1; return its record and the new secret.

        Raises pydantic.ValidationError for invalid values, ClientConflict("client_exists").
        """
        now = self._now()
        client_id = client_id if client_id is not None else generate_client_id()
        # Validated before a secret exists or KMS is called.
        draft = new_record(
            client_id,
            scopes=scopes,
            allowed_models=allowed_models,
            max_tokens=max_tokens,
            token_budget=token_budget,
            request_budget=request_budget,
            policy_id=policy_id,
            created_at=now,
        )
        secret, key = self._new_key(client_id, 1, now)
        record = draft.model_copy(update={"key_versions": (key,)})
        self._store.create(record)
        return record, secret

    def create_app(
        self,
        *,
        app_id: str,
        scopes: Sequence[str],
        allowed_models: Sequence[str],
        max_tokens: int,
        token_budget: int,
        request_budget: int,
        enrollment: EnrollmentSettings,
        policy_id: str = DEFAULT_POLICY_ID,
    ) -> ClientRecord:
        """Create an app: a client whose only callers are its enrolled devices (no key of its own).

        Raises pydantic.ValidationError for invalid values, ClientConflict("client_exists").
        """
        record = new_record(
            app_id,
            scopes=scopes,
            allowed_models=allowed_models,
            max_tokens=max_tokens,
            token_budget=token_budget,
            request_budget=request_budget,
            policy_id=policy_id,
            created_at=self._now(),
            enrollment=enrollment,
        )
        self._store.create(record)
        return record

    def set_enrollment(self, client_id: str, enrollment: EnrollmentSettings | None) -> None:
        """Let the client's users enroll devices under `enrollment`, or stop it (None: existing
        devices are refused from their next request that misses the authorizer's cache)."""
        self._store.set_enrollment(client_id, enrollment)

    def rotate_key(self, client_id: str, overlap_seconds: int = DEFAULT_OVERLAP_SECONDS) -> tuple[int, bytes]:
        """Add a key version valid from now; the active older ones stop after `overlap_seconds`.

        Returns (new version, secret). Raises NotFound("unknown_client"), ClientConflict
        ("client_revoked", "version_exhausted", "concurrent_update": run it again).
        """
        if overlap_seconds < 0:
            raise ValueError("overlap_seconds must be >= 0")
        record = self._existing(client_id)
        if record.status != "active":
            raise ClientConflict("client_revoked")
        version = record.latest_version + 1
        if version > MAX_KEY_VERSION:
            raise ClientConflict("version_exhausted")
        now = self._now()
        retire_at = now + overlap_seconds
        # Never extend a version's life: one already ending sooner keeps its end.
        retire = {
            key.version: retire_at
            for key in record.key_versions
            if key.status == "active" and (key.not_after is None or key.not_after > retire_at)
        }
        secret, key = self._new_key(client_id, version, now)
        self._store.add_key_version(client_id, key, retire=retire)
        return version, secret

    def revoke(self, client_id: str, version: int | None = None) -> None:
        """Revoke one key version, or the whole client when `version` is None."""
        if version is None:
            self._store.revoke_client(client_id)
        else:
            self._store.revoke_key(client_id, version)

    def list_clients(self) -> Iterator[ClientView]:
        """Every client, without secrets."""
        now = self._now()
        for record in self._store.list_clients():
            yield client_view(record, now)

    def show_client(self, client_id: str) -> ClientView:
        """One client, without secrets; raise NotFound("unknown_client")."""
        return client_view(self._existing(client_id), self._now())

    def _existing(self, client_id: str) -> ClientRecord:
        record = self._store.get(client_id)
        if record is None:
            raise NotFound("unknown_client")
        return record

    def _new_key(self, client_id: str, version: int, now: int) -> tuple[bytes, KeyVersion]:
        if self._sealer is None:
            raise RuntimeError("issuing a key needs a SecretSealer (the KMS key ARN)")
        secret = self._token_bytes(SECRET_BYTES)
        sealed = self._sealer.seal(client_id, version, secret)
        key = KeyVersion(
            version=version, sealed_secret=sealed, status="active", not_before=now, created_at=now
        )
        return secret, key

    def _now(self) -> int:
        return int(self._clock())


def new_record(
    client_id: str,
    *,
    scopes: Sequence[str],
    allowed_models: Sequence[str],
    max_tokens: int,
    token_budget: int,
    request_budget: int,
    policy_id: str,
    created_at: int,
    enrollment: EnrollmentSettings | None = None,
) -> ClientRecord:
    """A new active client record, with no key version yet; never one in the device namespace."""
    check_not_device_namespace(client_id)
    return ClientRecord(
        client_id=client_id,
        status="active",
        scopes=tuple(scopes),
        allowed_models=tuple(allowed_models),
        max_tokens=max_tokens,
        token_budget=token_budget,
        request_budget=request_budget,
        policy_id=policy_id,
        created_at=created_at,
        enrollment=enrollment,
    )


def check_not_device_namespace(client_id: str) -> None:
    """Refuse a client id in the device namespace (`dev-…`): those name enrolled devices only."""
    if is_device_id(client_id):
        raise ClientConflict("reserved_client_id")


def generate_client_id() -> str:
    """A fresh client id (`client-` and 16 hex digits; never starts with `-`)."""
    return f"client-{secrets.token_hex(8)}"


def client_view(record: ClientRecord, now: float) -> ClientView:
    """What an operator may see of `record` at `now`."""
    return ClientView(
        client_id=record.client_id,
        status=record.status,
        scopes=record.scopes,
        allowed_models=record.allowed_models,
        max_tokens=record.max_tokens,
        token_budget=record.token_budget,
        request_budget=record.request_budget,
        policy_id=record.policy_id,
        created_at=record.created_at,
        keys=tuple(
            KeyVersionView(
                key_id=format_key_id(record.client_id, key.version),
                version=key.version,
                status=key.status,
                state=_key_state(key, now),
                not_before=key.not_before,
                not_after=key.not_after,
                created_at=key.created_at,
            )
            for key in record.key_versions
        ),
    )


def _key_state(key: KeyVersion, now: float) -> KeyState:
    if key.status == "revoked":
        return "revoked"
    if now < key.not_before:
        return "scheduled"
    if key.not_after is None:
        return "active"
    return "expiring" if now < key.not_after else "expired"
