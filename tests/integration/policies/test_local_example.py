"""The local stack's example policy and its client: provisioned from local/policies/, as an operator would."""

from __future__ import annotations

import base64

import boto3

from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.policy_store import PolicyStore
from secure_ai_local.provision import ProvisionedStack
from secure_ai_local.stack import (
    EXAMPLE_CLIENT_ID,
    EXAMPLE_POLICY_ID,
    LocalStackInfo,
    provision_demo_client,
    provision_example_policy,
)
from tests.integration.clients.aws_doubles import REGION


def test_the_example_policy_is_stored_as_version_1_and_its_client_names_it(
    aws_stack: ProvisionedStack,
) -> None:
    # When the local stack's example policy and client are provisioned
    session = boto3.session.Session(region_name=REGION)
    policy_id = provision_example_policy(session, aws_stack, endpoint_url=None)
    client = provision_demo_client(
        session,
        aws_stack,
        endpoint_url=None,
        client_id=EXAMPLE_CLIENT_ID,
        allowed_models=("gpt-test",),
        policy_id=policy_id,
    )
    # Then the policy is current at version 1, allows docs.example.com, denies a term, and the client names it
    dynamodb = session.client("dynamodb")
    stored = PolicyStore(aws_stack.ref("PoliciesTable"), dynamodb).head(EXAMPLE_POLICY_ID)
    assert stored is not None
    assert stored.version == 1
    assert stored.policy.allowed_hosts == frozenset({"docs.example.com"})
    assert stored.policy.deny_terms == ("Project Falcon",)
    assert stored.written_by.startswith("arn:aws:")
    record = ClientStore(aws_stack.ref("ClientsTable"), dynamodb).get(client.client_id)
    assert record is not None
    assert record.policy_id == EXAMPLE_POLICY_ID


def test_the_example_clients_state_file_carries_its_own_key() -> None:
    info = LocalStackInfo(
        *("http://127.0.0.1:3000/prod", "127.0.0.1:3000", "prod", "secure-ai-v1", "us-east-1"),
        *("http://127.0.0.1:5000", "http://127.0.0.1:4000/v1", "local-demo", "local-demo.1"),
        secret=b"d" * 32,
        policies_table="secure-ai-local-PoliciesTable",
        example_policy_id=EXAMPLE_POLICY_ID,
        example_client_id=EXAMPLE_CLIENT_ID,
        example_key_id=f"{EXAMPLE_CLIENT_ID}.1",
        example_secret=b"e" * 32,
    )
    demo, example = info.as_json(), info.as_example_client_json()
    assert (demo["key_id"], base64.b64decode(demo["secret"])) == ("local-demo.1", b"d" * 32)
    assert (example["key_id"], base64.b64decode(example["secret"])) == ("local-docs.1", b"e" * 32)
    assert example["policies_table"] == demo["policies_table"] == "secure-ai-local-PoliciesTable"
