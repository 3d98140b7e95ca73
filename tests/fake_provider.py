"""A programmable OpenAI-compatible provider behind httpx2.MockTransport, and the fixture installing it.

A request with `"stream": true` is answered as OpenAI streams: `chat.completion.chunk` events of
`stream_piece_chars` characters each, one with the finish reason, one with the usage when
`stream_options.include_usage` asks for it, then `data: [DONE]`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import httpx2
import openai
import pytest

from secure_ai_gateway.adapters.openai import access as openai_access

STREAM_HEADERS: Final = {"content-type": "text/event-stream"}
USAGE: Final = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


@dataclass
class FakeProvider:
    """An OpenAI-compatible provider: records what it was sent, answers as told."""

    answer: str = "Hello from the model."
    chat_status: int = 200
    moderation_status: int = 200
    moderation_scores: dict[str, float] = field(default_factory=dict)
    retry_after: str | None = None
    timeout: bool = False
    stream_piece_chars: int = 4
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
        if body.get("stream") is True:
            events = [*self.delta_events(body), *self.end_events(body)]
            return httpx2.Response(200, headers=STREAM_HEADERS, content=b"".join(events))
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
                "usage": USAGE,
            },
        )

    def pieces(self) -> list[str]:
        """The answer cut as it is streamed."""
        size = self.stream_piece_chars
        return [self.answer[start : start + size] for start in range(0, len(self.answer), size)]

    def delta_events(self, request: Mapping[str, Any]) -> list[bytes]:
        """The SSE events carrying the answer's pieces, in order."""
        return [sse(chunk(request, {"index": 0, "delta": {"content": piece}})) for piece in self.pieces()]

    @staticmethod
    def end_events(request: Mapping[str, Any]) -> list[bytes]:
        """The finish reason, the usage if asked for, and the end of the stream."""
        events = [sse(chunk(request, {"index": 0, "delta": {}, "finish_reason": "stop"}))]
        if (request.get("stream_options") or {}).get("include_usage"):
            events.append(sse({**chunk(request), "usage": USAGE}))
        return [*events, b"data: [DONE]\n\n"]


def chunk(request: Mapping[str, Any], *choices: dict[str, Any]) -> dict[str, Any]:
    """One `chat.completion.chunk` of a streamed answer to `request`."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": request["model"],
        "choices": list(choices),
    }


def sse(document: Mapping[str, Any] | str) -> bytes:
    """One server-sent event whose data is `document` (JSON unless already text)."""
    data = document if isinstance(document, str) else json.dumps(document)
    return f"data: {data}\n\n".encode()


def streamed(events: Iterator[bytes]) -> httpx2.Response:
    """A 200 streamed answer whose body is read from `events` as the client reads it (lazily)."""
    return httpx2.Response(200, headers=STREAM_HEADERS, content=events)


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
