"""Least privilege, read off template.yaml: wildcards are justified, and each role can do only its job."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from secure_ai_local.stack_template import StackTemplate


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def every_statement(template: StackTemplate) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(owner logical id, statement) for function policies, roles, key and queue policies."""
    for logical_id, resource in template.resources.items():
        properties = resource.get("Properties", {})
        documents: list[Mapping[str, Any]] = []
        if resource["Type"] == "AWS::Serverless::Function":
            documents += [policy for policy in properties.get("Policies", []) if isinstance(policy, Mapping)]
        if resource["Type"] == "AWS::IAM::Role":
            documents += [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        if resource["Type"] == "AWS::KMS::Key":
            documents.append(properties["KeyPolicy"])
        if resource["Type"] == "AWS::SQS::QueuePolicy":
            documents.append(properties["PolicyDocument"])
        for document in documents:
            for statement in document["Statement"]:
                yield logical_id, statement


def function_statements(template: StackTemplate, logical_id: str) -> list[Mapping[str, Any]]:
    policies = template.resources[logical_id]["Properties"]["Policies"]
    assert all(isinstance(policy, Mapping) for policy in policies), (
        "only inline statements, no managed policies"
    )
    return [statement for policy in policies for statement in policy["Statement"]]


def grants(statements: list[Mapping[str, Any]], action: str) -> list[Mapping[str, Any]]:
    return [s for s in statements if s["Effect"] == "Allow" and action in as_list(s["Action"])]


def test_every_wildcard_action_or_resource_has_a_written_justification(stack_template: StackTemplate) -> None:
    justified = stack_template.document["Metadata"]["WildcardJustifications"]
    for owner, statement in every_statement(stack_template):
        wildcards = [
            value
            for value in as_list(statement["Action"]) + as_list(statement.get("Resource", []))
            if "*" in str(value)
        ]
        if wildcards:
            sid = statement.get("Sid")
            assert sid in justified, f"{owner}: statement {sid!r} uses {wildcards} without a justification"
            assert len(str(justified[sid]).strip()) > 20


def test_every_statement_has_a_sid_that_says_what_it_is_for(stack_template: StackTemplate) -> None:
    for owner, statement in every_statement(stack_template):
        assert statement.get("Sid"), f"{owner} has a statement without a Sid"


def test_no_function_statement_allows_a_whole_service(stack_template: StackTemplate) -> None:
    for logical_id, _ in stack_template.resources_of_type("AWS::Serverless::Function"):
        for statement in function_statements(stack_template, logical_id):
            for action in as_list(statement["Action"]):
                assert not str(action).endswith(":*"), f"{logical_id} allows {action}"


def test_the_authorizer_reads_clients_and_devices_writes_nonces_and_unseals_only_client_secrets(
    stack_template: StackTemplate,
) -> None:
    statements = function_statements(stack_template, "AuthorizerFunction")
    actions = {action for s in statements for action in as_list(s["Action"])}
    assert actions == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "kms:Decrypt",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    reads = grants(statements, "dynamodb:GetItem")
    assert sorted(read["Resource"]["Fn::GetAtt"][0] for read in reads) == ["ClientsTable", "DevicesTable"]
    (write,) = grants(statements, "dynamodb:PutItem")
    assert write["Resource"] == {"Fn::GetAtt": ["NoncesTable", "Arn"]}
    (unseal,) = grants(statements, "kms:Decrypt")
    assert unseal["Condition"] == {"StringEquals": {"kms:EncryptionContext:purpose": "client-secret"}}


def test_the_devices_function_seals_but_never_unseals_device_secrets(stack_template: StackTemplate) -> None:
    statements = function_statements(stack_template, "DevicesFunction")
    actions = {action for s in statements for action in as_list(s["Action"])}
    assert actions == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "kms:Encrypt",
        "kms:Decrypt",
        "secretsmanager:GetSecretValue",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    (seal,) = grants(statements, "kms:Encrypt")
    assert seal["Resource"] == {"Fn::GetAtt": ["RequestKey", "Arn"]}
    assert seal["Condition"] == {"StringEquals": {"kms:EncryptionContext:purpose": "client-secret"}}
    # Its only Decrypt is of its one secret, through Secrets Manager, with the secrets key.
    (decrypt,) = grants(statements, "kms:Decrypt")
    assert decrypt["Resource"] == {"Fn::GetAtt": ["SecretsKey", "Arn"]}
    assert decrypt["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"] == {
        "Ref": "VerdictDigestKeySecret"
    }
    writes = grants(statements, "dynamodb:UpdateItem")
    assert [write["Resource"] for write in writes] == [{"Fn::GetAtt": ["DevicesTable", "Arn"]}]


@pytest.mark.parametrize(
    ("logical_id", "keys"),
    [
        ("CompletionFunction", {"RequestKey", "RsaRequestKey", "SecretsKey"}),
        ("StreamingFunction", {"RequestKey", "RsaRequestKey", "SecretsKey"}),
        ("ValidatorFunction", {"RequestKey", "RsaRequestKey", "SecretsKey", "QueueKey"}),
    ],
)
def test_request_key_decrypt_is_conditioned_and_cannot_unseal_client_secrets(
    stack_template: StackTemplate, logical_id: str, keys: set[str]
) -> None:
    decrypts = grants(function_statements(stack_template, logical_id), "kms:Decrypt")
    by_key = {str(s["Resource"]["Fn::GetAtt"][0]): s for s in decrypts}
    assert len(by_key) == len(decrypts), "one kms:Decrypt statement per key"
    assert set(by_key) == keys
    assert by_key["RequestKey"]["Condition"] == {"StringEquals": {"kms:EncryptionContext:purpose": "request"}}
    # KMS takes no encryption context with asymmetric keys; the algorithm is what can be pinned.
    assert by_key["RsaRequestKey"]["Condition"] == {
        "StringEquals": {"kms:EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}
    }


def test_only_the_completion_streaming_and_validator_roles_may_decrypt_request_envelopes(
    stack_template: StackTemplate,
) -> None:
    for logical_id, _ in stack_template.resources_of_type("AWS::Serverless::Function"):
        for statement in grants(function_statements(stack_template, logical_id), "kms:Decrypt"):
            purpose = (
                statement.get("Condition", {}).get("StringEquals", {}).get("kms:EncryptionContext:purpose")
            )
            if purpose == "request" or statement["Resource"] == {"Fn::GetAtt": ["RsaRequestKey", "Arn"]}:
                assert logical_id in {"CompletionFunction", "StreamingFunction", "ValidatorFunction"}


@pytest.mark.parametrize(
    "logical_id", ["AuthorizerFunction", "CompletionFunction", "StreamingFunction", "ValidatorFunction"]
)
def test_every_function_resource_is_a_reference_to_this_stack(
    stack_template: StackTemplate, logical_id: str
) -> None:
    justified = stack_template.document["Metadata"]["WildcardJustifications"]
    for statement in function_statements(stack_template, logical_id):
        if statement["Sid"] in justified:
            continue
        for resource in as_list(statement["Resource"]):
            assert isinstance(resource, Mapping)
            assert set(resource) <= {"Ref", "Fn::GetAtt"}, f"{logical_id}: {resource}"


def test_only_the_validator_touches_the_queue_bus_and_verdicts(stack_template: StackTemplate) -> None:
    for logical_id in ("AuthorizerFunction", "CompletionFunction", "StreamingFunction"):
        actions = {a for s in function_statements(stack_template, logical_id) for a in as_list(s["Action"])}
        assert not {a for a in actions if a.startswith(("sqs:", "events:"))}
    validator = function_statements(stack_template, "ValidatorFunction")
    (publish,) = grants(validator, "events:PutEvents")
    assert publish["Resource"] == {"Fn::GetAtt": ["ValidationBus", "Arn"]}


def test_only_the_eventbridge_rule_may_send_to_the_validation_queue(stack_template: StackTemplate) -> None:
    policy = stack_template.resources["ValidationQueuePolicy"]["Properties"]["PolicyDocument"]
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ValidateOutputRule", "Arn"]}}
    }


def test_every_kms_decrypt_a_function_is_granted_carries_a_condition(stack_template: StackTemplate) -> None:
    for logical_id, _ in stack_template.resources_of_type("AWS::Serverless::Function"):
        for statement in grants(function_statements(stack_template, logical_id), "kms:Decrypt"):
            assert statement.get("Condition"), f"{logical_id}: {statement['Sid']} decrypts unconditionally"


@pytest.mark.parametrize("logical_id", ["CompletionFunction", "StreamingFunction", "ValidatorFunction"])
def test_function_secrets_decrypt_only_through_secrets_manager_and_only_for_those_secrets(
    stack_template: StackTemplate, logical_id: str
) -> None:
    (statement,) = [
        s
        for s in grants(function_statements(stack_template, logical_id), "kms:Decrypt")
        if s["Resource"] == {"Fn::GetAtt": ["SecretsKey", "Arn"]}
    ]
    assert as_list(statement["Action"]) == ["kms:Decrypt"]
    assert statement["Condition"] == {
        "StringEquals": {
            "kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.${AWS::URLSuffix}"},
            "kms:EncryptionContext:SecretARN": [
                {"Ref": "ModelApiKeySecret"},
                {"Ref": "VerdictDigestKeySecret"},
            ],
        }
    }


@pytest.mark.parametrize(
    ("logical_id", "secrets"),
    [
        ("AuthorizerFunction", []),
        ("CompletionFunction", [{"Ref": "ModelApiKeySecret"}, {"Ref": "VerdictDigestKeySecret"}]),
        ("StreamingFunction", [{"Ref": "ModelApiKeySecret"}, {"Ref": "VerdictDigestKeySecret"}]),
        ("ValidatorFunction", [{"Ref": "ModelApiKeySecret"}, {"Ref": "VerdictDigestKeySecret"}]),
    ],
)
def test_only_the_completion_and_validator_read_secrets_and_each_one_by_name(
    stack_template: StackTemplate, logical_id: str, secrets: list[Mapping[str, str]]
) -> None:
    # The verdict-digest key keys every verdict digest: whoever reads it could confirm guessed texts.
    reads = grants(function_statements(stack_template, logical_id), "secretsmanager:GetSecretValue")
    assert all(as_list(s["Action"]) == ["secretsmanager:GetSecretValue"] for s in reads)
    assert [resource for s in reads for resource in as_list(s["Resource"])] == secrets


def test_only_the_validator_decrypts_queue_messages_and_only_through_sqs_for_its_queue(
    stack_template: StackTemplate,
) -> None:
    queue_key = {"Fn::GetAtt": ["QueueKey", "Arn"]}
    for logical_id in ("AuthorizerFunction", "CompletionFunction", "StreamingFunction"):
        resources = [s["Resource"] for s in function_statements(stack_template, logical_id)]
        assert queue_key not in resources
    (statement,) = [
        s
        for s in grants(function_statements(stack_template, "ValidatorFunction"), "kms:Decrypt")
        if s["Resource"] == queue_key
    ]
    assert statement["Condition"] == {
        "StringEquals": {
            "kms:ViaService": {"Fn::Sub": "sqs.${AWS::Region}.${AWS::URLSuffix}"},
            "kms:EncryptionContext:aws:sqs:arn": {"Fn::GetAtt": ["ValidationQueue", "Arn"]},
        }
    }


def test_the_authorizer_can_use_no_key_but_the_request_key(stack_template: StackTemplate) -> None:
    kms_resources = [
        s["Resource"]
        for s in function_statements(stack_template, "AuthorizerFunction")
        if any(str(action).startswith("kms:") for action in as_list(s["Action"]))
    ]
    assert kms_resources == [{"Fn::GetAtt": ["RequestKey", "Arn"]}]


def test_the_validator_cannot_read_client_records(stack_template: StackTemplate) -> None:
    statements = function_statements(stack_template, "ValidatorFunction")
    resources = [s["Resource"] for s in statements if "dynamodb:GetItem" in as_list(s["Action"])]
    assert {"Fn::GetAtt": ["ClientsTable", "Arn"]} not in resources


def actions_on(stack_template: StackTemplate, logical_id: str, resource: Mapping[str, Any]) -> set[str]:
    return {
        action
        for statement in function_statements(stack_template, logical_id)
        if resource in as_list(statement["Resource"])
        for action in as_list(statement["Action"])
    }


@pytest.mark.parametrize(
    ("logical_id", "actions"),
    [
        ("AuthorizerFunction", set()),
        ("CompletionFunction", {"dynamodb:GetItem"}),
        ("StreamingFunction", {"dynamodb:GetItem"}),
        ("ValidatorFunction", {"dynamodb:GetItem"}),
    ],
)
def test_functions_only_read_policies_and_the_authorizer_not_at_all(
    stack_template: StackTemplate, logical_id: str, actions: set[str]
) -> None:
    # Policies are written by operators (`secure-ai policies`), never by a function.
    policies = {"Fn::GetAtt": ["PoliciesTable", "Arn"]}
    assert actions_on(stack_template, logical_id, policies) == actions


def test_nothing_in_the_stack_may_write_policies(stack_template: StackTemplate) -> None:
    for owner, statement in every_statement(stack_template):
        resources = as_list(statement.get("Resource", []))
        if {"Fn::GetAtt": ["PoliciesTable", "Arn"]} in resources:
            assert set(as_list(statement["Action"])) <= {"dynamodb:GetItem", "dynamodb:Query"}, owner


def test_the_streaming_function_may_do_what_the_completion_function_does_but_serve_the_public_key(
    stack_template: StackTemplate,
) -> None:
    # The same pipeline up to the model and the same budget; it serves no key (kms:GetPublicKey).
    def sids(logical_id: str) -> dict[str, Mapping[str, Any]]:
        return {str(s["Sid"]): s for s in function_statements(stack_template, logical_id)}

    streaming, completion = sids("StreamingFunction"), sids("CompletionFunction")
    assert set(completion) - set(streaming) == {"ServePublicKey"}
    assert set(streaming) <= set(completion)
    for sid, statement in streaming.items():
        assert statement == completion[sid], sid
