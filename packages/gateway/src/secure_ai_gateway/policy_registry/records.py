"""A stored policy version: the policy, who wrote it and when. Pure: no AWS, no clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from secure_ai_gateway.screening.policy import Policy


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One version of a policy (its number is `policy.version`) and its provenance."""

    policy: Policy
    written_by: str
    written_at: int
    # Set when a rollback wrote this version: the version it copied.
    rolled_back_from: int | None = None

    @property
    def policy_id(self) -> str:
        """The policy's id."""
        return self.policy.policy_id

    @property
    def version(self) -> int:
        """The version number."""
        return self.policy.version

    def view(self, *, current: int | None = None) -> dict[str, Any]:
        """What an operator sees: the policy document and its provenance, as JSON."""
        document: dict[str, Any] = {
            "policy_id": self.policy_id,
            "version": self.version,
            "written_by": self.written_by,
            "written_at": self.written_at,
            "rolled_back_from": self.rolled_back_from,
            "policy": self.policy.model_dump(mode="json"),
        }
        if current is not None:
            document["current"] = self.version == current
        return document
