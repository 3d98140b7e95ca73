"""A provisioned client and the real authorizer handler, against moto."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from gateway_authorizer import app
from secure_ai.clients.admin import ClientAdmin
from secure_ai.clients.records import format_key_id
from secure_ai.clients.sealing import SecretSealer
from secure_ai.clients.store import ClientStore
from secure_ai_local.provision import ProvisionedStack
from tests.lambda_context import FakeLambdaContext


@dataclass(frozen=True)
class Client:
    client_id: str
    key_id: str
    secret: bytes


@pytest.fixture
def admin(aws_stack: ProvisionedStack) -> ClientAdmin:
    return ClientAdmin(
        ClientStore(aws_stack.ref("ClientsTable")),
        SecretSealer(aws_stack.attribute("RequestKey", "Arn")),
        clock=time.time,
    )


@pytest.fixture
def new_client(admin: ClientAdmin) -> Callable[[str], Client]:
    def create(client_id: str) -> Client:
        record, secret = admin.create_client(
            client_id=client_id,
            scopes=("chat:complete", "output:validate"),
            allowed_models=("gpt-test",),
            max_tokens=256,
            token_budget=10_000,
            request_budget=100,
        )
        return Client(record.client_id, format_key_id(record.client_id, record.latest_version), secret)

    return create


@pytest.fixture
def client(new_client: Callable[[str], Client]) -> Client:
    return new_client("app-1")


@pytest.fixture
def authorize(
    use_function_environment: Callable[[str], dict[str, str]],
) -> Iterator[Callable[[Any], dict[str, object]]]:
    """Invoke the real handler, in the environment the template gives it, with a fresh cold start."""
    use_function_environment("AuthorizerFunction")
    app.request_authorizer.cache_clear()

    def invoke(event: Any) -> dict[str, object]:
        response: dict[str, object] = app.lambda_handler(event, FakeLambdaContext("authorizer"))
        return response

    yield invoke
    app.request_authorizer.cache_clear()
