"""Devices function: enrollment (`POST /v1/devices`, the user's OIDC token) and renewal
(`POST /v1/devices/renew`, signed by the device's key). docs/enrollment.md describes both.

The device secret leaves only in the 201/200 body, once; nothing here logs it, the token, or the
user's `sub` (the log carries the user's keyed hash). Import budget: no Encryption SDK, no openai.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.device_store import DeviceStore
from secure_ai_gateway.adapters.oidc_tokens import OidcTokenVerifier
from secure_ai_gateway.adapters.replay import NonceStore
from secure_ai_gateway.adapters.secret_sealing import SecretSealer
from secure_ai_gateway.adapters.verdict_digest_key import load_verdict_digest_key
from secure_ai_gateway.api.authorized_call import AuthorizedCall, header_values, is_rest_proxy_event
from secure_ai_gateway.api.cors import with_cors
from secure_ai_gateway.api.responses import install_error_handlers, refuse_malformed_event
from secure_ai_gateway.device_registry.user_refs import user_ref_key
from secure_ai_gateway.observability import (
    DEVICE_ENROLLED,
    DEVICE_RENEWED,
    count,
    service_logger,
    service_metrics,
)
from secure_ai_gateway.services.enrollment import MAX_ENROLLMENT_BODY_BYTES, EnrollmentService
from secure_ai_gateway.settings import DevicesSettings
from secure_ai_gateway.wiring import ExecutionEnvironment
from secure_ai_protocol.errors import BadRequest, PayloadTooLarge, Unauthenticated
from secure_ai_protocol.media_types import JSON_CONTENT_TYPE
from secure_ai_protocol.routes import DEVICE_RENEWAL_ROUTE, DEVICES_ROUTE
from secure_ai_protocol.wire.devices import DeviceCredentials

logger = service_logger()
metrics = service_metrics()
app = APIGatewayRestResolver()
install_error_handlers(app, logger, metrics)
# Read once per execution environment, like every setting; empty means no CORS (api/cors.py).
CORS_ALLOW_ORIGIN = os.environ.get("CORS_ALLOW_ORIGIN", "")


@dataclass(frozen=True, slots=True)
class Dependencies:
    """Everything the devices function's routes use."""

    settings: DevicesSettings
    enrollment: EnrollmentService


def build_dependencies(settings: DevicesSettings) -> Dependencies:
    """Enrollment and renewal, wired to `settings`' tables, sealing key, digest secret and issuers."""

    def ref_key() -> bytes:
        # Through the secrets provider's cache: read per request, a rotation is picked up.
        return user_ref_key(load_verdict_digest_key(settings.verdict_digest_key_secret_arn))

    enrollment = EnrollmentService(
        clients=ClientStore(settings.clients_table),
        devices=DeviceStore(settings.devices_table),
        tokens=OidcTokenVerifier(
            settings.trusted_issuers, allow_http_loopback=settings.jwks_allow_http_loopback, clock=time.time
        ),
        replays=NonceStore(settings.nonces_table),
        sealer=SecretSealer(settings.secrets_key_arn),
        user_ref_key=ref_key,
        signature_tag=settings.signature_tag,
        key_lifetime_seconds=settings.device_key_lifetime_seconds,
        device_max_age_seconds=settings.device_max_age_seconds,
        clock=time.time,
    )
    return Dependencies(settings, enrollment)


# This execution environment's dependencies; settings are read and validated on the first request.
environment = ExecutionEnvironment(lambda: build_dependencies(DevicesSettings.from_environ(os.environ)))


def single_header(event: Mapping[str, Any], name: str) -> str | None:
    """The one value of header `name` (any case); Unauthenticated if it is sent more than once."""
    values = header_values(event, name)
    if len(values) > 1:
        raise Unauthenticated("repeated_header")
    return values[0] if values else None


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The request body as sent, size-capped before decoding."""
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str) or len(body) > 2 * MAX_ENROLLMENT_BODY_BYTES:
        raise PayloadTooLarge("body_too_large")
    if event.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("body_encoding") from None
    return body.encode("utf-8")


def credentials_response(credentials: DeviceCredentials, status: int) -> Response[str]:
    """The credentials, once: never cached anywhere."""
    return Response(
        status_code=status,
        content_type=JSON_CONTENT_TYPE,
        body=credentials.model_dump_json(),
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


@app.post(DEVICES_ROUTE)
def enroll() -> Response[str]:
    """Enroll a device for the user whose OIDC token is in `Authorization: Bearer`."""
    event = app.current_event.raw_event
    credentials = environment.get().enrollment.enroll(
        single_header(event, "Authorization"), raw_body(event), origin=single_header(event, "Origin")
    )
    count(metrics, DEVICE_ENROLLED)
    logger.info("device enrolled", extra={"app_id": credentials.app_id, "device_id": credentials.device_id})
    return credentials_response(credentials, 201)


@app.post(DEVICE_RENEWAL_ROUTE)
def renew() -> Response[str]:
    """The next key of the device that signed the request."""
    call = AuthorizedCall.from_proxy_event(app.current_event.raw_event)
    credentials = environment.get().enrollment.renew(call)
    count(metrics, DEVICE_RENEWED)
    logger.info(
        "device renewed",
        extra={
            "app_id": credentials.app_id,
            "device_id": credentials.device_id,
            "key_id": credentials.key_id,
        },
    )
    return credentials_response(credentials, 200)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway proxy entry point."""
    if not is_rest_proxy_event(event):
        return with_cors(refuse_malformed_event(logger, metrics), CORS_ALLOW_ORIGIN)
    return with_cors(app.resolve(event, context), CORS_ALLOW_ORIGIN)
