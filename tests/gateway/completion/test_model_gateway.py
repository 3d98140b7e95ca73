"""The model adapter: requests as sent, answers validated, upstream failures mapped and never echoed."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx2
import openai
import pytest

from secure_ai_gateway.adapters.openai.chat import ChatModel, answer_from, openai_client, retry_after_seconds
from secure_ai_protocol.errors import UpstreamFailed, UpstreamRateLimited, UpstreamTimeout
from secure_ai_protocol.wire.chat import ChatCompletionRequest

REQUEST = ChatCompletionRequest.model_validate(
    {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
)
ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-test",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


def model_answering(handler: Callable[[httpx2.Request], httpx2.Response]) -> ChatModel:
    client = openai.OpenAI(
        api_key="sk-test",
        base_url="http://model.test/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    return ChatModel(client)


def test_the_request_is_forwarded_without_unset_fields_and_the_answer_returned() -> None:
    sent: list[dict[str, object]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content))
        return httpx2.Response(200, json=ANSWER)

    answer = model_answering(handler).complete(REQUEST)
    assert sent == [{"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}]
    assert (answer.text, answer.total_tokens) == ("hello", 4)


def test_an_upstream_rate_limit_carries_its_retry_after() -> None:
    model = model_answering(
        lambda _: httpx2.Response(429, headers={"retry-after": "7"}, json={"error": "slow"})
    )
    with pytest.raises(UpstreamRateLimited) as refused:
        model.complete(REQUEST)
    assert refused.value.retry_after_seconds == 7


@pytest.mark.parametrize("status", [400, 401, 404, 500, 503])
def test_other_upstream_statuses_are_a_bad_gateway_without_the_upstream_body(status: int) -> None:
    model = model_answering(
        lambda _: httpx2.Response(status, json={"error": {"message": "SECRET-UPSTREAM-TEXT"}})
    )
    with pytest.raises(UpstreamFailed) as refused:
        model.complete(REQUEST)
    assert "SECRET-UPSTREAM-TEXT" not in repr(refused.value)
    assert refused.value.__cause__ is None


def test_a_connection_failure_is_a_bad_gateway() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused", request=request)

    with pytest.raises(UpstreamFailed):
        model_answering(handler).complete(REQUEST)


def test_a_timeout_is_a_gateway_timeout() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("slow", request=request)

    with pytest.raises(UpstreamTimeout):
        model_answering(handler).complete(REQUEST)


def test_an_answer_nested_beyond_the_bound_is_a_bad_gateway_before_the_sdk_parses_it() -> None:
    deep = json.dumps(ANSWER).replace('"hello"}', '"hello", "extra": ' + "[" * 100_000 + "]" * 100_000 + "}")
    model = model_answering(lambda _: httpx2.Response(200, content=deep.encode()))
    with pytest.raises(UpstreamFailed) as refused:
        model.complete(REQUEST)
    assert refused.value.reason == "model_answer_too_deep"


@pytest.mark.parametrize(
    "completion",
    [
        {},
        {"choices": []},
        {"choices": ["text"]},
        {"choices": [{"message": {"content": None}}], "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
        {"choices": [{"message": {"content": "x"}}]},
        {"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": -1, "completion_tokens": 1}},
    ],
)
def test_a_malformed_answer_is_a_bad_gateway(completion: dict[str, object]) -> None:
    with pytest.raises(UpstreamFailed):
        answer_from(completion)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, 5), ("2.2", 3), ("0", 1), ("nan", 5), ("inf", 5), ("99999", 3600), ("soon", 5)],
)
def test_the_retry_after_is_bounded_and_defaulted(header: str | None, seconds: int) -> None:
    response = httpx2.Response(429, headers={} if header is None else {"retry-after": header})
    assert retry_after_seconds(response) == seconds


def test_the_client_has_explicit_timeout_and_retries() -> None:
    client = openai_client(api_key="k", base_url="http://model.test/v1", timeout_seconds=20, max_retries=1)
    assert client.max_retries == 1
    assert isinstance(client.timeout, httpx2.Timeout)
    assert client.timeout.read == 20
