"""Issuing, rotating and revoking client keys, as the authorizer's resolver sees them (moto)."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.secret_sealing import SecretSealer
from secure_ai_gateway.client_registry.admin import ClientAdmin, ClientView
from secure_ai_gateway.client_registry.records import ClientConflict, ClientRecord
from secure_ai_gateway.client_registry.resolver import SigningKeyResolver
from secure_ai_protocol.errors import DependencyUnavailable, NotFound, Unauthenticated
from tests.gateway.client_registry.fakes import FakeClock, client_record, key_version
from tests.integration.clients.aws_doubles import unreachable_dynamodb

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

DAY = 86_400


def create_acme(admin: ClientAdmin) -> tuple[ClientRecord, bytes]:
    return admin.create_client(
        client_id="acme",
        scopes=["chat:complete"],
        allowed_models=["gpt-4o-mini"],
        max_tokens=512,
        token_budget=10_000,
        request_budget=100,
    )


def refusal(resolver: SigningKeyResolver, key_id: str) -> str:
    with pytest.raises(Unauthenticated) as caught:
        resolver.resolve(key_id)
    return caught.value.reason


# ------------------------------------------------------------------------------------ create


def test_a_created_clients_key_resolves_to_the_issued_secret(
    admin: ClientAdmin, resolver: SigningKeyResolver
) -> None:
    # Given a client created by the admin / When its key 1 is resolved
    record, secret = create_acme(admin)
    resolved = resolver.resolve("acme.1")
    # Then the authorizer gets the very secret the client was given, and the stored record
    assert len(secret) == 32
    assert hmac.compare_digest(resolved.secret, secret)
    assert resolved.record == record


def test_a_created_client_has_one_active_key_valid_from_now(admin: ClientAdmin, clock: FakeClock) -> None:
    # Given the clock at START / When a client is created
    record, _ = create_acme(admin)
    # Then it holds version 1, valid from now, with no end
    assert [(key.version, key.status, key.not_before, key.not_after) for key in record.key_versions] == [
        (1, "active", int(clock.now), None)
    ]


def test_a_client_id_is_generated_when_none_is_given(admin: ClientAdmin, store: ClientStore) -> None:
    # Given no client id / When a client is created
    record, _ = admin.create_client(
        scopes=["chat:complete"], allowed_models=[], max_tokens=1, token_budget=1, request_budget=1
    )
    # Then it got a well-formed id and is stored under it
    assert record.client_id.startswith("client-")
    assert store.get(record.client_id) == record


def test_each_client_gets_its_own_secret(admin: ClientAdmin) -> None:
    # Given two clients created / Then their secrets differ
    _, first = create_acme(admin)
    _, second = admin.create_client(
        client_id="other", scopes=[], allowed_models=[], max_tokens=1, token_budget=1, request_budget=1
    )
    assert first != second


def test_creating_a_client_twice_is_refused(admin: ClientAdmin, resolver: SigningKeyResolver) -> None:
    # Given a client / When it is created again
    _, secret = create_acme(admin)
    with pytest.raises(ClientConflict) as caught:
        create_acme(admin)
    # Then it is refused, and the first secret still resolves
    assert caught.value.reason == "client_exists"
    assert resolver.resolve("acme.1").secret == secret


def test_invalid_client_settings_are_refused_before_any_key_is_sealed(
    admin: ClientAdmin, store: ClientStore, kms: KMSClient
) -> None:
    # Given a scope with a space / When the client is created, with KMS stubbed to expect nothing
    with Stubber(kms), pytest.raises(ValidationError):
        admin.create_client(
            client_id="acme",
            scopes=["chat complete"],
            allowed_models=[],
            max_tokens=1,
            token_budget=1,
            request_budget=1,
        )
    # Then nothing is stored
    assert store.get("acme") is None


# ------------------------------------------------------------------------------------ rotation


def test_during_the_overlap_old_and_new_keys_are_both_usable(
    admin: ClientAdmin, resolver: SigningKeyResolver, clock: FakeClock
) -> None:
    # Given a client rotated with a one-day overlap
    create_acme(admin)
    version, new_secret = admin.rotate_key("acme", overlap_seconds=DAY)
    # When both keys are resolved an hour later
    clock.advance(3600)
    # Then both are usable
    assert version == 2
    assert resolver.resolve("acme.2").secret == new_secret
    assert resolver.resolve("acme.1").version == 1


def test_after_the_overlap_the_old_key_is_refused_and_the_new_one_works(
    admin: ClientAdmin, resolver: SigningKeyResolver, clock: FakeClock
) -> None:
    # Given a client rotated with a one-day overlap
    create_acme(admin)
    admin.rotate_key("acme", overlap_seconds=DAY)
    # When the overlap has passed
    clock.advance(DAY)
    # Then the old key is expired and the new one resolves
    assert refusal(resolver, "acme.1") == "key_expired"
    assert resolver.resolve("acme.2").version == 2


def test_a_cached_old_key_is_refused_once_its_overlap_ends(
    admin: ClientAdmin, store: ClientStore, sealer: SecretSealer, clock: FakeClock
) -> None:
    # Given a resolver that cached key 1 just before a rotation with a 30 s overlap
    resolver = SigningKeyResolver(store, sealer, clock=clock, cache_seconds=3600)
    create_acme(admin)
    resolver.resolve("acme.1")
    admin.rotate_key("acme", overlap_seconds=30)
    # When the overlap ends, long before the (one-hour) cache time
    clock.advance(30)
    # Then key 1 is still honoured: the cache holds the record as it was before the rotation
    # (this is the documented latency: a change takes effect within the cache time)
    assert resolver.resolve("acme.1").version == 1
    # ...and refused as soon as the cached entry is reloaded
    clock.advance(3600)
    assert refusal(resolver, "acme.1") == "key_expired"


def test_rotation_with_no_overlap_retires_the_old_key_at_once(
    admin: ClientAdmin, resolver: SigningKeyResolver
) -> None:
    # Given a client rotated with overlap 0 / When the old key is resolved (cold cache)
    create_acme(admin)
    admin.rotate_key("acme", overlap_seconds=0)
    # Then it is refused
    assert refusal(resolver, "acme.1") == "key_expired"


def test_a_second_rotation_never_extends_an_earlier_retirement(
    admin: ClientAdmin, store: ClientStore, clock: FakeClock
) -> None:
    # Given a rotation that retires key 1 in one hour
    create_acme(admin)
    admin.rotate_key("acme", overlap_seconds=3600)
    retire_at = int(clock.now) + 3600
    # When the client is rotated again with a one-day overlap
    admin.rotate_key("acme", overlap_seconds=DAY)
    # Then key 1 still ends in one hour, key 2 in a day, key 3 is open-ended
    record = store.get("acme")
    assert record is not None
    assert [(key.version, key.not_after) for key in record.key_versions] == [
        (1, retire_at),
        (2, int(clock.now) + DAY),
        (3, None),
    ]


def test_rotation_never_reuses_a_revoked_version_number(admin: ClientAdmin) -> None:
    # Given key 2 issued then revoked / When rotated / Then the new key is 3
    create_acme(admin)
    admin.rotate_key("acme", overlap_seconds=0)
    admin.revoke("acme", 2)
    version, _ = admin.rotate_key("acme", overlap_seconds=0)
    assert version == 3


def test_rotating_an_unknown_client_is_not_found(admin: ClientAdmin) -> None:
    # Given no such client / When rotated / Then NotFound("unknown_client")
    with pytest.raises(NotFound) as caught:
        admin.rotate_key("nobody")
    assert caught.value.reason == "unknown_client"


def test_rotating_a_revoked_client_is_refused(admin: ClientAdmin) -> None:
    # Given a revoked client / When rotated / Then ClientConflict("client_revoked")
    create_acme(admin)
    admin.revoke("acme")
    with pytest.raises(ClientConflict) as caught:
        admin.rotate_key("acme")
    assert caught.value.reason == "client_revoked"


def test_rotating_a_client_at_the_last_version_number_is_refused(
    admin: ClientAdmin, store: ClientStore
) -> None:
    # Given a client whose key is version 999999 / When rotated / Then ClientConflict
    store.create(client_record("maxed", keys=(key_version(999_999),)))
    with pytest.raises(ClientConflict) as caught:
        admin.rotate_key("maxed")
    assert caught.value.reason == "version_exhausted"


def test_a_negative_overlap_is_refused(admin: ClientAdmin) -> None:
    # Given a client / When rotated with a negative overlap / Then ValueError
    create_acme(admin)
    with pytest.raises(ValueError, match="overlap_seconds"):
        admin.rotate_key("acme", overlap_seconds=-1)


def test_issuing_a_key_without_a_sealer_is_a_programming_error(store: ClientStore, clock: FakeClock) -> None:
    # Given an admin built for read-only commands (no KMS key) / When a client is created
    read_only = ClientAdmin(store, None, clock=clock)
    # Then it raises and stores nothing
    with pytest.raises(RuntimeError, match="SecretSealer"):
        create_acme(read_only)
    assert store.get("acme") is None


# ------------------------------------------------------------------------------------ revocation


def test_a_revoked_key_is_refused_once_the_cache_time_has_passed(
    admin: ClientAdmin, resolver: SigningKeyResolver, clock: FakeClock
) -> None:
    # Given key 1 resolved (and cached) by a warm authorizer
    create_acme(admin)
    resolver.resolve("acme.1")
    # When it is revoked and 61 s pass
    admin.revoke("acme", 1)
    clock.advance(61)
    # Then it is refused
    assert refusal(resolver, "acme.1") == "revoked_key"


def test_a_revoked_client_is_refused_once_the_cache_time_has_passed(
    admin: ClientAdmin, resolver: SigningKeyResolver, clock: FakeClock
) -> None:
    # Given key 1 cached, then the whole client revoked
    create_acme(admin)
    resolver.resolve("acme.1")
    admin.revoke("acme")
    # When 61 s pass / Then the key is refused
    clock.advance(61)
    assert refusal(resolver, "acme.1") == "client_revoked"


def test_a_revoked_key_is_refused_at_once_by_a_cold_authorizer(
    admin: ClientAdmin, resolver: SigningKeyResolver
) -> None:
    # Given a revoked key never resolved before / When resolved / Then refused
    create_acme(admin)
    admin.revoke("acme", 1)
    assert refusal(resolver, "acme.1") == "revoked_key"


def test_revoking_an_unknown_key_is_not_found(admin: ClientAdmin) -> None:
    # Given a client with key 1 / When key 9 is revoked / Then NotFound("unknown_key")
    create_acme(admin)
    with pytest.raises(NotFound) as caught:
        admin.revoke("acme", 9)
    assert caught.value.reason == "unknown_key"


# ------------------------------------------------------------------------------------ validity


def test_a_key_not_yet_valid_is_refused(store: ClientStore, sealer: SecretSealer, clock: FakeClock) -> None:
    # Given a key valid from an hour ahead
    sealed = sealer.seal("acme", 1, bytes(32))
    store.create(
        client_record("acme", keys=(key_version(1, not_before=int(clock.now) + 3600, sealed_secret=sealed),))
    )
    # When resolved now / Then "key_not_yet_valid"
    assert refusal(SigningKeyResolver(store, sealer, clock=clock), "acme.1") == "key_not_yet_valid"


def test_an_expired_key_is_refused(store: ClientStore, sealer: SecretSealer, clock: FakeClock) -> None:
    # Given a key that ended an hour ago
    sealed = sealer.seal("acme", 1, bytes(32))
    store.create(
        client_record("acme", keys=(key_version(1, not_after=int(clock.now) - 3600, sealed_secret=sealed),))
    )
    # When resolved now / Then "key_expired"
    assert refusal(SigningKeyResolver(store, sealer, clock=clock), "acme.1") == "key_expired"


def test_a_sealed_secret_copied_from_another_client_does_not_unseal(
    store: ClientStore, sealer: SecretSealer, clock: FakeClock
) -> None:
    # Given evil's record holding acme's sealed secret (a table edit)
    acme_sealed = sealer.seal("acme", 1, bytes(range(32)))
    store.create(client_record("evil", keys=(key_version(1, sealed_secret=acme_sealed),)))
    # When evil.1 is resolved / Then it fails to unseal instead of yielding acme's secret
    assert refusal(SigningKeyResolver(store, sealer, clock=clock), "evil.1") == "unseal_failed"


# ------------------------------------------------------------------------------------ KMS use


def test_a_warm_authorizer_decrypts_each_key_at_most_once_a_minute(
    admin: ClientAdmin, resolver: SigningKeyResolver, clock: FakeClock, decrypt_calls: list[dict[str, Any]]
) -> None:
    # Given a client with one key
    create_acme(admin)
    # When its key is resolved every second for two minutes
    for _ in range(120):
        resolver.resolve("acme.1")
        clock.advance(1)
    # Then KMS Decrypt ran twice: once per minute
    assert len(decrypt_calls) == 2


def test_a_cached_key_is_rechecked_against_the_current_time(
    store: ClientStore, sealer: SecretSealer, clock: FakeClock, decrypt_calls: list[dict[str, Any]]
) -> None:
    # Given a key ending in 10 s, resolved and cached
    sealed = sealer.seal("acme", 1, bytes(32))
    store.create(
        client_record("acme", keys=(key_version(1, not_after=int(clock.now) + 10, sealed_secret=sealed),))
    )
    resolver = SigningKeyResolver(store, sealer, clock=clock)
    resolver.resolve("acme.1")
    # When resolved 10 s later, inside the cache time
    clock.advance(10)
    # Then it is refused, without a new Decrypt
    assert refusal(resolver, "acme.1") == "key_expired"
    assert len(decrypt_calls) == 1


def test_kms_failing_never_yields_a_secret_and_is_not_cached(
    admin: ClientAdmin, store: ClientStore, key_arn: str, kms: KMSClient, clock: FakeClock
) -> None:
    # Given a client, and KMS throttling the first Decrypt
    create_acme(admin)
    resolver = SigningKeyResolver(store, SecretSealer(key_arn, kms), clock=clock)
    with Stubber(kms) as stubber:
        stubber.add_client_error("decrypt", service_error_code="ThrottlingException")
        with pytest.raises(DependencyUnavailable):
            resolver.resolve("acme.1")
    # When KMS recovers / Then the key resolves at once (the failure was not cached)
    assert resolver.resolve("acme.1").version == 1


def test_dynamodb_failing_never_yields_a_secret(sealer: SecretSealer, clock: FakeClock) -> None:
    # Given an unreachable clients table / When a key is resolved / Then DependencyUnavailable
    resolver = SigningKeyResolver(ClientStore("clients", unreachable_dynamodb()), sealer, clock=clock)
    with pytest.raises(DependencyUnavailable):
        resolver.resolve("acme.1")


# ------------------------------------------------------------------------------------ views


def test_show_and_list_carry_neither_the_secret_nor_the_sealed_blob(
    admin: ClientAdmin, store: ClientStore
) -> None:
    # Given a client with a secret and a sealed blob
    _, secret = create_acme(admin)
    stored = store.get("acme")
    assert stored is not None
    sealed = stored.key_versions[0].sealed_secret
    # When shown and listed
    shown = admin.show_client("acme")
    listed = list(admin.list_clients())
    # Then the views are secret-free by construction and by content
    assert "secret" not in str(ClientView.model_fields)
    for view in (shown, *listed):
        text = view.model_dump_json()
        assert secret.hex() not in text
        assert sealed.hex() not in text
        assert repr(sealed) not in repr(view)


def test_show_reports_each_keys_state(admin: ClientAdmin, clock: FakeClock) -> None:
    # Given keys 1 (retiring), 2 (revoked), 3 (active)
    create_acme(admin)
    admin.rotate_key("acme", overlap_seconds=DAY)
    admin.rotate_key("acme", overlap_seconds=DAY)
    admin.revoke("acme", 2)
    # When shown / Then each key's state is what the authorizer would decide
    states = [(key.key_id, key.state) for key in admin.show_client("acme").keys]
    assert states == [("acme.1", "expiring"), ("acme.2", "revoked"), ("acme.3", "active")]
    # ...and after the overlap key 1 reads as expired
    clock.advance(DAY)
    assert admin.show_client("acme").keys[0].state == "expired"


def test_show_reports_a_scheduled_key(store: ClientStore, clock: FakeClock) -> None:
    # Given a key valid from tomorrow / When shown / Then "scheduled"
    store.create(client_record("acme", keys=(key_version(1, not_before=int(clock.now) + DAY),)))
    view = ClientAdmin(store, None, clock=clock).show_client("acme")
    assert view.keys[0].state == "scheduled"


def test_showing_an_unknown_client_is_not_found(admin: ClientAdmin) -> None:
    # Given no such client / When shown / Then NotFound
    with pytest.raises(NotFound):
        admin.show_client("nobody")
