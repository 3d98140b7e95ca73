"""Resolve a signature's `keyid` to the client record and the unsealed 32-byte secret.

A key id in the device namespace (`dev-…`, secure_ai_protocol.key_ids) names an enrolled device:
its key versions are the device's, and its permissions (scopes, models, policy, budgets) are its
app's, so revoking either the device or the app refuses it.

A warm authorizer keeps each resolved key for at most `cache_seconds` (60 by default), so KMS
Decrypt runs at most about once a minute per key, and a revocation, rotation or scope change
stored in DynamoDB takes effect within that time. The key's own validity window is checked
against the current time on every call, cached or not: a key passing `not_after` is refused at
once. Only successes are cached; a refused key or a failing dependency is asked again next time.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from secure_ai_gateway.client_registry.records import ClientRecord, usable_key
from secure_ai_gateway.device_registry.records import DeviceRecord
from secure_ai_gateway.ports import ClientRecords, DeviceRecords, SecretUnsealer
from secure_ai_protocol.errors import Unauthenticated
from secure_ai_protocol.key_ids import format_key_id, is_device_id, parse_key_id

DEFAULT_CACHE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    """A usable signing key: its client's (or device's app's) record, its version and its secret."""

    record: ClientRecord
    version: int
    secret: bytes = field(repr=False)
    device: DeviceRecord | None = None

    @property
    def client_id(self) -> str:
        """Who signs: the client, or the device (the key id before `.<version>`)."""
        return self.device.device_id if self.device is not None else self.record.client_id

    @property
    def app_id(self) -> str:
        """Whose permissions and budgets apply: the client itself, or the device's app."""
        return self.record.client_id

    @property
    def device_id(self) -> str:
        """The device's id, or "" for an operator-created client."""
        return self.device.device_id if self.device is not None else ""

    @property
    def user_ref(self) -> str:
        """The keyed hash of the device's user, or "" for an operator-created client."""
        return self.device.user_ref if self.device is not None else ""

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes the client holds."""
        return self.record.scopes

    @property
    def key_id(self) -> str:
        """`<client_id>.<version>`, as signed."""
        return format_key_id(self.client_id, self.version)


@dataclass(frozen=True, slots=True)
class _CachedKey:
    record: ClientRecord
    device: DeviceRecord | None
    secret: bytes = field(repr=False)
    loaded_at: float

    def check_usable(self, version: int, now: float) -> None:
        if self.device is None:
            usable_key(self.record, version, now)
            return
        check_app_enrolls(self.record)
        usable_key(self.device, version, now)


def check_app_enrolls(app: ClientRecord) -> None:
    """A device verifies only while its app is active and still enrolls devices (`disable-enrollment`
    refuses every device of the app, on every route, within the cache time)."""
    if app.status != "active":
        raise Unauthenticated("client_revoked")
    if app.enrollment is None:
        raise Unauthenticated("enrollment_disabled")


class SigningKeyResolver:
    """Thread-safe, time-bounded cache in front of the client store and the sealer."""

    def __init__(
        self,
        store: ClientRecords,
        sealer: SecretUnsealer,
        *,
        clock: Callable[[], float],
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        devices: DeviceRecords | None = None,
    ) -> None:
        if not math.isfinite(cache_seconds) or cache_seconds < 0:
            raise ValueError("cache_seconds must be a finite number >= 0")
        self._store = store
        self._devices = devices
        self._sealer = sealer
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._entries: dict[str, _CachedKey] = {}
        self._entries_lock = threading.Lock()
        self._loading = _KeyedLocks()

    def resolve(self, key_id: str) -> ResolvedKey:
        """The usable key named `key_id`.

        Raises SignatureRejected("keyid") for a malformed id; Unauthenticated ("unknown_key",
        "client_revoked", "revoked_key", "key_not_yet_valid", "key_expired", "unseal_failed");
        DependencyUnavailable when DynamoDB or KMS fails.
        """
        client_id, version = parse_key_id(key_id)
        now = self._clock()
        entry = self._fresh(key_id, now)
        if entry is None:
            # One load per key at a time: concurrent requests for a cold key share one Decrypt.
            with self._loading.hold(key_id):
                now = self._clock()
                entry = self._fresh(key_id, now) or self._load(client_id, version, now)
        entry.check_usable(version, now)
        return ResolvedKey(record=entry.record, version=version, secret=entry.secret, device=entry.device)

    def _fresh(self, key_id: str, now: float) -> _CachedKey | None:
        with self._entries_lock:
            entry = self._entries.get(key_id)
        # A clock that went backwards makes an entry stale, never fresher.
        if entry is not None and entry.loaded_at <= now < entry.loaded_at + self._cache_seconds:
            return entry
        return None

    def _load(self, client_id: str, version: int, now: float) -> _CachedKey:
        device = self._device(client_id) if is_device_id(client_id) else None
        record = self._store.get(device.app_id if device is not None else client_id)
        if record is None:
            raise Unauthenticated("unknown_key")
        # Refuse before unsealing: no KMS call is spent on a key that cannot be used.
        if device is not None:
            check_app_enrolls(record)
        key = usable_key(device if device is not None else record, version, now)
        secret = self._sealer.unseal(client_id, version, key.sealed_secret)
        entry = _CachedKey(record=record, device=device, secret=secret, loaded_at=now)
        with self._entries_lock:
            self._entries = {
                cached_id: cached
                for cached_id, cached in self._entries.items()
                if cached.loaded_at <= now < cached.loaded_at + self._cache_seconds
            }
            self._entries[format_key_id(client_id, version)] = entry
        return entry

    def _device(self, device_id: str) -> DeviceRecord:
        device = self._devices.get(device_id) if self._devices is not None else None
        if device is None:
            raise Unauthenticated("unknown_key")
        return device


@dataclass(slots=True)
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    holders: int = 0


class _KeyedLocks:
    """One lock per key, dropped when nobody holds or waits for it (unknown key ids cannot pile up)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._slots: dict[str, _Slot] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            slot = self._slots.setdefault(key, _Slot())
            slot.holders += 1
        try:
            with slot.lock:
                yield
        finally:
            with self._guard:
                slot.holders -= 1
                if slot.holders == 0:
                    del self._slots[key]
