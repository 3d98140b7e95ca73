"""JSON nested 100,000 deep, at every entry point that parses JSON: refused, never a RecursionError.

Python's json, pydantic and jsonschema recurse once per level. Each entry point bounds the depth
first (secure_ai_protocol.json_bounds): the API answers 400, a queue record fails alone (so SQS retries it,
then its redrive moves it to the dead-letter queue), and a provider nesting its answer is a 502.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Final

import boto3
import httpx2
import pytest

from gateway_validator import app as validator_app
from secure_ai_protocol.errors import BadRequest
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE, JSON_CONTENT_TYPE
from secure_ai_protocol.routes import VALIDATE_ROUTE
from tests.conftest import TEST_MODEL
from tests.fake_provider import FakeProvider
from tests.gateway_events import sqs_batch, sqs_record
from tests.security.harness import (
    Gateway,
    QueueTrigger,
    SignedProxyCall,
    eventbridge_event,
    failed_ids,
    status_of,
)

LEVELS: Final = 100_000
# A request envelope holds at most 512 KiB of plaintext: its schema nests as deep as that allows.
SEALED_SCHEMA_LEVELS: Final = 60_000


def deep_schema(levels: int) -> str:
    """A valid JSON schema whose `not` keywords nest `levels` deep."""
    return '{"not":' * levels + "{}" + "}" * levels


DEEP_DOCUMENTS: Final = {
    "arrays": "[" * LEVELS,
    "objects": '{"a":' * LEVELS,
    "schema": '{"text":"Here is the JSON.","schema":' + deep_schema(LEVELS) + "}",
}
DEEP_REQUESTS: Final = {
    "arrays": "[" * LEVELS,
    "objects": '{"a":' * LEVELS,
    "schema": (
        '{"model":"' + TEST_MODEL + '","messages":[{"role":"user","content":"JSON, please."}],'
        '"response_format":{"type":"json_schema","json_schema":{"name":"deep","schema":'
        + deep_schema(SEALED_SCHEMA_LEVELS)
        + "}}}"
    ),
}
SEALED_DOCUMENTS: Final = {
    **DEEP_REQUESTS,
    "schema": '{"text":"Here is the JSON.","schema":' + deep_schema(SEALED_SCHEMA_LEVELS) + "}",
}


def refusal_reasons(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The `reason` of every JSON log line written so far."""
    reasons = []
    for line in capsys.readouterr().out.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "reason" in record:
            reasons.append(record["reason"])
    return reasons


def sealed_plaintext(gateway: Gateway, request: str) -> bytes:
    """A request envelope's plaintext around a request given as raw JSON text."""
    resp_key = base64.b64encode(gateway.resp_key).decode()
    return ('{"resp_key":"' + resp_key + '","request":' + request + "}").encode()


def sealed_call(gateway: Gateway, plaintext: bytes, route: str) -> SignedProxyCall:
    nonce = secrets.token_urlsafe(16)
    sealed = gateway.seal(plaintext, req_id=nonce, route=route)
    return SignedProxyCall(
        gateway.sign(resource=route, body=sealed, content_type=ENVELOPE_CONTENT_TYPE, nonce=nonce),
        gateway.resp_key,
    )


def depth_refusals_in_last_batch() -> list[str]:
    """The reasons of the records the validator's batch processor failed on in its last batch."""
    return [
        error.reason
        for _, error, _ in validator_app.processor.exceptions
        if isinstance(error, BadRequest) and error.reason == "json_too_deep"
    ]


# -- the API ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(DEEP_DOCUMENTS))
def test_a_deep_json_validate_body_is_a_400(
    gateway: Gateway, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    # Given a signed JSON body nested 100,000 levels deep
    call = gateway.sign(
        resource=VALIDATE_ROUTE, body=DEEP_DOCUMENTS[kind].encode(), content_type=JSON_CONTENT_TYPE
    )

    # When the validator's API route handles it
    response = gateway.validator(SignedProxyCall(call).proxy_event(gateway.client))

    # Then it is refused as a bad request by the depth bound, before any parser recursed
    assert status_of(response) == 400
    assert "json_too_deep" in refusal_reasons(capsys)


@pytest.mark.parametrize("kind", sorted(SEALED_DOCUMENTS))
def test_a_deep_sealed_validate_request_is_a_400(
    gateway: Gateway, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    # Given a validate envelope, correctly sealed and signed, whose request nests as deep as fits
    call = sealed_call(gateway, sealed_plaintext(gateway, SEALED_DOCUMENTS[kind]), VALIDATE_ROUTE)

    # When the validator opens it
    response = gateway.validator(call.proxy_event(gateway.client))

    # Then the plaintext is refused by the depth bound
    assert status_of(response) == 400
    assert "json_too_deep" in refusal_reasons(capsys)


@pytest.mark.parametrize("kind", sorted(DEEP_REQUESTS))
def test_a_deep_sealed_chat_request_is_a_400(
    gateway: Gateway, provider: FakeProvider, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    # Given a chat envelope whose request nests deep (or carries a schema that does)
    call = gateway.chat_call(plaintext=sealed_plaintext(gateway, DEEP_REQUESTS[kind]))

    # When the completion function opens it
    response = gateway.complete(call.proxy_event(gateway.client))

    # Then it is refused by the depth bound, and the model was never called
    assert status_of(response) == 400
    assert "json_too_deep" in refusal_reasons(capsys)
    assert provider.chat_requests == []


def test_a_provider_nesting_its_answer_deep_is_a_502(
    gateway: Gateway, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a model provider whose answer nests 100,000 levels deep inside an otherwise valid completion
    def deep_answer(request: httpx2.Request) -> httpx2.Response:
        provider.chat_requests.append(json.loads(request.content))
        content = (
            '{"id":"chatcmpl-deep","object":"chat.completion","created":1,"model":"' + TEST_MODEL + '",'
            '"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"hi",'
            '"extra":' + "[" * LEVELS + "]" * LEVELS + "}}],"
            '"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}'
        )
        return httpx2.Response(200, content=content.encode(), headers={"content-type": JSON_CONTENT_TYPE})

    monkeypatch.setattr(provider, "handle", deep_answer)

    # When a chat request is answered
    response = gateway.complete(gateway.chat_call().proxy_event(gateway.client))

    # Then the model was asked, and its answer refused as an upstream failure, not a 500
    assert len(provider.chat_requests) == 1
    assert status_of(response) == 502


def test_a_moderation_answer_nesting_deep_blocks_the_text_never_a_500(
    gateway: Gateway, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a moderation provider answering JSON nested 100,000 levels deep
    def deep_moderation(request: httpx2.Request) -> httpx2.Response:
        content = '{"id":"modr-deep","results":' + "[" * LEVELS + "]" * LEVELS + "}"
        return httpx2.Response(200, content=content.encode(), headers={"content-type": JSON_CONTENT_TYPE})

    monkeypatch.setattr(provider, "handle", deep_moderation)

    # When the validator screens a text
    response = gateway.validator(
        gateway.validate_json_call({"text": "A plain sentence."}).proxy_event(gateway.client)
    )

    # Then moderation counts as unavailable, so the text is blocked (the default policy fails closed)
    assert status_of(response) == 200
    assert json.loads(response["body"])["decision"] == "block"


# -- the queue ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(DEEP_DOCUMENTS))
def test_a_deep_queue_message_fails_only_its_own_record(gateway: Gateway, kind: str) -> None:
    # Given a batch holding a message nested 100,000 deep between two good ones
    good = [sqs_record(json.dumps({"text": "fine"}), f"good-{gateway.unique()}") for _ in range(2)]
    deep = sqs_record(DEEP_DOCUMENTS[kind], f"deep-{gateway.unique()}")

    # When the validator processes the batch
    response = gateway.validator(sqs_batch([good[0], deep, good[1]]))

    # Then only the deep record is reported for a retry, refused by the depth bound
    assert failed_ids(response) == [deep["messageId"]]
    assert depth_refusals_in_last_batch() == ["json_too_deep"]


def test_a_deep_eventbridge_detail_fails_its_record(gateway: Gateway) -> None:
    # Given an EventBridge event, as the rule delivers it into the queue, whose detail nests deep
    body = json.dumps(eventbridge_event("DETAIL"), separators=(",", ":")).replace(
        '"DETAIL"', DEEP_DOCUMENTS["objects"]
    )
    record = sqs_record(body, f"event-{gateway.unique()}")

    # When the validator processes it
    response = gateway.validator(sqs_batch([record]))

    # Then the record is reported for a retry, refused by the depth bound
    assert failed_ids(response) == [record["messageId"]]
    assert depth_refusals_in_last_batch() == ["json_too_deep"]


def test_a_deep_queue_message_is_retried_then_dead_lettered(gateway: Gateway) -> None:
    # Given a message nested 100,000 deep on the validation queue (maxReceiveCount is 3)
    sqs = boto3.client("sqs")
    queue_url = gateway.stack.ref("ValidationQueue")
    sent = sqs.send_message(QueueUrl=queue_url, MessageBody=DEEP_DOCUMENTS["arrays"])["MessageId"]
    queue = QueueTrigger(gateway, queue_url, sqs)

    # When the trigger keeps delivering it
    deliveries = [queue.poll() for _ in range(4)]

    # Then it failed three times, and SQS's redrive moved it, whole, to the dead-letter queue
    assert deliveries == [([sent], [sent])] * 3 + [([], [])]
    dead_letters = gateway.stack.ref("ValidationDeadLetterQueue")
    (dead,) = sqs.receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=10).get("Messages", [])
    assert (dead["MessageId"], dead["Body"]) == (sent, DEEP_DOCUMENTS["arrays"])
