"""The real completion handler on managed policies: a client's stored policy decides what is released.

A data-carrying link to an allow-listed host is released for a client on the example policy and
blocked for a client on the built-in default; after a rollback to a version without the host it is
blocked again once the cache time has passed. The policy cache's clock is the test's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from gateway_completion import app
from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.policy_store import PolicyStore
from secure_ai_gateway.policy_registry.admin import PolicyAdmin
from secure_ai_gateway.policy_registry.cache import CACHE_SECONDS
from secure_ai_gateway.settings import CompletionSettings
from secure_ai_local.provision import ProvisionedStack
from tests.conftest import TEST_MODEL as MODEL
from tests.conftest import Client
from tests.fake_provider import FakeProvider
from tests.gateway.client_registry.fakes import FakeClock
from tests.integration.completion.conftest import Sent

Send = Callable[..., Sent]
OPERATOR = "arn:aws:iam::123456789012:user/alice"
LINK_ANSWER = "See [the guide](https://docs.example.com/guide?ref=Zm9vYmFyYmF6cXV4) for details."
EXAMPLE = {"allowed_hosts": ["docs.example.com"], "deny_terms": ["Project Falcon"]}


@pytest.fixture
def policy_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def policies(aws_stack: ProvisionedStack) -> PolicyAdmin:
    """Policy administration on the stack's tables, as `secure-ai policies` does it."""
    dynamodb = boto3.client("dynamodb")
    return PolicyAdmin(
        PolicyStore(aws_stack.ref("PoliciesTable"), dynamodb),
        ClientStore(aws_stack.ref("ClientsTable"), dynamodb),
        clock=lambda: 1_800_000_000,
    )


@pytest.fixture
def with_policy_clock(handler: Callable[[dict[str, Any]], dict[str, Any]], policy_clock: FakeClock) -> None:
    """The handler's dependencies as build_dependencies makes them, but on the test's policy clock."""
    settings = CompletionSettings.from_environ(os.environ)
    app.environment.use(app.build_dependencies(settings, policy_clock=policy_clock))


@pytest.fixture
def docs_client(policies: PolicyAdmin, new_client: Callable[..., Client]) -> Client:
    """A client on the example policy (version 1: docs.example.com allowed, "Project Falcon" denied)."""
    policies.put("docs-links", EXAMPLE, written_by=OPERATOR)
    client = new_client("app-docs")
    policies.set_client_policy("app-docs", "docs-links")
    return client


def decision(sent: Sent) -> str:
    assert sent.status == 200
    return str(sent.opened()["verdict"]["decision"])


def chat() -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": "Where is the guide?"}]}


@pytest.mark.usefixtures("with_policy_clock")
def test_an_allow_listed_link_is_released_on_the_example_policy_and_blocked_on_the_default(
    send: Send, docs_client: Client, new_client: Callable[..., Client], provider: FakeProvider
) -> None:
    # Given a client on the example policy and a client on the default
    default_client = new_client("app-default")
    # When the model answers both with a data-carrying link to docs.example.com
    provider.answer = LINK_ANSWER
    # Then it is released for the first and blocked for the second
    released = send(docs_client, chat())
    assert decision(released) == "allow"
    assert released.opened()["completion"]["choices"][0]["message"]["content"] == LINK_ANSWER
    blocked = send(default_client, chat())
    assert decision(blocked) == "block"
    assert blocked.opened()["completion"]["choices"][0]["message"]["content"] is None


@pytest.mark.usefixtures("with_policy_clock")
def test_the_example_policys_deny_term_blocks_and_the_default_does_not(
    send: Send, docs_client: Client, new_client: Callable[..., Client], provider: FakeProvider
) -> None:
    default_client = new_client("app-default")
    provider.answer = "That is Project Falcon."
    assert decision(send(docs_client, chat())) == "block"
    assert decision(send(default_client, chat())) == "allow"


@pytest.mark.usefixtures("with_policy_clock")
def test_after_a_rollback_the_link_is_blocked_again_once_the_cache_time_has_passed(
    send: Send,
    new_client: Callable[..., Client],
    policies: PolicyAdmin,
    provider: FakeProvider,
    policy_clock: FakeClock,
) -> None:
    # Given version 1 without the host, version 2 with it, and a client on the policy
    policies.put("docs-links", {"deny_terms": ["Project Falcon"]}, written_by=OPERATOR)
    policies.put("docs-links", EXAMPLE, written_by=OPERATOR)
    docs_client = new_client("app-docs")
    policies.set_client_policy("app-docs", "docs-links")
    provider.answer = LINK_ANSWER
    assert decision(send(docs_client, chat())) == "allow"
    # When the policy is rolled back to version 1
    policies.rollback("docs-links", 1, written_by=OPERATOR)
    # Then the cached version 2 still releases the link until the cache time is up...
    policy_clock.advance(CACHE_SECONDS - 1)
    assert decision(send(docs_client, chat())) == "allow"
    # ...and from then on it is blocked
    policy_clock.advance(1)
    assert decision(send(docs_client, chat())) == "block"


@pytest.mark.usefixtures("with_policy_clock")
def test_a_client_whose_policy_is_missing_is_refused_before_the_model_and_counted(
    send: Send,
    docs_client: Client,
    provider: FakeProvider,
    aws_stack: ProvisionedStack,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a client on a policy that was deleted
    # (a client named it after `delete` checked: that check cannot close the race, the functions do)
    PolicyStore(aws_stack.ref("PoliciesTable"), boto3.client("dynamodb")).delete_head(
        "docs-links", read_current=1
    )
    capsys.readouterr()
    # When it asks / Then it is refused (fail closed), the model was never called, and it is counted
    sent = send(docs_client, chat())
    assert sent.status == 500
    assert provider.chat_requests == []
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(m.get("reason") == "unknown_policy" and "RequestRefused" in m for m in metrics)


@pytest.mark.usefixtures("with_policy_clock")
def test_a_client_whose_stored_policy_is_unreadable_gets_a_503_not_the_default(
    send: Send, docs_client: Client, provider: FakeProvider, aws_stack: ProvisionedStack
) -> None:
    # Given a client whose policy's head is corrupt in the table
    boto3.client("dynamodb").update_item(
        TableName=aws_stack.ref("PoliciesTable"),
        Key={"policy_id": {"S": "docs-links"}, "version": {"N": "0"}},
        UpdateExpression="SET document = :broken",
        ExpressionAttributeValues={":broken": {"S": "{"}},
    )
    # When it asks / Then 503, and the model was never called
    assert send(docs_client, chat()).status == 503
    assert provider.chat_requests == []
