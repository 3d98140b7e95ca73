"""Where the validator keeps and announces verdicts: a DynamoDB table and an EventBridge bus.

Both take the record `secure_ai_gateway.services.validator.verdict_record` builds (digests, never
plaintext). A failure of either is `DependencyUnavailable`: the caller answers 503 or, for a queue
message, lets it be redelivered.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from secure_ai_gateway.adapters.aws_clients import dynamodb_client, events_client
from secure_ai_protocol.errors import DependencyUnavailable
from secure_ai_protocol.wire.validation import BLOCKED_DETAIL_TYPE, EVENT_SOURCE, SCREENED_DETAIL_TYPE

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient

VERDICT_RETENTION_SECONDS: Final = 30 * 24 * 3600


class VerdictStore:
    """Verdict rows in the `verdicts` table, expiring after 30 days."""

    def __init__(self, table_name: str, boto3_client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._client = boto3_client if boto3_client is not None else dynamodb_client()

    def put(self, record: dict[str, Any], now: float) -> None:
        """Store `record` under its id (a redelivery overwrites with the same content)."""
        item: dict[str, Any] = {
            "verdict_id": {"S": record["id"]},
            "decision": {"S": record["decision"]},
            "source": {"S": record["source"]},
            "policy_id": {"S": record["policy_id"]},
            "policy_version": {"N": str(record["policy_version"])},
            "findings": {"S": json.dumps(record["findings"], separators=(",", ":"))},
            "findings_total": {"N": str(record["findings_total"])},
            "failed_open": {"S": json.dumps(record["failed_open"])},
            "unavailable": {"S": json.dumps(record["unavailable"])},
            "created_at": {"N": str(int(now))},
            "expires_at": {"N": str(int(now) + VERDICT_RETENTION_SECONDS)},
        }
        if record["content_digest"]:
            item["content_digest"] = {"S": record["content_digest"]}
        if record["client_id"]:
            item["client_id"] = {"S": record["client_id"]}
        try:
            self._client.put_item(TableName=self._table, Item=item)
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable("verdicts_unavailable") from error


class VerdictPublisher:
    """`OutputScreened` / `OutputBlocked` events on the validation bus."""

    def __init__(self, bus_name: str, boto3_client: EventBridgeClient | None = None) -> None:
        self._bus = bus_name
        self._client = boto3_client if boto3_client is not None else events_client()

    def publish(self, record: dict[str, Any]) -> None:
        """Publish `record`; a rejected entry fails like an unreachable bus (the caller retries)."""
        detail_type = BLOCKED_DETAIL_TYPE if record["decision"] == "block" else SCREENED_DETAIL_TYPE
        try:
            answer = self._client.put_events(
                Entries=[
                    {
                        "EventBusName": self._bus,
                        "Source": EVENT_SOURCE,
                        "DetailType": detail_type,
                        "Detail": json.dumps(record, separators=(",", ":")),
                    }
                ]
            )
        except (ClientError, BotoCoreError) as error:
            raise DependencyUnavailable("events_unavailable") from error
        if answer.get("FailedEntryCount", 0):
            raise DependencyUnavailable("events_rejected")
