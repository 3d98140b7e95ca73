"""The one status table: what each kind of error means to an HTTP caller.

Errors carry a kind (their class) and a reason (secure_ai_protocol.errors); only here do kinds
become statuses and generic bodies. api/responses.py answers with them, the authorizer's refusals
are the same bodies (AUTHENTICATION_REFUSALS), and local/secure_ai_local/openapi.py documents them.
A kind is looked up by its nearest class in the table, so a new subclass answers as its parent
until it is given a row; anything that is not a `ProtocolError` is a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import Final, NamedTuple

from secure_ai_gateway.client_registry.records import ClientConflict
from secure_ai_protocol.errors import (
    BadRequest,
    DependencyUnavailable,
    DeviceLimitReached,
    Forbidden,
    NotAcceptable,
    NotFound,
    PayloadTooLarge,
    ProtocolError,
    QuotaExceeded,
    Unauthenticated,
    UpstreamFailed,
    UpstreamRateLimited,
    UpstreamTimeout,
)


class Answer(NamedTuple):
    """The status a kind of error answers with, and its generic public message."""

    status: HTTPStatus
    message: str


INTERNAL_ERROR: Final = Answer(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")

STATUSES: Final[Mapping[type[BaseException], Answer]] = MappingProxyType(
    {
        ProtocolError: INTERNAL_ERROR,
        BadRequest: Answer(HTTPStatus.BAD_REQUEST, "bad request"),
        PayloadTooLarge: Answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "payload too large"),
        Unauthenticated: Answer(HTTPStatus.UNAUTHORIZED, "unauthorized"),
        Forbidden: Answer(HTTPStatus.FORBIDDEN, "forbidden"),
        NotFound: Answer(HTTPStatus.NOT_FOUND, "not found"),
        NotAcceptable: Answer(HTTPStatus.NOT_ACCEPTABLE, "accept application/vnd.secure-ai.envelope"),
        ClientConflict: Answer(HTTPStatus.CONFLICT, "conflict"),
        DeviceLimitReached: Answer(HTTPStatus.CONFLICT, "device limit reached"),
        QuotaExceeded: Answer(HTTPStatus.TOO_MANY_REQUESTS, "quota exceeded"),
        UpstreamRateLimited: Answer(HTTPStatus.TOO_MANY_REQUESTS, "model rate limited"),
        UpstreamFailed: Answer(HTTPStatus.BAD_GATEWAY, "model unavailable"),
        UpstreamTimeout: Answer(HTTPStatus.GATEWAY_TIMEOUT, "model timeout"),
        DependencyUnavailable: Answer(HTTPStatus.SERVICE_UNAVAILABLE, "service unavailable"),
    }
)


def answer_of(kind: type[BaseException]) -> Answer:
    """The answer for errors of class `kind`: its nearest class in `STATUSES`, else a 500."""
    for cls in kind.__mro__:
        if cls in STATUSES:
            return STATUSES[cls]
    return INTERNAL_ERROR


def status_for(error: BaseException) -> HTTPStatus:
    """The HTTP status a client sees for `error`; anything unexpected is a 500."""
    return answer_of(type(error)).status


def public_body_of(kind: type[BaseException]) -> dict[str, str]:
    """The generic JSON body for errors of class `kind`: a stable code and message, never a reason."""
    status, message = answer_of(kind)
    return {"error": status.phrase.lower().replace(" ", "_"), "message": message}


def public_body(error: BaseException) -> dict[str, str | int]:
    """The generic JSON body for `error`; a device-limit refusal also names the limit (`limit`)."""
    body: dict[str, str | int] = dict(public_body_of(type(error)))
    if isinstance(error, DeviceLimitReached):
        body["limit"] = error.limit
    return body
