"""Create, in moto (in-process or server mode), every AWS resource template.yaml declares.

Resources are made from the template's own properties. Types the local stack emulates in process
(functions, the API, the layer, IAM) are listed explicitly; a resource type that is neither created
nor emulated raises, so adding one to the template cannot silently leave it out of local runs.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from secure_ai_local.stack_template import StackTemplate, resolve

EMULATED_TYPES = frozenset(
    {
        "AWS::Serverless::Function",  # invoked in process by the API Gateway emulator and the poller
        "AWS::Serverless::Api",  # the API Gateway emulator
        "AWS::Serverless::LayerVersion",  # the layer's package is installed in the virtual environment
        "AWS::ApiGateway::Account",  # account-level logging role: nothing to emulate
        "AWS::IAM::Role",  # moto does not enforce IAM; least privilege is checked by tests on the template
        # Alarms, their topic and the dashboard watch CloudWatch metrics, which only AWS produces; WAF
        # sits in front of the real stage. Their contract with the code is tests/infrastructure's.
        "AWS::SNS::Topic",
        "AWS::SNS::Subscription",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::WAFv2::WebACL",
        "AWS::WAFv2::WebACLAssociation",
    }
)

LOCAL_ACCOUNT_ID = "123456789012"


@dataclass
class ProvisionedStack:
    """What was created: values for Ref/GetAtt, and each function's resolved environment."""

    stack_name: str
    region: str
    references: dict[str, str] = field(default_factory=dict)
    function_environments: dict[str, dict[str, str]] = field(default_factory=dict)

    def ref(self, logical_id: str) -> str:
        """What `!Ref logical_id` resolves to."""
        return self.references[logical_id]

    def attribute(self, logical_id: str, attribute: str) -> str:
        """What `!GetAtt logical_id.attribute` resolves to."""
        return self.references[f"{logical_id}.{attribute}"]


def provision_stack(
    template: StackTemplate,
    session: boto3.session.Session,
    *,
    stack_name: str = "secure-ai-local",
    parameter_overrides: Mapping[str, str] | None = None,
) -> ProvisionedStack:
    """Create the template's resources through `session`; return how to reference them."""
    region = session.region_name or "us-east-1"
    stack = ProvisionedStack(stack_name=stack_name, region=region)
    refs = stack.references
    refs.update(template.parameter_defaults())
    refs.update(parameter_overrides or {})
    refs.update(
        {
            "AWS::StackName": stack_name,
            "AWS::Region": region,
            "AWS::AccountId": LOCAL_ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
    )
    refs.update(
        {f"Condition::{name}": str(value).lower() for name, value in template.conditions(refs).items()}
    )
    for logical_id, _ in template.resources_of_type("AWS::Serverless::Function"):
        name = f"{stack_name}-{logical_id}"
        refs[logical_id] = name
        refs[f"{logical_id}.Arn"] = f"arn:aws:lambda:{region}:{LOCAL_ACCOUNT_ID}:function:{name}"
    refs["Api"] = "local"

    creators = {
        "AWS::KMS::Key": _create_key,
        "AWS::KMS::Alias": _create_alias,
        "AWS::DynamoDB::Table": _create_table,
        "AWS::SQS::Queue": _create_queue,
        "AWS::Events::EventBus": _create_bus,
        "AWS::Events::Rule": _create_rule,
        "AWS::SQS::QueuePolicy": _create_queue_policy,
        "AWS::SecretsManager::Secret": _create_secret,
        "AWS::Logs::LogGroup": _create_log_group,
        "AWS::Cognito::UserPool": _create_user_pool,
        "AWS::Cognito::UserPoolClient": _create_user_pool_client,
    }
    unknown = {r["Type"] for r in template.resources.values()} - set(creators) - EMULATED_TYPES
    if unknown:
        raise NotImplementedError(f"the local stack does not know how to create {sorted(unknown)}")

    # Creation order follows references: keys before aliases, DLQs before the queues that redrive
    # to them, the bus and its rule before the queue policy that names the rule.
    for resource_type, create in creators.items():
        pending = list(template.resources_of_type(resource_type))
        if resource_type == "AWS::SQS::Queue":
            pending.sort(key=lambda item: "RedrivePolicy" in item[1])
        for logical_id, properties in pending:
            create(session, stack, logical_id, resolve(properties, refs))

    for logical_id, _ in template.resources_of_type("AWS::Serverless::Function"):
        environment = resolve(template.function_environment(logical_id), refs)
        stack.function_environments[logical_id] = {key: str(value) for key, value in environment.items()}
    return stack


def _create_key(
    session: Any, stack: ProvisionedStack, logical_id: str, properties: Mapping[str, Any]
) -> None:
    kms = session.client("kms")
    key = kms.create_key(
        Description=properties.get("Description", logical_id),
        KeySpec=properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
        KeyUsage=properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
        Policy=json.dumps(properties["KeyPolicy"]),
    )["KeyMetadata"]
    if properties.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    stack.references[logical_id] = key["KeyId"]
    stack.references[f"{logical_id}.Arn"] = key["Arn"]


def _create_alias(
    session: Any, stack: ProvisionedStack, logical_id: str, properties: Mapping[str, Any]
) -> None:
    session.client("kms").create_alias(
        AliasName=properties["AliasName"], TargetKeyId=properties["TargetKeyId"]
    )
    stack.references[logical_id] = properties["AliasName"]


def _create_table(
    session: Any, stack: ProvisionedStack, logical_id: str, properties: Mapping[str, Any]
) -> None:
    dynamodb = session.client("dynamodb")
    name = properties.get("TableName", f"{stack.stack_name}-{logical_id}")
    indexes = (
        {"GlobalSecondaryIndexes": properties["GlobalSecondaryIndexes"]}
        if "GlobalSecondaryIndexes" in properties
        else {}
    )
    description = dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=properties["AttributeDefinitions"],
        KeySchema=properties["KeySchema"],
        BillingMode=properties["BillingMode"],
        SSESpecification={"Enabled": bool(properties.get("SSESpecification", {}).get("SSEEnabled"))},
        **indexes,
    )["TableDescription"]
    ttl = properties.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    pitr = properties.get("PointInTimeRecoverySpecification", {})
    if pitr.get("PointInTimeRecoveryEnabled"):
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    stack.references[logical_id] = name
    stack.references[f"{logical_id}.Arn"] = description["TableArn"]


def _create_queue(
    session: Any, stack: ProvisionedStack, logical_id: str, properties: Mapping[str, Any]
) -> None:
    sqs = session.client("sqs")
    attributes = {
        "VisibilityTimeout": str(properties.get("VisibilityTimeout", 30)),
        "MessageRetentionPeriod": str(properties.get("MessageRetentionPeriod", 345600)),
    }
    if "KmsMasterKeyId" in properties:
        attributes["KmsMasterKeyId"] = str(properties["KmsMasterKeyId"])
        attributes["KmsDataKeyReusePeriodSeconds"] = str(properties.get("KmsDataKeyReusePeriodSeconds", 300))
    else:
        attributes["SqsManagedSseEnabled"] = str(bool(properties.get("SqsManagedSseEnabled"))).lower()
    if "RedrivePolicy" in properties:
        attributes["RedrivePolicy"] = json.dumps(properties["RedrivePolicy"])
    name = properties.get("QueueName", f"{stack.stack_name}-{logical_id}")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.references[logical_id] = url
    stack.references[f"{logical_id}.Arn"] = arn
    stack.references[f"{logical_id}.QueueName"] = name


def _create_queue_policy(
    session: Any, stack: ProvisionedStack, logical_id: str, properties: Mapping[str, Any]
) -> None:
    sqs = session.client("sqs")
    for url in properties["Queues"]:
        sqs.set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps(properties["PolicyDocument"])}
        )
    stack.references[logical_id] = logical_id


def _create_bus(
    session: Any, stack: ProvisionedStack, logical_id: str, properties: Mapping[str, Any]
) -> None:
    arn = session.client("events").create_event_bus(Name=properties["Name"])["EventBusArn"]
    stack.references[logical_id] = properties["Name"]
    stack.references[f"{logical_id}.Arn"] = arn
    stack.references[f"{logical_id}.Name"] = properties["Name"]


def _create_rule(
    session: Any, stack: ProvisionedStack, logical_id: str, properties: Mapping[str, Any]
) -> None:
    events = session.client("events")
    name = f"{stack.stack_name}-{logical_id}"
    arn = events.put_rule(
        Name=name,
        EventBusName=properties["EventBusName"],
        EventPattern=json.dumps(properties["EventPattern"]),
        State=properties.get("State", "ENABLED"),
        Description=properties.get("Description", ""),
    )["RuleArn"]
    events.put_targets(
        Rule=name,
        EventBusName=properties["EventBusName"],
        Targets=[{"Id": target["Id"], "Arn": target["Arn"]} for target in properties["Targets"]],
    )
    stack.references[logical_id] = name
    stack.references[f"{logical_id}.Arn"] = arn


def _create_secret(
    session: Any, stack: ProvisionedStack, logical_id: str, properties: Mapping[str, Any]
) -> None:
    secretsmanager = session.client("secretsmanager")
    generated = _generated_secret(properties.get("GenerateSecretString", {}))
    encryption = {"KmsKeyId": properties["KmsKeyId"]} if "KmsKeyId" in properties else {}
    arn = secretsmanager.create_secret(
        Name=f"{stack.stack_name}-{logical_id}",
        Description=properties.get("Description", ""),
        SecretString=properties.get("SecretString", generated),
        **encryption,
    )["ARN"]
    stack.references[logical_id] = arn


def _generated_secret(spec: Mapping[str, Any]) -> str:
    """What GenerateSecretString makes, drawn from `secrets`: moto's get_random_password uses the
    `random` module, and the verdict-digest key is a key, locally too."""
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation", False):
        alphabet += string.punctuation
    return "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))


def _create_log_group(
    session: Any, stack: ProvisionedStack, logical_id: str, properties: Mapping[str, Any]
) -> None:
    logs = session.client("logs")
    encryption = {"kmsKeyId": properties["KmsKeyId"]} if "KmsKeyId" in properties else {}
    logs.create_log_group(logGroupName=properties["LogGroupName"], **encryption)
    logs.put_retention_policy(
        logGroupName=properties["LogGroupName"], retentionInDays=int(properties["RetentionInDays"])
    )
    stack.references[logical_id] = properties["LogGroupName"]
    stack.references[f"{logical_id}.Arn"] = (
        f"arn:aws:logs:{stack.region}:{LOCAL_ACCOUNT_ID}:log-group:{properties['LogGroupName']}:*"
    )


def _create_user_pool(
    session: Any, stack: ProvisionedStack, logical_id: str, properties: Mapping[str, Any]
) -> None:
    pool = session.client("cognito-idp").create_user_pool(
        PoolName=properties["UserPoolName"],
        UsernameAttributes=properties.get("UsernameAttributes", []),
        Policies=properties.get("Policies", {}),
    )["UserPool"]
    stack.references[logical_id] = pool["Id"]
    stack.references[f"{logical_id}.Arn"] = pool["Arn"]


def _create_user_pool_client(
    session: Any, stack: ProvisionedStack, logical_id: str, properties: Mapping[str, Any]
) -> None:
    client = session.client("cognito-idp").create_user_pool_client(
        UserPoolId=properties["UserPoolId"],
        ClientName=properties["ClientName"],
        GenerateSecret=bool(properties.get("GenerateSecret", False)),
        ExplicitAuthFlows=properties.get("ExplicitAuthFlows", []),
    )["UserPoolClient"]
    stack.references[logical_id] = client["ClientId"]
