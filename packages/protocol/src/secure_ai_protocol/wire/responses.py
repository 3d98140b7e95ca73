"""What the gateway answers, defined once: the chat response, the public-key document, error bodies.

The completion function builds its answers from these models, the validator answers with the
verdict (secure_ai_protocol.wire.verdict), local/secure_ai_local/openapi.py generates
docs/openapi.yaml from them, and the SDK parses with them. Readers ignore fields they do not know
(an older SDK reads a newer gateway); the provider's completion object passes through with every
field it has, only its first choice kept and that choice's text screened.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from secure_ai_protocol.envelope.rules import MOBILE_ENCRYPTION_ALGORITHM
from secure_ai_protocol.wire.verdict import Verdict


class _Open(BaseModel):
    # The provider's completion carries fields the gateway passes through untouched.
    model_config = ConfigDict(extra="allow")


class AssistantMessage(_Open):
    """The first choice's message; `content` is the released text (null when blocked)."""

    role: str
    content: str | None


class CompletionChoice(_Open):
    """The only choice passed on."""

    index: int | None = None
    message: AssistantMessage
    finish_reason: Annotated[
        str | None, Field(description="`content_filter` when screening blocked the answer")
    ] = None


class ChatCompletion(_Open):
    """The provider's OpenAI `chat.completion` object, with the first choice only, its text screened."""

    id: str | None = None
    object: str | None = None
    created: int | None = None
    model: str | None = None
    choices: Annotated[list[CompletionChoice], Field(min_length=1, max_length=1)]


class TokenUsage(BaseModel):
    """The tokens counted against the client's budget."""

    model_config = ConfigDict(frozen=True, extra="ignore", json_schema_serialization_defaults_required=True)

    prompt_tokens: Annotated[int, Field(ge=0)]
    completion_tokens: Annotated[int, Field(ge=0)]
    total_tokens: Annotated[int, Field(ge=0)]


class ChatResponse(BaseModel):
    """What the response envelope of `POST /v1/chat/completions` decrypts to."""

    model_config = ConfigDict(frozen=True, extra="ignore", json_schema_serialization_defaults_required=True)

    req_id: Annotated[str, Field(description="The request signature's nonce")]
    completion: ChatCompletion
    verdict: Annotated[
        Verdict,
        Field(
            description="The output screening verdict; its `redacted_text` is null (the text is the content)"
        ),
    ]
    usage: TokenUsage


class PublicKeyDocument(BaseModel):
    """The RSA public key mobile and web clients pin and encrypt request envelopes to."""

    model_config = ConfigDict(frozen=True, extra="ignore", json_schema_serialization_defaults_required=True)

    key_arn: Annotated[str, Field(description="The key ARN to name as the envelope's key (not an alias)")]
    key_spec: Annotated[str, Field(description="e.g. RSA_3072")]
    # A string, not a Literal, so that the SDK can refuse another padding by name.
    encryption_algorithm: Annotated[
        str,
        Field(
            description="The RSA padding the gateway decrypts with",
            json_schema_extra={"const": MOBILE_ENCRYPTION_ALGORITHM},
        ),
    ]
    public_key_pem: Annotated[str, Field(description="SubjectPublicKeyInfo, PEM")]
    envelope_version: str


class ErrorBody(BaseModel):
    """Every refusal's body: a stable code and message, never the reason (that goes to the logs).

    One addition: the 409 of `POST /v1/devices` also names `limit`, the app's active devices per user.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", json_schema_serialization_defaults_required=True)

    error: Annotated[str, Field(description="The status phrase in snake case, e.g. `bad_request`")]
    message: str
