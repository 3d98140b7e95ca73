"""`secure-ai dlq count|redrive` against the stack's queues in moto: nothing lost, nothing printed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

import boto3
import pytest

from secure_ai_client.cli import main
from secure_ai_local.provision import ProvisionedStack
from tests.conftest import REGION

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

SENTINEL: Final = "dead-letter-body-never-printed"
Counted = Literal["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]


@dataclass(frozen=True)
class Queues:
    sqs: SQSClient
    queue: str
    dead_letters: str

    def fill_dead_letters(self, count: int) -> list[str]:
        bodies = [json.dumps({"id": f"m-{index}", "text": f"{SENTINEL} {index}"}) for index in range(count)]
        for body in bodies:
            self.sqs.send_message(QueueUrl=self.dead_letters, MessageBody=body)
        return bodies

    def bodies(self, url: str) -> list[str]:
        found: list[str] = []
        while messages := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            found.extend(message["Body"] for message in messages)
        return sorted(found)

    def count(self, url: str, attribute: Counted = "ApproximateNumberOfMessages") -> int:
        answer = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[attribute])
        return int(answer["Attributes"][attribute])


@pytest.fixture
def queues(aws_stack: ProvisionedStack) -> Queues:
    return Queues(
        boto3.client("sqs", region_name=REGION),
        aws_stack.ref("ValidationQueue"),
        aws_stack.ref("ValidationDeadLetterQueue"),
    )


def run(capsys: pytest.CaptureFixture[str], queues: Queues, *argv: str) -> tuple[int, Any, str]:
    capsys.readouterr()
    target = ["--region", REGION, "--queue-url", queues.queue, "--dead-letter-queue-url", queues.dead_letters]
    code = main(["dlq", *argv, *target])
    out, err = capsys.readouterr()
    assert SENTINEL not in out + err  # a dead message is a text to screen: never printed
    return code, json.loads(out) if out else None, err


def test_redrive_moves_every_dead_message_back_and_deletes_it(
    queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    bodies = queues.fill_dead_letters(12)
    code, report, err = run(capsys, queues, "redrive")
    assert (code, err) == (0, "")
    assert (report["moved"], report["failed"], report["waiting"]) == (12, 0, 0)
    assert queues.bodies(queues.queue) == sorted(bodies)
    assert queues.bodies(queues.dead_letters) == []


def test_a_dry_run_counts_and_moves_nothing(queues: Queues, capsys: pytest.CaptureFixture[str]) -> None:
    bodies = queues.fill_dead_letters(4)
    code, report, _ = run(capsys, queues, "redrive", "--dry-run", "--max-messages", "3")
    assert code == 0
    assert (report["dry_run"], report["waiting"], report["would_move"]) == (True, 4, 3)
    assert queues.bodies(queues.queue) == []
    assert queues.bodies(queues.dead_letters) == sorted(bodies)


def test_max_messages_bounds_one_redrive(queues: Queues, capsys: pytest.CaptureFixture[str]) -> None:
    queues.fill_dead_letters(12)
    code, report, _ = run(capsys, queues, "redrive", "--max-messages", "3")
    assert (code, report["moved"], report["waiting"]) == (0, 3, 9)
    assert len(queues.bodies(queues.queue)) == 3


def test_a_message_the_queue_refuses_stays_dead_and_the_command_fails(
    queues: Queues, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a validation queue that accepts only the first message of each batch
    queues.fill_dead_letters(3)
    original = boto3.session.Session.client

    def client(self: boto3.session.Session, service: str, **kwargs: Any) -> Any:
        made = original(self, service, **kwargs)  # type: ignore[call-overload]
        send_batch = made.send_message_batch

        def send_first(QueueUrl: str, Entries: list[Any]) -> Any:  # noqa: N803 - boto3's names
            answer = send_batch(QueueUrl=QueueUrl, Entries=Entries[:1])
            failed = [
                {"Id": entry["Id"], "SenderFault": False, "Code": "InternalError"} for entry in Entries[1:]
            ]
            return {**answer, "Failed": failed}

        made.send_message_batch = send_first
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client)
    # When the dead letters are redriven
    code, report, err = run(capsys, queues, "redrive")
    # Then one moved, two failed and are still in the dead-letter queue (in flight), and it says so
    assert (code, report["moved"], report["failed"]) == (1, 1, 2)
    assert "2 messages could not be sent back" in err
    assert queues.count(queues.dead_letters, "ApproximateNumberOfMessagesNotVisible") == 2


def test_count_reports_the_dead_letters(queues: Queues, capsys: pytest.CaptureFixture[str]) -> None:
    queues.fill_dead_letters(5)
    code, report, _ = run(capsys, queues, "count")
    assert (code, report["waiting"], report["dead_letter_queue"]) == (0, 5, queues.dead_letters)


def test_without_queues_it_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["dlq", "redrive", "--region", REGION])
    assert code == 2
    assert "no queues" in capsys.readouterr().err
