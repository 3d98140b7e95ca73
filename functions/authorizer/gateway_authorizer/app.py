"""REQUEST authorizer: Allow exactly `event.methodArn` for a verified, fresh, unreplayed signature.

Every refusal looks the same to the caller (API Gateway's 401); the reason goes to the log and to
the `AuthorizationRefused` metric, never the signature, the secret or anything from the body.
Import budget: no Encryption SDK, no openai, no Tracer (Lambda's active tracing covers the call).
"""

from __future__ import annotations

import os
import time
from typing import Any, NoReturn

from aws_lambda_powertools.utilities.typing import LambdaContext

from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.device_store import DeviceStore
from secure_ai_gateway.adapters.replay import NonceStore
from secure_ai_gateway.adapters.secret_sealing import SecretSealer
from secure_ai_gateway.client_registry.resolver import SigningKeyResolver
from secure_ai_gateway.observability import (
    AUTHORIZATION_ALLOWED,
    AUTHORIZATION_REFUSED,
    count,
    count_refusal,
    service_logger,
    service_metrics,
)
from secure_ai_gateway.services.authorizer import RequestAuthorizer, allow_policy
from secure_ai_gateway.settings import AuthorizerSettings
from secure_ai_gateway.wiring import ExecutionEnvironment
from secure_ai_protocol.errors import ProtocolError

logger = service_logger()
metrics = service_metrics()

# API Gateway turns exactly this exception message into a 401 without invoking the integration.
UNAUTHORIZED = "Unauthorized"
METHOD_ARN_PREFIX = "arn:aws"


def build_dependencies(settings: AuthorizerSettings) -> RequestAuthorizer:
    """The authorizer, wired to `settings`' clients and devices tables, nonce table and sealing key."""
    keys = SigningKeyResolver(
        ClientStore(settings.clients_table),
        SecretSealer(settings.secrets_key_arn),
        clock=time.time,
        cache_seconds=settings.key_cache_seconds,
        devices=DeviceStore(settings.devices_table),
    )
    return RequestAuthorizer(
        keys=keys,
        nonces=NonceStore(settings.nonces_table),
        expected_tag=settings.signature_tag,
        clock=time.time,
    )


# This execution environment's authorizer; settings are read and validated on the first request.
environment = ExecutionEnvironment(lambda: build_dependencies(AuthorizerSettings.from_environ(os.environ)))


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    """Allow policy for `event.methodArn`, or the generic 401."""
    method_arn = event.get("methodArn") if isinstance(event, dict) else None
    # Outside the try: refuse() raises PermissionError, which `except Exception` would count again.
    if not isinstance(method_arn, str) or not method_arn.startswith(METHOD_ARN_PREFIX):
        refuse("bad_method_arn")
    try:
        authorization = environment.get().authorize(event)
    except ProtocolError as error:
        refuse(error.reason, kind=type(error).__name__)
    except Exception as error:  # noqa: BLE001 - fail closed on anything unforeseen; the type is logged
        refuse("internal_error", kind=type(error).__name__)
    count(metrics, AUTHORIZATION_ALLOWED)
    # The user appears only as its keyed hash (device_registry/user_refs.py), never the OIDC `sub`.
    logger.info(
        "request authorized",
        extra={
            "client_id": authorization.client_id,
            "key_id": authorization.key_id,
            "app_id": authorization.app_id or authorization.client_id,
            "user_ref": authorization.user_ref,
        },
    )
    return allow_policy(authorization, method_arn)


def refuse(reason: str, kind: str = "SignatureRejected") -> NoReturn:
    """Log and count the reason, then raise the one response every refusal gets."""
    count_refusal(metrics, AUTHORIZATION_REFUSED, reason)
    logger.warning("request refused", extra={"reason": reason, "error": kind})
    raise PermissionError(UNAUTHORIZED) from None
