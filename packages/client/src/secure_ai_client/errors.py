"""What the client SDK raises: one root, a class per thing a caller can act on.

Messages are built from fixed words, the HTTP status, the gateway's generic error code and API
Gateway's request id: never a secret, a signature, a key or any request or response content.
The gateway gives the same generic body whatever the precise reason (docs/protocol.md §9); an
operator finds the reason in its logs with the request id.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    # Types only: httpx costs about half a second to import, which `secure-ai clients` must not pay.
    import httpx

# The gateway's generic codes are snake_case words ("unauthorized", "quota_exceeded").
_ERROR_CODE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
# API Gateway's request ids are UUIDs; anything else is not repeated into a message.
_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9-]{1,64}")
_RETRY_AFTER: Final = re.compile(r"[0-9]{1,9}")


class SecureAIError(Exception):
    """Root of everything the SDK raises on purpose."""


class ApiError(SecureAIError):
    """The gateway answered with an error status."""

    def __init__(self, status: int, code: str | None = None, request_id: str | None = None) -> None:
        self.status = status
        self.code = code
        self.request_id = request_id
        detail = f"{status} {code or _reason_phrase(status)}"
        if request_id:
            detail += f" (request id {request_id})"
        super().__init__(detail)


class BadRequest(ApiError):
    """400, 406 or 413: the gateway refused the request as malformed, too large or undecryptable, or
    its Accept did not name the envelope type its sealed answer needs."""


class Unauthorized(ApiError):
    """401: the signature, its key, its time window or its nonce (a replay) was refused."""


class Forbidden(ApiError):
    """403: signed correctly, but this key may not do this (scope, model, revoked key)."""


class DeviceLimitReached(ApiError):
    """409 from enrollment: the user already has `limit` active devices at this app; revoke one first."""

    def __init__(
        self, status: int, code: str | None = None, request_id: str | None = None, limit: int | None = None
    ) -> None:
        super().__init__(status, code, request_id)
        self.limit = limit


class RateLimited(ApiError):
    """429: a budget is spent or the model is rate limited; `retry_after` is in seconds, if given."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(status, code, request_id)
        self.retry_after = retry_after


class UpstreamError(ApiError):
    """502 or 504: the model provider failed or timed out."""


class Unavailable(ApiError):
    """503: an AWS dependency of the gateway failed; it failed closed. Retry later."""


class ResponseRejected(SecureAIError):
    """A 200 answer the client refused: not an envelope, not for this request, or malformed."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the gateway's response was refused ({reason})")


class StreamBroken(ResponseRejected):
    """A streamed answer (status 200, `text/event-stream`) the client stopped trusting mid-way.

    `reason` is the protocol's (secure_ai_protocol.stream.StreamRejected): `stream_order` (a gap, a
    reordering or a duplicate), `stream_tampered` (an event that is not this request's chunk at this
    position with this finality), `stream_truncated` (the body ended before the final event),
    `stream_after_final`, `stream_event` (a malformed event); or the client's own: `stream_too_large`
    (more events or bytes than the client's limits), `req_id_mismatch` (the final event names another
    request), `malformed_payload` (an event's plaintext is not the documented JSON). Deltas already
    yielded were authentic and in order, but the answer is incomplete and carries no verdict.
    """


class PublicKeyMismatch(SecureAIError):
    """The RSA public key the gateway serves is not the one pinned in the client."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the gateway's RSA public key does not match the pinned one ({reason})")


class EncryptionFailed(SecureAIError):
    """The request could not be sealed (KMS unavailable or denied, or a malformed key); nothing was sent."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the request could not be encrypted ({reason})")


class NetworkError(SecureAIError):
    """The gateway could not be reached, or did not answer in time.

    The request may have arrived: its nonce is spent either way, so it is never re-sent.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        super().__init__(f"no answer from the gateway ({kind})")


class LocalStateError(SecureAIError):
    """`.secure-ai/local.json` is missing, unreadable or lacks a field."""


_ERRORS_BY_STATUS: Final[dict[int, type[ApiError]]] = {
    400: BadRequest,
    406: BadRequest,  # the Accept did not name the envelope type (the SDK always sends it)
    413: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    409: DeviceLimitReached,
    429: RateLimited,
    502: UpstreamError,
    504: UpstreamError,
    503: Unavailable,
}


def error_for_response(response: httpx.Response) -> ApiError:
    """The exception for an error response: its status, generic code and request id only."""
    status = response.status_code
    code = _error_code(response)
    request_id = response.headers.get("x-amzn-requestid")
    if request_id is not None and _REQUEST_ID.fullmatch(request_id) is None:
        request_id = None
    error_class = _ERRORS_BY_STATUS.get(status, ApiError)
    if error_class is RateLimited:
        return RateLimited(status, code, request_id, retry_after=_retry_after(response))
    if error_class is DeviceLimitReached:
        return DeviceLimitReached(status, code, request_id, limit=_device_limit(response))
    return error_class(status, code, request_id)


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "error"


def _error_code(response: httpx.Response) -> str | None:
    try:
        document = response.json()
    except ValueError:
        return None
    code = document.get("error") if isinstance(document, dict) else None
    if isinstance(code, str) and _ERROR_CODE.fullmatch(code):
        return code
    return None


def _device_limit(response: httpx.Response) -> int | None:
    try:
        document = response.json()
    except ValueError:
        return None
    limit = document.get("limit") if isinstance(document, dict) else None
    return limit if type(limit) is int and 0 < limit <= 1000 else None


def _retry_after(response: httpx.Response) -> int | None:
    # The gateway sends delta-seconds; an HTTP-date form is not used by it and is ignored.
    value = response.headers.get("retry-after", "").strip()
    return int(value) if _RETRY_AFTER.fullmatch(value) else None
