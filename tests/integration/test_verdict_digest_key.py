"""The verdict-digest key as deployed: generated per stack, read by exactly the functions that digest."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from gateway_completion import app as completion_app
from gateway_validator import app as validator_app
from secure_ai_local.provision import ProvisionedStack
from secure_ai_protocol.signing.content_digest import compute_content_digest
from tests.conftest import Client
from tests.fake_provider import FakeProvider
from tests.gateway_events import SignedCall, proxy_event
from tests.lambda_context import FakeLambdaContext

MISSING_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"


def secret_value(stack: ProvisionedStack, logical_id: str) -> str:
    value: str = boto3.client("secretsmanager").get_secret_value(SecretId=stack.ref(logical_id))[
        "SecretString"
    ]
    return value


@pytest.fixture(autouse=True)
def cold_functions() -> Iterator[None]:
    """Each test starts both functions cold, with Powertools' secret cache empty."""

    def forget() -> None:
        completion_app.environment.reset()
        validator_app.environment.reset()
        parameters.clear_caches()  # type: ignore[no-untyped-call]

    forget()
    yield
    forget()


def test_the_local_stack_generates_a_key_of_64_random_alphanumerics(aws_stack: ProvisionedStack) -> None:
    key = secret_value(aws_stack, "VerdictDigestKeySecret")
    assert len(key) == 64
    assert key.isalnum()
    # Generated, not a constant: it differs from the stack's other generated secret.
    assert key != secret_value(aws_stack, "ModelApiKeySecret")


@pytest.mark.parametrize(
    ("logical_id", "read"),
    [
        ("CompletionFunction", lambda: completion_app.environment.get().digest_key()),
        ("ValidatorFunction", lambda: validator_app.environment.get().digest_key()),
    ],
)
def test_each_digesting_function_reads_the_key_as_bytes(
    aws_stack: ProvisionedStack,
    use_function_environment: Callable[[str], dict[str, str]],
    logical_id: str,
    read: Callable[[], bytes],
) -> None:
    use_function_environment(logical_id)
    assert read() == secret_value(aws_stack, "VerdictDigestKeySecret").encode()


def test_a_validation_is_refused_with_a_503_when_the_key_cannot_be_read(
    use_function_environment: Callable[[str], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    client: Client,
    provider: FakeProvider,
) -> None:
    # Given a validator whose verdict-digest key secret does not exist
    use_function_environment("ValidatorFunction")
    monkeypatch.setenv("VERDICT_DIGEST_KEY_SECRET_ARN", MISSING_SECRET_ARN)
    body = json.dumps({"text": "Nothing to see here.", "id": "no-key"}).encode()
    call = SignedCall(
        secret=client.secret,
        key_id=client.key_id,
        created=int(time.time()),
        nonce=secrets.token_urlsafe(16),
        resource="/v1/validate",
        body=body,
    )
    context = {
        "client_id": client.client_id,
        "key_id": client.key_id,
        "nonce": call.nonce,
        "content_digest": compute_content_digest(body),
        "scopes": "output:validate",
    }

    # When a signed validate request arrives
    response = validator_app.lambda_handler(proxy_event(call, context), FakeLambdaContext("validator"))

    # Then it fails closed and visibly: no verdict without the key
    assert response["statusCode"] == 503
