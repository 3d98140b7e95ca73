"""Moderation: thresholds over a port's scores, and the openai adapter's error mapping."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
import pytest

from secure_ai_gateway.adapters.openai.moderation import OpenAIModeration
from secure_ai_gateway.screening.errors import ModerationTimeout, ModerationUnavailable
from secure_ai_gateway.screening.moderation import detect_moderation
from secure_ai_gateway.screening.normalise import normalise
from secure_ai_protocol.errors import UpstreamFailed, UpstreamTimeout
from tests.gateway.screening.fakes import ScoringModeration

THRESHOLDS = {"violence": 0.5, "sexual/minors": 0.05}

SCORES = {
    "harassment": 0.01,
    "harassment/threatening": 0.002,
    "hate": 0.001,
    "hate/threatening": 0.0001,
    "illicit": 0.003,
    "illicit/violent": 0.001,
    "self-harm": 0.0002,
    "self-harm/instructions": 0.0001,
    "self-harm/intent": 0.0001,
    "sexual": 0.0003,
    "sexual/minors": 0.00001,
    "violence": 0.91,
    "violence/graphic": 0.2,
}


def categories(scores: dict[str, Any], default: float = 0.5) -> list[str | None]:
    hits = detect_moderation(normalise("some text"), ScoringModeration(scores), THRESHOLDS, default)
    return [hit.label for hit in hits]


def test_a_category_at_or_above_its_threshold_is_a_finding() -> None:
    assert categories({"violence": 0.5, "sexual/minors": 0.04}) == ["violence"]


def test_a_category_without_its_own_threshold_uses_the_default() -> None:
    assert categories({"hate": 0.3}, default=0.25) == ["hate"]


def test_a_moderation_finding_covers_the_whole_text_with_its_score_as_confidence() -> None:
    text = "a\u200bb"
    [hit] = detect_moderation(normalise(text), ScoringModeration({"violence": 0.9}), THRESHOLDS, 0.5)
    assert (hit.start, hit.end, hit.confidence) == (0, len(text), 0.9)


def test_the_port_sees_the_normalised_text() -> None:
    port = ScoringModeration({})
    detect_moderation(normalise("k\u200bill"), port, THRESHOLDS, 0.5)
    assert port.calls == ["kill"]


@pytest.mark.parametrize(
    "scores",
    [
        {"violence": float("nan")},
        {"violence": 1.5},
        {"violence": -0.1},
        {"violence": "high"},
        {"violence": True},
    ],
)
def test_a_malformed_score_makes_moderation_unavailable(scores: dict[str, Any]) -> None:
    with pytest.raises(ModerationUnavailable):
        categories(scores)


def test_a_port_that_answers_no_mapping_makes_moderation_unavailable() -> None:
    class ListPort:
        def moderate(self, text: str) -> Any:
            return [0.9]

    with pytest.raises(ModerationUnavailable):
        detect_moderation(normalise("x"), ListPort(), THRESHOLDS, 0.5)


# ----------------------------------------------------------------- the adapter, over an in-memory transport


def client(handler: Any) -> openai.OpenAI:
    transport = httpx2.MockTransport(handler)
    return openai.OpenAI(
        api_key="test-key-not-real",
        base_url="https://moderation.invalid/v1",
        http_client=httpx2.Client(transport=transport),
    )


def answer(request: httpx2.Request) -> httpx2.Response:
    body = json.loads(request.content)
    assert body == {"model": "omni-moderation-latest", "input": "hello"}
    result = {"flagged": True, "categories": dict.fromkeys(SCORES, False), "category_scores": SCORES}
    return httpx2.Response(200, json={"id": "modr-1", "model": body["model"], "results": [result]})


def test_the_adapter_returns_scores_per_category_with_slash_names() -> None:
    scores = OpenAIModeration(client(answer)).moderate("hello")
    assert scores == SCORES


def test_the_adapter_maps_a_timeout_to_moderation_timeout() -> None:
    def slow(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("slow", request=request)

    with pytest.raises(ModerationTimeout) as raised:
        OpenAIModeration(client(slow)).moderate("hello")
    assert isinstance(raised.value, UpstreamTimeout)
    assert isinstance(raised.value.__cause__, openai.APITimeoutError)


@pytest.mark.parametrize("status", [400, 401, 429, 500, 503])
def test_the_adapter_maps_an_error_status_to_moderation_unavailable(status: int) -> None:
    def failing(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, json={"error": {"message": "nope"}})

    with pytest.raises(ModerationUnavailable) as raised:
        OpenAIModeration(client(failing)).moderate("hello")
    assert isinstance(raised.value, UpstreamFailed)
    assert isinstance(raised.value.__cause__, openai.OpenAIError)


def test_the_adapter_maps_a_malformed_answer_to_moderation_unavailable() -> None:
    def empty(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"id": "modr-1", "model": "omni-moderation-latest", "results": []})

    with pytest.raises(ModerationUnavailable, match="moderation_malformed"):
        OpenAIModeration(client(empty)).moderate("hello")


def test_the_adapter_sends_its_own_timeout() -> None:
    # Given a client with the SDK's default 600 s timeout
    seen: list[Any] = []

    def recording(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.extensions["timeout"])
        return answer(request)

    # When the adapter moderates with a 1.5 s timeout
    OpenAIModeration(client(recording), timeout_seconds=1.5).moderate("hello")
    # Then the request carried 1.5 s, not the SDK default
    assert seen[0]["read"] == 1.5


def test_the_adapter_does_not_retry_by_default() -> None:
    # Given a provider that always fails
    calls: list[int] = []

    def failing(request: httpx2.Request) -> httpx2.Response:
        calls.append(1)
        return httpx2.Response(500, json={"error": {"message": "nope"}})

    # When the adapter moderates (the SDK alone would try three times)
    with pytest.raises(ModerationUnavailable):
        OpenAIModeration(client(failing)).moderate("hello")
    # Then it asked once: a retry belongs to the caller's time budget
    assert calls == [1]
