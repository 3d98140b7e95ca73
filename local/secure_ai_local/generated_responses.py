"""The responses API Gateway generates itself rather than the integration: their response type,
default status and message, and the x-amzn-ErrorType header.

The template's `GatewayResponses` customise them by response type, or through DEFAULT_4XX /
DEFAULT_5XX (see "What is emulated" in docs/local-stack.md for the table of situations).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

UNAUTHORIZED_MESSAGE: Final = "Unauthorized"


@dataclass(frozen=True)
class GeneratedResponse:
    """A response API Gateway generates itself: its type, default status and message."""

    response_type: str | None  # None: customisable only through DEFAULT_4XX / DEFAULT_5XX
    status: int
    message: str | None
    error_type: str | None = None  # the x-amzn-ErrorType header
    customisable: bool = True


UNKNOWN_STAGE = GeneratedResponse(None, 403, "Forbidden", "ForbiddenException", customisable=False)
MISSING_AUTHENTICATION_TOKEN = GeneratedResponse(
    "MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token", "MissingAuthenticationTokenException"
)
REQUEST_TOO_LARGE = GeneratedResponse("REQUEST_TOO_LARGE", 413, "Request Too Long")
UNAUTHORIZED = GeneratedResponse("UNAUTHORIZED", 401, UNAUTHORIZED_MESSAGE, "UnauthorizedException")
EXPLICIT_DENY = GeneratedResponse(
    "ACCESS_DENIED",
    403,
    "User is not authorized to access this resource with an explicit deny",
    "AccessDeniedException",
)
IMPLICIT_DENY = GeneratedResponse(
    "ACCESS_DENIED", 403, "User is not authorized to access this resource", "AccessDeniedException"
)
AUTHORIZER_CONFIGURATION_ERROR = GeneratedResponse(
    "AUTHORIZER_CONFIGURATION_ERROR", 500, None, "AuthorizerConfigurationException"
)
INTEGRATION_TIMEOUT = GeneratedResponse("INTEGRATION_TIMEOUT", 504, "Endpoint request timed out")
INTEGRATION_ERROR = GeneratedResponse(None, 502, "Internal server error", "InternalServerErrorException")
INVOCATION_REJECTED = GeneratedResponse(None, 500, "Internal server error", "InternalServerErrorException")
