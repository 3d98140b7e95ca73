"""Lambda's SQS event source mapping, locally: poll the template's queues and feed the function.

For each `Type: SQS` event of a function in the template: receive up to BatchSize messages,
waiting at most MaximumBatchingWindowInSeconds to fill the batch, invoke the function with the
SQS event Lambda sends (`Records[...]`), then
- without `ReportBatchItemFailures`: delete the batch if the function returned, keep it if it failed;
- with it: delete every record not named in `batchItemFailures`; a function error, or a response
  Lambda would reject (an itemIdentifier missing, empty or not in the batch), fails the whole batch.
Records kept become visible again and are received again; after the queue's maxReceiveCount
receives, SQS (moto implements this on receive) moves them to the dead-letter queue.

Divergences, for local speed: a failed record becomes visible again after `retry_delay_seconds`
(ChangeMessageVisibility) instead of the queue's VisibilityTimeout; one poller per event source
invokes one batch at a time (Lambda scales pollers and concurrent batches).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from secure_ai_local.stack_template import StackTemplate, resolve

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueOutputTypeDef, MessageTypeDef

    from secure_ai_local.lambda_runtime import FunctionInvoker, InvocationResult
    from secure_ai_local.provision import ProvisionedStack

logger = logging.getLogger("secure_ai_local.sqs")

DEFAULT_RETRY_DELAY_SECONDS: Final = 1
_RECEIVE_LIMIT: Final = 10  # SQS ReceiveMessage's maximum
_LONG_POLL_SECONDS: Final = 1  # short, so that stopping is quick
_RECORD_ATTRIBUTES: Final = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
)


@dataclass(frozen=True)
class SqsEventSource:
    """One SQS event source mapping, as the template declares it."""

    function: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    batching_window_seconds: float = 0.0
    report_batch_item_failures: bool = False


def sqs_event_sources(template: StackTemplate, stack: ProvisionedStack) -> list[SqsEventSource]:
    """Every enabled `Type: SQS` event of the template's functions."""
    sources = []
    for function, properties in template.resources_of_type("AWS::Serverless::Function"):
        for name, event in properties.get("Events", {}).items():
            if event.get("Type") != "SQS":
                continue
            spec = resolve(event["Properties"], stack.references)
            if spec.get("FilterCriteria"):
                raise NotImplementedError(f"{function}.{name}: FilterCriteria is not emulated")
            if spec.get("Enabled", True) in (False, "false"):
                continue
            arn = str(spec["Queue"])
            sources.append(
                SqsEventSource(
                    function=function,
                    queue_url=_queue_url(arn, stack.references),
                    queue_arn=arn,
                    batch_size=int(spec.get("BatchSize", 10)),
                    batching_window_seconds=float(spec.get("MaximumBatchingWindowInSeconds", 0)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in spec.get("FunctionResponseTypes", ()),
                )
            )
    return sources


def _queue_url(arn: str, references: Mapping[str, str]) -> str:
    for name, value in references.items():
        if name.endswith(".Arn") and value == arn:
            return references[name.removesuffix(".Arn")]
    raise LookupError(f"no queue in the stack has the ARN {arn}")


@dataclass(frozen=True)
class BatchOutcome:
    """What one poll did: the batch's message ids and those left on the queue to be retried."""

    message_ids: tuple[str, ...]
    retried: tuple[str, ...]


class SqsPoller:
    """Polls one event source's queue on a background thread (or step by step with `poll_once`)."""

    def __init__(
        self,
        source: SqsEventSource,
        invoker: FunctionInvoker,
        sqs: SQSClient,
        *,
        region: str,
        retry_delay_seconds: int = DEFAULT_RETRY_DELAY_SECONDS,
    ) -> None:
        self.source = source
        self._invoker = invoker
        self._sqs = sqs
        self._region = region
        self._retry_delay = retry_delay_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> SqsPoller:
        """Poll until stopped; returns self."""
        self._thread = threading.Thread(target=self._run, name=f"sqs:{self.source.function}", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the polling thread to end after its current batch."""
        self._stopping.set()

    def stop(self, timeout_seconds: float = 30.0) -> None:
        """Stop polling and wait for the thread (idempotent)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_seconds)
            self._thread = None

    def poll_once(self) -> BatchOutcome | None:
        """Receive a batch, invoke the function, delete or retry its records; None if none came."""
        messages = self._receive_batch()
        if not messages or self._stopping.is_set():
            return None
        event = {"Records": [self._record(message) for message in messages]}
        result = self._invoker.submit(self.source.function, event).result()
        ids = tuple(message["MessageId"] for message in messages)
        if result.rejected:  # the runtime is shutting down: leave the batch to its visibility timeout
            return BatchOutcome(ids, ids)
        failed = self._failed_ids(result, ids)
        self._delete([m for m in messages if m["MessageId"] not in failed])
        self._retry_later([m for m in messages if m["MessageId"] in failed])
        if failed:
            logger.info("%s: %d of %d records left for a retry", self.source.function, len(failed), len(ids))
        return BatchOutcome(ids, tuple(i for i in ids if i in failed))

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except (BotoCoreError, ClientError) as error:
                logger.warning(
                    "%s: polling %s failed: %s", self.source.function, self.source.queue_url, error
                )
                self._stopping.wait(1)

    def _receive_batch(self) -> list[MessageTypeDef]:
        source = self.source
        messages = self._receive(min(source.batch_size, _RECEIVE_LIMIT), _LONG_POLL_SECONDS)
        window_ends = time.monotonic() + source.batching_window_seconds
        while messages and len(messages) < source.batch_size and not self._stopping.is_set():
            remaining = window_ends - time.monotonic()
            if remaining <= 0:
                break
            more = self._receive(min(source.batch_size - len(messages), _RECEIVE_LIMIT), 0)
            messages.extend(more)
            if not more:
                self._stopping.wait(min(0.1, remaining))
        return messages

    def _receive(self, count: int, wait_seconds: int) -> list[MessageTypeDef]:
        response = self._sqs.receive_message(
            QueueUrl=self.source.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def _record(self, message: MessageTypeDef) -> dict[str, Any]:
        """The record Lambda puts in an SQS event for `message`."""
        attributes = message.get("Attributes", {})
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {name: attributes[name] for name in _RECORD_ATTRIBUTES if name in attributes},
            "messageAttributes": {
                name: _message_attribute(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.source.queue_arn,
            "awsRegion": self._region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def _failed_ids(self, result: InvocationResult, ids: Sequence[str]) -> set[str]:
        """The records to keep: all of them if the invocation failed or answered what Lambda rejects."""
        if result.error is not None:
            logger.warning(
                "%s failed on a batch of %d: %s", self.source.function, len(ids), result.error.error_type
            )
            return set(ids)
        if not self.source.report_batch_item_failures or result.payload is None:
            return set()
        if not isinstance(result.payload, Mapping):
            return set(ids)
        failures = result.payload.get("batchItemFailures") or []
        if not isinstance(failures, list):
            return set(ids)
        named = [item.get("itemIdentifier") if isinstance(item, Mapping) else None for item in failures]
        if not all(isinstance(item, str) and item in ids for item in named):
            logger.warning(
                "%s returned an invalid batchItemFailures: the whole batch fails", self.source.function
            )
            return set(ids)
        return {str(item) for item in named}

    def _delete(self, messages: Sequence[MessageTypeDef]) -> None:
        for start in range(0, len(messages), _RECEIVE_LIMIT):
            chunk = messages[start : start + _RECEIVE_LIMIT]
            self._sqs.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )

    def _retry_later(self, messages: Sequence[MessageTypeDef]) -> None:
        for start in range(0, len(messages), _RECEIVE_LIMIT):
            chunk = messages[start : start + _RECEIVE_LIMIT]
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.source.queue_url,
                Entries=[
                    {
                        "Id": str(i),
                        "ReceiptHandle": m["ReceiptHandle"],
                        "VisibilityTimeout": self._retry_delay,
                    }
                    for i, m in enumerate(chunk)
                ],
            )


def _message_attribute(value: MessageAttributeValueOutputTypeDef) -> dict[str, Any]:
    """An SQS message attribute as a Lambda record spells it (camelCase, binary base64-encoded)."""
    attribute: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [base64.b64encode(v).decode() for v in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute
