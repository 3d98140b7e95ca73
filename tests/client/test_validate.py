"""`validate`: a signed JSON call, or sealed both ways when `encrypted`."""

from __future__ import annotations

import json
from collections.abc import Callable

from secure_ai_client.client import SecureAIClient
from tests.client.fake_gateway import FakeGateway

MakeClient = Callable[..., SecureAIClient]


def test_a_plain_validation_is_signed_json_with_only_the_fields_given(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    verdict = make_client().validate("some model output")

    (request,) = gateway.requests
    assert request.url.path == "/prod/v1/validate"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert json.loads(request.content) == {"text": "some model output"}
    assert len(gateway.signatures) == 1
    assert verdict.decision == "allow"
    assert verdict.policy_id == "default"


def test_a_policy_and_schema_are_sent_when_given(make_client: MakeClient, gateway: FakeGateway) -> None:
    schema = {"type": "object", "required": ["answer"]}

    verdict = make_client().validate("{}", policy_id="strict", schema=schema)

    assert json.loads(gateway.requests[0].content) == {"text": "{}", "policy_id": "strict", "schema": schema}
    assert verdict.policy_id == "strict"


def test_an_encrypted_validation_is_sealed_for_the_validate_route(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    verdict = make_client().validate("some model output", policy_id="strict", encrypted=True)

    (opened,) = gateway.opened
    assert opened.route == "/v1/validate"
    assert opened.plaintext["request"] == {"text": "some model output", "policy_id": "strict"}
    assert gateway.requests[0].headers["accept"] == "application/vnd.secure-ai.envelope"
    assert verdict.decision == "allow"


def test_an_encrypted_validation_works_in_mobile_mode(make_client: MakeClient, gateway: FakeGateway) -> None:
    verdict = make_client("mobile").validate("some model output", encrypted=True)

    assert gateway.opened[0].route == "/v1/validate"
    assert verdict.decision == "allow"
