"""One exception root for both ends, `ProtocolError`: a kind and a fixed reason, never a status.

The code the gateway and the SDK share (signing, envelopes, key ids, wire models) raises these, and
so does the gateway's own code. What a kind means to a caller is decided where it meets a
transport, once each: secure_ai_gateway.api.statuses maps kinds to HTTP statuses and generic bodies
(the functions' responses and the authorizer's refusals), secure_ai_client.errors to the SDK's
public errors, and the operator commands to exit codes. The `reason` is a short, fixed code for
logs and metrics; it never carries secrets, signatures or plaintext.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Root of every error the gateway, the protocol or the SDK's protocol code raises on purpose."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadRequest(ProtocolError):
    """The request is malformed or fails a strict parsing rule."""


class PayloadTooLarge(BadRequest):
    """A size cap was exceeded before any work was done."""


class Unauthenticated(ProtocolError):
    """The request signature, its key or its freshness could not be established."""


class SignatureRejected(Unauthenticated):
    """The RFC 9421 signature or Content-Digest failed a profile rule or did not verify."""


class ReplayDetected(Unauthenticated):
    """The (key id, nonce) pair was seen before."""


class Forbidden(ProtocolError):
    """Authenticated, but the client may not do this (scope, model, revoked key)."""


class NotFound(ProtocolError):
    """The route or record does not exist."""


class NotAcceptable(ProtocolError):
    """The request's Accept does not name the media type the answer would be in (a sealed answer
    needs `Accept: application/vnd.secure-ai.envelope` first: API Gateway's binary rule)."""


class DecryptionFailed(BadRequest):
    """The envelope did not decrypt under the strict rules; one generic 400 whatever the cause."""


class QuotaExceeded(ProtocolError):
    """The client's budget for the period is spent."""

    def __init__(self, reason: str, retry_after_seconds: int) -> None:
        super().__init__(reason)
        self.retry_after_seconds = retry_after_seconds


class UpstreamRateLimited(ProtocolError):
    """The model provider answered 429."""

    def __init__(self, reason: str, retry_after_seconds: int) -> None:
        super().__init__(reason)
        self.retry_after_seconds = retry_after_seconds


class UpstreamFailed(ProtocolError):
    """The model provider failed (5xx, connection error, malformed answer)."""


class UpstreamTimeout(ProtocolError):
    """The model provider did not answer within the configured timeout."""


class DependencyUnavailable(ProtocolError):
    """An AWS dependency (KMS, DynamoDB, Secrets Manager, SQS, EventBridge) failed: fail closed."""


class ConfigurationError(ProtocolError):
    """A setting is missing or malformed; raised at cold start."""


class DeviceLimitReached(ProtocolError):
    """The user already has as many active devices as the app allows (a 409 that names the limit)."""

    def __init__(self, limit: int) -> None:
        super().__init__("device_limit")
        self.limit = limit
