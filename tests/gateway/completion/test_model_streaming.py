"""The model adapter's streamed call: `stream` and `include_usage` sent, deltas and usage read, failures
mapped before the first delta and after it, the provider's text never echoed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx2
import openai
import pytest

from secure_ai_gateway.adapters.openai.chat import ChatModel
from secure_ai_gateway.ports import ModelDelta, ModelStreamEnd
from secure_ai_protocol.errors import UpstreamFailed, UpstreamRateLimited, UpstreamTimeout
from secure_ai_protocol.wire.chat import ChatCompletionRequest

REQUEST = ChatCompletionRequest.model_validate(
    {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5, "stream": True}
)


def chunk(content: str | None = None, *, finish: str | None = None, usage: bool = False) -> dict[str, object]:
    choices = [] if usage else [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]
    document: dict[str, object] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-test",
        "choices": choices,
    }
    if usage:
        document["usage"] = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    return document


def sse(*documents: dict[str, object] | str) -> bytes:
    lines = [f"data: {d if isinstance(d, str) else json.dumps(d)}\n\n" for d in documents]
    return "".join(lines).encode()


def model_answering(handler: Callable[[httpx2.Request], httpx2.Response]) -> ChatModel:
    client = openai.OpenAI(
        api_key="sk-test",
        base_url="http://model.test/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    return ChatModel(client)


def streaming(body: bytes | Iterator[bytes]) -> Callable[[httpx2.Request], httpx2.Response]:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    return handler


def test_the_stream_is_asked_for_with_usage_and_yields_deltas_then_the_end() -> None:
    sent: list[dict[str, object]] = []
    body = sse(chunk("Hel"), chunk("lo"), chunk(None, finish="stop"), chunk(usage=True), "[DONE]")

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content))
        return streaming(body)(request)

    pieces = list(model_answering(handler).stream(REQUEST))
    assert sent[0]["stream"] is True
    assert sent[0]["stream_options"] == {"include_usage": True}
    assert pieces == [ModelDelta("Hel"), ModelDelta("lo"), ModelStreamEnd("stop", 3, 2)]


def test_a_stream_without_usage_ends_without_it() -> None:
    body = sse(chunk("Hi", finish="stop"), "[DONE]")
    pieces = list(model_answering(streaming(body)).stream(REQUEST))
    assert pieces[-1] == ModelStreamEnd("stop", None, None)
    assert pieces[-1].total_tokens is None


@pytest.mark.parametrize(
    ("status", "kind"), [(429, UpstreamRateLimited), (500, UpstreamFailed), (401, UpstreamFailed)]
)
def test_a_refusal_before_the_stream_raises_at_the_call_without_the_providers_text(
    status: int, kind: type[Exception]
) -> None:
    model = model_answering(lambda _: httpx2.Response(status, json={"error": {"message": "SECRET-UPSTREAM"}}))
    with pytest.raises(kind) as raised:
        model.stream(REQUEST)
    assert "SECRET-UPSTREAM" not in repr(raised.value)


def test_a_timeout_before_the_stream_is_a_gateway_timeout() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("slow", request=request)

    with pytest.raises(UpstreamTimeout):
        model_answering(handler).stream(REQUEST)


def test_an_error_event_mid_stream_raises_a_model_failure_after_the_deltas_before_it() -> None:
    body = sse(chunk("Hel"), {"error": {"message": "SECRET-UPSTREAM", "type": "server_error"}})
    pieces = model_answering(streaming(body)).stream(REQUEST)
    assert next(pieces) == ModelDelta("Hel")
    with pytest.raises(UpstreamFailed) as raised:
        next(pieces)
    assert "SECRET-UPSTREAM" not in repr(raised.value)


def test_a_connection_cut_mid_stream_raises_a_model_failure() -> None:
    def body() -> Iterator[bytes]:
        yield sse(chunk("Hel"))
        raise httpx2.ReadError("connection reset")

    pieces = model_answering(streaming(body())).stream(REQUEST)
    assert next(pieces) == ModelDelta("Hel")
    with pytest.raises(UpstreamFailed) as raised:
        next(pieces)
    assert raised.value.reason == "model_failed"


def test_a_chunk_that_is_not_json_is_a_model_failure() -> None:
    pieces = model_answering(streaming(sse(chunk("Hel"), "{not json"))).stream(REQUEST)
    assert next(pieces) == ModelDelta("Hel")
    with pytest.raises(UpstreamFailed):
        next(pieces)


def test_negative_usage_is_a_malformed_answer() -> None:
    bad = chunk(usage=True)
    bad["usage"] = {"prompt_tokens": -1, "completion_tokens": 2, "total_tokens": 1}
    with pytest.raises(UpstreamFailed) as raised:
        list(model_answering(streaming(sse(chunk("Hi"), bad))).stream(REQUEST))
    assert raised.value.reason == "model_malformed_answer"


def test_only_the_first_choice_is_streamed() -> None:
    other = chunk("other")
    other["choices"] = [{"index": 1, "delta": {"content": "other"}, "finish_reason": None}]
    body = sse(chunk("first"), other, chunk(None, finish="stop"), "[DONE]")
    pieces = list(model_answering(streaming(body)).stream(REQUEST))
    assert [p.text for p in pieces if isinstance(p, ModelDelta)] == ["first"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "chatcmpl-x", "choices": [{"message": ',  # a truncated JSON body, not a stream at all
        b"",  # a 200 with no events
        sse(chunk("Hel"), chunk("lo")),  # deltas, then the body ends: no finish reason, no [DONE]
        sse(chunk("Hel"), "[DONE]"),  # a [DONE] without the finish reason
    ],
    ids=["not-a-stream", "empty", "cut-after-deltas", "done-without-finish"],
)
def test_a_stream_that_ends_without_a_finish_reason_is_a_malformed_answer_not_an_end(body: bytes) -> None:
    # A stream cut short (or a body with no events) must not read as a complete, possibly empty, answer.
    with pytest.raises(UpstreamFailed) as raised:
        list(model_answering(streaming(body)).stream(REQUEST))
    assert raised.value.reason == "model_malformed_answer"


def test_a_read_timing_out_before_the_first_delta_is_a_gateway_timeout_as_for_a_buffered_answer() -> None:
    def body() -> Iterator[bytes]:
        raise httpx2.ReadTimeout("stalled after the headers")
        yield b""  # pragma: no cover - a generator

    with pytest.raises(UpstreamTimeout) as raised:
        next(model_answering(streaming(body())).stream(REQUEST))
    assert raised.value.reason == "model_timeout"
