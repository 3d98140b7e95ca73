"""The signing-key resolver: a time-bounded, thread-safe cache that never caches a failure."""

from __future__ import annotations

import threading

import pytest

from secure_ai_gateway.client_registry.resolver import SigningKeyResolver
from secure_ai_protocol.errors import DependencyUnavailable, SignatureRejected, Unauthenticated
from tests.gateway.client_registry.fakes import (
    START,
    FakeClock,
    FakeSealer,
    FakeStore,
    client_record,
    key_version,
)


def make_resolver(
    store: FakeStore, sealer: FakeSealer, clock: FakeClock, cache_seconds: float = 60
) -> SigningKeyResolver:
    return SigningKeyResolver(store, sealer, clock=clock, cache_seconds=cache_seconds)


def test_a_usable_key_resolves_to_its_record_version_and_secret() -> None:
    # Given a client with key version 1
    store, sealer, clock = FakeStore(client_record()), FakeSealer(), FakeClock()
    # When its key id is resolved
    resolved = make_resolver(store, sealer, clock).resolve("acme-mobile.1")
    # Then the record, version, secret and the scopes the authorizer passes on are returned
    assert (resolved.client_id, resolved.version, resolved.key_id) == ("acme-mobile", 1, "acme-mobile.1")
    assert resolved.secret == b"sealed-1".ljust(32, b"\0")
    assert resolved.scopes == ("chat:complete", "output:validate")


def test_the_resolved_key_never_shows_its_secret_in_repr() -> None:
    # Given a resolved key / When printed / Then the secret is absent
    resolved = make_resolver(FakeStore(client_record()), FakeSealer(), FakeClock()).resolve("acme-mobile.1")
    assert "sealed-1" not in repr(resolved)
    assert "secret" not in repr(resolved)


def test_a_key_is_unsealed_once_while_its_cache_entry_is_fresh() -> None:
    # Given a resolver with a 60 s cache
    store, sealer, clock = FakeStore(client_record()), FakeSealer(), FakeClock()
    resolver = make_resolver(store, sealer, clock)
    # When the key is resolved repeatedly over 59 seconds
    for _ in range(60):
        resolver.resolve("acme-mobile.1")
        clock.advance(59 / 60)
    # Then the store and the sealer were asked once
    assert (store.reads, sealer.unseals) == (1, 1)


def test_a_key_is_read_and_unsealed_again_once_its_cache_time_has_passed() -> None:
    # Given a key resolved at START
    store, sealer, clock = FakeStore(client_record()), FakeSealer(), FakeClock()
    resolver = make_resolver(store, sealer, clock)
    resolver.resolve("acme-mobile.1")
    # When it is resolved again 60 s later
    clock.advance(60)
    resolver.resolve("acme-mobile.1")
    # Then it was loaded twice
    assert (store.reads, sealer.unseals) == (2, 2)


def test_a_cached_key_is_refused_as_soon_as_it_passes_not_after() -> None:
    # Given a key ending at START + 30, cached at START
    store = FakeStore(client_record(keys=(key_version(1, not_after=int(START) + 30),)))
    sealer, clock = FakeSealer(), FakeClock()
    resolver = make_resolver(store, sealer, clock)
    resolver.resolve("acme-mobile.1")
    # When resolved at START + 30, well inside the cache time
    clock.advance(30)
    with pytest.raises(Unauthenticated) as caught:
        resolver.resolve("acme-mobile.1")
    # Then it is refused at once, without asking the store again
    assert caught.value.reason == "key_expired"
    assert store.reads == 1


def test_a_revocation_is_seen_once_the_cache_time_has_passed() -> None:
    # Given a key resolved (and cached) at START, then revoked in the store
    store, sealer, clock = FakeStore(client_record()), FakeSealer(), FakeClock()
    resolver = make_resolver(store, sealer, clock)
    resolver.resolve("acme-mobile.1")
    store.records["acme-mobile"] = client_record(keys=(key_version(1, status="revoked"),))
    # When resolved 61 s later / Then it is refused
    clock.advance(61)
    with pytest.raises(Unauthenticated) as caught:
        resolver.resolve("acme-mobile.1")
    assert caught.value.reason == "revoked_key"


def test_an_unknown_client_is_an_unknown_key() -> None:
    # Given an empty store / When any key id is resolved / Then "unknown_key", and nothing is unsealed
    sealer = FakeSealer()
    with pytest.raises(Unauthenticated) as caught:
        make_resolver(FakeStore(), sealer, FakeClock()).resolve("nobody.1")
    assert caught.value.reason == "unknown_key"
    assert sealer.unseals == 0


@pytest.mark.parametrize(
    ("record", "key_id", "reason"),
    [
        (client_record(), "acme-mobile.2", "unknown_key"),
        (client_record(status="revoked"), "acme-mobile.1", "client_revoked"),
        (client_record(keys=(key_version(1, status="revoked"),)), "acme-mobile.1", "revoked_key"),
        (
            client_record(keys=(key_version(1, not_before=int(START) + 1),)),
            "acme-mobile.1",
            "key_not_yet_valid",
        ),
        (client_record(keys=(key_version(1, not_after=int(START)),)), "acme-mobile.1", "key_expired"),
    ],
)
def test_a_key_that_cannot_be_used_is_refused_without_being_unsealed(
    record: object, key_id: str, reason: str
) -> None:
    # Given a record whose key is not usable now
    sealer = FakeSealer()
    resolver = make_resolver(FakeStore(record), sealer, FakeClock())  # type: ignore[arg-type]
    # When resolved / Then it is refused with the reason, and KMS is not asked
    with pytest.raises(Unauthenticated) as caught:
        resolver.resolve(key_id)
    assert caught.value.reason == reason
    assert sealer.unseals == 0


def test_a_refusal_is_not_cached() -> None:
    # Given a key not valid until START + 10, refused at START
    store = FakeStore(client_record(keys=(key_version(1, not_before=int(START) + 10),)))
    clock = FakeClock()
    resolver = make_resolver(store, FakeSealer(), clock)
    with pytest.raises(Unauthenticated):
        resolver.resolve("acme-mobile.1")
    # When resolved again once valid, still inside what would have been a cache time
    clock.advance(10)
    # Then it resolves
    assert resolver.resolve("acme-mobile.1").version == 1


def test_a_malformed_key_id_is_refused_before_any_lookup() -> None:
    # Given a key id with a leading zero / When resolved / Then SignatureRejected and no store read
    store = FakeStore(client_record())
    with pytest.raises(SignatureRejected):
        make_resolver(store, FakeSealer(), FakeClock()).resolve("acme-mobile.01")
    assert store.reads == 0


def test_a_kms_failure_is_raised_and_not_cached() -> None:
    # Given a sealer failing once
    store, sealer, clock = FakeStore(client_record()), FakeSealer(), FakeClock()
    resolver = make_resolver(store, sealer, clock)
    sealer.failure = DependencyUnavailable("kms_unavailable")
    with pytest.raises(DependencyUnavailable):
        resolver.resolve("acme-mobile.1")
    # When KMS recovers and the key is resolved again at once
    sealer.failure = None
    resolved = resolver.resolve("acme-mobile.1")
    # Then it is loaded afresh and returned
    assert resolved.secret == b"sealed-1".ljust(32, b"\0")
    assert sealer.unseals == 2


def test_a_store_failure_is_raised_and_not_cached() -> None:
    # Given a store failing once
    store, sealer, clock = FakeStore(client_record()), FakeSealer(), FakeClock()
    resolver = make_resolver(store, sealer, clock)
    store.failure = DependencyUnavailable("clients_store_unavailable")
    with pytest.raises(DependencyUnavailable):
        resolver.resolve("acme-mobile.1")
    # When the store recovers / Then the key resolves
    store.failure = None
    assert resolver.resolve("acme-mobile.1").version == 1


def test_a_stale_cache_failure_refuses_rather_than_serving_the_old_secret() -> None:
    # Given a key cached at START, then KMS failing after the cache time
    store, sealer, clock = FakeStore(client_record()), FakeSealer(), FakeClock()
    resolver = make_resolver(store, sealer, clock)
    resolver.resolve("acme-mobile.1")
    sealer.failure = DependencyUnavailable("kms_unavailable")
    clock.advance(60)
    # When resolved / Then it fails closed
    with pytest.raises(DependencyUnavailable):
        resolver.resolve("acme-mobile.1")


def test_keys_of_one_client_are_cached_separately() -> None:
    # Given a client with versions 1 and 2
    store = FakeStore(client_record(keys=(key_version(1), key_version(2))))
    sealer = FakeSealer()
    resolver = make_resolver(store, sealer, FakeClock())
    # When both are resolved twice
    secrets = [resolver.resolve(key_id).secret for key_id in ("acme-mobile.1", "acme-mobile.2") * 2]
    # Then each was unsealed once and keeps its own secret
    assert sealer.unseals == 2
    assert secrets[0] != secrets[1]
    assert secrets[:2] == secrets[2:]


def test_a_clock_that_goes_back_makes_the_cache_entry_stale() -> None:
    # Given a key cached at START / When the clock steps back a second and the key is resolved
    store, sealer, clock = FakeStore(client_record()), FakeSealer(), FakeClock()
    resolver = make_resolver(store, sealer, clock)
    resolver.resolve("acme-mobile.1")
    clock.advance(-1)
    resolver.resolve("acme-mobile.1")
    # Then it was loaded again rather than trusted for longer
    assert sealer.unseals == 2


def test_a_zero_cache_time_loads_the_key_on_every_call() -> None:
    # Given cache_seconds=0 / When resolved three times at the same instant / Then three loads
    store, sealer = FakeStore(client_record()), FakeSealer()
    resolver = make_resolver(store, sealer, FakeClock(), cache_seconds=0)
    for _ in range(3):
        resolver.resolve("acme-mobile.1")
    assert sealer.unseals == 3


@pytest.mark.parametrize("cache_seconds", [-1, float("nan"), float("inf")])
def test_an_impossible_cache_time_is_refused(cache_seconds: float) -> None:
    # Given a negative or non-finite cache time / When a resolver is built / Then ValueError
    with pytest.raises(ValueError, match="cache_seconds"):
        make_resolver(FakeStore(), FakeSealer(), FakeClock(), cache_seconds=cache_seconds)


def test_concurrent_requests_for_a_cold_key_unseal_it_once() -> None:
    # Given a slow sealer and 20 threads released together on a cold key
    store, sealer = FakeStore(client_record()), FakeSealer(delay_seconds=0.05)
    resolver = make_resolver(store, sealer, FakeClock())
    start = threading.Barrier(20)
    results: list[bytes] = []
    errors: list[BaseException] = []

    def resolve() -> None:
        start.wait()
        try:
            results.append(resolver.resolve("acme-mobile.1").secret)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=resolve) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every thread got the key and KMS was asked once
    assert errors == []
    assert len(results) == 20
    assert len(set(results)) == 1
    assert sealer.unseals == 1
