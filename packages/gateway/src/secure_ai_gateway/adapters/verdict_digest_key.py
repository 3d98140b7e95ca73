"""This deployment's verdict-digest key: HMAC-SHA256 key of every verdict digest, kept in Secrets Manager.

An unkeyed digest of a short text can be confirmed by hashing guesses; keyed, a stored or published
digest confirms nothing to whoever lacks the key. Only the completion and validator functions may
read it (template.yaml, VerdictDigestKeySecret). It is read through the same cached Powertools
provider as the model API key, so a warm function asks Secrets Manager at most every few minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from secure_ai_gateway.adapters.secrets_provider import secret_from_secrets_manager
from secure_ai_protocol.errors import DependencyUnavailable

# HMAC-SHA256's block is 64 bytes and its output 32: a shorter key would be the weakest link.
MIN_VERDICT_DIGEST_KEY_BYTES: Final = 32


def load_verdict_digest_key(
    secret_arn: str, fetch_secret: Callable[[str], str] = secret_from_secrets_manager
) -> bytes:
    """The key's bytes; `DependencyUnavailable` if it cannot be read or is shorter than 32 bytes."""
    try:
        value = fetch_secret(secret_arn)
    except DependencyUnavailable as error:
        raise DependencyUnavailable("verdict_digest_key_unavailable") from error
    key = value.encode("utf-8")
    if len(key) < MIN_VERDICT_DIGEST_KEY_BYTES:
        # Never digest under a weak key: no verdict at all is the visible failure.
        raise DependencyUnavailable("verdict_digest_key_too_short")
    return key
