"""Named screening policies that client records refer to by `policy_id`."""

from __future__ import annotations

from collections.abc import Mapping

from secure_ai_gateway.screening.policy import DEFAULT_POLICY, Policy
from secure_ai_protocol.errors import ConfigurationError


class PolicyCatalog:
    """Policies by id; an id no policy has is a configuration error (fail closed, visibly)."""

    def __init__(self, policies: Mapping[str, Policy] | None = None) -> None:
        catalog = dict(policies or {DEFAULT_POLICY.policy_id: DEFAULT_POLICY})
        for policy_id, policy in catalog.items():
            if policy.policy_id != policy_id:
                raise ValueError(f"policy registered as {policy_id!r} is {policy.policy_id!r}")
        self._policies = catalog

    def policy(self, policy_id: str) -> Policy:
        """The policy named `policy_id`."""
        try:
            return self._policies[policy_id]
        except KeyError:
            raise ConfigurationError("unknown_policy") from None
