"""Cached, lazily created boto3 clients with explicit timeouts and bounded retries.

Every AWS-touching class takes a client; these factories are the defaults. Creating clients lazily
keeps them out of the import path (cold starts) and lets moto be active before the first one exists.
The endpoint comes from boto3's own `AWS_ENDPOINT_URL` handling, which the local stack sets.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING

import boto3

from secure_ai_protocol.aws_config import CLIENT_CONFIG

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_kms import KMSClient

# boto3's default session is not safe to create clients from concurrently.
_CREATE_LOCK = threading.Lock()


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@cache
def dynamodb_client() -> DynamoDBClient:
    """The DynamoDB client for this execution environment."""
    with _CREATE_LOCK:
        return _session().client("dynamodb", config=CLIENT_CONFIG)


@cache
def kms_client() -> KMSClient:
    """The KMS client for this execution environment."""
    with _CREATE_LOCK:
        return _session().client("kms", config=CLIENT_CONFIG)


@cache
def events_client() -> EventBridgeClient:
    """The EventBridge client for this execution environment."""
    with _CREATE_LOCK:
        return _session().client("events", config=CLIENT_CONFIG)


def reset_clients() -> None:
    """Forget cached clients (tests switching between moto servers or regions)."""
    for factory in (_session, dynamodb_client, kms_client, events_client):
        factory.cache_clear()
