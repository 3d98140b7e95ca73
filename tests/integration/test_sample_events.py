"""Every file in events/ reaches its handler and does what it shows (what `sam local invoke -e` feeds)."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway_authorizer import app as authorizer_app
from gateway_completion import app as completion_app
from gateway_validator import app as validator_app
from secure_ai_gateway.adapters.aws_clients import kms_client
from secure_ai_local.provision import ProvisionedStack
from secure_ai_local.sample_events import EVENTS_DIR, Signer, refresh_signed_events
from secure_ai_protocol.envelope.responses import open_response
from tests.conftest import Client
from tests.fake_provider import FakeProvider
from tests.kms_rsa_shim import install_rsa_decrypt
from tests.lambda_context import FakeLambdaContext

EVENT_FILES = {
    "authorizer/request.json": "AuthorizerFunction",
    "completion/chat-completions.json": "CompletionFunction",
    "completion/public-key.json": "CompletionFunction",
    "validator/validate.json": "ValidatorFunction",
    "validator/sqs-batch.json": "ValidatorFunction",
    "validator/sqs-eventbridge.json": "ValidatorFunction",
}
ENVIRONMENTS = (
    authorizer_app.environment,
    completion_app.environment,
    validator_app.environment,
)
HANDLERS = {
    "AuthorizerFunction": authorizer_app.lambda_handler,
    "CompletionFunction": completion_app.lambda_handler,
    "ValidatorFunction": validator_app.lambda_handler,
}


@pytest.fixture
def invoke(
    use_function_environment: Callable[[str], dict[str, str]], provider: FakeProvider
) -> Callable[[str, dict[str, Any]], Any]:
    def run(function: str, event: dict[str, Any]) -> Any:
        use_function_environment(function)
        for environment in ENVIRONMENTS:
            environment.reset()
        install_rsa_decrypt(kms_client())
        return HANDLERS[function](event, FakeLambdaContext(function))

    return run


def load(relative: str, directory: Path = EVENTS_DIR) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((directory / relative).read_text())
    return event


def test_every_sample_event_is_one_a_test_feeds_to_its_handler() -> None:
    present = {str(path.relative_to(EVENTS_DIR)) for path in EVENTS_DIR.rglob("*.json")}
    assert present == set(EVENT_FILES)


def test_the_public_key_event_gets_the_pem(invoke: Callable[..., Any]) -> None:
    response = invoke("CompletionFunction", load("completion/public-key.json"))
    assert response["statusCode"] == 200
    assert "BEGIN PUBLIC KEY" in json.loads(response["body"])["public_key_pem"]


def test_the_validate_event_gets_a_blocking_verdict(invoke: Callable[..., Any]) -> None:
    response = invoke("ValidatorFunction", load("validator/validate.json"))
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["decision"] == "block"


@pytest.mark.parametrize("name", ["validator/sqs-batch.json", "validator/sqs-eventbridge.json"])
def test_the_queue_events_are_screened_without_failures(invoke: Callable[..., Any], name: str) -> None:
    assert invoke("ValidatorFunction", load(name)) == {"batchItemFailures": []}


def test_the_re_signed_completion_events_are_allowed_and_answered(
    invoke: Callable[..., Any],
    new_client: Callable[..., Client],
    aws_stack: ProvisionedStack,
    tmp_path: Path,
) -> None:
    # Given the committed events re-signed, as `make events` does, for a client that exists
    client = new_client("local-demo", allowed_models=(aws_stack.ref("DefaultModel"),))
    shutil.copytree(EVENTS_DIR, tmp_path / "events")
    signer = Signer(
        client_id=client.client_id,
        key_id=client.key_id,
        secret=client.secret,
        tag=aws_stack.ref("SignatureTag"),
        kms_key_arn=aws_stack.attribute("RequestKey", "Arn"),
        kms_client=kms_client(),
    )
    resp_key = refresh_signed_events(tmp_path / "events", signer)
    authorizer_event = load("authorizer/request.json", tmp_path / "events")
    chat_event = load("completion/chat-completions.json", tmp_path / "events")

    # When the authorizer and then the completion function receive them
    policy = invoke("AuthorizerFunction", authorizer_event)
    response = invoke("CompletionFunction", chat_event)

    # Then the call is allowed for its method ARN, and the sealed answer opens with the response key
    assert policy["policyDocument"]["Statement"][0]["Resource"] == authorizer_event["methodArn"]
    assert policy["context"]["nonce"] == chat_event["requestContext"]["authorizer"]["nonce"]
    assert response["statusCode"] == 200
    nonce = chat_event["requestContext"]["authorizer"]["nonce"]
    payload = json.loads(open_response(base64.b64decode(response["body"]), resp_key=resp_key, req_id=nonce))
    assert payload["completion"]["choices"][0]["message"]["content"] == "Hello from the model."


def test_the_committed_request_events_are_stale_until_re_signed(invoke: Callable[..., Any]) -> None:
    # The committed signature is a placeholder: without `make events` the authorizer must refuse it.
    with pytest.raises(PermissionError):
        invoke("AuthorizerFunction", load("authorizer/request.json"))
