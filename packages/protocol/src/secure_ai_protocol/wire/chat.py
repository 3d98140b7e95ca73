"""The OpenAI chat completion request the gateway accepts, and the decrypted plaintext around it.

Strict: unknown fields are refused (a typo or a parameter we do not screen for must not pass
silently), messages carry text only, and every bound is explicit. Pure: no SDK imports.

Every field of `ChatCompletionRequest` is forwarded to the model provider; how each is made safe
first (written here, not in the class docstring, which the public OpenAPI document shows):

- `model`: resolved from the `default` alias and checked against the client's allow-list.
- `messages[].role`, `response_format.type`, `json_schema.strict`: fixed vocabularies.
- `max_tokens`, `max_completion_tokens`: capped by the client's record; `temperature`,
  `top_p`, `seed`: bounded numbers. None of these can carry a caller's data.
- Free text, in `caller_texts` order: each message's `content` (each text part separately),
  each `stop` sequence, `user`, `json_schema.description`, and inside `json_schema.schema`
  every string value (`const`, `enum`, `default`, `examples`, `description`, `title`,
  `pattern`, `$ref`, …) and every property name. Property names are rewritten too: a name can
  be a caller's e-mail address, and one value always gets one placeholder, so `required`
  and `$ref` still agree with `properties`. The completion service redacts secrets in these
  (or refuses) and pseudonymises PII; the answer is screened against the ORIGINAL schema,
  after the caller's values are restored.
- Verbatim, in `verbatim_texts`: `messages[].name` and `json_schema.name` (their grammar,
  `[A-Za-z0-9_-]`, has no room for a placeholder) and every number in the schema (a number
  cannot become a placeholder without changing the schema). These are forwarded as written,
  so a request where one of them carries PII or a secret is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from secure_ai_protocol.envelope.rules import RESP_KEY_BYTES
from secure_ai_protocol.errors import BadRequest
from secure_ai_protocol.json_bounds import value_depth_within

MAX_MESSAGES = 256
MAX_TEXT_CHARS = 256 * 1024
MAX_STOP_SEQUENCES = 4


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

    def _rewritten(self, rewrite: Callable[[str], str]) -> ChatMessage:
        if isinstance(self.content, str):
            return self.model_copy(update={"content": rewrite(self.content)})
        parts = [part.model_copy(update={"text": rewrite(part.text)}) for part in self.content]
        return self.model_copy(update={"content": parts})


class JsonSchemaFormat(_Strict):
    """`response_format.json_schema`: the schema the answer must conform to."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    schema_: Annotated[dict[str, Any], Field(alias="schema")]
    description: str | None = None
    strict: bool | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("schema_")
    @classmethod
    def _schema_depth_bounded(cls, schema: dict[str, Any]) -> dict[str, Any]:
        # jsonschema recurses once per level: a schema too deep is the client's 400, here.
        if not value_depth_within(schema):
            raise ValueError("schema nests too deep")
        return schema


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
    # Streamed answers are asked for on their own route (routes.STREAM_ROUTE) with `true`; the
    # buffered route refuses `true` (docs/protocol.md, "Streamed answers").
    stream: bool | None = None

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

    def caller_texts(self) -> list[str]:
        """Every free-text string forwarded to the model, in a fixed order (see the module docstring)."""
        seen: list[str] = []

        def record(text: str) -> str:
            seen.append(text)
            return text

        self._rewritten(record)
        return seen

    def with_caller_texts(self, texts: Sequence[str]) -> ChatCompletionRequest:
        """This request with its `caller_texts` replaced, in the same order, by `texts`.

        Raises `BadRequest` if two schema property names become one (their values share a
        placeholder): merging them would silently change the schema.
        """
        replacements = iter(texts)
        rewritten = self._rewritten(lambda _: next(replacements))
        if next(replacements, None) is not None:
            raise ValueError("more texts than the request has")
        return rewritten

    def verbatim_texts(self) -> list[str]:
        """Strings forwarded exactly as written: message names, the schema's name, schema numbers."""
        texts = [message.name for message in self.messages if message.name is not None]
        json_schema = self.response_format.json_schema if self.response_format is not None else None
        if json_schema is not None:
            texts.append(json_schema.name)
            texts.extend(_numbers_in(json_schema.schema_))
        return texts

    def _rewritten(self, rewrite: Callable[[str], str]) -> ChatCompletionRequest:
        # One walk for reading and for writing, so the two can never disagree on the order.
        messages = [message._rewritten(rewrite) for message in self.messages]
        update: dict[str, Any] = {"messages": messages}
        if isinstance(self.stop, str):
            update["stop"] = rewrite(self.stop)
        elif self.stop is not None:
            update["stop"] = [rewrite(sequence) for sequence in self.stop]
        if self.user is not None:
            update["user"] = rewrite(self.user)
        if self.response_format is not None and self.response_format.json_schema is not None:
            json_schema = self.response_format.json_schema
            schema_update: dict[str, Any] = {"schema_": _rewritten_json(json_schema.schema_, rewrite)}
            if json_schema.description is not None:
                schema_update["description"] = rewrite(json_schema.description)
            update["response_format"] = self.response_format.model_copy(
                update={"json_schema": json_schema.model_copy(update=schema_update)}
            )
        return self.model_copy(update=update)


def _rewritten_json(value: Any, rewrite: Callable[[str], str]) -> Any:
    """`value` with every string and object key rewritten; depth is bounded by the validator."""
    if isinstance(value, str):
        return rewrite(value)
    if isinstance(value, list):
        return [_rewritten_json(item, rewrite) for item in value]
    if isinstance(value, dict):
        rewritten: dict[str, Any] = {}
        for key, item in value.items():
            new_key = rewrite(key)
            if new_key in rewritten:
                raise BadRequest("schema_property_names_collide")
            rewritten[new_key] = _rewritten_json(item, rewrite)
        return rewritten
    return value


def _numbers_in(value: Any) -> list[str]:
    """Every number in a JSON value, as JSON writes it (booleans are not numbers)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [json.dumps(value)]
    if isinstance(value, list):
        return [number for item in value for number in _numbers_in(item)]
    if isinstance(value, dict):
        return [number for item in value.values() for number in _numbers_in(item)]
    return []


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
    if len(key) != RESP_KEY_BYTES:
        raise ValueError("resp_key must be 32 bytes")
    return key
