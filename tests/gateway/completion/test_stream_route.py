"""The buffered route answers whole: `"stream": true` belongs on the streaming route."""

from __future__ import annotations

from secure_ai_protocol.errors import BadRequest
from tests.gateway.completion.fakes import Harness, chat


def test_a_request_asking_for_a_stream_on_the_buffered_route_is_refused_before_any_model_call() -> None:
    harness = Harness()
    refusal = harness.refusal(chat("Hello", stream=True))
    assert isinstance(refusal, BadRequest)
    assert refusal.reason == "stream_on_buffered_route"
    assert harness.model.requests == []
    assert harness.ledger.reserved == []


def test_stream_false_is_the_buffered_answer() -> None:
    assert Harness().complete(chat("Hello", stream=False))["completion"]["choices"][0]["message"]["content"]
