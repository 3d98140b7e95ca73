"""What a function behind the authorizer knows about a call: who signed it, and its raw body.

Read from the proxy event's `requestContext.authorizer`, which only API Gateway writes. Anything
missing there means the function was reached without the authorizer: refuse, never assume.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from secure_ai.body_integrity import verified_body
from secure_ai.errors import Forbidden, Unauthenticated

AUTHORIZER_FIELDS = ("client_id", "key_id", "nonce", "content_digest")


@dataclass(frozen=True, slots=True)
class AuthorizedCall:
    """A call the authorizer allowed: identity from its context, body as API Gateway passed it."""

    client_id: str
    key_id: str
    req_id: str
    content_digest: str
    scopes: frozenset[str]
    body: str | None = field(repr=False)
    is_base64_encoded: bool

    @classmethod
    def from_proxy_event(cls, event: Mapping[str, object]) -> AuthorizedCall:
        """Parse the authorizer context out of a REST proxy event; raise Unauthenticated if absent."""
        context = event.get("requestContext")
        authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
        if not isinstance(authorizer, Mapping):
            raise Unauthenticated("no_authorizer_context")
        values = {name: authorizer.get(name) for name in AUTHORIZER_FIELDS}
        if not all(isinstance(value, str) and value for value in values.values()):
            raise Unauthenticated("no_authorizer_context")
        scopes = authorizer.get("scopes", "")
        body = event.get("body")
        return cls(
            client_id=str(values["client_id"]),
            key_id=str(values["key_id"]),
            req_id=str(values["nonce"]),
            content_digest=str(values["content_digest"]),
            scopes=frozenset(scopes.split()) if isinstance(scopes, str) else frozenset(),
            body=body if isinstance(body, str) else None,
            is_base64_encoded=event.get("isBase64Encoded") is True,
        )

    def require_scope(self, scope: str) -> None:
        """Refuse with 403 unless the client's key carries `scope`."""
        if scope not in self.scopes:
            raise Forbidden("missing_scope")

    def body_bytes(self, max_bytes: int) -> bytes:
        """The raw body, size-capped and checked against the digest the authorizer verified."""
        return verified_body(
            self.body,
            is_base64_encoded=self.is_base64_encoded,
            verified_digest=self.content_digest,
            max_bytes=max_bytes,
        )
