"""The validator: the signed API route, the SQS batch path, idempotency, storage and publication."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest

from secure_ai_gateway.adapters.aws_clients import kms_client
from secure_ai_local.provision import ProvisionedStack
from secure_ai_protocol.envelope.requests import seal_request_server
from secure_ai_protocol.envelope.responses import open_response
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE
from secure_ai_protocol.signing.content_digest import compute_content_digest
from tests.conftest import Client
from tests.fake_provider import FakeProvider
from tests.gateway_events import SignedCall, proxy_event
from tests.integration.validator.conftest import sqs_event, verdict_row

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
EMAIL_TEXT = "Write to jane.doe@example.com for details."
# In AWS's formats but not its documentation examples (…EXAMPLE), which are not secrets.
ACCESS_KEY = "AKIA" + "Q3ZR7TWX5MBN2KDP"
SECRET_KEY = "Rk3vQ9/tZp2Lx8WmNc4Y" + "bH7sJd1Ge5Uf0Ia6OqTy"
SECRET_TEXT = f"The key is {ACCESS_KEY} and aws_secret_access_key = {SECRET_KEY}."


def api_call(
    client: Client, body: bytes, *, content_type: str = "application/json", scopes: str = "output:validate"
) -> tuple[SignedCall, dict[str, str]]:
    call = SignedCall(
        secret=client.secret,
        key_id=client.key_id,
        created=int(time.time()),
        nonce=secrets.token_urlsafe(16),
        resource="/v1/validate",
        body=body,
        content_type=content_type,
    )
    context = {
        "client_id": client.client_id,
        "key_id": client.key_id,
        "nonce": call.nonce,
        "content_digest": compute_content_digest(body),
        "scopes": scopes,
    }
    return call, context


def validate_json(
    validator: Invoke, client: Client, document: dict[str, Any], **kwargs: Any
) -> dict[str, Any]:
    call, context = api_call(client, json.dumps(document).encode(), **kwargs)
    return validator(proxy_event(call, context))


def test_the_api_returns_a_verdict_with_the_redacted_text(validator: Invoke, client: Client) -> None:
    response = validate_json(validator, client, {"text": EMAIL_TEXT, "id": "api-1"})
    verdict = json.loads(response["body"])
    assert response["statusCode"] == 200
    assert verdict["decision"] == "redact"
    assert "jane.doe@example.com" not in verdict["redacted_text"]


def test_the_stored_verdict_and_the_published_event_carry_no_plaintext(
    validator: Invoke,
    client: Client,
    aws_stack: ProvisionedStack,
    published: Callable[[], list[dict[str, Any]]],
) -> None:
    validate_json(validator, client, {"text": SECRET_TEXT, "id": "api-2"})
    row = verdict_row(aws_stack, "app-1/api-2")
    events = published()
    assert row is not None
    assert row["decision"] == {"S": "block"}
    assert row["expires_at"]["N"]
    assert [event["detail-type"] for event in events] == ["OutputBlocked"]
    for stored in (json.dumps(row), json.dumps(events)):
        assert ACCESS_KEY not in stored
        assert SECRET_KEY[:12] not in stored
        assert "AKIA" not in stored


def test_an_encrypted_request_gets_a_sealed_verdict(
    validator: Invoke, client: Client, aws_stack: ProvisionedStack
) -> None:
    resp_key = secrets.token_bytes(32)
    nonce = secrets.token_urlsafe(16)
    plaintext = json.dumps({"resp_key": base64.b64encode(resp_key).decode(), "request": {"text": EMAIL_TEXT}})
    ciphertext = seal_request_server(
        plaintext.encode(),
        kms_key_arn=aws_stack.attribute("RequestKey", "Arn"),
        client_id=client.client_id,
        req_id=nonce,
        route="/v1/validate",
        kms_client=kms_client(),
    )
    call, context = api_call(client, ciphertext, content_type=ENVELOPE_CONTENT_TYPE)
    call.nonce = nonce
    context["nonce"] = nonce
    response = validator(proxy_event(call, context, binary=True))
    assert response["statusCode"] == 200
    verdict = json.loads(open_response(base64.b64decode(response["body"]), resp_key=resp_key, req_id=nonce))
    assert verdict["decision"] == "redact"


@pytest.mark.parametrize("accept", ["", "*/*", "application/json"])
def test_an_envelope_request_without_the_envelope_type_first_in_accept_is_a_406(
    validator: Invoke, client: Client, accept: str
) -> None:
    # Not even an envelope: a 406 comes before the body is read or opened.
    call, context = api_call(client, b"not an envelope", content_type=ENVELOPE_CONTENT_TYPE)
    call.accept = accept
    response = validator(proxy_event(call, context, binary=True))
    assert response["statusCode"] == 406
    assert json.loads(response["body"])["error"] == "not_acceptable"


def test_a_json_request_needs_no_particular_accept(validator: Invoke, client: Client) -> None:
    call, context = api_call(client, json.dumps({"text": "hi"}).encode(), content_type="application/json")
    call.accept = ""
    assert validator(proxy_event(call, context))["statusCode"] == 200


def test_a_client_without_the_validate_scope_is_forbidden(validator: Invoke, client: Client) -> None:
    assert validate_json(validator, client, {"text": "hi"}, scopes="chat:complete")["statusCode"] == 403


def test_an_unsupported_content_type_is_a_bad_request(validator: Invoke, client: Client) -> None:
    call, context = api_call(client, b"text=hi", content_type="application/x-www-form-urlencoded")
    assert validator(proxy_event(call, context))["statusCode"] == 400


def test_an_eventbridge_envelope_is_not_accepted_on_the_api(validator: Invoke, client: Client) -> None:
    document = {"detail-type": "ValidateOutput", "detail": {"text": "hi"}}
    assert validate_json(validator, client, document)["statusCode"] == 400


def test_an_oversized_api_body_is_a_413(validator: Invoke, client: Client) -> None:
    response = validate_json(validator, client, {"text": "x" * (2 * 1024 * 1024 + 1)})
    assert response["statusCode"] == 413


def test_a_failing_moderation_service_blocks_visibly(
    validator: Invoke, client: Client, provider: FakeProvider
) -> None:
    provider.moderation_status = 503
    verdict = json.loads(validate_json(validator, client, {"text": "A harmless sentence."})["body"])
    assert verdict["decision"] == "block"
    assert verdict["unavailable"] == {"moderation": "error"}


def test_a_failing_moderation_service_on_the_api_is_counted_with_its_decision(
    validator: Invoke, client: Client, provider: FakeProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    provider.moderation_status = 503
    capsys.readouterr()
    assert validate_json(validator, client, {"text": "A harmless sentence."})["statusCode"] == 200
    published = emitted_metrics(capsys.readouterr().out)
    assert {"ValidationBlock", "ScreenDetectorUnavailable"} <= published
    assert "ScreenFailedOpen" not in published


def test_a_queued_text_is_counted_once_however_often_it_is_delivered(
    validator: Invoke, capsys: pytest.CaptureFixture[str]
) -> None:
    event = sqs_event(json.dumps({"text": "Hello there.", "id": "count-1"}), message_ids=["m-count"])
    capsys.readouterr()
    validator(event)
    validator(event)
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [document["ValidationAllow"] for document in documents if "ValidationAllow" in document] == [[1.0]]


def test_a_batch_reports_only_its_malformed_and_failing_records(
    validator: Invoke, aws_stack: ProvisionedStack
) -> None:
    event = sqs_event(
        json.dumps({"text": "All good here.", "id": "q-good"}),
        "not json at all",
        json.dumps({"text": "fine", "id": "q-unknown-policy", "policy_id": "no-such-policy"}),
        message_ids=["m-good", "m-malformed", "m-failing"],
    )
    response = validator(event)
    assert response == {
        "batchItemFailures": [{"itemIdentifier": "m-malformed"}, {"itemIdentifier": "m-failing"}]
    }
    assert verdict_row(aws_stack, "q-good") is not None


def test_an_eventbridge_event_on_the_queue_is_screened(
    validator: Invoke, aws_stack: ProvisionedStack
) -> None:
    body = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "ValidateOutput",
        "source": "team.app",
        "account": "123456789012",
        "time": "2026-11-27T01:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"text": SECRET_TEXT, "id": "eb-1"},
    }
    assert validator(sqs_event(json.dumps(body))) == {"batchItemFailures": []}
    row = verdict_row(aws_stack, "eb-1")
    assert row is not None
    assert row["decision"] == {"S": "block"}


def test_a_redelivered_message_is_screened_and_published_once(
    validator: Invoke, published: Callable[[], list[dict[str, Any]]], provider: FakeProvider
) -> None:
    moderated: list[int] = []
    original = provider.handle

    def counting(request: Any) -> Any:
        moderated.append(1)
        return original(request)

    provider.handle = counting  # type: ignore[method-assign]
    event = sqs_event(json.dumps({"text": "Hello there.", "id": "dup-1"}), message_ids=["m-dup"])
    assert validator(event) == {"batchItemFailures": []}
    assert validator(event) == {"batchItemFailures": []}
    assert len(moderated) == 1
    assert len(published()) == 1


def test_a_message_without_an_id_is_stored_under_its_message_id(
    validator: Invoke, aws_stack: ProvisionedStack
) -> None:
    validator(sqs_event(json.dumps({"text": "no id"}), message_ids=["m-anonymous"]))
    assert verdict_row(aws_stack, "m-anonymous") is not None


def test_nothing_screened_reaches_the_logs(
    validator: Invoke, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    validate_json(validator, client, {"text": "VALIDATE-SENTINEL-99 " + SECRET_TEXT})
    validator(sqs_event(json.dumps({"text": "QUEUE-SENTINEL-98 " + EMAIL_TEXT})))
    output = capsys.readouterr()
    logs = output.out + output.err
    for marker in (
        "VALIDATE-SENTINEL-99",
        "QUEUE-SENTINEL-98",
        ACCESS_KEY,
        "jane.doe@example.com",
    ):
        assert marker not in logs


def test_an_unknown_policy_named_by_the_caller_is_a_bad_request(validator: Invoke, client: Client) -> None:
    # Found by schemathesis: the caller names the policy, so an unknown one is a 400, not a 500.
    response = validate_json(validator, client, {"text": "hello", "policy_id": "nope"})
    assert (response["statusCode"], json.loads(response["body"])["error"]) == (400, "bad_request")


def test_api_verdicts_are_kept_per_client_so_one_cannot_overwrite_another(
    validator: Invoke, new_client: Callable[..., Client], aws_stack: ProvisionedStack
) -> None:
    first, second = new_client("app-a"), new_client("app-b")
    validate_json(validator, first, {"text": SECRET_TEXT, "id": "shared-id"})
    validate_json(validator, second, {"text": "Nothing to see.", "id": "shared-id"})
    first_row, second_row = (
        verdict_row(aws_stack, "app-a/shared-id"),
        verdict_row(aws_stack, "app-b/shared-id"),
    )
    assert first_row is not None
    assert second_row is not None
    assert (first_row["decision"], second_row["decision"]) == ({"S": "block"}, {"S": "allow"})


def emitted_metrics(output: str) -> set[str]:
    """Names of the metrics in the EMF documents printed to stdout."""
    names: set[str] = set()
    for line in output.splitlines():
        if '"_aws"' in line:
            for directive in json.loads(line)["_aws"]["CloudWatchMetrics"]:
                names |= {metric["Name"] for metric in directive["Metrics"]}
    return names
