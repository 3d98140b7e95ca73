"""The one place errors become HTTP responses, for every Powertools resolver in the gateway.

Bodies are generic (a stable code and message per status); the reason goes to the log and to the
`RequestRefused` metric. Retry-After is set where the client can do something with it.

A refusal of authentication (401) or authorization (403) must not say who refused it: were the
function's 401 for a body that does not match its signed digest spelt differently from API
Gateway's, a caller would learn that the signature itself verified. `AUTHENTICATION_REFUSALS`
is that response, once; template.yaml's GatewayResponses declare the same status, body and headers
(tests/infrastructure/test_gateway_responses.py), and tests/security/test_refusal_parity.py
compares the three producers byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from types import MappingProxyType
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from secure_ai_gateway.api.statuses import public_body, status_for
from secure_ai_gateway.observability import INTERNAL_ERROR, REQUEST_REFUSED, count, count_refusal
from secure_ai_protocol.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    ProtocolError,
    QuotaExceeded,
    Unauthenticated,
    UpstreamRateLimited,
)
from secure_ai_protocol.media_types import JSON_CONTENT_TYPE

# Every error answer, from a function or from API Gateway, carries these (and nothing is cached).
ERROR_HEADERS: Final[Mapping[str, str]] = MappingProxyType(
    {"Content-Type": JSON_CONTENT_TYPE, "Cache-Control": "no-store"}
)


def error_body(error: BaseException) -> str:
    """The generic JSON body for `error`, compact: the exact bytes API Gateway's templates hold."""
    return json.dumps(public_body(error), separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refusal as the caller receives it, whichever component produced it."""

    response_type: str  # its key under GatewayResponses in template.yaml
    status: HTTPStatus
    body: str
    # API Gateway adds x-amzn-ErrorType to every response it generates; the functions add the
    # same value, or the header's absence would tell their refusals apart.
    error_type: str

    @property
    def headers(self) -> dict[str, str]:
        """Every header the refusal carries, whoever sends it."""
        return {**ERROR_HEADERS, "x-amzn-ErrorType": self.error_type}


UNAUTHORIZED_REFUSAL: Final = Refusal(
    "UNAUTHORIZED", HTTPStatus.UNAUTHORIZED, error_body(Unauthenticated("refused")), "UnauthorizedException"
)
FORBIDDEN_REFUSAL: Final = Refusal(
    "ACCESS_DENIED", HTTPStatus.FORBIDDEN, error_body(Forbidden("refused")), "AccessDeniedException"
)
AUTHENTICATION_REFUSALS: Final[Mapping[HTTPStatus, Refusal]] = MappingProxyType(
    {refusal.status: refusal for refusal in (UNAUTHORIZED_REFUSAL, FORBIDDEN_REFUSAL)}
)


def error_response(error: BaseException) -> Response[str]:
    """The generic response for `error`, with Retry-After for the 429s."""
    status = status_for(error)
    refusal = AUTHENTICATION_REFUSALS.get(status)
    headers = refusal.headers if refusal is not None else dict(ERROR_HEADERS)
    if isinstance(error, QuotaExceeded | UpstreamRateLimited):
        headers["Retry-After"] = str(error.retry_after_seconds)
    return Response(
        status_code=int(status),
        content_type=headers.pop("Content-Type"),
        body=error_body(error),
        headers=headers,
    )


def install_error_handlers(app: APIGatewayRestResolver, logger: Logger, metrics: Metrics) -> None:
    """Map ProtocolError subclasses by their status, and anything unforeseen to a generic 500."""

    def refused(error: ProtocolError) -> Response[str]:
        count_refusal(metrics, REQUEST_REFUSED, error.reason)
        logger.warning("request refused", extra={"reason": error.reason, "status": int(status_for(error))})
        return error_response(error)

    def no_route(_: NotFoundError) -> Response[str]:
        # Powertools looks its 404 handler up by exception class: without this one, the catch-all
        # below would answer a path or method that no route serves with a 500.
        return refused(NotFound("no_route"))

    def failed(error: Exception) -> Response[str]:
        # Only the type: an unforeseen exception's message may quote request content.
        count(metrics, INTERNAL_ERROR)
        logger.error("unhandled error", extra={"error": type(error).__name__})
        return error_response(error)

    # Registered by call, not as decorators: Powertools' decorator is untyped.
    app.exception_handler(ProtocolError)(refused)
    app.exception_handler(NotFoundError)(no_route)
    app.exception_handler(Exception)(failed)


def refuse_malformed_event(logger: Logger, metrics: Metrics) -> dict[str, Any]:
    """The generic 400, as a proxy response, for an event that is not a REST proxy event at all."""
    error = BadRequest("malformed_event")
    count_refusal(metrics, REQUEST_REFUSED, error.reason)
    logger.warning("request refused", extra={"reason": error.reason, "status": int(status_for(error))})
    response = error_response(error)
    return {
        "statusCode": response.status_code,
        "headers": {**response.headers, "Content-Type": JSON_CONTENT_TYPE},
        "body": response.body,
        "isBase64Encoded": False,
    }
