"""Daily budgets in the usage table: atomic reservations, settlement, fail closed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from secure_ai_gateway.adapters.quota import UsageLedger, period_of, seconds_until_next_period
from secure_ai_gateway.ports import Budget
from secure_ai_gateway.services.completion import estimate_prompt_tokens
from secure_ai_local.provision import ProvisionedStack
from secure_ai_protocol.errors import DependencyUnavailable, QuotaExceeded

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def usage_row(stack: ProvisionedStack, client_id: str) -> dict[str, int]:
    item = boto3.client("dynamodb").get_item(
        TableName=stack.ref("UsageTable"),
        Key={"client_id": {"S": client_id}, "period": {"S": period_of(NOW)}},
        ConsistentRead=True,
    )["Item"]
    return {name: int(value["N"]) for name, value in item.items() if "N" in value}


def test_a_reservation_holds_tokens_and_one_request(aws_stack: ProvisionedStack) -> None:
    ledger = UsageLedger(aws_stack.ref("UsageTable"))
    ledger.reserve("app-1", 100, Budget(tokens=1000, requests=10), NOW)
    row = usage_row(aws_stack, "app-1")
    assert (row["reserved_tokens"], row["requests"]) == (100, 1)
    assert row["expires_at"] > NOW


def test_settling_replaces_the_reservation_with_real_usage(aws_stack: ProvisionedStack) -> None:
    ledger = UsageLedger(aws_stack.ref("UsageTable"))
    reservation = ledger.reserve("app-1", 100, Budget(tokens=1000, requests=10), NOW)
    ledger.settle(reservation, used_tokens=30)
    row = usage_row(aws_stack, "app-1")
    assert (row["reserved_tokens"], row["used_tokens"]) == (30, 30)


def test_a_spent_token_budget_refuses_with_retry_after_until_midnight(aws_stack: ProvisionedStack) -> None:
    ledger = UsageLedger(aws_stack.ref("UsageTable"))
    ledger.reserve("app-1", 900, Budget(tokens=1000, requests=10), NOW)
    with pytest.raises(QuotaExceeded) as refused:
        ledger.reserve("app-1", 101, Budget(tokens=1000, requests=10), NOW)
    assert refused.value.retry_after_seconds == 16 * 3600


def test_a_request_larger_than_the_whole_budget_is_refused_without_a_write(
    aws_stack: ProvisionedStack,
) -> None:
    ledger = UsageLedger(aws_stack.ref("UsageTable"))
    with pytest.raises(QuotaExceeded):
        ledger.reserve("app-1", 1001, Budget(tokens=1000, requests=10), NOW)
    item = boto3.client("dynamodb").get_item(
        TableName=aws_stack.ref("UsageTable"),
        Key={"client_id": {"S": "app-1"}, "period": {"S": period_of(NOW)}},
    )
    assert "Item" not in item


@pytest.mark.usefixtures("atomic_dynamodb_items")
def test_fifty_concurrent_requests_against_a_budget_of_ten_admit_exactly_ten(
    aws_stack: ProvisionedStack,
) -> None:
    ledger = UsageLedger(aws_stack.ref("UsageTable"))
    budget = Budget(tokens=1_000_000, requests=10)

    def attempt(_: int) -> bool:
        try:
            ledger.reserve("app-1", 10, budget, NOW)
        except QuotaExceeded:
            return False
        return True

    with ThreadPoolExecutor(max_workers=50) as pool:
        admitted = sum(pool.map(attempt, range(50)))
    assert admitted == 10
    assert usage_row(aws_stack, "app-1")["requests"] == 10


@pytest.mark.parametrize(
    "failure",
    [
        ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem"),
        EndpointConnectionError(endpoint_url="https://dynamodb.invalid"),
    ],
)
def test_an_unavailable_usage_table_fails_closed(aws_stack: ProvisionedStack, failure: Exception) -> None:
    client = mock.Mock()
    client.update_item.side_effect = failure
    ledger = UsageLedger(aws_stack.ref("UsageTable"), client)
    with pytest.raises(DependencyUnavailable):
        ledger.reserve("app-1", 1, Budget(tokens=10, requests=10), NOW)
    with pytest.raises(DependencyUnavailable):
        ledger.settle(mock.Mock(client_id="app-1", period="2027-01-15", tokens=1), 1)


def test_the_prompt_estimate_is_cautious_and_never_zero() -> None:
    assert estimate_prompt_tokens([]) == 1
    assert estimate_prompt_tokens(["abcd", "abcde"]) == (1 + 4) + (2 + 4)


def test_the_retry_after_is_at_least_one_second() -> None:
    assert seconds_until_next_period(86400 * 20000 - 0.1) == 1
