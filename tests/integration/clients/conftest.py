"""Client-key adapters wired to moto's tables and key (created from template.yaml by `aws_stack`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.replay import NonceStore
from secure_ai_gateway.adapters.secret_sealing import SecretSealer
from secure_ai_gateway.client_registry.admin import ClientAdmin
from secure_ai_gateway.client_registry.resolver import SigningKeyResolver
from secure_ai_local.provision import ProvisionedStack
from tests.gateway.client_registry.fakes import FakeClock
from tests.integration.clients.aws_doubles import REGION

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient


@pytest.fixture
def kms(aws_stack: ProvisionedStack) -> KMSClient:
    """A KMS client on moto."""
    return boto3.client("kms", region_name=REGION)


@pytest.fixture
def key_arn(aws_stack: ProvisionedStack) -> str:
    """The symmetric request key that seals client secrets."""
    return aws_stack.attribute("RequestKey", "Arn")


@pytest.fixture
def clients_table(aws_stack: ProvisionedStack) -> str:
    """The clients table's name."""
    return aws_stack.ref("ClientsTable")


@pytest.fixture
def sealer(key_arn: str, kms: KMSClient) -> SecretSealer:
    """The sealer on the template's request key."""
    return SecretSealer(key_arn, kms)


@pytest.fixture
def store(clients_table: str, dynamodb: DynamoDBClient) -> ClientStore:
    """The client store on the template's clients table."""
    return ClientStore(clients_table, dynamodb)


@pytest.fixture
def admin(store: ClientStore, sealer: SecretSealer, clock: FakeClock) -> ClientAdmin:
    """Client administration on moto, on the test's clock."""
    return ClientAdmin(store, sealer, clock=clock)


@pytest.fixture
def resolver(store: ClientStore, sealer: SecretSealer, clock: FakeClock) -> SigningKeyResolver:
    """The authorizer's resolver on moto, on the test's clock, with the default cache time."""
    return SigningKeyResolver(store, sealer, clock=clock)


@pytest.fixture
def nonce_store(aws_stack: ProvisionedStack, dynamodb: DynamoDBClient) -> NonceStore:
    """The replay store on the template's nonces table."""
    return NonceStore(aws_stack.ref("NoncesTable"), dynamodb)


@pytest.fixture
def decrypt_calls(kms: KMSClient) -> Iterator[list[dict[str, Any]]]:
    """The parameters of every KMS Decrypt the `kms` client sends."""
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(params)

    kms.meta.events.register("provide-client-params.kms.Decrypt", record)
    yield calls
    kms.meta.events.unregister("provide-client-params.kms.Decrypt", record)
