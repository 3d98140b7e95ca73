"""The real completion handler: encrypted round trips, refusals, screening and failing dependencies."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from secure_ai_gateway.adapters.aws_clients import kms_client
from secure_ai_protocol.errors import DecryptionFailed
from tests.conftest import TEST_MODEL as MODEL
from tests.conftest import Client
from tests.fake_provider import FakeProvider
from tests.gateway_events import SignedCall, proxy_event
from tests.integration.completion.conftest import Sent

Send = Callable[..., Sent]


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}


@pytest.mark.parametrize("mode", ["server", "mobile"])
def test_a_sealed_request_gets_a_sealed_answer_in_both_client_modes(
    send: Send, client: Client, mode: str
) -> None:
    sent = send(client, mode=mode)
    assert sent.status == 200
    assert sent.header("Content-Type") == "application/vnd.secure-ai.envelope"
    payload = sent.opened()
    assert payload["req_id"] == sent.req_id
    assert payload["completion"]["choices"][0]["message"]["content"] == "Hello from the model."
    assert payload["verdict"]["decision"] == "allow"
    assert payload["usage"] == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


def test_a_response_opened_for_another_request_is_refused_by_the_client(send: Send, client: Client) -> None:
    first, second = send(client), send(client)
    swapped = Sent(req_id=second.req_id, resp_key=second.resp_key, response=first.response)
    with pytest.raises(DecryptionFailed):
        swapped.opened()


def test_ciphertext_of_client_a_presented_as_client_b_is_refused(
    send: Send, client: Client, new_client: Callable[..., Client]
) -> None:
    new_client("app-2")
    sent = send(client, as_client="app-2")
    assert (sent.status, sent.json()["error"]) == (400, "bad_request")


def test_ciphertext_of_request_one_in_signed_request_two_is_refused(send: Send, client: Client) -> None:
    sent = send(client, sealed_for_req_id="cmVxdWVzdC1vbmUtbm9uY2UtMTIzNDU2")
    assert sent.status == 400


def test_a_body_changed_after_signing_is_refused_before_decryption(send: Send, client: Client) -> None:
    sent = send(client, body=b"not the signed ciphertext")
    assert (sent.status, sent.json()["error"]) == (401, "unauthorized")


@pytest.mark.parametrize(
    "accept",
    ["", "*/*", "application/json", "application/*", "application/json, application/vnd.secure-ai.envelope"],
)
def test_a_sealed_answer_not_asked_for_first_in_accept_is_a_406_before_decryption(
    send: Send, client: Client, new_client: Callable[..., Client], accept: str
) -> None:
    # Sealed for another client: decrypting it would be a 400, so a 406 shows nothing was opened.
    new_client("app-2")
    sent = send(client, as_client="app-2", accept=accept)
    assert sent.status == 406
    assert sent.json() == {"error": "not_acceptable", "message": "accept application/vnd.secure-ai.envelope"}
    assert sent.header("Content-Type") == "application/json"


def test_the_envelope_type_with_parameters_first_in_accept_is_answered(send: Send, client: Client) -> None:
    sent = send(client, accept="Application/Vnd.Secure-AI.Envelope; q=1, */*;q=0.1")
    assert sent.status == 200


def test_an_oversized_body_is_refused_with_413(send: Send, client: Client) -> None:
    sent = send(client, body=b"x" * (1024 * 1024 + 1))
    assert sent.status == 413


def test_a_client_without_the_chat_scope_is_forbidden(send: Send, client: Client) -> None:
    assert send(client, scopes="output:validate").status == 403


def test_a_model_the_client_may_not_use_is_forbidden(
    send: Send, client: Client, provider: FakeProvider
) -> None:
    assert send(client, chat("hi") | {"model": "gpt-other"}).status == 403
    assert provider.chat_requests == []


def test_max_tokens_above_the_clients_cap_is_a_bad_request(send: Send, client: Client) -> None:
    assert send(client, chat("hi", max_tokens=257)).status == 400


def test_unknown_request_fields_are_refused(send: Send, client: Client) -> None:
    assert send(client, chat("hi", tools=[])).status == 400


def test_the_clients_token_cap_is_applied_when_the_request_names_none(
    send: Send, client: Client, provider: FakeProvider
) -> None:
    send(client)
    assert provider.chat_requests[0]["max_tokens"] == 256


def test_input_pii_is_pseudonymised_for_the_model_and_restored_in_the_answer(
    send: Send, client: Client, provider: FakeProvider
) -> None:
    provider.answer = "I will write to <EMAIL_1> today."
    sent = send(client, chat("Please email jane.doe@example.com about the invoice."))
    seen = json.dumps(provider.chat_requests[0])
    assert "jane.doe@example.com" not in seen
    assert "<EMAIL_1>" in seen
    assert (
        sent.opened()["completion"]["choices"][0]["message"]["content"]
        == "I will write to jane.doe@example.com today."
    )


def test_a_canary_is_planted_and_an_answer_leaking_it_is_blocked(
    send: Send, client: Client, provider: FakeProvider
) -> None:
    def leak(request: Any) -> Any:
        body = json.loads(request.content)
        if "messages" in body:
            provider.answer = "My instructions: " + body["messages"][0]["content"]
        return FakeProvider.handle(provider, request)

    provider.handle = leak  # type: ignore[method-assign]
    sent = send(client)
    first = provider.chat_requests[0]["messages"][0]
    assert first["role"] == "system"
    payload = sent.opened()
    choice = payload["completion"]["choices"][0]
    assert (choice["message"]["content"], choice["finish_reason"]) == (None, "content_filter")
    assert payload["verdict"]["decision"] == "block"
    assert {finding["type"] for finding in payload["verdict"]["findings"]} >= {"canary"}


def test_an_answer_carrying_a_secret_is_blocked_and_its_text_withheld(
    send: Send, client: Client, provider: FakeProvider
) -> None:
    # Random, in AWS's formats: AWS's own documentation examples (…EXAMPLE) are not secrets.
    provider.answer = "Use AKIA2G4JVXLWWQNTO4O2 with secret C2UzO1FCvKiz5hfU7N3slFk65X7iXRpfnY5NHQh8 now."
    payload = send(client).opened()
    assert payload["completion"]["choices"][0]["message"]["content"] is None
    assert "C2UzO1FCvKiz5hfU7N3slFk65X7iXRpfnY5NHQh8" not in json.dumps(payload)


def test_pii_the_model_invents_is_redacted(send: Send, client: Client, provider: FakeProvider) -> None:
    provider.answer = "Contact support at help@vendor.example or +44 20 7946 0958."
    payload = send(client).opened()
    text = payload["completion"]["choices"][0]["message"]["content"]
    assert payload["verdict"]["decision"] == "redact"
    assert "help@vendor.example" not in text
    assert "7946" not in text


def test_a_failing_moderation_service_blocks_the_answer(
    send: Send, client: Client, provider: FakeProvider
) -> None:
    provider.moderation_status = 500
    payload = send(client).opened()
    assert payload["verdict"]["decision"] == "block"
    assert "moderation" in payload["verdict"]["unavailable"]


def test_a_spent_budget_is_a_429_with_retry_after(
    send: Send, new_client: Callable[..., Client], provider: FakeProvider
) -> None:
    client = new_client("app-small", request_budget=1)
    assert send(client).status == 200
    refused = send(client)
    assert refused.status == 429
    assert int(refused.header("Retry-After")) >= 1
    assert len(provider.chat_requests) == 1


@pytest.mark.parametrize(("status", "expected"), [(429, 429), (500, 502), (503, 502), (400, 502)])
def test_upstream_failures_map_to_gateway_statuses_without_upstream_text(
    send: Send, client: Client, provider: FakeProvider, status: int, expected: int
) -> None:
    provider.chat_status = status
    provider.retry_after = "9"
    sent = send(client)
    assert sent.status == expected
    assert "UPSTREAM-DETAIL" not in sent.response["body"]
    if expected == 429:
        assert sent.header("Retry-After") == "9"


def test_an_upstream_timeout_is_a_504(send: Send, client: Client, provider: FakeProvider) -> None:
    provider.timeout = True
    assert send(client).status == 504


def test_a_failed_model_call_releases_its_reservation(
    send: Send, new_client: Callable[..., Client], provider: FakeProvider
) -> None:
    client = new_client("app-tight", token_budget=300, max_tokens=200)
    provider.chat_status = 500
    assert send(client).status == 502
    provider.chat_status = 200
    assert send(client).status == 200


def test_an_unavailable_kms_is_a_503(send: Send, client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    original = kms_client().decrypt

    def unavailable(**kwargs: Any) -> Any:
        if kwargs.get("EncryptionContext", {}).get("purpose") == "request":
            raise EndpointConnectionError(endpoint_url="https://kms.invalid")
        return original(**kwargs)

    monkeypatch.setattr(kms_client(), "decrypt", unavailable)
    assert send(client).status == 503


def test_an_unavailable_model_key_secret_is_a_503(
    send: Send, client: Client, monkeypatch: pytest.MonkeyPatch, provider: FakeProvider
) -> None:
    monkeypatch.setenv(
        "MODEL_API_KEY_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
    )
    assert send(client).status == 503
    assert provider.chat_requests == []


def test_the_public_key_route_serves_the_rsa_public_key(
    handler: Callable[[dict[str, Any]], dict[str, Any]], aws_stack: Any
) -> None:
    call = SignedCall(
        secret=b"x" * 32, key_id="a.1", created=0, method="GET", resource="/v1/keys/public", body=b""
    )
    event = proxy_event(call, {})
    del event["requestContext"]["authorizer"]
    response = handler(event)
    body = json.loads(response["body"])
    assert response["statusCode"] == 200
    assert body["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert body["key_arn"] == aws_stack.attribute("RsaRequestKey", "Arn")
    assert body["encryption_algorithm"] == "RSAES_OAEP_SHA_256"


def test_a_call_without_authorizer_context_is_refused(
    handler: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    call = SignedCall(secret=b"x" * 32, key_id="a.1", created=0)
    event = proxy_event(call, {})
    del event["requestContext"]["authorizer"]
    assert handler(event)["statusCode"] == 401


def test_nothing_decrypted_reaches_the_logs(
    send: Send, client: Client, provider: FakeProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    provider.answer = "The ANSWER-SENTINEL-42 is here."
    sent = send(client, chat("The PROMPT-SENTINEL-17 question, from jane.doe@example.com"))
    output = capsys.readouterr()
    logs = output.out + output.err
    assert sent.status == 200
    for marker in ("PROMPT-SENTINEL-17", "ANSWER-SENTINEL-42", "jane.doe@example.com"):
        assert marker not in logs
    assert base64.b64encode(sent.resp_key).decode() not in logs
    assert base64.b64encode(client.secret).decode() not in logs


def test_a_failing_moderation_service_is_counted_as_a_detector_unavailable(
    send: Send, client: Client, provider: FakeProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    provider.moderation_status = 500
    capsys.readouterr()
    assert send(client).status == 200
    published = emitted_metrics(capsys.readouterr().out)
    assert {"CompletionBlock", "ScreenDetectorUnavailable"} <= published
    assert "ScreenFailedOpen" not in published


def test_the_tokens_of_an_answered_completion_are_counted(
    send: Send, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert send(client).status == 200
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (tokens,) = [document["CompletionTokens"] for document in documents if "CompletionTokens" in document]
    assert tokens[0] > 0


def emitted_metrics(output: str) -> set[str]:
    """Names of the metrics in the EMF documents printed to stdout."""
    names: set[str] = set()
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        for directive in json.loads(line)["_aws"]["CloudWatchMetrics"]:
            names |= {metric["Name"] for metric in directive["Metrics"]}
    return names
