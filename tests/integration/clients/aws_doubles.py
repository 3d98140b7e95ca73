"""Clients that fail like AWS does, for tests that need no moto resources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient

REGION = "us-east-1"
# A well-formed ARN for tests whose KMS answers come from a Stubber: no request leaves the process.
STUB_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000"
# One attempt: failure tests should not wait for botocore's retries.
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


def _refuse_to_connect(request: Any, **_: Any) -> None:
    raise EndpointConnectionError(endpoint_url=request.url)


def unreachable_kms() -> KMSClient:
    """A KMS client whose every request fails to connect (as when the endpoint is down)."""
    client = boto3.client("kms", region_name=REGION, config=NO_RETRIES)
    client.meta.events.register("before-send", _refuse_to_connect)
    return client


def unreachable_dynamodb() -> DynamoDBClient:
    """A DynamoDB client whose every request fails to connect."""
    client = boto3.client("dynamodb", region_name=REGION, config=NO_RETRIES)
    client.meta.events.register("before-send", _refuse_to_connect)
    return client


def stub_kms() -> KMSClient:
    """A KMS client for a botocore Stubber (no moto needed)."""
    return boto3.client("kms", region_name=REGION, config=NO_RETRIES)


def stub_dynamodb() -> DynamoDBClient:
    """A DynamoDB client for a botocore Stubber (no moto needed)."""
    return boto3.client("dynamodb", region_name=REGION, config=NO_RETRIES)
