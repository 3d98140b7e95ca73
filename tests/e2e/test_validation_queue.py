"""The asynchronous path: EventBridge → SQS → validator → verdicts table and bus; poison → DLQ."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from secure_ai_local.stack import LocalStack
from tests.e2e.conftest import event_detail, queue_bodies, wait_for

pytestmark = pytest.mark.e2e

# The local poller retries a failed record after ~1 s; moto moves it after 3 receives.
DELIVERY_SECONDS = 15.0
# Assembled at run time so that secret scanners of this repository do not flag the fake key pair.
FAKE_KEY_PAIR = (
    "aws_access_key_id = " + "AKIA" + "Q7DEMO3VALIDATE5" + "\n"
    "aws_secret_access_key = " + "demoOnly" + "/NotARealKey+" + "Queue0123456789abcd"
)


@pytest.fixture(scope="module")
def observer_queue(local_stack: LocalStack) -> Iterator[str]:
    """A queue receiving what the validator publishes on its bus (OutputScreened / OutputBlocked)."""
    sqs, events = local_stack.client("sqs"), local_stack.client("events")
    bus = local_stack.provisioned.ref("ValidationBus")
    url = sqs.create_queue(QueueName=f"e2e-observer-{secrets.token_hex(4)}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="e2e-observe-verdicts",
        EventBusName=bus,
        EventPattern=json.dumps({"detail-type": ["OutputScreened", "OutputBlocked"]}),
    )
    events.put_targets(
        Rule="e2e-observe-verdicts", EventBusName=bus, Targets=[{"Id": "observer", "Arn": arn}]
    )
    yield url
    events.remove_targets(Rule="e2e-observe-verdicts", EventBusName=bus, Ids=["observer"])
    events.delete_rule(Name="e2e-observe-verdicts", EventBusName=bus)


def stored_verdict(local_stack: LocalStack, verdict_id: str) -> dict[str, Any] | None:
    item = local_stack.client("dynamodb").get_item(
        TableName=local_stack.provisioned.ref("VerdictsTable"),
        Key={"verdict_id": {"S": verdict_id}},
        ConsistentRead=True,
    )
    return dict(item["Item"]) if "Item" in item else None


def test_a_validate_output_event_is_screened_stored_and_announced(
    local_stack: LocalStack, observer_queue: str
) -> None:
    # Given a text carrying a (fake) key pair, put on the validation bus as a ValidateOutput event
    verdict_id = f"e2e-{secrets.token_hex(8)}"
    answer = local_stack.client("events").put_events(
        Entries=[
            {
                "EventBusName": local_stack.provisioned.ref("ValidationBus"),
                "Source": "secure-ai.e2e",
                "DetailType": "ValidateOutput",
                "Detail": json.dumps({"id": verdict_id, "text": f"Deploy with:\n{FAKE_KEY_PAIR}"}),
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0

    # Then its verdict is stored under its id: blocked, finding types and no text
    item = wait_for(lambda: stored_verdict(local_stack, verdict_id), seconds=DELIVERY_SECONDS)
    assert item is not None, f"no verdict {verdict_id} within {DELIVERY_SECONDS} s"
    assert item["decision"] == {"S": "block"}
    assert {finding["type"] for finding in json.loads(item["findings"]["S"])} == {
        "aws_access_key",
        "aws_secret_key",
    }
    assert "NotARealKey" not in json.dumps(item)

    # And an OutputBlocked event carrying its id is published on the bus
    sqs = local_stack.client("sqs")

    def announced() -> dict[str, Any] | None:
        for body in queue_bodies(sqs, observer_queue):
            if event_detail(body).get("id") == verdict_id:
                return dict(json.loads(body))
        return None

    event = wait_for(announced, seconds=5)
    assert event is not None, "no OutputBlocked event for the verdict"
    assert (event["detail-type"], event["source"]) == ("OutputBlocked", "secure-ai-gateway.validator")


def test_a_poison_message_reaches_the_dead_letter_queue_while_its_batch_mate_is_screened(
    local_stack: LocalStack,
) -> None:
    # Given a message that is not JSON and a good one, sent together to the validation queue
    sqs = local_stack.client("sqs")
    good_id = f"e2e-{secrets.token_hex(8)}"
    poison = f"not json {secrets.token_hex(8)}"
    answer = sqs.send_message_batch(
        QueueUrl=local_stack.provisioned.ref("ValidationQueue"),
        Entries=[
            {"Id": "poison", "MessageBody": poison},
            {"Id": "good", "MessageBody": json.dumps({"id": good_id, "text": "A harmless sentence."})},
        ],
    )
    assert not answer.get("Failed")

    # Then the good one is screened and stored (a failed record fails only itself)...
    item = wait_for(lambda: stored_verdict(local_stack, good_id), seconds=DELIVERY_SECONDS)
    assert item is not None, f"no verdict {good_id} within {DELIVERY_SECONDS} s"
    assert item["decision"] == {"S": "allow"}

    # ...and the poison one, after its retries, lands in the dead-letter queue
    dead_letters = local_stack.provisioned.ref("ValidationDeadLetterQueue")
    landed = wait_for(
        lambda: True if poison in queue_bodies(sqs, dead_letters) else None, seconds=DELIVERY_SECONDS
    )
    assert landed, f"the poison message did not reach the DLQ within {DELIVERY_SECONDS} s"
    assert all(good_id not in body for body in queue_bodies(sqs, dead_letters))
