"""A programmable OpenAI-compatible provider behind httpx2.MockTransport, and the fixture installing it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai
import pytest

from secure_ai_gateway.adapters.openai import access as openai_access


@dataclass
class FakeProvider:
    """An OpenAI-compatible provider: records what it was sent, answers as told."""

    answer: str = "Hello from the model."
    chat_status: int = 200
    moderation_status: int = 200
    moderation_scores: dict[str, float] = field(default_factory=dict)
    retry_after: str | None = None
    timeout: bool = False
    chat_requests: list[dict[str, Any]] = field(default_factory=list)

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        if self.timeout:
            raise httpx2.ReadTimeout("slow", request=request)
        body = json.loads(request.content)
        if request.url.path.endswith("/moderations"):
            if self.moderation_status != 200:
                return httpx2.Response(self.moderation_status, json={"error": {"message": "down"}})
            return httpx2.Response(200, json=moderation_answer(self.moderation_scores))
        self.chat_requests.append(body)
        if self.chat_status != 200:
            headers = {"retry-after": self.retry_after} if self.retry_after else {}
            return httpx2.Response(
                self.chat_status, headers=headers, json={"error": {"message": "UPSTREAM-DETAIL"}}
            )
        return httpx2.Response(
            200,
            json={
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.answer},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
            },
        )


def moderation_answer(scores: dict[str, float]) -> dict[str, Any]:
    categories = ["harassment", "hate", "self-harm", "sexual", "violence", "illicit"]
    all_scores = {name: scores.get(name, 0.0) for name in categories}
    return {
        "id": "modr-test",
        "model": "omni-moderation-latest",
        "results": [
            {
                "flagged": any(value > 0.5 for value in all_scores.values()),
                "categories": {name: value > 0.5 for name, value in all_scores.items()},
                "category_scores": all_scores,
            }
        ],
    }


def install_fake_provider(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    """Make every model client the gateway builds talk to a fresh FakeProvider."""
    fake = FakeProvider()

    def client_for(*, api_key: str, base_url: str, timeout_seconds: float, max_retries: int) -> openai.OpenAI:
        assert api_key, "the API key must come from Secrets Manager"
        return openai.OpenAI(
            api_key=api_key,
            base_url="http://provider.test/v1",
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.MockTransport(fake.handle)),
        )

    monkeypatch.setattr(openai_access, "openai_client", client_for)
    return fake
