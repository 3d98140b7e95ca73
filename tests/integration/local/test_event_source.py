"""The SQS event source poller and EventBridge delivery, against moto and the fake template."""

from __future__ import annotations

import json
import time
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from secure_ai_local.event_source import SqsEventSource, SqsPoller, sqs_event_sources
from secure_ai_local.lambda_runtime import InvocationResult, LambdaRuntime
from secure_ai_local.provision import ProvisionedStack
from secure_ai_local.stack_template import StackTemplate
from tests.integration.local.conftest import ACCOUNT, REGION, RecordingInvoker

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@dataclass
class AnswersWith:
    """Runs the function, then hands the poller `payload` as if the function had returned it."""

    runtime: LambdaRuntime
    payload: Any

    def submit(self, logical_id: str, event: Any) -> Future[InvocationResult]:
        result = self.runtime.invoke(logical_id, event)
        future: Future[InvocationResult] = Future()
        future.set_result(replace(result, payload=self.payload))
        return future


@pytest.fixture
def source(fake_template: StackTemplate, fake_stack: ProvisionedStack, sqs: SQSClient) -> SqsEventSource:
    """The backend's SQS event source, with both queues emptied first."""
    for queue in ("WorkQueue", "WorkDeadLetterQueue"):
        while take(sqs, fake_stack.ref(queue)):
            pass
    (work,) = sqs_event_sources(fake_template, fake_stack)
    return work


@pytest.fixture
def poller(source: SqsEventSource, invoker: RecordingInvoker, sqs: SQSClient) -> SqsPoller:
    """A poller that makes failed records visible again at once."""
    return SqsPoller(source, invoker, sqs, region=REGION, retry_delay_seconds=0)


def send(sqs: SQSClient, queue_url: str, *outcomes: str) -> list[str]:
    entries = [
        {"Id": str(i), "MessageBody": json.dumps({"outcome": o, "n": i})} for i, o in enumerate(outcomes)
    ]
    response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)  # type: ignore[arg-type]
    by_id = {entry["Id"]: entry["MessageId"] for entry in response["Successful"]}
    return [by_id[str(i)] for i in range(len(outcomes))]


def take(sqs: SQSClient, queue_url: str, wait_seconds: int = 0) -> list[Any]:
    """Receive and delete what is visible (moto allows one PurgeQueue a minute)."""
    response = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=wait_seconds,
        MessageSystemAttributeNames=["All"],
    )
    messages = list(response.get("Messages", []))
    for message in messages:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def test_the_event_source_is_read_from_the_template(
    source: SqsEventSource, fake_stack: ProvisionedStack
) -> None:
    assert source.function == "BackendFunction"
    assert source.queue_url == fake_stack.ref("WorkQueue")
    assert source.queue_arn == fake_stack.attribute("WorkQueue", "Arn")
    assert (source.batch_size, source.batching_window_seconds) == (5, 1.0)
    assert source.report_batch_item_failures is True


def test_the_function_gets_lambdas_sqs_event(
    poller: SqsPoller, invoker: RecordingInvoker, sqs: SQSClient, source: SqsEventSource
) -> None:
    # Given a message with an attribute
    sqs.send_message(
        QueueUrl=source.queue_url,
        MessageBody=json.dumps({"outcome": "ok"}),
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
    )

    # When the poller runs once
    poller.poll_once()

    # Then the function got the record as Lambda shapes it
    (event,) = invoker.events_for("BackendFunction")
    (record,) = event["Records"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == source.queue_arn
    assert record["awsRegion"] == REGION
    assert json.loads(record["body"]) == {"outcome": "ok"}
    assert record["md5OfBody"]
    assert record["receiptHandle"]
    assert set(record["attributes"]) == {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    }
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "test", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }


def test_only_the_records_reported_as_failed_are_received_again(
    poller: SqsPoller, invoker: RecordingInvoker, sqs: SQSClient, source: SqsEventSource
) -> None:
    # Given a batch whose second record the function reports as failed
    ok_first, failing, ok_last = send(sqs, source.queue_url, "ok", "fail", "ok")

    # When the poller runs once
    outcome = poller.poll_once()

    # Then one invocation got all three, and only the failed one stays on the queue
    assert outcome is not None
    assert set(outcome.message_ids) == {ok_first, failing, ok_last}
    assert outcome.retried == (failing,)
    (again,) = take(sqs, source.queue_url, wait_seconds=1)
    assert again["MessageId"] == failing
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_an_invalid_batch_item_failure_fails_the_whole_batch(
    source: SqsEventSource, runtime: LambdaRuntime, sqs: SQSClient
) -> None:
    # Given a function that names, as failed, a record that is not in the batch
    invalid = {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}
    poller = SqsPoller(source, AnswersWith(runtime, invalid), sqs, region=REGION, retry_delay_seconds=0)
    ids = send(sqs, source.queue_url, "ok", "ok")

    # When it polls
    outcome = poller.poll_once()

    # Then every record is kept for a retry, as Lambda does
    assert outcome is not None
    assert set(outcome.retried) == set(ids)


def test_a_poison_message_reaches_the_dead_letter_queue(
    poller: SqsPoller,
    invoker: RecordingInvoker,
    sqs: SQSClient,
    fake_stack: ProvisionedStack,
    source: SqsEventSource,
) -> None:
    # Given a message that makes the function raise (maxReceiveCount is 2)
    (poison,) = send(sqs, source.queue_url, "crash")

    # When the poller runs in the background until the message leaves the queue
    poller.start()
    try:
        dead = _wait_for_message(sqs, fake_stack.ref("WorkDeadLetterQueue"), timeout_seconds=20)
    finally:
        poller.stop()

    # Then it was delivered twice, then moved to the dead-letter queue by SQS's redrive policy
    assert dead["MessageId"] == poison
    deliveries = [e for e in invoker.events_for("BackendFunction") if e["Records"][0]["messageId"] == poison]
    assert [e["Records"][0]["attributes"]["ApproximateReceiveCount"] for e in deliveries] == ["1", "2"]
    assert take(sqs, source.queue_url) == []


def test_an_eventbridge_event_reaches_the_queue_whole(
    fake_stack: ProvisionedStack, aws_session: boto3.session.Session, moto_endpoint: str, sqs: SQSClient
) -> None:
    # Given nothing polls the work queue
    queue_url = fake_stack.ref("WorkQueue")
    while take(sqs, queue_url):
        pass
    events = aws_session.client("events", endpoint_url=moto_endpoint)

    # When an event matching the rule is put on the bus
    detail = {"output": 'say "hi"', "n": 1}
    entry = {
        "EventBusName": fake_stack.ref("WorkBus"),
        "Source": "tests.local",
        "DetailType": "WorkRequested",
        "Detail": json.dumps(detail),
    }
    (put,) = events.put_events(Entries=[entry])["Entries"]  # type: ignore[list-item]

    # Then the queue holds the whole EventBridge event as the message body
    message = _wait_for_message(sqs, queue_url, timeout_seconds=10)
    event = json.loads(message["Body"])
    assert list(event) == [
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    ]
    assert event["id"] == put["EventId"]
    assert (event["detail-type"], event["source"], event["detail"]) == (
        "WorkRequested",
        "tests.local",
        detail,
    )
    assert (event["account"], event["region"], event["version"]) == (ACCOUNT, REGION, "0")
    assert time.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")


def _wait_for_message(sqs: SQSClient, queue_url: str, timeout_seconds: float) -> Any:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        messages = take(sqs, queue_url, wait_seconds=1)
        if messages:
            return messages[0]
    raise AssertionError(f"no message on {queue_url} within {timeout_seconds} s")
