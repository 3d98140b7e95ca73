"""The devices table on moto, shaped as template.yaml will declare it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from secure_ai_gateway.adapters.device_store import APP_USER_INDEX, DeviceStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DEVICES_TABLE = "devices"


@pytest.fixture
def devices_table(dynamodb: DynamoDBClient) -> str:
    """HASH `id`; the `app_user` index on (app_id, user_sub), every attribute projected."""
    dynamodb.create_table(
        TableName=DEVICES_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "app_id", "AttributeType": "S"},
            {"AttributeName": "user_sub", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": APP_USER_INDEX,
                "KeySchema": [
                    {"AttributeName": "app_id", "KeyType": "HASH"},
                    {"AttributeName": "user_sub", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    return DEVICES_TABLE


@pytest.fixture
def device_store(devices_table: str, dynamodb: DynamoDBClient) -> DeviceStore:
    """The device store on that table."""
    return DeviceStore(devices_table, dynamodb)
