"""The OpenAI chat completion request the gateway accepts, and the decrypted plaintext around it.

Strict: unknown fields are refused (a typo or a parameter we do not screen for must not pass
silently), messages carry text only, and every bound is explicit. Pure: no SDK imports.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_MESSAGES = 256
MAX_TEXT_CHARS = 256 * 1024
MAX_STOP_SEQUENCES = 4
RESPONSE_KEY_BYTES = 32


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class TextPart(_Strict):
    """A text content part (images, audio and files are not accepted)."""

    type: Literal["text"]
    text: Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


class ChatMessage(_Strict):
    """One message; `content` is a string or a list of text parts."""

    role: Literal["system", "developer", "user", "assistant"]
    content: Annotated[str, Field(max_length=MAX_TEXT_CHARS)] | Annotated[list[TextPart], Field(min_length=1)]
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None

    def text(self) -> str:
        """The message's text, parts joined by newlines."""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content)

    def with_text(self, text: str) -> ChatMessage:
        """The same message with its text replaced (parts collapse into one string)."""
        return self.model_copy(update={"content": text})


class JsonSchemaFormat(_Strict):
    """`response_format.json_schema`: the schema the answer must conform to."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    schema_: Annotated[dict[str, Any], Field(alias="schema")]
    description: str | None = None
    strict: bool | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ResponseFormat(_Strict):
    """`response_format`: text, json_object or json_schema."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_iff_json_schema(self) -> Self:
        if (self.type == "json_schema") != (self.json_schema is not None):
            raise ValueError("json_schema is required exactly when type is json_schema")
        return self


class ChatCompletionRequest(_Strict):
    """The OpenAI chat completion request subset the gateway forwards."""

    model: Annotated[str, Field(min_length=1, max_length=128)]
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=MAX_MESSAGES)]
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    stop: (
        Annotated[str, Field(min_length=1)]
        | Annotated[list[str], Field(max_length=MAX_STOP_SEQUENCES)]
        | None
    ) = None
    seed: int | None = None
    user: Annotated[str, Field(max_length=256)] | None = None
    response_format: ResponseFormat | None = None

    @model_validator(mode="after")
    def _one_token_limit(self) -> Self:
        if self.max_tokens is not None and self.max_completion_tokens is not None:
            raise ValueError("give max_tokens or max_completion_tokens, not both")
        return self

    @property
    def requested_max_tokens(self) -> int | None:
        """The completion token limit the client asked for, whichever field carried it."""
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens

    def output_schema(self) -> dict[str, Any] | None:
        """The JSON schema the answer must satisfy, when the client asked for structured output."""
        if self.response_format is not None and self.response_format.json_schema is not None:
            return self.response_format.json_schema.schema_
        return None


class RequestPlaintext(_Strict):
    """What the request envelope decrypts to: the response key and the chat request."""

    # Never in a repr or a log line: it decrypts the answer.
    resp_key: bytes = Field(repr=False)
    request: ChatCompletionRequest = Field(repr=False)

    @field_validator("resp_key", mode="before")
    @classmethod
    def _decode_resp_key(cls, value: object) -> bytes:
        return decode_resp_key(value)


def decode_resp_key(value: object) -> bytes:
    """A plaintext's `resp_key`: base64 of exactly 32 bytes (pydantic turns the errors into 400s)."""
    if not isinstance(value, str):
        # ValueError, not TypeError: pydantic turns only ValueErrors raised in a validator into a
        # ValidationError (a 400); a TypeError escaped as a 500.
        raise ValueError("resp_key must be a base64 string")  # noqa: TRY004
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("resp_key is not base64") from None
    if len(key) != RESPONSE_KEY_BYTES:
        raise ValueError("resp_key must be 32 bytes")
    return key
