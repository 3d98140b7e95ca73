"""Policy administration: put, get, list, history, rollback, delete, and naming a client's policy
(what `secure-ai policies` and `secure-ai clients set-policy` run).

Every change writes a new version; nothing stored is ever changed or removed but the head, so the
history only grows. Each version records who wrote it (the caller's ARN, which the command line
asks STS for) and when. Nothing here logs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.policy_store import PolicyStore
from secure_ai_gateway.client_registry.records import DEFAULT_POLICY_ID
from secure_ai_gateway.policy_registry.errors import PolicyConflict, PolicyInUse
from secure_ai_gateway.policy_registry.records import PolicyVersion
from secure_ai_gateway.screening.policy import Policy
from secure_ai_protocol.errors import NotFound


class PolicyAdmin:
    """The operations behind `secure-ai policies`."""

    def __init__(self, store: PolicyStore, clients: ClientStore, *, clock: Callable[[], float]) -> None:
        self._store = store
        self._clients = clients
        self._clock = clock

    def put(self, policy_id: str, document: Mapping[str, Any], *, written_by: str) -> PolicyVersion:
        """Validate `document` and store it as the next version of `policy_id`, made current.

        A `version` in the document is the version the edit started from: if another is current
        now, the write is refused (PolicyConflict("stale_version")) rather than undo that change.
        Raises pydantic.ValidationError for an invalid policy, PolicyConflict("concurrent_update").
        """
        head = self._store.head(policy_id)
        current = None if head is None else head.version
        based_on = document.get("version")
        if based_on is not None and based_on != current:
            raise PolicyConflict("stale_version")
        fields = {**document, "policy_id": policy_id, "version": self._store.latest_version(policy_id) + 1}
        return self._write(Policy.model_validate(fields), current, written_by=written_by)

    def get(self, policy_id: str, version: int | None = None) -> PolicyVersion:
        """The current version, or version `version`; raise NotFound ("unknown_policy", "unknown_version")."""
        if version is None:
            head = self._store.head(policy_id)
            if head is None:
                raise NotFound("unknown_policy")
            return head
        stored = self._store.version(policy_id, version)
        if stored is None:
            raise NotFound("unknown_version")
        return stored

    def list_current(self) -> Iterator[PolicyVersion]:
        """The current version of every stored policy."""
        return self._store.heads()

    def history(self, policy_id: str) -> tuple[PolicyVersion | None, list[PolicyVersion]]:
        """The current version (None if deleted) and every version, oldest first; NotFound if none."""
        versions = self._store.history(policy_id)
        if not versions:
            raise NotFound("unknown_policy")
        return self._store.head(policy_id), versions

    def rollback(self, policy_id: str, to_version: int, *, written_by: str) -> PolicyVersion:
        """Make version `to_version` current again by writing a copy of it as the next version.

        Raises NotFound ("unknown_policy", "unknown_version"), PolicyConflict ("already_current",
        "concurrent_update").
        """
        head = self.get(policy_id)
        target = self.get(policy_id, to_version)
        if head.policy == target.policy.model_copy(update={"version": head.version}):
            raise PolicyConflict("already_current")
        copied = {
            **target.policy.model_dump(mode="json"),
            "version": self._store.latest_version(policy_id) + 1,
        }
        return self._write(
            Policy.model_validate(copied), head.version, written_by=written_by, rolled_back_from=to_version
        )

    def delete(self, policy_id: str) -> PolicyVersion:
        """Stop serving `policy_id` (its versions stay, for audit); return the version that was current.

        Refused while a client record names it (PolicyInUse); NotFound("unknown_policy").
        """
        head = self.get(policy_id)
        users = sorted(
            record.client_id for record in self._clients.list_clients() if record.policy_id == policy_id
        )
        if users:
            raise PolicyInUse(users)
        self._store.delete_head(policy_id, read_current=head.version)
        return head

    def set_client_policy(self, client_id: str, policy_id: str) -> None:
        """Name `policy_id` as the client's policy; refused (NotFound("unknown_policy")) unless it is
        stored or is the built-in default."""
        if policy_id != DEFAULT_POLICY_ID and self._store.head(policy_id) is None:
            raise NotFound("unknown_policy")
        self._clients.set_policy(client_id, policy_id)

    def _write(
        self,
        policy: Policy,
        read_current: int | None,
        *,
        written_by: str,
        rolled_back_from: int | None = None,
    ) -> PolicyVersion:
        new = PolicyVersion(
            policy=policy,
            written_by=written_by,
            written_at=int(self._clock()),
            rolled_back_from=rolled_back_from,
        )
        self._store.write_version(new, read_current=read_current)
        return new
