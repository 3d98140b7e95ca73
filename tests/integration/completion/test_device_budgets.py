"""The issue's acceptance test: concurrent device requests against per-user and per-app budgets."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from secure_ai_gateway.adapters.quota import UsageLedger, period_of
from secure_ai_gateway.api.authorized_call import AuthorizedCall
from secure_ai_gateway.client_registry.records import ClientRecord
from secure_ai_gateway.device_registry.user_refs import user_account
from secure_ai_gateway.services.completion import budgets_for, reserve_all
from secure_ai_local.provision import ProvisionedStack
from secure_ai_protocol.errors import QuotaExceeded
from tests.gateway.devices.fakes import enrollment_settings

NOW = 1_800_000_000.0
APP = "acme-app"
REQUESTS = 50


def app(*, requests: int, user_requests: int) -> ClientRecord:
    return ClientRecord(
        client_id=APP,
        status="active",
        scopes=("chat:complete",),
        allowed_models=("gpt-test",),
        max_tokens=256,
        token_budget=10_000_000,
        request_budget=requests,
        created_at=0,
        enrollment=enrollment_settings(user_token_budget=10_000_000, user_request_budget=user_requests),
    )


def device_call(index: int, user_ref: str) -> AuthorizedCall:
    device = "dev-" + f"{index:026d}".translate(str.maketrans("0123456789", "abcdefghij"))
    return AuthorizedCall(
        client_id=device,
        key_id=f"{device}.1",
        req_id=f"req-{index}",
        content_digest="",
        scopes=frozenset({"chat:complete"}),
        body=None,
        is_base64_encoded=False,
        app_id=APP,
        device_id=device,
        user_ref=user_ref,
    )


def requests_counted(stack: ProvisionedStack, account: str) -> int:
    item = (
        boto3.client("dynamodb")
        .get_item(
            TableName=stack.ref("UsageTable"),
            Key={"client_id": {"S": account}, "period": {"S": period_of(NOW)}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return 0 if item is None else int(item["requests"]["N"])


def admitted(stack: ProvisionedStack, record: ClientRecord, user_refs: list[str]) -> int:
    """How many of the calls (one per user ref, all released together) `reserve_all` admits."""
    ledger = UsageLedger(stack.ref("UsageTable"))
    start = threading.Barrier(len(user_refs))

    def attempt(index: int) -> bool:
        budgets = budgets_for(device_call(index, user_refs[index]), record)
        start.wait()
        try:
            reserve_all(ledger, budgets, 100, NOW)
        except QuotaExceeded:
            return False
        return True

    with ThreadPoolExecutor(max_workers=len(user_refs)) as pool:
        return sum(pool.map(attempt, range(len(user_refs))))


@pytest.mark.usefixtures("atomic_dynamodb_items")
def test_fifty_concurrent_requests_of_one_user_with_a_budget_of_ten_admit_exactly_ten(
    aws_stack: ProvisionedStack,
) -> None:
    # Given a user with 10 requests a day at an app with 1000
    ref = "a" * 32
    # When 50 of the user's device requests arrive at once / Then exactly 10 are admitted
    assert admitted(aws_stack, app(requests=1_000, user_requests=10), [ref] * REQUESTS) == 10
    # And both accounts count exactly the admitted ones (the refused were never counted, or given back)
    assert requests_counted(aws_stack, user_account(APP, ref)) == 10
    assert requests_counted(aws_stack, APP) == 10


@pytest.mark.usefixtures("atomic_dynamodb_items")
def test_fifty_concurrent_requests_of_two_users_against_an_app_budget_of_ten_admit_exactly_ten(
    aws_stack: ProvisionedStack,
) -> None:
    # Given an app with 10 requests a day, and two users with 50 each
    refs = ["a" * 32, "b" * 32] * (REQUESTS // 2)
    # When 50 requests of the two arrive at once / Then exactly 10 are admitted
    assert admitted(aws_stack, app(requests=10, user_requests=50), refs) == 10
    assert requests_counted(aws_stack, APP) == 10
    # And the users' accounts gave back every reservation the app refused
    assert sum(requests_counted(aws_stack, user_account(APP, ref)) for ref in set(refs)) == 10
