"""The authorizer's decision: verify one signed request and say exactly what it may invoke.

Order matters: strict parse, time window, key lookup, rebuild the signature base from the event,
constant-time MAC compare, and only then the nonce write (so an attacker without the key cannot
fill the replay store); docs/protocol.md states the rules. Any failure raises; nothing here returns
a partial Allow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from secure_ai_gateway.api.signed_request import check_query_maps_agree, request_from_authorizer_event
from secure_ai_gateway.ports import KeyResolver, NonceRecorder
from secure_ai_protocol.signing.profile import check_window, parse_signature_headers, verify_signature

POLICY_VERSION = "2012-10-17"


@dataclass(frozen=True, slots=True)
class Authorization:
    """Who signed, with which key and nonce, over which body digest, holding which scopes.

    For an enrolled device, `client_id` is the device, `app_id` its app and `user_ref` the keyed
    hash of its user; for an operator-created client, `app_id` is the client and the others are "".
    """

    client_id: str
    key_id: str
    nonce: str
    content_digest: str
    scopes: tuple[str, ...]
    app_id: str = ""
    device_id: str = ""
    user_ref: str = ""

    def context(self) -> dict[str, str]:
        """The authorizer context API Gateway hands to the integration (string values only)."""
        return {
            "client_id": self.client_id,
            "key_id": self.key_id,
            "nonce": self.nonce,
            "content_digest": self.content_digest,
            "scopes": " ".join(self.scopes),
            "app_id": self.app_id or self.client_id,
            "device_id": self.device_id,
            "user_ref": self.user_ref,
        }


class RequestAuthorizer:
    """Verifies REST REQUEST authorizer events against the signing profile."""

    def __init__(
        self,
        *,
        keys: KeyResolver,
        nonces: NonceRecorder,
        expected_tag: str,
        clock: Callable[[], float],
    ) -> None:
        self._keys = keys
        self._nonces = nonces
        self._expected_tag = expected_tag
        self._clock = clock

    def authorize(self, event: Mapping[str, object]) -> Authorization:
        """Verify `event`; raise a ProtocolError subclass on any failure."""
        request, signature_input, signature = request_from_authorizer_event(event)
        parsed = parse_signature_headers(signature_input, signature, expected_tag=self._expected_tag)
        check_window(parsed, int(self._clock()))
        key = self._keys.resolve(parsed.key_id)
        # Building the base also enforces the Content-Digest rule (one sha-256/sha-512 member), which the
        # functions rely on when they re-hash the body against this value.
        verify_signature(parsed, request, key.secret)
        check_query_maps_agree(event)
        self._nonces.remember(parsed.key_id, parsed.nonce, parsed.expires)
        return Authorization(
            client_id=key.client_id,
            key_id=parsed.key_id,
            nonce=parsed.nonce,
            content_digest=request.content_digest,
            scopes=key.scopes,
            app_id=key.app_id,
            device_id=key.device_id,
            user_ref=key.user_ref,
        )


def allow_policy(authorization: Authorization, method_arn: str) -> dict[str, object]:
    """The IAM policy allowing exactly `method_arn` (no wildcards: caching is off, nothing to share)."""
    return {
        "principalId": authorization.client_id,
        "policyDocument": {
            "Version": POLICY_VERSION,
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": method_arn}],
        },
        "context": authorization.context(),
    }
