"""Device keys in the resolver: the device's key versions, its app's permissions, both revocable."""

from __future__ import annotations

import pytest

from secure_ai_gateway.client_registry.records import ClientRecord
from secure_ai_gateway.client_registry.resolver import SigningKeyResolver
from secure_ai_gateway.device_registry.records import DeviceRecord
from secure_ai_gateway.device_registry.user_refs import user_ref
from secure_ai_protocol.errors import DependencyUnavailable, Unauthenticated
from tests.gateway.client_registry.fakes import FakeClock, FakeSealer, FakeStore, client_record
from tests.gateway.devices.fakes import (
    APP_ID,
    DEVICE_ID,
    NOW,
    REF_KEY,
    SUB,
    FakeDevices,
    app_record,
    device_key,
    device_record,
)

KEY_ID = f"{DEVICE_ID}.1"


def setup(
    *, app: ClientRecord | None = None, device: DeviceRecord | None = None
) -> tuple[SigningKeyResolver, FakeStore, FakeDevices, FakeSealer, FakeClock]:
    store = FakeStore(app if app is not None else app_record())
    devices = FakeDevices({DEVICE_ID: device if device is not None else device_record()})
    sealer, clock = FakeSealer(), FakeClock()
    resolver = SigningKeyResolver(store, sealer, clock=clock, devices=devices)
    return resolver, store, devices, sealer, clock


def test_a_device_key_resolves_with_its_apps_permissions_and_its_own_attribution() -> None:
    resolver, _, _, sealer, _ = setup()
    resolved = resolver.resolve(KEY_ID)
    # The device signs; the app's scopes and record apply; the user is named by ref only
    assert (resolved.client_id, resolved.device_id, resolved.app_id) == (DEVICE_ID, DEVICE_ID, APP_ID)
    assert resolved.key_id == KEY_ID
    assert resolved.record.client_id == APP_ID
    assert resolved.scopes == ("chat:complete",)
    assert resolved.user_ref == user_ref(REF_KEY, APP_ID, SUB)
    assert SUB not in repr(resolved)
    # And the secret is the device's, unsealed under the device's id
    assert resolved.secret == b"sealed-dev-1".ljust(32, b"\0")
    assert sealer.unseals == 1


def test_an_operator_client_is_its_own_app_with_no_device_or_user() -> None:
    store, sealer, clock = FakeStore(client_record()), FakeSealer(), FakeClock()
    resolved = SigningKeyResolver(store, sealer, clock=clock, devices=FakeDevices()).resolve("acme-mobile.1")
    assert (resolved.app_id, resolved.device_id, resolved.user_ref) == ("acme-mobile", "", "")


def test_a_device_key_is_unknown_to_a_resolver_without_a_device_store() -> None:
    store, sealer = FakeStore(app_record()), FakeSealer()
    with pytest.raises(Unauthenticated) as refused:
        SigningKeyResolver(store, sealer, clock=FakeClock()).resolve(KEY_ID)
    assert refused.value.reason == "unknown_key"
    assert sealer.unseals == 0


def test_an_app_key_id_never_reaches_the_device_store() -> None:
    # A client id outside the dev- namespace is looked up as a client, never as a device
    resolver, _, devices, _, _ = setup()
    with pytest.raises(Unauthenticated):
        resolver.resolve(f"{APP_ID}.1")
    assert devices.reads == 0


@pytest.mark.parametrize(
    ("key_id", "app", "device", "reason"),
    [
        (f"dev-{'b' * 26}.1", None, None, "unknown_key"),
        (KEY_ID, None, device_record(status="revoked"), "client_revoked"),
        (KEY_ID, app_record(status="revoked"), None, "client_revoked"),
        (KEY_ID, app_record(enrolls=False), None, "enrollment_disabled"),
        (KEY_ID, None, device_record(keys=(device_key(1, not_after=NOW),)), "key_expired"),
        (KEY_ID, None, device_record(keys=(device_key(1, status="revoked"),)), "revoked_key"),
        (KEY_ID, None, device_record(keys=(device_key(1, not_before=NOW + 1),)), "key_not_yet_valid"),
        (f"{DEVICE_ID}.2", None, None, "unknown_key"),
        (KEY_ID, None, device_record(app_id="gone-app"), "unknown_key"),
    ],
)
def test_a_device_key_that_cannot_be_used_is_refused_without_a_kms_call(
    key_id: str, app: ClientRecord | None, device: DeviceRecord | None, reason: str
) -> None:
    resolver, _, _, sealer, _ = setup(app=app, device=device)
    with pytest.raises(Unauthenticated) as refused:
        resolver.resolve(key_id)
    assert refused.value.reason == reason
    assert sealer.unseals == 0


def test_a_device_key_is_not_accepted_under_another_devices_id() -> None:
    # Device A's key id names A; a key id naming B is looked up as B, never A's record
    resolver, _, _, _, _ = setup()
    with pytest.raises(Unauthenticated):
        resolver.resolve(f"dev-{'c' * 26}.1")


def test_a_device_revocation_takes_effect_once_the_cache_time_has_passed_and_not_before() -> None:
    # Given a device key resolved (and cached) at START, then the device revoked in the store
    resolver, _, devices, _, clock = setup()
    resolver.resolve(KEY_ID)
    devices.devices[DEVICE_ID] = device_record(status="revoked")
    # When resolved within the cache time / Then still accepted (the documented bound)
    clock.advance(59)
    resolver.resolve(KEY_ID)
    # And once the cache time has passed / Then refused
    clock.advance(1)
    with pytest.raises(Unauthenticated) as refused:
        resolver.resolve(KEY_ID)
    assert refused.value.reason == "client_revoked"


def test_an_app_revocation_refuses_its_devices_once_the_cache_time_has_passed() -> None:
    resolver, store, _, _, clock = setup()
    resolver.resolve(KEY_ID)
    store.records[APP_ID] = app_record(status="revoked")
    clock.advance(59)
    resolver.resolve(KEY_ID)
    clock.advance(1)
    with pytest.raises(Unauthenticated) as refused:
        resolver.resolve(KEY_ID)
    assert refused.value.reason == "client_revoked"


def test_a_cached_device_key_is_refused_as_soon_as_it_expires() -> None:
    # Given a device key ending at NOW + 30, cached at NOW
    resolver, _, devices, _, clock = setup(device=device_record(keys=(device_key(1, not_after=NOW + 30),)))
    resolver.resolve(KEY_ID)
    # When resolved at NOW + 30, inside the cache time / Then refused without a store read
    clock.advance(30)
    with pytest.raises(Unauthenticated) as refused:
        resolver.resolve(KEY_ID)
    assert refused.value.reason == "key_expired"
    assert devices.reads == 1


def test_an_old_key_retired_by_a_renewal_stops_at_its_retirement() -> None:
    # Given a renewed device: key 1 retired at NOW + 300, key 2 until NOW + 86_400
    device = device_record(keys=(device_key(1, not_after=NOW + 300), device_key(2, not_after=NOW + 86_400)))
    resolver, _, _, _, clock = setup(device=device)
    resolver.resolve(f"{DEVICE_ID}.1")
    resolver.resolve(f"{DEVICE_ID}.2")
    clock.advance(300)
    with pytest.raises(Unauthenticated):
        resolver.resolve(f"{DEVICE_ID}.1")
    assert resolver.resolve(f"{DEVICE_ID}.2").version == 2


def test_a_failing_device_store_fails_closed_and_is_asked_again() -> None:
    resolver, _, devices, sealer, _ = setup()

    def failing(device_id: str) -> None:
        raise DependencyUnavailable("devices_store_unavailable")

    devices.get = failing  # type: ignore[method-assign]
    with pytest.raises(DependencyUnavailable):
        resolver.resolve(KEY_ID)
    assert sealer.unseals == 0


def test_a_client_whose_id_merely_starts_with_dev_still_resolves_as_a_client() -> None:
    # Given a client created before devices existed, called dev-backend
    store, sealer, clock = FakeStore(client_record("dev-backend")), FakeSealer(), FakeClock()
    devices = FakeDevices()
    # When its key is resolved / Then it is that client, and the device store is never asked
    resolved = SigningKeyResolver(store, sealer, clock=clock, devices=devices).resolve("dev-backend.1")
    assert (resolved.client_id, resolved.app_id, resolved.device_id) == ("dev-backend", "dev-backend", "")
    assert devices.reads == 0


def test_disabling_enrollment_refuses_the_apps_devices_once_the_cache_time_has_passed() -> None:
    # Given a device key resolved, then its app's enrollment disabled (secure-ai clients disable-enrollment)
    resolver, store, _, _, clock = setup()
    resolver.resolve(KEY_ID)
    store.records[APP_ID] = app_record(enrolls=False)
    clock.advance(59)
    resolver.resolve(KEY_ID)
    # Then every route refuses the device once the cache time has passed
    clock.advance(1)
    with pytest.raises(Unauthenticated) as refused:
        resolver.resolve(KEY_ID)
    assert refused.value.reason == "enrollment_disabled"
