"""Completion function: encrypted chat completions, and the RSA public key mobile clients pin."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from secure_ai_gateway.adapters.aws_clients import kms_client
from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.openai.access import ModelAccess
from secure_ai_gateway.adapters.policy_store import PolicyStore
from secure_ai_gateway.adapters.quota import UsageLedger
from secure_ai_gateway.adapters.verdict_digest_key import load_verdict_digest_key
from secure_ai_gateway.api.authorized_call import AuthorizedCall, is_rest_proxy_event
from secure_ai_gateway.api.cors import with_cors
from secure_ai_gateway.api.responses import install_error_handlers, refuse_malformed_event
from secure_ai_gateway.observability import (
    COMPLETION_PREFIX,
    COMPLETION_TOKENS,
    USAGE_SETTLEMENT_FAILED,
    count,
    count_screen,
    count_user_call,
    service_logger,
    service_metrics,
    service_tracer,
)
from secure_ai_gateway.policy_registry.cache import CachedPolicies
from secure_ai_gateway.screening.rendering.document import load_parsers
from secure_ai_gateway.services.completion import CompletionService
from secure_ai_gateway.settings import CompletionSettings
from secure_ai_gateway.snapstart import register_snapshot_hooks
from secure_ai_gateway.wiring import ExecutionEnvironment
from secure_ai_protocol.envelope.requests import RequestEnvelopes
from secure_ai_protocol.envelope.responses import seal_response
from secure_ai_protocol.envelope.rules import CONTEXT_VERSION, MOBILE_ENCRYPTION_ALGORITHM
from secure_ai_protocol.errors import NotAcceptable, ProtocolError
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE, accepts_envelope
from secure_ai_protocol.routes import CHAT_ROUTE, PUBLIC_KEY_ROUTE
from secure_ai_protocol.wire.responses import PublicKeyDocument

logger = service_logger()
metrics = service_metrics()
tracer = service_tracer()
app = APIGatewayRestResolver()
install_error_handlers(app, logger, metrics)
# Read once per execution environment, like every setting; empty means no CORS (api/cors.py).
CORS_ALLOW_ORIGIN = os.environ.get("CORS_ALLOW_ORIGIN", "")


@dataclass(frozen=True, slots=True)
class Dependencies:
    """Everything the completion function's routes use."""

    settings: CompletionSettings
    envelopes: RequestEnvelopes
    completion: CompletionService
    digest_key: Callable[[], bytes]


def build_dependencies(
    settings: CompletionSettings, *, policy_clock: Callable[[], float] = time.monotonic
) -> Dependencies:
    """The completion pipeline, wired to `settings`' AWS resources and model endpoint.

    `policy_clock` times the policy cache (tests move it instead of waiting).
    """
    envelopes = RequestEnvelopes(settings.request_key_arn, settings.rsa_key_arn, kms_client())
    model_access = ModelAccess(settings)

    def digest_key() -> bytes:
        # Read per request, through the secrets provider's cache: a rotated key is picked up.
        return load_verdict_digest_key(settings.verdict_digest_key_secret_arn)

    completion = CompletionService(
        envelopes=envelopes,
        clients=ClientStore(settings.clients_table),
        ledger=UsageLedger(settings.usage_table),
        model=model_access.chat_model,
        moderation=model_access.moderation,
        policies=CachedPolicies(PolicyStore(settings.policies_table), clock=policy_clock),
        seal_response=seal_response,
        digest_key=digest_key,
        default_model=settings.default_model,
        clock=time.time,
        on_settlement_failure=settlement_failed,
    )
    return Dependencies(settings, envelopes, completion, digest_key)


# This execution environment's dependencies; settings are read and validated on the first request.
environment = ExecutionEnvironment(lambda: build_dependencies(CompletionSettings.from_environ(os.environ)))
# SnapStart (template.yaml): the snapshot holds imports and the screen's parsers, nothing built or secret.
register_snapshot_hooks(environment, warm_up=load_parsers)


def settlement_failed(error: ProtocolError) -> None:
    """A settlement that did not land leaves the reservation counted; make it visible."""
    count(metrics, USAGE_SETTLEMENT_FAILED)
    logger.error("usage settlement failed", extra={"reason": error.reason})


@app.post(CHAT_ROUTE)
@tracer.capture_method(capture_response=False)
def chat_completions() -> Response[bytes]:
    """Decrypt, complete, screen and encrypt one chat request."""
    call = AuthorizedCall.from_proxy_event(app.current_event.raw_event)
    # The answer is sealed (binary): without the envelope type first in Accept, API Gateway would
    # hand the caller base64 text labelled as an envelope. Refused before any work or decryption.
    if not accepts_envelope(app.current_event.headers.get("accept")):
        raise NotAcceptable("accept_not_envelope")
    result = environment.get().completion.complete(call)
    count_screen(
        metrics,
        COMPLETION_PREFIX,
        result.decision,
        unavailable=result.unavailable,
        failed_open=result.failed_open,
    )
    count(metrics, COMPLETION_TOKENS, result.total_tokens)
    count_user_call(metrics, call, tokens=result.total_tokens)
    logger.info(
        "completion answered",
        extra={
            "app_id": call.app_id,
            "device_id": call.device_id,
            "user_ref": call.user_ref,
            "decision": result.decision,
            "total_tokens": result.total_tokens,
        },
    )
    return Response(
        status_code=200,
        content_type=ENVELOPE_CONTENT_TYPE,
        body=result.envelope,
        headers={"Cache-Control": "no-store"},
    )


@app.get(PUBLIC_KEY_ROUTE)
def public_key() -> dict[str, str]:
    """The RSA public key (PEM) mobile/web clients encrypt to; public by design."""
    key = environment.get().envelopes.public_key()
    document = PublicKeyDocument(
        key_arn=key.key_arn,
        key_spec=key.key_spec,
        encryption_algorithm=MOBILE_ENCRYPTION_ALGORITHM,
        public_key_pem=key.pem,
        envelope_version=CONTEXT_VERSION,
    )
    return document.model_dump(mode="json")


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway proxy entry point."""
    if not is_rest_proxy_event(event):
        return with_cors(refuse_malformed_event(logger, metrics), CORS_ALLOW_ORIGIN)
    return with_cors(app.resolve(event, context), CORS_ALLOW_ORIGIN)
