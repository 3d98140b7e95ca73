"""Daily budgets: reserve the worst case before the model call, settle with real usage.

The arithmetic is pure; `UsageLedger` is the DynamoDB adapter. A reservation is one atomic
conditional UpdateItem, so concurrent requests cannot together overspend: with a budget of 10
requests, 50 concurrent calls admit exactly 10. An account is a client (or an app) by its id, or
one user of an app (device_registry.user_refs.user_account: the user's ref, never the `sub`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from secure_ai_gateway.adapters.aws_clients import dynamodb_client
from secure_ai_gateway.ports import Budget, Reservation
from secure_ai_protocol.errors import DependencyUnavailable, QuotaExceeded

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

USAGE_RETENTION = timedelta(days=35)


def period_of(now: float) -> str:
    """The budget period (a UTC day) containing `now`."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def seconds_until_next_period(now: float) -> int:
    """Seconds until the budget resets (next UTC midnight), at least 1: the Retry-After value."""
    moment = datetime.fromtimestamp(now, UTC)
    tomorrow = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, math.ceil((tomorrow - moment).total_seconds()))


class UsageLedger:
    """Reservations and settlements in the `usage` table (HASH client_id, RANGE period)."""

    def __init__(self, table_name: str, boto3_client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._dynamodb = boto3_client if boto3_client is not None else dynamodb_client()

    def reserve(self, client_id: str, tokens: int, budget: Budget, now: float) -> Reservation:
        """Hold `tokens` and one request against today's budget, atomically, or raise QuotaExceeded."""
        period = period_of(now)
        if tokens > budget.tokens or budget.requests < 1:
            raise QuotaExceeded("request_exceeds_budget", seconds_until_next_period(now))
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"client_id": {"S": client_id}, "period": {"S": period}},
                UpdateExpression="ADD reserved_tokens :tokens, requests :one SET expires_at = :expires",
                ConditionExpression=(
                    "(attribute_not_exists(reserved_tokens) OR reserved_tokens <= :token_room) "
                    "AND (attribute_not_exists(requests) OR requests < :request_limit)"
                ),
                ExpressionAttributeValues={
                    ":tokens": {"N": str(tokens)},
                    ":one": {"N": "1"},
                    ":token_room": {"N": str(budget.tokens - tokens)},
                    ":request_limit": {"N": str(budget.requests)},
                    ":expires": {"N": str(int(now + USAGE_RETENTION.total_seconds()))},
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise QuotaExceeded("budget_spent", seconds_until_next_period(now)) from None
            raise DependencyUnavailable("usage_unavailable") from error
        except BotoCoreError as error:
            raise DependencyUnavailable("usage_unavailable") from error
        return Reservation(client_id=client_id, period=period, tokens=tokens)

    def cancel(self, reservation: Reservation) -> None:
        """Give back a reservation whose request never ran: its tokens and its request count."""
        self._adjust(
            reservation, "ADD reserved_tokens :delta, requests :minus_one", -reservation.tokens, None
        )

    def settle(self, reservation: Reservation, used_tokens: int) -> None:
        """Replace the reservation with what was really used (0 when the call failed)."""
        self._adjust(
            reservation,
            "ADD reserved_tokens :delta, used_tokens :used",
            used_tokens - reservation.tokens,
            used_tokens,
        )

    def _adjust(self, reservation: Reservation, expression: str, delta: int, used: int | None) -> None:
        values: dict[str, AttributeValueTypeDef] = {":delta": {"N": str(delta)}}
        if used is None:
            values[":minus_one"] = {"N": "-1"}
        else:
            values[":used"] = {"N": str(used)}
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"client_id": {"S": reservation.client_id}, "period": {"S": reservation.period}},
                UpdateExpression=expression,
                ExpressionAttributeValues=values,
            )
        except (ClientError, BotoCoreError) as error:
            # A lost settlement or cancellation over-counts (fails closed), never under.
            raise DependencyUnavailable("usage_unavailable") from error
