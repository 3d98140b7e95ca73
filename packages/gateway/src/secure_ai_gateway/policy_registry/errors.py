"""What policy administration refuses with. No policy model here: the command line imports it cheaply."""

from __future__ import annotations

from collections.abc import Sequence

from secure_ai_protocol.errors import ProtocolError


class PolicyConflict(ProtocolError):
    """A policy write lost a race or contradicts what is stored (stale edit, already current, in use)."""


class PolicyInUse(PolicyConflict):
    """The policy cannot be deleted: client records still name it."""

    def __init__(self, client_ids: Sequence[str]) -> None:
        super().__init__("policy_in_use")
        self.client_ids = tuple(client_ids)
