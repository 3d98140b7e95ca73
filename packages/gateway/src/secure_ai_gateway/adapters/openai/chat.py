"""The model call through the openai SDK: explicit timeout and retries, errors mapped, bodies dropped.

Works with any OpenAI-compatible endpoint (OpenAI, Azure OpenAI's v1 API, vLLM, Ollama) through
`base_url`. Upstream error bodies never travel further than this module: each failure becomes one of
the project's exceptions with a fixed reason.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final, NoReturn

import httpx2
import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from secure_ai_gateway.ports import ModelAnswer, ModelDelta, ModelStreamEnd
from secure_ai_protocol.errors import UpstreamFailed, UpstreamRateLimited, UpstreamTimeout
from secure_ai_protocol.json_bounds import json_depth_within

if TYPE_CHECKING:
    from secure_ai_protocol.wire.chat import ChatCompletionRequest

DEFAULT_RETRY_AFTER_SECONDS = 5
MAX_RETRY_AFTER_SECONDS = 3600
CONNECT_TIMEOUT_SECONDS = 3.0
# Asked of the provider on every streamed call: the last chunk then carries the usage to settle.
STREAM_OPTIONS: Final = {"include_usage": True}


def openai_client(*, api_key: str, base_url: str, timeout_seconds: float, max_retries: int) -> openai.OpenAI:
    """An SDK client with the gateway's limits (the SDK defaults are 600 s and 2 retries)."""
    return openai.OpenAI(
        api_key=api_key,
        base_url=base_url,
        timeout=httpx2.Timeout(timeout_seconds, connect=min(CONNECT_TIMEOUT_SECONDS, timeout_seconds)),
        max_retries=max_retries,
    )


class ChatModel:
    """Chat completions from one OpenAI-compatible endpoint."""

    def __init__(self, client: openai.OpenAI) -> None:
        self._client = client

    def complete(self, request: ChatCompletionRequest) -> ModelAnswer:
        """Send `request`; return the first choice's text with usage, or raise an Upstream* error."""
        arguments = request.model_dump(exclude_none=True, by_alias=True)
        try:
            raw = self._client.chat.completions.with_raw_response.create(**arguments)
        except openai.OpenAIError as error:
            raise_upstream(error)
        # The provider's JSON is as untrusted as a client's: its depth is bounded before the SDK
        # parses it (a deeply nested answer would otherwise raise RecursionError, a 500).
        if not json_depth_within(raw.content):
            raise UpstreamFailed("model_answer_too_deep")
        completion = raw.parse()
        if not isinstance(completion, ChatCompletion):
            # The SDK hands back a body that is not a JSON object as it came (text, a list).
            raise UpstreamFailed("model_malformed_answer")
        return answer_from(completion.model_dump(mode="json", exclude_unset=True))

    def stream(self, request: ChatCompletionRequest) -> Iterator[ModelDelta | ModelStreamEnd]:
        """Send `request` with `stream: true`: the provider's refusal (status, connection, timeout)
        raises here as an Upstream* error; the iterator yields the first choice's text deltas, then
        one `ModelStreamEnd` with the usage, and raises an Upstream* error if the stream breaks or
        ends without the first choice's finish reason."""
        arguments = request.model_dump(exclude_none=True, by_alias=True)
        arguments["stream"] = True
        arguments["stream_options"] = STREAM_OPTIONS
        try:
            chunks = self._client.chat.completions.create(**arguments)
        except openai.OpenAIError as error:
            raise_upstream(error)
        return _stream_pieces(chunks)


def _stream_pieces(chunks: openai.Stream[ChatCompletionChunk]) -> Iterator[ModelDelta | ModelStreamEnd]:
    """The deltas of the first choice, then the end; the provider's stream is closed on any exit."""
    finish_reason: str | None = None
    usage: tuple[int, int] | None = None
    try:
        try:
            for chunk in chunks:
                if not isinstance(chunk, ChatCompletionChunk):
                    raise UpstreamFailed("model_malformed_answer")
                if chunk.usage is not None:
                    usage = _usage_of(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    if choice.delta.content:
                        yield ModelDelta(choice.delta.content)
                    if choice.finish_reason is not None:
                        finish_reason = choice.finish_reason
        except openai.OpenAIError as error:
            raise_upstream(error)
        except (httpx2.HTTPError, RecursionError, ValueError):
            # A connection cut mid-stream, or a chunk that is not JSON (or nested past the parser).
            raise UpstreamFailed("model_failed") from None
    finally:
        chunks.close()
    if finish_reason is None:
        # Every whole stream says why it stopped. Without it the stream was cut short, or the body
        # was not a stream at all (one without events reads as empty): not an answer to allow.
        raise UpstreamFailed("model_malformed_answer")
    prompt_tokens, completion_tokens = usage if usage is not None else (None, None)
    yield ModelStreamEnd(
        finish_reason=finish_reason, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
    )


def _usage_of(prompt_tokens: object, completion_tokens: object) -> tuple[int, int]:
    if not isinstance(prompt_tokens, int) or not isinstance(completion_tokens, int):
        raise UpstreamFailed("model_malformed_answer")
    if prompt_tokens < 0 or completion_tokens < 0:
        raise UpstreamFailed("model_malformed_answer")
    return prompt_tokens, completion_tokens


def raise_upstream(error: openai.OpenAIError) -> NoReturn:
    """The project's error for an SDK failure; the provider's body and message go no further."""
    if isinstance(error, openai.APITimeoutError):
        raise UpstreamTimeout("model_timeout") from None
    if isinstance(error, openai.RateLimitError):
        raise UpstreamRateLimited("model_rate_limited", retry_after_seconds(error.response)) from None
    # Status errors include 4xx from a request the provider refused: still not the client's to see.
    raise UpstreamFailed("model_failed") from None


def answer_from(completion: dict[str, Any]) -> ModelAnswer:
    """Validate the provider's answer shape; anything unexpected is an upstream failure."""
    choices = completion.get("choices")
    if not isinstance(choices, list) or not choices:
        raise UpstreamFailed("model_malformed_answer")
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    text = message.get("content") if isinstance(message, dict) else None
    if not isinstance(text, str):
        raise UpstreamFailed("model_malformed_answer")
    usage = completion.get("usage") or {}
    prompt_tokens = usage.get("prompt_tokens")
    completion_tokens = usage.get("completion_tokens")
    if not isinstance(prompt_tokens, int) or not isinstance(completion_tokens, int):
        raise UpstreamFailed("model_malformed_answer")
    if prompt_tokens < 0 or completion_tokens < 0:
        raise UpstreamFailed("model_malformed_answer")
    return ModelAnswer(
        completion=completion, text=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
    )


def retry_after_seconds(response: httpx2.Response | None) -> int:
    """The provider's Retry-After (seconds form), bounded; a default when absent or unparsable."""
    value = response.headers.get("retry-after") if response is not None else None
    try:
        seconds = math.ceil(float(value)) if value is not None else DEFAULT_RETRY_AFTER_SECONDS
    except (ValueError, OverflowError):
        seconds = DEFAULT_RETRY_AFTER_SECONDS
    return min(max(seconds, 1), MAX_RETRY_AFTER_SECONDS)
