"""One exception root for the gateway, with the HTTP status each kind maps to.

Handlers never build error bodies themselves: they raise, and `status_for` plus `public_body`
turn any `GatewayError` into the one generic response its class stands for. The `reason` is a
short, fixed code for logs and metrics; it never carries secrets, signatures or plaintext.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import ClassVar


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""

    status: ClassVar[HTTPStatus] = HTTPStatus.INTERNAL_SERVER_ERROR
    public_message: ClassVar[str] = "internal error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadRequest(GatewayError):
    """The request is malformed or fails a strict parsing rule."""

    status = HTTPStatus.BAD_REQUEST
    public_message = "bad request"


class PayloadTooLarge(BadRequest):
    """A size cap was exceeded before any work was done."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    public_message = "payload too large"


class Unauthenticated(GatewayError):
    """The request signature, its key or its freshness could not be established."""

    status = HTTPStatus.UNAUTHORIZED
    public_message = "unauthorized"


class SignatureRejected(Unauthenticated):
    """The RFC 9421 signature or Content-Digest failed a profile rule or did not verify."""


class ReplayDetected(Unauthenticated):
    """The (key id, nonce) pair was seen before."""


class Forbidden(GatewayError):
    """Authenticated, but the client may not do this (scope, model, revoked key)."""

    status = HTTPStatus.FORBIDDEN
    public_message = "forbidden"


class NotFound(GatewayError):
    """The route or record does not exist."""

    status = HTTPStatus.NOT_FOUND
    public_message = "not found"


class DecryptionFailed(BadRequest):
    """The envelope did not decrypt under the strict rules; one generic 400 whatever the cause."""


class QuotaExceeded(GatewayError):
    """The client's budget for the period is spent."""

    status = HTTPStatus.TOO_MANY_REQUESTS
    public_message = "quota exceeded"

    def __init__(self, reason: str, retry_after_seconds: int) -> None:
        super().__init__(reason)
        self.retry_after_seconds = retry_after_seconds


class UpstreamRateLimited(GatewayError):
    """The model provider answered 429."""

    status = HTTPStatus.TOO_MANY_REQUESTS
    public_message = "model rate limited"

    def __init__(self, reason: str, retry_after_seconds: int) -> None:
        super().__init__(reason)
        self.retry_after_seconds = retry_after_seconds


class UpstreamFailed(GatewayError):
    """The model provider failed (5xx, connection error, malformed answer)."""

    status = HTTPStatus.BAD_GATEWAY
    public_message = "model unavailable"


class UpstreamTimeout(GatewayError):
    """The model provider did not answer within the configured timeout."""

    status = HTTPStatus.GATEWAY_TIMEOUT
    public_message = "model timeout"


class DependencyUnavailable(GatewayError):
    """An AWS dependency (KMS, DynamoDB, Secrets Manager, SQS, EventBridge) failed: fail closed."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    public_message = "service unavailable"


class ConfigurationError(GatewayError):
    """A setting is missing or malformed; raised at cold start."""


class ScreeningBlocked(GatewayError):
    """Screening decided the content must not be released."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    public_message = "blocked by policy"


def status_for(error: BaseException) -> HTTPStatus:
    """The HTTP status a client sees for `error`; anything unexpected is a 500."""
    if isinstance(error, GatewayError):
        return error.status
    return HTTPStatus.INTERNAL_SERVER_ERROR


def public_body(error: BaseException) -> dict[str, str]:
    """The generic JSON body for `error`: a stable code and message, never the reason."""
    status = status_for(error)
    message = error.public_message if isinstance(error, GatewayError) else "internal error"
    return {"error": status.phrase.lower().replace(" ", "_"), "message": message}
