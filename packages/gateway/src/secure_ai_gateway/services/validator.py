"""The validator's work: screen a text, keep the verdict (digests, never plaintext), announce it.

Stored rows and published events carry the decision, finding types and spans, the policy and the
keyed digest of the released text (none when blocked); never the text, a finding's sample, or the
redacted text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from secure_ai_gateway.adapters.aws_clients import dynamodb_client, events_client
from secure_ai_gateway.api.authorized_call import AuthorizedCall
from secure_ai_gateway.screening.moderation import ModerationPort
from secure_ai_gateway.screening.policy import Policy
from secure_ai_gateway.screening.screen import screen_text
from secure_ai_gateway.screening.verdict import Verdict
from secure_ai_protocol.errors import BadRequest, ConfigurationError, DependencyUnavailable
from secure_ai_protocol.json_bounds import check_json_depth
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE, JSON_CONTENT_TYPE
from secure_ai_protocol.wire.chat import decode_resp_key
from secure_ai_protocol.wire.validation import (
    BLOCKED_DETAIL_TYPE,
    EVENT_SOURCE,
    SCREENED_DETAIL_TYPE,
    ValidationRequest,
    parse_validation_request,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient

VERDICT_RETENTION_SECONDS = 30 * 24 * 3600


def verdict_record(
    verdict_id: str, verdict: Verdict, *, client_id: str | None, source: str
) -> dict[str, Any]:
    """What may be kept and published about a verdict: no text, no samples."""
    return {
        "id": verdict_id,
        "source": source,
        "client_id": client_id,
        "decision": verdict.decision,
        "policy_id": verdict.policy_id,
        "policy_version": verdict.policy_version,
        "content_digest": verdict.content_digest,
        "findings": [
            {
                "type": finding.type,
                "detector": finding.detector,
                "span": list(finding.span),
                "confidence": finding.confidence,
                "action": finding.action,
            }
            for finding in verdict.findings
        ],
        "findings_total": verdict.findings_total,
        "unavailable": dict(verdict.unavailable),
        "failed_open": list(verdict.failed_open),
    }


class VerdictStore:
    """Verdict rows in the `verdicts` table, expiring after 30 days."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._client = client

    def put(self, record: dict[str, Any], now: float) -> None:
        """Store `record` under its id (a redelivery overwrites with the same content)."""
        item: dict[str, Any] = {
            "verdict_id": {"S": record["id"]},
            "decision": {"S": record["decision"]},
            "source": {"S": record["source"]},
            "policy_id": {"S": record["policy_id"]},
            "policy_version": {"N": str(record["policy_version"])},
            "findings": {"S": json.dumps(record["findings"], separators=(",", ":"))},
            "findings_total": {"N": str(record["findings_total"])},
            "failed_open": {"S": json.dumps(record["failed_open"])},
            "unavailable": {"S": json.dumps(record["unavailable"])},
            "created_at": {"N": str(int(now))},
            "expires_at": {"N": str(int(now) + VERDICT_RETENTION_SECONDS)},
        }
        if record["content_digest"]:
            item["content_digest"] = {"S": record["content_digest"]}
        if record["client_id"]:
            item["client_id"] = {"S": record["client_id"]}
        try:
            (self._client or dynamodb_client()).put_item(TableName=self._table, Item=item)
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable("verdicts_unavailable") from error


class VerdictPublisher:
    """`OutputScreened` / `OutputBlocked` events on the validation bus."""

    def __init__(self, bus_name: str, client: EventBridgeClient | None = None) -> None:
        self._bus = bus_name
        self._client = client

    def publish(self, record: dict[str, Any]) -> None:
        """Publish `record`; a rejected entry fails like an unreachable bus (the caller retries)."""
        detail_type = BLOCKED_DETAIL_TYPE if record["decision"] == "block" else SCREENED_DETAIL_TYPE
        try:
            answer = (self._client or events_client()).put_events(
                Entries=[
                    {
                        "EventBusName": self._bus,
                        "Source": EVENT_SOURCE,
                        "DetailType": detail_type,
                        "Detail": json.dumps(record, separators=(",", ":")),
                    }
                ]
            )
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable("events_unavailable") from error
        if answer.get("FailedEntryCount", 0):
            raise DependencyUnavailable("events_rejected")


class Policies(Protocol):
    """Finds a screening policy by id."""

    def policy(self, policy_id: str) -> Policy: ...


@dataclass(frozen=True, slots=True)
class ValidationService:
    """Screens, stores and publishes; the same core the completion function runs in-process."""

    policies: Policies
    moderation: Callable[[], ModerationPort]
    store: VerdictStore
    publisher: VerdictPublisher
    clock: Callable[[], float]
    # The deployment's verdict-digest key: digests are keyed so no verdict confirms a guess.
    digest_key: Callable[[], bytes]

    def validate(
        self, request: ValidationRequest, *, verdict_id: str, client_id: str | None, source: str
    ) -> Verdict:
        """Screen `request.text`; keep and announce the verdict; return it (with redacted text)."""
        try:
            policy = self.policies.policy(request.policy_id)
        except ConfigurationError:
            # The caller named it: an unknown policy is their mistake here, not our configuration.
            raise BadRequest("unknown_policy") from None
        verdict = screen_text(
            request.text,
            policy,
            schema=request.schema_,
            moderation=self.moderation(),
            digest_key=self.digest_key(),
        )
        record = verdict_record(verdict_id, verdict, client_id=client_id, source=source)
        self.store.put(record, self.clock())
        self.publisher.publish(record)
        return verdict


VALIDATE_ROUTE = "/v1/validate"
VALIDATE_SCOPE = "output:validate"
MAX_VALIDATE_BODY_BYTES = 2 * 1024 * 1024


class EncryptedValidation(BaseModel):
    """The plaintext of an encrypted validate call: the response key and the request."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    resp_key: bytes = Field(repr=False)
    request: ValidationRequest = Field(repr=False)

    @field_validator("resp_key", mode="before")
    @classmethod
    def _decode_resp_key(cls, value: object) -> bytes:
        return decode_resp_key(value)


class Envelopes(Protocol):
    """Opens request envelopes (secure_ai_protocol.envelope.requests.RequestEnvelopes)."""

    def open(self, ciphertext: bytes, *, client_id: str, req_id: str, route: str) -> Any: ...


class ValidationEndpoint:
    """`POST /v1/validate`: a JSON request answered in JSON, or an envelope answered sealed."""

    def __init__(
        self,
        service: ValidationService,
        envelopes: Callable[[], Envelopes],
        seal_response: Callable[..., bytes],
    ) -> None:
        self._service = service
        self._envelopes = envelopes
        self._seal_response = seal_response

    def handle(self, call: AuthorizedCall, content_type: str) -> tuple[bytes, str]:
        """The response body and its content type; raise a GatewayError on refusal."""
        call.require_scope(VALIDATE_SCOPE)
        body = call.body_bytes(MAX_VALIDATE_BODY_BYTES)
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type == JSON_CONTENT_TYPE:
            request = parse_validation_request(body, allow_event=False)
            verdict = self._validate(request, call)
            return verdict.model_dump_json().encode(), JSON_CONTENT_TYPE
        if media_type == ENVELOPE_CONTENT_TYPE:
            opened = self._envelopes().open(
                body, client_id=call.client_id, req_id=call.req_id, route=VALIDATE_ROUTE
            )
            check_json_depth(opened.plaintext)
            try:
                plaintext = EncryptedValidation.model_validate_json(opened.plaintext)
            except ValidationError:
                raise BadRequest("validation_request_invalid") from None
            verdict = self._validate(plaintext.request, call)
            sealed = self._seal_response(
                verdict.model_dump_json().encode(), resp_key=plaintext.resp_key, req_id=call.req_id
            )
            return sealed, ENVELOPE_CONTENT_TYPE
        raise BadRequest("unsupported_media_type")

    def _validate(self, request: ValidationRequest, call: AuthorizedCall) -> Verdict:
        return self._service.validate(
            request,
            verdict_id=api_verdict_id(call.client_id, request.id or call.req_id),
            client_id=call.client_id,
            source="api",
        )


def api_verdict_id(client_id: str, correlation_id: str) -> str:
    """API verdicts live under `<client_id>/<id>`: one client cannot overwrite another's row, and
    the `/` (which no correlation id may contain) keeps them apart from queue verdicts stored by id."""
    return f"{client_id}/{correlation_id}"
