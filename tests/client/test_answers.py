"""What the client makes of the gateway's answer: typed results, and answers it must refuse."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from secure_ai_client.client import SecureAIClient
from secure_ai_client.errors import ResponseRejected
from tests.client.fake_gateway import BLOCK_VERDICT, FakeGateway

MakeClient = Callable[..., SecureAIClient]
HELLO = [{"role": "user", "content": "Hello"}]


def test_an_allowed_answer_is_returned_typed(make_client: MakeClient) -> None:
    result = make_client().chat_completions(model="gpt-4o-mini", messages=HELLO)

    assert result.text == "Hello from the fake model."
    assert result.finish_reason == "stop"
    assert result.verdict.decision == "allow"
    assert result.verdict.findings == ()
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.total_tokens) == (
        11,
        7,
        18,
    )
    assert result.completion["model"] == "gpt-4o-mini"
    assert result.blocked is False


def test_a_blocked_answer_has_no_text_and_names_its_finding_types(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    gateway.answer, gateway.verdict = None, BLOCK_VERDICT

    result = make_client().chat_completions(model="gpt-4o-mini", messages=HELLO)

    assert (result.text, result.finish_reason, result.blocked) == (None, "content_filter", True)
    assert result.verdict.finding_types == ("aws_access_key",)
    assert result.verdict.findings[0].sample == "AKIA…[redacted]"


@pytest.mark.parametrize(
    ("knob", "value", "reason"),
    [
        ("seal_for_req_id", "YW5vdGhlci1yZXF1ZXN0LW5vbmNl", "context_mismatch"),
        ("seal_with_key", bytes(32), "decrypt_failed"),
        ("payload_req_id", "YW5vdGhlci1yZXF1ZXN0LW5vbmNl", "req_id_mismatch"),
    ],
)
def test_an_answer_that_is_not_for_this_request_is_refused(
    make_client: MakeClient, gateway: FakeGateway, knob: str, value: object, reason: str
) -> None:
    # Given a gateway that seals its answer for another request, under another key, or names another request
    setattr(gateway, knob, value)

    # Then the client refuses it
    with pytest.raises(ResponseRejected) as refused:
        make_client().chat_completions(model="gpt-4o-mini", messages=HELLO)
    assert refused.value.reason == reason


def test_a_200_that_is_not_an_envelope_is_refused(make_client: MakeClient, gateway: FakeGateway) -> None:
    gateway.canned = httpx.Response(200, json={"completion": "in the clear"})

    with pytest.raises(ResponseRejected) as refused:
        make_client().chat_completions(model="gpt-4o-mini", messages=HELLO)
    assert refused.value.reason == "not_an_envelope"


def test_a_200_envelope_that_is_garbage_is_refused(make_client: MakeClient, gateway: FakeGateway) -> None:
    gateway.canned = httpx.Response(
        200, content=b"not an envelope", headers={"Content-Type": "application/vnd.secure-ai.envelope"}
    )

    with pytest.raises(ResponseRejected) as refused:
        make_client().chat_completions(model="gpt-4o-mini", messages=HELLO)
    assert refused.value.reason == "malformed_envelope"
