"""The functions' view of managed policies: read through a cache at most `max_age_seconds` stale.

A policy id is looked up in the store at most once per `max_age_seconds` per execution
environment, so a new version (or a rollback) takes effect within that time. An id with no stored
version is the built-in policy of that id (`default`), if there is one; otherwise it is unknown,
`ConfigurationError("unknown_policy")`. Store failures are never cached: they propagate
(`DependencyUnavailable`) and the next call asks again, so a failure refuses rather than serves
something stale or built-in in place of a policy that could not be read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from secure_ai_gateway.screening.policy import DEFAULT_POLICY, Policy
from secure_ai_protocol.errors import ConfigurationError

if TYPE_CHECKING:
    from secure_ai_gateway.ports import StoredPolicies

CACHE_SECONDS: Final = 60.0
# Callers of the validator name policy ids: a bound keeps made-up ids from growing the cache.
MAX_CACHED_IDS: Final = 256


@dataclass(frozen=True, slots=True)
class _Entry:
    policy: Policy | None
    read_at: float


class CachedPolicies:
    """The `Policies` port over a policy store, with the built-in policies as fallbacks."""

    def __init__(
        self,
        store: StoredPolicies,
        *,
        clock: Callable[[], float],
        max_age_seconds: float = CACHE_SECONDS,
        builtin: Iterable[Policy] = (DEFAULT_POLICY,),
        max_entries: int = MAX_CACHED_IDS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._max_age = max_age_seconds
        self._builtin = {policy.policy_id: policy for policy in builtin}
        self._max_entries = max_entries
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def policy(self, policy_id: str) -> Policy:
        """The current policy named `policy_id`, at most `max_age_seconds` old."""
        stored = self._stored(policy_id)
        if stored is not None:
            return stored
        builtin = self._builtin.get(policy_id)
        if builtin is None:
            raise ConfigurationError("unknown_policy")
        return builtin

    def _stored(self, policy_id: str) -> Policy | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(policy_id)
        # A clock that went backwards makes the entry stale too: the bound holds either way.
        if entry is not None and 0 <= now - entry.read_at < self._max_age:
            return entry.policy
        policy = self._store.current(policy_id)
        with self._lock:
            self._entries.pop(policy_id, None)
            while len(self._entries) >= self._max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[policy_id] = _Entry(policy, now)
        return policy
