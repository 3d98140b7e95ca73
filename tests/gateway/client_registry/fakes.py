"""Test doubles for the client-key domain: a hand-moved clock, an in-memory store and sealer."""

from __future__ import annotations

import threading
import time

from secure_ai_gateway.client_registry.records import ClientRecord, KeyVersion
from secure_ai_protocol.errors import ProtocolError

START = 1_800_000_000.0  # 2027-01-15T08:00:00Z


class FakeClock:
    """A clock the test moves by hand (epoch seconds)."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeStore:
    """Client records in a dict; counts reads; can be told to fail."""

    def __init__(self, *records: ClientRecord) -> None:
        self.records = {record.client_id: record for record in records}
        self.reads = 0
        self.failure: ProtocolError | None = None

    def get(self, client_id: str) -> ClientRecord | None:
        self.reads += 1
        if self.failure is not None:
            raise self.failure
        return self.records.get(client_id)


class FakeSealer:
    """'Unseals' by returning the sealed bytes padded to 32; counts calls; can fail or be slow."""

    def __init__(self, *, delay_seconds: float = 0.0) -> None:
        self.unseals = 0
        self.failure: ProtocolError | None = None
        self._delay = delay_seconds
        self._lock = threading.Lock()

    def unseal(self, client_id: str, version: int, sealed: bytes) -> bytes:
        with self._lock:
            self.unseals += 1
        if self._delay:
            time.sleep(self._delay)
        if self.failure is not None:
            raise self.failure
        return sealed.ljust(32, b"\0")


def key_version(
    version: int = 1,
    *,
    status: str = "active",
    not_before: int = int(START) - 3600,
    not_after: int | None = None,
    sealed_secret: bytes | None = None,
) -> KeyVersion:
    """A key version valid from an hour before START unless told otherwise."""
    return KeyVersion.model_validate(
        {
            "version": version,
            "sealed_secret": sealed_secret if sealed_secret is not None else f"sealed-{version}".encode(),
            "status": status,
            "not_before": not_before,
            "not_after": not_after,
            "created_at": not_before,
        }
    )


def client_record(
    client_id: str = "acme-mobile",
    *,
    status: str = "active",
    keys: tuple[KeyVersion, ...] | None = None,
) -> ClientRecord:
    """An active client with key version 1 unless told otherwise."""
    return ClientRecord.model_validate(
        {
            "client_id": client_id,
            "status": status,
            "scopes": ("chat:complete", "output:validate"),
            "allowed_models": ("gpt-4o-mini",),
            "max_tokens": 1024,
            "token_budget": 100_000,
            "request_budget": 1_000,
            "policy_id": "default",
            "created_at": int(START) - 86_400,
            "key_versions": keys if keys is not None else (key_version(1),),
        }
    )
