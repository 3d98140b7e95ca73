"""The policy store and its administration on moto's tables (created from template.yaml by `aws_stack`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.policy_store import PolicyStore
from secure_ai_gateway.policy_registry.admin import PolicyAdmin
from secure_ai_local.provision import ProvisionedStack
from tests.gateway.client_registry.fakes import FakeClock

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

OPERATOR = "arn:aws:iam::123456789012:user/alice"


@pytest.fixture
def policies_table(aws_stack: ProvisionedStack) -> str:
    return aws_stack.ref("PoliciesTable")


@pytest.fixture
def policy_store(policies_table: str, dynamodb: DynamoDBClient) -> PolicyStore:
    return PolicyStore(policies_table, dynamodb)


@pytest.fixture
def client_store(aws_stack: ProvisionedStack, dynamodb: DynamoDBClient) -> ClientStore:
    return ClientStore(aws_stack.ref("ClientsTable"), dynamodb)


@pytest.fixture
def policy_admin(policy_store: PolicyStore, client_store: ClientStore, clock: FakeClock) -> PolicyAdmin:
    return PolicyAdmin(policy_store, client_store, clock=clock)
