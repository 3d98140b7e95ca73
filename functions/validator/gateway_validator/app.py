"""Validator function: `POST /v1/validate`, and the SQS queue that the EventBridge rule also feeds.

SQS records are screened once per message id (Powertools idempotency on DynamoDB), failures are
reported per record so only those are retried, and poison messages reach the DLQ by redrive.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from secure_ai_gateway.adapters.aws_clients import dynamodb_client, kms_client
from secure_ai_gateway.adapters.openai.access import ModelAccess
from secure_ai_gateway.adapters.policy_store import PolicyStore
from secure_ai_gateway.adapters.verdict_digest_key import load_verdict_digest_key
from secure_ai_gateway.adapters.verdicts import VerdictPublisher, VerdictStore
from secure_ai_gateway.api.authorized_call import AuthorizedCall, is_rest_proxy_event
from secure_ai_gateway.api.cors import with_cors
from secure_ai_gateway.api.responses import install_error_handlers, refuse_malformed_event
from secure_ai_gateway.observability import (
    VALIDATION_PREFIX,
    count_screen,
    count_user_call,
    service_logger,
    service_metrics,
    service_tracer,
)
from secure_ai_gateway.policy_registry.cache import CachedPolicies
from secure_ai_gateway.screening.rendering.document import load_parsers
from secure_ai_gateway.services.validator import ValidationEndpoint, ValidationService
from secure_ai_gateway.settings import ValidatorSettings
from secure_ai_gateway.snapstart import register_snapshot_hooks
from secure_ai_gateway.wiring import ExecutionEnvironment
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE
from secure_ai_protocol.routes import VALIDATE_ROUTE
from secure_ai_protocol.wire.validation import parse_validation_request
from secure_ai_protocol.wire.verdict import Verdict

logger = service_logger()
metrics = service_metrics()
tracer = service_tracer()
app = APIGatewayRestResolver()
install_error_handlers(app, logger, metrics)
# Read once per execution environment, like every setting; empty means no CORS (api/cors.py).
CORS_ALLOW_ORIGIN = os.environ.get("CORS_ALLOW_ORIGIN", "")
# A batch whose every record failed is reported record by record like any other: raising instead
# (Powertools' default) fails the whole invocation, which SQS then retries as one unit.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

# A redelivered message within this window is answered from the stored result, not screened again.
IDEMPOTENCY_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class Dependencies:
    """Everything the validator's two triggers use."""

    settings: ValidatorSettings
    service: ValidationService
    endpoint: ValidationEndpoint
    idempotency: IdempotencyConfig
    screen_message_once: Callable[..., dict[str, str]]
    digest_key: Callable[[], bytes]


def build_dependencies(
    settings: ValidatorSettings, *, policy_clock: Callable[[], float] = time.monotonic
) -> Dependencies:
    """Screening with storage and publication, wired to `settings`' tables, bus and model.

    `policy_clock` times the policy cache (tests move it instead of waiting).
    """

    def digest_key() -> bytes:
        # Read per request, through the secrets provider's cache: a rotated key is picked up.
        return load_verdict_digest_key(settings.verdict_digest_key_secret_arn)

    service = ValidationService(
        policies=CachedPolicies(PolicyStore(settings.policies_table), clock=policy_clock),
        moderation=ModelAccess(settings).moderation,
        store=VerdictStore(settings.verdicts_table),
        publisher=VerdictPublisher(settings.event_bus_name),
        clock=time.time,
        digest_key=digest_key,
        on_verdict=verdict_counted,
    )

    # The Encryption SDK (~1.5 s to import) is imported only when an envelope arrives.
    def envelopes() -> Any:
        from secure_ai_protocol.envelope.requests import RequestEnvelopes  # noqa: PLC0415 - see above

        return RequestEnvelopes(settings.request_key_arn, settings.rsa_key_arn, kms_client())

    def seal(payload: bytes, *, resp_key: bytes, req_id: str) -> bytes:
        from secure_ai_protocol.envelope.responses import seal_response  # noqa: PLC0415 - see above

        return seal_response(payload, resp_key=resp_key, req_id=req_id)

    idempotency = IdempotencyConfig(
        event_key_jmespath="message_id",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_SECONDS,
        hash_function="sha256",
    )
    # A redelivered message is answered from the idempotency table, keyed on its message id.
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table, boto3_client=dynamodb_client()
    )
    decorate = idempotent_function(
        data_keyword_argument="message", persistence_store=persistence, config=idempotency
    )
    screened: Callable[..., dict[str, str]] = decorate(screen_message)
    endpoint = ValidationEndpoint(service, cache(envelopes), seal)
    return Dependencies(settings, service, endpoint, idempotency, screened, digest_key)


# This execution environment's dependencies; settings are read and validated on the first use.
environment = ExecutionEnvironment(lambda: build_dependencies(ValidatorSettings.from_environ(os.environ)))


def verdict_counted(verdict: Verdict) -> None:
    """Count a screened text's decision and the screen's health, whichever trigger asked."""
    count_screen(
        metrics,
        VALIDATION_PREFIX,
        verdict.decision,
        unavailable=verdict.unavailable,
        failed_open=verdict.failed_open,
    )


def warm_up() -> None:
    """Imports worth snapshotting: the screen's parsers, and the Encryption SDK that a cold start without
    SnapStart defers to the first envelope (the completion function imports it at init anyway)."""
    import secure_ai_protocol.envelope.requests  # noqa: PLC0415
    import secure_ai_protocol.envelope.responses  # noqa: F401, PLC0415

    load_parsers()


# SnapStart (template.yaml): the snapshot holds imports and parsers, nothing built or secret.
register_snapshot_hooks(environment, warm_up=warm_up)


def screen_message(message: dict[str, str]) -> dict[str, str]:
    """Screen one queue message; raising fails only this record (retried, then dead-lettered)."""
    request = parse_validation_request(message["body"])
    verdict = environment.get().service.validate(
        request, verdict_id=request.id or message["message_id"], client_id=None, source="queue"
    )
    return {"decision": verdict.decision}


def record_handler(record: SQSRecord) -> dict[str, str]:
    """Batch processor callback for one SQS record."""
    return environment.get().screen_message_once(
        message={"message_id": record.message_id, "body": record.body}
    )


@app.post(VALIDATE_ROUTE)
def validate() -> Response[str | bytes]:
    """Screen the text in a signed JSON or envelope request; return the verdict."""
    event = app.current_event
    call = AuthorizedCall.from_proxy_event(event.raw_event)
    body, content_type = environment.get().endpoint.handle(
        call, event.headers.get("content-type") or "", accept=event.headers.get("accept")
    )
    count_user_call(metrics, call)
    logger.info(
        "output validated",
        extra={"app_id": call.app_id, "device_id": call.device_id, "user_ref": call.user_ref},
    )
    # Powertools base64-encodes bytes bodies: the envelope is binary, the JSON verdict is text.
    payload: str | bytes = body if content_type == ENVELOPE_CONTENT_TYPE else body.decode()
    return Response(
        status_code=200, content_type=content_type, body=payload, headers={"Cache-Control": "no-store"}
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One function, two triggers: SQS batches (the EventBridge rule delivers into the queue) and the API."""
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        environment.get().idempotency.register_lambda_context(context)
        return dict(
            process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        )
    if not is_rest_proxy_event(event):
        return with_cors(refuse_malformed_event(logger, metrics), CORS_ALLOW_ORIGIN)
    return with_cors(app.resolve(event, context), CORS_ALLOW_ORIGIN)
