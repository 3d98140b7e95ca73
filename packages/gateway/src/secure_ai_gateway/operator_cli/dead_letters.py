"""`secure-ai dlq count|redrive`: the validation queue's dead letters, moved back after a fix.

A message lands in the dead-letter queue after the validator failed it `maxReceiveCount` times
(a dependency down, a bug). Once the cause is fixed, `redrive` sends each one back to the
validation queue and deletes it from the dead-letter queue only after the send succeeded: a
message is never lost, and at worst (the delete failing after the send) screened twice, which
stores the same verdict again. `--dry-run` only counts. Nothing here reads or prints a message's
body: it is a text to screen, possibly sensitive. docs/operations.md says when to run it.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from secure_ai_gateway.operator_cli.arguments import positive_int
from secure_ai_gateway.operator_cli.aws_target import aws_options, resolve_target, service_client, session_for
from secure_ai_gateway.operator_cli.output import print_json, reported
from secure_ai_protocol.command_line import EXIT_OK, CommandFailed, UsageError
from secure_ai_protocol.errors import DependencyUnavailable

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from secure_ai_protocol.command_line import SubParsers

SQS_BATCH: Final = 10  # SQS's most messages per receive, send or delete call
DEFAULT_MAX_MESSAGES: Final = 1000
# Long enough to send and delete a batch; a message whose move failed reappears after it.
RECEIVE_VISIBILITY_SECONDS: Final = 60


@dataclass(frozen=True, slots=True)
class Redriven:
    """What one redrive did: messages moved back, and messages whose move failed (still dead)."""

    moved: int
    failed: int


class DeadLetterRedrive:
    """Moves messages from the dead-letter queue back to the queue they came from."""

    def __init__(self, dead_letter_queue_url: str, queue_url: str, boto3_client: SQSClient) -> None:
        self._dead_letters = dead_letter_queue_url
        self._queue = queue_url
        self._sqs = boto3_client

    def waiting(self) -> int:
        """How many messages the dead-letter queue holds (SQS's approximate count)."""
        try:
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=self._dead_letters, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            return int(attributes["ApproximateNumberOfMessages"])
        except (BotoCoreError, ClientError, KeyError, ValueError) as exc:
            raise DependencyUnavailable("dead_letter_queue_unavailable") from exc

    def redrive(self, max_messages: int) -> Redriven:
        """Move up to `max_messages` back, a batch at a time, until the dead-letter queue looks empty."""
        moved = failed = 0
        while moved + failed < max_messages:
            messages = self._receive(min(SQS_BATCH, max_messages - moved - failed))
            if not messages:
                break
            sent = self._send(messages)
            self._delete([message for message in messages if message["MessageId"] in sent])
            moved += len(sent)
            failed += len(messages) - len(sent)
        return Redriven(moved, failed)

    def _receive(self, count: int) -> list[Any]:
        try:
            answer = self._sqs.receive_message(
                QueueUrl=self._dead_letters,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=0,
                VisibilityTimeout=RECEIVE_VISIBILITY_SECONDS,
                MessageAttributeNames=["All"],
            )
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailable("dead_letter_queue_unavailable") from exc
        return list(answer.get("Messages", []))

    def _send(self, messages: list[Any]) -> set[str]:
        """Send `messages` to the queue; the ids of those SQS accepted."""
        entries: list[Any] = []
        for index, message in enumerate(messages):
            entry = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        try:
            answer = self._sqs.send_message_batch(QueueUrl=self._queue, Entries=entries)
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailable("validation_queue_unavailable") from exc
        return {messages[int(entry["Id"])]["MessageId"] for entry in answer.get("Successful", [])}

    def _delete(self, messages: list[Any]) -> None:
        if not messages:
            return
        entries: list[Any] = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(messages)
        ]
        try:
            answer = self._sqs.delete_message_batch(QueueUrl=self._dead_letters, Entries=entries)
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailable("dead_letter_queue_unavailable") from exc
        if answer.get("Failed"):
            # Sent but still in the dead-letter queue: a later redrive screens it a second time.
            raise DependencyUnavailable("dead_letter_delete_failed")


def add_dlq_command(commands: SubParsers) -> None:
    """`secure-ai dlq ...`: count the validation queue's dead letters, or move them back."""
    dlq = commands.add_parser("dlq", help="the validation queue's dead letters: count them, move them back")
    actions = dlq.add_subparsers(dest="action", metavar="ACTION", required=True)
    target = aws_options()
    queues = target.add_argument_group("queues (default: from --local or --stack-name)")
    queues.add_argument("--queue-url", help="the validation queue, where messages go back to")
    queues.add_argument("--dead-letter-queue-url", help="its dead-letter queue")

    count = actions.add_parser("count", parents=[target], help="how many messages are dead (approximate)")
    count.set_defaults(run=reported(_run_count))

    redrive = actions.add_parser("redrive", parents=[target], help="move dead messages back to the queue")
    redrive.add_argument("--dry-run", action="store_true", help="count what would move; move nothing")
    redrive.add_argument(
        "--max-messages",
        type=positive_int,
        default=DEFAULT_MAX_MESSAGES,
        help="stop after this many messages (default: %(default)s)",
    )
    redrive.set_defaults(run=reported(_run_redrive))


def _run_count(args: argparse.Namespace) -> int:
    redrive, dead_letters, _ = _redrive(args)
    print_json({"dead_letter_queue": dead_letters, "waiting": redrive.waiting()})
    return EXIT_OK


def _run_redrive(args: argparse.Namespace) -> int:
    redrive, dead_letters, queue = _redrive(args)
    report: dict[str, Any] = {"dead_letter_queue": dead_letters, "queue": queue}
    if args.dry_run:
        waiting = redrive.waiting()
        print_json(
            report | {"dry_run": True, "waiting": waiting, "would_move": min(waiting, args.max_messages)}
        )
        return EXIT_OK
    done = redrive.redrive(args.max_messages)
    print_json(report | {"moved": done.moved, "failed": done.failed, "waiting": redrive.waiting()})
    if done.failed:
        raise CommandFailed(
            f"{done.failed} messages could not be sent back; they stay in the dead-letter queue"
        )
    return EXIT_OK


def _redrive(args: argparse.Namespace) -> tuple[DeadLetterRedrive, str, str]:
    target = resolve_target(args, os.environ)
    if not target.dead_letter_queue_url or not target.queue_url:
        raise UsageError(
            "no queues: pass --queue-url and --dead-letter-queue-url, --stack-name NAME or --local"
        )
    sqs = service_client(session_for(target.region, local=target.local), "sqs", target)
    return (
        DeadLetterRedrive(target.dead_letter_queue_url, target.queue_url, sqs),
        target.dead_letter_queue_url,
        target.queue_url,
    )
