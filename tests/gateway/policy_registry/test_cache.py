"""The functions' policy lookup: at most 60 s stale, the built-in default as fallback, no failure cached."""

from __future__ import annotations

import pytest

from secure_ai_gateway.policy_registry.cache import CACHE_SECONDS, CachedPolicies
from secure_ai_gateway.screening.policy import DEFAULT_POLICY, Policy
from secure_ai_protocol.errors import ConfigurationError, DependencyUnavailable, ProtocolError
from tests.gateway.client_registry.fakes import FakeClock


class FakePolicyStore:
    """Current policies in a dict; counts reads; can be told to fail."""

    def __init__(self, *policies: Policy) -> None:
        self.policies = {policy.policy_id: policy for policy in policies}
        self.reads = 0
        self.failure: ProtocolError | None = None

    def current(self, policy_id: str) -> Policy | None:
        self.reads += 1
        if self.failure is not None:
            raise self.failure
        return self.policies.get(policy_id)


def docs(version: int, *hosts: str) -> Policy:
    return Policy(policy_id="docs", version=version, allowed_hosts=frozenset(hosts))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_stored_policy_is_served(clock: FakeClock) -> None:
    store = FakePolicyStore(docs(1, "docs.example.com"))
    assert CachedPolicies(store, clock=clock).policy("docs") == docs(1, "docs.example.com")


def test_a_new_version_is_not_served_before_the_cache_time_and_is_served_at_it(clock: FakeClock) -> None:
    # Given version 1 read once
    store = FakePolicyStore(docs(1, "docs.example.com"))
    policies = CachedPolicies(store, clock=clock)
    policies.policy("docs")
    # When version 2 is stored
    store.policies["docs"] = docs(2)
    # Then version 1 is served until just before 60 s have passed, and version 2 from then on
    clock.advance(CACHE_SECONDS - 0.001)
    assert policies.policy("docs").version == 1
    assert store.reads == 1
    clock.advance(0.001)
    assert policies.policy("docs").version == 2
    assert store.reads == 2


def test_a_clock_that_went_backwards_reads_again(clock: FakeClock) -> None:
    store = FakePolicyStore(docs(1))
    policies = CachedPolicies(store, clock=clock)
    policies.policy("docs")
    clock.advance(-1)
    policies.policy("docs")
    assert store.reads == 2


def test_default_without_a_stored_version_is_the_built_in_policy(clock: FakeClock) -> None:
    assert CachedPolicies(FakePolicyStore(), clock=clock).policy("default") is DEFAULT_POLICY


def test_a_stored_default_replaces_the_built_in_one(clock: FakeClock) -> None:
    stored = Policy(policy_id="default", version=3, deny_terms=("falcon",))
    assert CachedPolicies(FakePolicyStore(stored), clock=clock).policy("default") == stored


def test_an_id_with_no_stored_version_and_no_built_in_is_unknown(clock: FakeClock) -> None:
    with pytest.raises(ConfigurationError) as raised:
        CachedPolicies(FakePolicyStore(), clock=clock).policy("docs")
    assert raised.value.reason == "unknown_policy"


def test_a_deleted_policy_is_unknown_once_the_cache_time_has_passed(clock: FakeClock) -> None:
    store = FakePolicyStore(docs(1))
    policies = CachedPolicies(store, clock=clock)
    policies.policy("docs")
    del store.policies["docs"]
    clock.advance(CACHE_SECONDS)
    with pytest.raises(ConfigurationError):
        policies.policy("docs")


def test_a_store_failure_refuses_and_is_not_cached(clock: FakeClock) -> None:
    # Given a store that fails
    store = FakePolicyStore(docs(1))
    store.failure = DependencyUnavailable("policies_store_unavailable")
    policies = CachedPolicies(store, clock=clock)
    # When asked for a policy, even `default`: Then the failure propagates (no built-in fallback)
    for policy_id in ("docs", "default"):
        with pytest.raises(DependencyUnavailable):
            policies.policy(policy_id)
    # ...and once the store answers again, the next call reads it at once
    store.failure = None
    assert policies.policy("docs") == docs(1)


def test_a_failure_after_the_cache_time_refuses_rather_than_serving_the_stale_version(
    clock: FakeClock,
) -> None:
    store = FakePolicyStore(docs(1))
    policies = CachedPolicies(store, clock=clock)
    policies.policy("docs")
    store.failure = DependencyUnavailable("policies_store_unavailable")
    clock.advance(CACHE_SECONDS)
    with pytest.raises(DependencyUnavailable):
        policies.policy("docs")


def test_the_cache_holds_at_most_its_bound_of_ids(clock: FakeClock) -> None:
    # Given a cache of two ids
    store = FakePolicyStore()
    policies = CachedPolicies(store, clock=clock, max_entries=2)
    for policy_id in ("made-up-1", "made-up-2", "made-up-3"):
        with pytest.raises(ConfigurationError):
            policies.policy(policy_id)
    # When the oldest is asked again / Then it was evicted and is read again; the newest was not
    with pytest.raises(ConfigurationError):
        policies.policy("made-up-1")
    assert store.reads == 4
    with pytest.raises(ConfigurationError):
        policies.policy("made-up-3")
    assert store.reads == 4
