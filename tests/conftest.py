"""Fixtures shared by every suite: fake AWS credentials, moto with the template's resources."""

from __future__ import annotations

import functools
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend
from moto.kms import models as kms_models

from secure_ai_gateway.adapters.aws_clients import reset_clients
from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.secret_sealing import SecretSealer
from secure_ai_gateway.client_registry.admin import ClientAdmin
from secure_ai_local.provision import ProvisionedStack, provision_stack
from secure_ai_local.stack_template import StackTemplate
from secure_ai_protocol.key_ids import format_key_id
from tests.fake_provider import FakeProvider, install_fake_provider

# Imported here, before pytest registers it as a plugin: rewrite it like any other test module.
pytest.register_assert_rewrite("tests.leak_sentinel")
from tests.leak_sentinel import LeakRegistry, chat_texts  # noqa: E402

# The leak sentinel watches every test (tests/leak_sentinel.py); pytester proves it does.
pytest_plugins = ["tests.leak_sentinel", "pytester"]

REGION = "us-east-1"

# moto generates an RSA key pair for every KMS key it creates (symmetric ones too): ~0.3 s each, and
# every test provisions the template's keys. Reusing one generated pair per key spec keeps the keys'
# behaviour (each key still has its own id, ARN and policy) and makes the suite several times faster.
_GENERATE_PRIVATE_KEY = "generate_private_key"
setattr(kms_models, _GENERATE_PRIVATE_KEY, functools.cache(getattr(kms_models, _GENERATE_PRIVATE_KEY)))


# Handlers create Powertools objects at import, as in Lambda where the environment precedes the import.
# Set here, at this module's import: pytest loads it before any nested conftest that imports a handler.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SecureAiGatewayTests")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tests")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", REGION)


@pytest.fixture(autouse=True)
def _isolated_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test can reach a real AWS account: fake credentials, a fixed region, no endpoint override."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "SecureAiGatewayTests")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    reset_clients()


@pytest.fixture(scope="session")
def stack_template() -> StackTemplate:
    """template.yaml, parsed once."""
    return StackTemplate.load()


@pytest.fixture
def aws_stack(stack_template: StackTemplate) -> Iterator[ProvisionedStack]:
    """moto, active, holding every resource template.yaml declares (created from its definitions)."""
    with mock_aws():
        reset_clients()
        yield provision_stack(stack_template, boto3.session.Session(region_name=REGION))
    reset_clients()


@pytest.fixture
def use_function_environment(
    aws_stack: ProvisionedStack, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], dict[str, str]]:
    """Set, for one test, the environment a function gets in Lambda as the template declares it."""

    def apply(logical_id: str) -> dict[str, str]:
        environment = aws_stack.function_environments[logical_id]
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        return environment

    return apply


@pytest.fixture
def atomic_dynamodb_items(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB evaluates a condition and writes atomically per item, and a transaction as a whole;
    moto checks then writes without a lock (and restores a failed transaction's tables from a copy).
    Give moto those guarantees so concurrency tests measure our code, not a race inside the emulator."""
    lock = threading.RLock()
    for name in ("put_item", "update_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: DynamoDBBackend, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)


@dataclass(frozen=True)
class Client:
    """A provisioned client and its current signing key."""

    client_id: str
    key_id: str
    secret: bytes = field(repr=False)


TEST_MODEL = "gpt-test"


@pytest.fixture
def admin(aws_stack: ProvisionedStack, leak_registry: LeakRegistry) -> ClientAdmin:
    """The admin operations behind `secure-ai clients`, against moto; every secret it makes is planted."""
    return ClientAdmin(
        ClientStore(aws_stack.ref("ClientsTable")),
        SecretSealer(aws_stack.attribute("RequestKey", "Arn")),
        clock=time.time,
        token_bytes=leak_registry.planting("client secret", secrets.token_bytes),
    )


@pytest.fixture
def new_client(admin: ClientAdmin) -> Callable[..., Client]:
    """Create a client (both scopes, the test model, generous budgets unless told otherwise)."""

    def create(client_id: str, **limits: Any) -> Client:
        record, secret = admin.create_client(
            client_id=client_id,
            scopes=limits.pop("scopes", ("chat:complete", "output:validate")),
            allowed_models=limits.pop("allowed_models", (TEST_MODEL,)),
            max_tokens=limits.pop("max_tokens", 256),
            token_budget=limits.pop("token_budget", 100_000),
            request_budget=limits.pop("request_budget", 100),
        )
        return Client(record.client_id, format_key_id(record.client_id, record.latest_version), secret)

    return create


@pytest.fixture
def client(new_client: Callable[..., Client]) -> Client:
    """The default test client, `app-1`."""
    return new_client("app-1")


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch, leak_registry: LeakRegistry) -> FakeProvider:
    """Every model client the gateway builds talks to this programmable fake provider.

    What it was asked and what it answers are planted: neither may be observable outside the envelopes.
    """
    fake = install_fake_provider(monkeypatch)
    leak_registry.watch("model answer", lambda: [fake.answer])
    leak_registry.watch("prompt sent to the model", lambda: chat_texts(fake.chat_requests))
    return fake
