"""CORS for browser apps: the same two headers on every API response, and the per-app origin rule.

The deployment names one browser origin (template.yaml `CorsAllowOrigin`, `CORS_ALLOW_ORIGIN` in each
function). API Gateway answers the preflight itself and its gateway responses carry these headers;
the functions add exactly the same ones to every response they produce, success or refusal, so a
browser can read a refusal and no header tells the caller which component answered. No wildcard is
ever sent, and credentials (cookies) are never allowed: requests carry signatures, not cookies.

An app additionally lists the origins its devices may call from (`EnrollmentSettings.allowed_origins`):
a request that carries `Origin` must come from one of them (`check_origin`), and a client without
enrollment settings (a server holding an operator-issued secret) is never called from a browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from secure_ai_protocol.errors import Forbidden

EXPOSED_HEADERS: Final = "Retry-After"


def cors_headers(allow_origin: str) -> dict[str, str]:
    """The CORS headers of every response, or none when CORS is off (`allow_origin` empty)."""
    if not allow_origin:
        return {}
    return {"Access-Control-Allow-Origin": allow_origin, "Access-Control-Expose-Headers": EXPOSED_HEADERS}


def with_cors(response: dict[str, Any], allow_origin: str) -> dict[str, Any]:
    """`response` (a proxy integration response) with the CORS headers added."""
    headers = cors_headers(allow_origin)
    if not headers:
        return response
    if isinstance(response.get("multiValueHeaders"), Mapping):
        response["multiValueHeaders"] = {
            **response["multiValueHeaders"],
            **{name: [value] for name, value in headers.items()},
        }
    else:
        response["headers"] = {**(response.get("headers") or {}), **headers}
    return response


def check_origin(origin: str | None, allowed_origins: tuple[str, ...] | None) -> None:
    """Refuse (403 "origin_not_allowed") a browser request from an origin its app does not list.

    `allowed_origins` None: the caller is not an app with enrollment settings, so no browser may call
    as it. A request without `Origin` (a server, a mobile app) passes.
    """
    if origin is not None and (allowed_origins is None or origin not in allowed_origins):
        raise Forbidden("origin_not_allowed")
