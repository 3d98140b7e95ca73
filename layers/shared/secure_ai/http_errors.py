"""The one place errors become HTTP responses, for every Powertools resolver in the gateway.

Bodies are generic (a stable code and message per status); the reason goes to the log and to the
`RequestRefused` metric. Retry-After is set where the client can do something with it.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.metrics import MetricUnit

from secure_ai.errors import (
    BadRequest,
    GatewayError,
    NotFound,
    QuotaExceeded,
    UpstreamRateLimited,
    public_body,
    status_for,
)
from secure_ai.media_types import JSON_CONTENT_TYPE


def error_response(error: BaseException) -> Response[str]:
    """The generic response for `error`, with Retry-After for the 429s."""
    headers: dict[str, str] = {"Cache-Control": "no-store"}
    if isinstance(error, QuotaExceeded | UpstreamRateLimited):
        headers["Retry-After"] = str(error.retry_after_seconds)
    return Response(
        status_code=int(status_for(error)),
        content_type=JSON_CONTENT_TYPE,
        body=json.dumps(public_body(error)),
        headers=headers,
    )


def install_error_handlers(app: APIGatewayRestResolver, logger: Logger, metrics: Metrics) -> None:
    """Map GatewayError subclasses by their status, and anything unforeseen to a generic 500."""

    def refused(error: GatewayError) -> Response[str]:
        metrics.add_dimension(name="reason", value=error.reason)
        metrics.add_metric(name="RequestRefused", unit=MetricUnit.Count, value=1)
        logger.warning("request refused", extra={"reason": error.reason, "status": int(error.status)})
        return error_response(error)

    def no_route(_: NotFoundError) -> Response[str]:
        # Powertools looks its 404 handler up by exception class: without this one, the catch-all
        # below would answer a path or method that no route serves with a 500.
        return refused(NotFound("no_route"))

    def failed(error: Exception) -> Response[str]:
        # Only the type: an unforeseen exception's message may quote request content.
        metrics.add_metric(name="InternalError", unit=MetricUnit.Count, value=1)
        logger.error("unhandled error", extra={"error": type(error).__name__})
        return error_response(error)

    # Registered by call, not as decorators: Powertools' decorator is untyped.
    app.exception_handler(GatewayError)(refused)
    app.exception_handler(NotFoundError)(no_route)
    app.exception_handler(Exception)(failed)


def refuse_malformed_event(logger: Logger, metrics: Metrics) -> dict[str, Any]:
    """The generic 400, as a proxy response, for an event that is not a REST proxy event at all."""
    error = BadRequest("malformed_event")
    metrics.add_dimension(name="reason", value=error.reason)
    metrics.add_metric(name="RequestRefused", unit=MetricUnit.Count, value=1)
    logger.warning("request refused", extra={"reason": error.reason, "status": int(error.status)})
    response = error_response(error)
    return {
        "statusCode": response.status_code,
        "headers": {**response.headers, "Content-Type": JSON_CONTENT_TYPE},
        "body": response.body,
        "isBase64Encoded": False,
    }
