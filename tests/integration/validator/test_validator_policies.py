"""The real validator handler on managed policies: a call screens under the stored policy it names."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from secure_ai_gateway.adapters.policy_store import PolicyStore
from secure_ai_gateway.policy_registry.records import PolicyVersion
from secure_ai_gateway.screening.policy import Policy
from secure_ai_local.provision import ProvisionedStack
from tests.conftest import Client
from tests.integration.validator.test_validator_handler import validate_json

Invoke = Callable[[dict[str, Any]], dict[str, Any]]
LINK = "Read [the guide](https://docs.example.com/guide?ref=Zm9vYmFyYmF6cXV4)."


@pytest.fixture
def docs_links(aws_stack: ProvisionedStack) -> Policy:
    """The example policy, stored as version 2 (the version a verdict must name)."""
    store = PolicyStore(aws_stack.ref("PoliciesTable"), boto3.client("dynamodb"))
    first = Policy(policy_id="docs-links", version=1)
    second = Policy(policy_id="docs-links", version=2, allowed_hosts=frozenset({"docs.example.com"}))
    writer = "arn:aws:iam::123456789012:user/alice"
    store.write_version(PolicyVersion(first, writer, 0), read_current=None)
    store.write_version(PolicyVersion(second, writer, 0), read_current=1)
    return second


def test_a_call_naming_a_stored_policy_is_screened_under_its_current_version(
    validator: Invoke, client: Client, docs_links: Policy
) -> None:
    response = validate_json(validator, client, {"text": LINK, "id": "v-docs", "policy_id": "docs-links"})
    verdict = json.loads(response["body"])
    assert response["statusCode"] == 200
    assert (verdict["decision"], verdict["policy_id"], verdict["policy_version"]) == (
        "allow",
        "docs-links",
        2,
    )


def test_a_call_naming_no_policy_is_screened_under_the_built_in_default(
    validator: Invoke, client: Client, docs_links: Policy
) -> None:
    response = validate_json(validator, client, {"text": LINK, "id": "v-default"})
    verdict = json.loads(response["body"])
    assert (verdict["decision"], verdict["policy_id"]) == ("block", "default")


def test_a_call_naming_a_policy_that_is_not_stored_is_a_bad_request(
    validator: Invoke, client: Client
) -> None:
    response = validate_json(validator, client, {"text": LINK, "id": "v-none", "policy_id": "docs-links"})
    assert response["statusCode"] == 400
