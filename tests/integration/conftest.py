"""Fixtures the adapter suites share: the clock they read, and a DynamoDB client on moto's stack."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
import pytest

from secure_ai_local.provision import ProvisionedStack
from tests.conftest import REGION
from tests.gateway.client_registry.fakes import FakeClock

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@pytest.fixture
def clock() -> FakeClock:
    """The clock every adapter under test reads; tests move it by hand."""
    return FakeClock()


@pytest.fixture
def dynamodb(aws_stack: ProvisionedStack) -> DynamoDBClient:
    """A DynamoDB client on moto."""
    return boto3.client("dynamodb", region_name=REGION)
