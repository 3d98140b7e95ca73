"""The real validator handler against moto, with an observer queue on the validation bus."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from gateway_validator import app
from secure_ai_gateway.adapters.aws_clients import kms_client
from secure_ai_local.provision import ProvisionedStack
from tests.fake_provider import FakeProvider
from tests.gateway_events import sqs_batch, sqs_record
from tests.kms_rsa_shim import install_rsa_decrypt
from tests.lambda_context import FakeLambdaContext


@pytest.fixture
def validator(
    use_function_environment: Callable[[str], dict[str, str]], provider: FakeProvider
) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    """The real handler in its template environment, cold."""
    use_function_environment("ValidatorFunction")
    app.environment.reset()
    install_rsa_decrypt(kms_client())

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = app.lambda_handler(event, FakeLambdaContext("validator"))
        return response

    yield invoke
    app.environment.reset()


@pytest.fixture
def published(aws_stack: ProvisionedStack) -> Callable[[], list[dict[str, Any]]]:
    """Events the validator publishes, captured by a rule on its bus into an observer queue."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="observer")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = aws_stack.ref("ValidationBus")
    events.put_rule(
        Name="observe-verdicts",
        EventBusName=bus,
        EventPattern=json.dumps({"detail-type": ["OutputScreened", "OutputBlocked"]}),
    )
    events.put_targets(Rule="observe-verdicts", EventBusName=bus, Targets=[{"Id": "observer", "Arn": arn}])

    def drain() -> list[dict[str, Any]]:
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return [json.loads(message["Body"]) for message in received.get("Messages", [])]

    return drain


def sqs_event(*bodies: str, message_ids: list[str] | None = None) -> dict[str, Any]:
    """An SQS batch as Lambda's event source mapping delivers it."""
    ids = message_ids or [str(uuid.uuid4()) for _ in bodies]
    return sqs_batch([sqs_record(body, message_id) for message_id, body in zip(ids, bodies, strict=True)])


def verdict_row(stack: ProvisionedStack, verdict_id: str) -> dict[str, Any] | None:
    item = (
        boto3.client("dynamodb")
        .get_item(
            TableName=stack.ref("VerdictsTable"), Key={"verdict_id": {"S": verdict_id}}, ConsistentRead=True
        )
        .get("Item")
    )
    return dict(item) if item else None
