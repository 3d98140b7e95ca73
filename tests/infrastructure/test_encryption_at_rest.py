"""Data at rest, read off template.yaml: which key protects what, who may use it, why a check is skipped."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from secure_ai_local.stack_template import StackTemplate

LOG_GROUPS = {
    "ApiAccessLogGroup": None,
    "AuthorizerLogGroup": "AuthorizerFunction",
    "CompletionLogGroup": "CompletionFunction",
    "ValidatorLogGroup": "ValidatorFunction",
    "DevicesLogGroup": "DevicesFunction",
    "StreamingLogGroup": "StreamingFunction",
}
LOG_GROUP_ARN_PREFIX = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"


def key_statements(template: StackTemplate, logical_id: str) -> list[Mapping[str, Any]]:
    return list(template.resources[logical_id]["Properties"]["KeyPolicy"]["Statement"])


def service_statements(template: StackTemplate, logical_id: str) -> list[Mapping[str, Any]]:
    return [s for s in key_statements(template, logical_id) if "Service" in s.get("Principal", {})]


def checkov_skips(template: StackTemplate) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for logical_id, resource in template.resources.items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            yield logical_id, skip


@pytest.mark.parametrize("logical_id", sorted(LOG_GROUPS))
def test_every_log_group_is_encrypted_with_the_logs_key(
    stack_template: StackTemplate, logical_id: str
) -> None:
    properties = stack_template.resources[logical_id]["Properties"]
    assert properties["KmsKeyId"] == {"Fn::GetAtt": ["LogsKey", "Arn"]}
    assert properties["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_template_declares_exactly_the_log_groups_the_tests_check(stack_template: StackTemplate) -> None:
    declared = {logical_id for logical_id, _ in stack_template.resources_of_type("AWS::Logs::LogGroup")}
    assert declared == set(LOG_GROUPS)


@pytest.mark.parametrize(("log_group", "function"), [(g, f) for g, f in LOG_GROUPS.items() if f])
def test_every_function_logs_to_its_encrypted_log_group(
    stack_template: StackTemplate, log_group: str, function: str
) -> None:
    # Without LoggingConfig, Lambda would create /aws/lambda/<name> itself, unencrypted, on first log.
    logging_config = stack_template.resources[function]["Properties"]["LoggingConfig"]
    assert logging_config == {"LogGroup": {"Ref": log_group}}


def test_the_access_log_goes_to_the_encrypted_access_log_group(stack_template: StackTemplate) -> None:
    (_, api), *_ = stack_template.resources_of_type("AWS::Serverless::Api")
    assert api["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}


def test_cloudwatch_logs_may_use_the_logs_key_for_this_stacks_log_groups_only(
    stack_template: StackTemplate,
) -> None:
    (statement,) = service_statements(stack_template, "LogsKey")
    assert statement["Principal"] == {"Service": {"Fn::Sub": "logs.${AWS::Region}.${AWS::URLSuffix}"}}
    (condition,) = statement["Condition"].values()
    allowed = {value["Fn::Sub"] for value in condition["kms:EncryptionContext:aws:logs:arn"]}
    names = {stack_template.resources[group]["Properties"]["LogGroupName"]["Fn::Sub"] for group in LOG_GROUPS}
    assert allowed == {LOG_GROUP_ARN_PREFIX + name for name in names}
    assert "kms:*" not in statement["Action"]
    assert not {a for a in statement["Action"] if a.startswith(("kms:Create", "kms:Put", "kms:Schedule"))}


SECRETS = ["ModelApiKeySecret", "VerdictDigestKeySecret"]


def test_the_template_declares_exactly_the_secrets_the_tests_check(stack_template: StackTemplate) -> None:
    declared = {
        logical_id for logical_id, _ in stack_template.resources_of_type("AWS::SecretsManager::Secret")
    }
    assert declared == set(SECRETS)


@pytest.mark.parametrize("logical_id", SECRETS)
def test_every_secret_is_encrypted_with_the_secrets_key(
    stack_template: StackTemplate, logical_id: str
) -> None:
    properties = stack_template.resources[logical_id]["Properties"]
    assert properties["KmsKeyId"] == {"Fn::GetAtt": ["SecretsKey", "Arn"]}
    # Use of the secrets key is granted in IAM only, per secret: no service principal in its policy.
    assert service_statements(stack_template, "SecretsKey") == []


@pytest.mark.parametrize("logical_id", ["ValidationQueue", "ValidationDeadLetterQueue"])
def test_the_queue_and_its_dead_letter_queue_are_encrypted_with_the_queue_key(
    stack_template: StackTemplate, logical_id: str
) -> None:
    properties = stack_template.resources[logical_id]["Properties"]
    assert properties["KmsMasterKeyId"] == {"Fn::GetAtt": ["QueueKey", "Arn"]}
    assert "SqsManagedSseEnabled" not in properties


def test_eventbridge_may_use_the_queue_key_only_to_encrypt_for_sqs_in_this_account(
    stack_template: StackTemplate,
) -> None:
    (statement,) = service_statements(stack_template, "QueueKey")
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statement["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:sqs:arn": {
                "Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:*"
            }
        }
    }


@pytest.mark.parametrize("logical_id", ["RequestKey", "LogsKey", "SecretsKey", "QueueKey", "AlarmsKey"])
def test_every_symmetric_key_rotates(stack_template: StackTemplate, logical_id: str) -> None:
    properties = stack_template.resources[logical_id]["Properties"]
    assert properties["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert properties["EnableKeyRotation"] is True


def test_the_template_declares_exactly_the_keys_the_tests_check(stack_template: StackTemplate) -> None:
    keys = {logical_id for logical_id, _ in stack_template.resources_of_type("AWS::KMS::Key")}
    assert keys == {"RequestKey", "RsaRequestKey", "LogsKey", "SecretsKey", "QueueKey", "AlarmsKey"}


def test_the_alarm_topic_is_encrypted_with_the_alarms_key(stack_template: StackTemplate) -> None:
    properties = stack_template.resources["AlarmTopic"]["Properties"]
    assert properties["KmsMasterKeyId"] == {"Fn::GetAtt": ["AlarmsKey", "Arn"]}


def test_cloudwatch_may_use_the_alarms_key_only_for_this_stacks_alarms(stack_template: StackTemplate) -> None:
    (statement,) = service_statements(stack_template, "AlarmsKey")
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    alarms_of_this_stack = (
        "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${AWS::StackName}-*"
    )
    assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": {"Fn::Sub": alarms_of_this_stack}}


def test_no_key_policy_names_a_wildcard_principal(stack_template: StackTemplate) -> None:
    for logical_id, _ in stack_template.resources_of_type("AWS::KMS::Key"):
        for statement in key_statements(stack_template, logical_id):
            principal = statement["Principal"]
            assert principal != "*"
            assert "*" not in (principal.get("AWS"), principal.get("Service"))
            if "AWS" in principal:
                assert principal["AWS"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}


def test_every_skipped_scanner_check_names_the_check_and_says_why(stack_template: StackTemplate) -> None:
    skips = list(checkov_skips(stack_template))
    assert skips, "template.yaml declares no checkov skips: drop this test or the skips' reasons went missing"
    for logical_id, skip in skips:
        assert str(skip["id"]).startswith("CKV_"), f"{logical_id}: {skip}"
        assert len(str(skip.get("comment", "")).split()) >= 12, f"{logical_id}: {skip['id']} needs a reason"
