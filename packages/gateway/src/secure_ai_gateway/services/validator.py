"""The validator's work: screen a text, keep the verdict (digests, never plaintext), announce it.

Stored rows and published events carry the decision, finding types and spans, the policy and the
keyed digest of the released text (none when blocked); never the text, a finding's sample, or the
redacted text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from secure_ai_gateway.api.authorized_call import AuthorizedCall
from secure_ai_gateway.ports import Envelopes, Policies, VerdictEvents, VerdictRecords
from secure_ai_gateway.screening.moderation import ModerationPort
from secure_ai_gateway.screening.screen import screen_text
from secure_ai_protocol.errors import BadRequest, ConfigurationError, NotAcceptable
from secure_ai_protocol.json_bounds import parse_json_model
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE, JSON_CONTENT_TYPE, accepts_envelope
from secure_ai_protocol.routes import VALIDATE_ROUTE
from secure_ai_protocol.wire.chat import decode_resp_key
from secure_ai_protocol.wire.validation import (
    ValidationRequest,
    parse_validation_request,
)
from secure_ai_protocol.wire.verdict import Verdict


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


def ignore_verdict(verdict: Verdict) -> None:
    """The default `on_verdict`: nothing to count."""


@dataclass(frozen=True, slots=True)
class ValidationService:
    """Screens, stores and publishes; the same core the completion function runs in-process."""

    policies: Policies
    moderation: Callable[[], ModerationPort]
    store: VerdictRecords
    publisher: VerdictEvents
    clock: Callable[[], float]
    # The deployment's verdict-digest key: digests are keyed so no verdict confirms a guess.
    digest_key: Callable[[], bytes]
    # Told of every verdict kept and announced, from the API and from the queue alike (metrics).
    on_verdict: Callable[[Verdict], None] = ignore_verdict

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
        self.on_verdict(verdict)
        return verdict


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

    def handle(self, call: AuthorizedCall, content_type: str, *, accept: str | None) -> tuple[bytes, str]:
        """The response body and its content type; raise a ProtocolError on refusal.

        An envelope request is answered sealed (binary), so its Accept must name the envelope type
        first (NotAcceptable, a 406, before the body is read or opened)."""
        call.require_scope(VALIDATE_SCOPE)
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type == ENVELOPE_CONTENT_TYPE and not accepts_envelope(accept):
            raise NotAcceptable("accept_not_envelope")
        body = call.body_bytes(MAX_VALIDATE_BODY_BYTES)
        if media_type == JSON_CONTENT_TYPE:
            request = parse_validation_request(body, allow_event=False)
            verdict = self._validate(request, call)
            return verdict.model_dump_json().encode(), JSON_CONTENT_TYPE
        if media_type == ENVELOPE_CONTENT_TYPE:
            opened = self._envelopes().open(
                body, client_id=call.client_id, req_id=call.req_id, route=VALIDATE_ROUTE
            )
            plaintext = parse_json_model(
                EncryptedValidation, opened.plaintext, reason="validation_request_invalid"
            )
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
