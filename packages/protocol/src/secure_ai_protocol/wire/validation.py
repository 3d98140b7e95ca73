"""What asks the validator to screen a text: the API body, an SQS message, or an EventBridge event.

One shape for all three. On the queue a message body is either this object or a whole EventBridge
event whose `detail-type` is `ValidateOutput` and whose `detail` is this object (what the rule
delivers). Verdicts are stored under `id` and published with it, so callers can correlate.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from secure_ai_protocol.errors import BadRequest
from secure_ai_protocol.json_bounds import check_json_depth, value_depth_within

VALIDATE_DETAIL_TYPE = "ValidateOutput"
SCREENED_DETAIL_TYPE = "OutputScreened"
BLOCKED_DETAIL_TYPE = "OutputBlocked"
EVENT_SOURCE = "secure-ai-gateway.validator"
MAX_TEXT_CHARS = 1024 * 1024

CorrelationId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]


class ValidationRequest(BaseModel):
    """Screen `text` under `policy_id` (and `schema`, when the output must be JSON of that shape)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    text: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] = Field(repr=False)
    id: CorrelationId | None = None
    policy_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,128}$")] = "default"
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")

    @field_validator("schema_")
    @classmethod
    def _schema_depth_bounded(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        # jsonschema recurses once per level: a schema too deep is the caller's 400, here.
        if schema is not None and not value_depth_within(schema):
            raise ValueError("schema nests too deep")
        return schema


def parse_validation_request(body: str | bytes, *, allow_event: bool = True) -> ValidationRequest:
    """Parse an API body or queue message (an EventBridge event unwrapped when allowed); 400 otherwise."""
    check_json_depth(body)
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("validation_request_not_json") from None
    if allow_event and isinstance(document, dict) and "detail-type" in document:
        if document.get("detail-type") != VALIDATE_DETAIL_TYPE or not isinstance(
            document.get("detail"), dict
        ):
            raise BadRequest("validation_event_unexpected")
        document = document["detail"]
    try:
        return ValidationRequest.model_validate(document)
    except ValidationError:
        raise BadRequest("validation_request_invalid") from None
