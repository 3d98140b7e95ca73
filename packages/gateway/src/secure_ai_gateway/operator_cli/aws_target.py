"""Where the operator's actions act: region, endpoint, tables, sealing key, validation queues.

Flags win over `--local`'s `.secure-ai/local.json`, which wins over `--stack-name`'s outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.device_store import DeviceStore
from secure_ai_gateway.adapters.secret_sealing import SecretSealer
from secure_ai_gateway.client_registry.admin import ClientAdmin
from secure_ai_gateway.device_registry.admin import DeviceAdmin
from secure_ai_protocol.aws_config import CLIENT_CONFIG
from secure_ai_protocol.command_line import CommandParser, UsageError
from secure_ai_protocol.errors import DependencyUnavailable

LOCAL_CONFIG_PATH: Final = Path(".secure-ai") / "local.json"
# Fixed fake credentials for --local: real AWS credentials are never sent, even signed, to the
# local emulator's endpoint.
LOCAL_ACCESS_KEY: Final = "secure-ai-local"


@dataclass(frozen=True, slots=True)
class AwsTarget:
    """Where the commands act: region, endpoint, tables, sealing key, validation queues."""

    region: str | None
    endpoint_url: str | None
    clients_table: str | None
    policies_table: str | None
    kms_key_arn: str | None
    local: bool
    queue_url: str | None = None
    dead_letter_queue_url: str | None = None
    devices_table: str | None = None
    cognito_issuer: str | None = None
    user_pool_client_id: str | None = None


def aws_options() -> CommandParser:
    options = CommandParser(add_help=False)
    group = options.add_argument_group("AWS target")
    group.add_argument(
        "--endpoint-url", help="AWS endpoint (default: $AWS_ENDPOINT_URL), e.g. the local stack"
    )
    group.add_argument("--region", help="AWS region (default: the usual AWS configuration)")
    group.add_argument("--clients-table", help="the clients DynamoDB table name")
    group.add_argument("--policies-table", help="the policies DynamoDB table name")
    group.add_argument("--devices-table", help="the devices DynamoDB table name")
    group.add_argument("--kms-key-arn", help="the symmetric KMS key that seals client secrets")
    group.add_argument("--stack-name", help="read the table and key from this CloudFormation stack's outputs")
    group.add_argument(
        "--local", action="store_true", help=f"use the local stack described in {LOCAL_CONFIG_PATH}"
    )
    return options


def resolve_target(args: argparse.Namespace, environ: Mapping[str, str]) -> AwsTarget:
    """Combine flags, --local's file and --stack-name's outputs; explicit flags win."""
    if args.local and args.stack_name:
        raise UsageError("--local and --stack-name cannot be combined")
    local = _read_local_config(LOCAL_CONFIG_PATH) if args.local else {}
    region = args.region or local.get("region")
    endpoint_url = (
        args.endpoint_url or local.get("aws_endpoint_url") or environ.get("AWS_ENDPOINT_URL") or None
    )
    if args.local and not endpoint_url:
        raise UsageError(f"{LOCAL_CONFIG_PATH} names no aws_endpoint_url; is the local stack running?")
    outputs: Mapping[str, str] = {}
    if args.stack_name:
        outputs = _stack_outputs(args.stack_name, region, endpoint_url)
    return AwsTarget(
        region=region,
        endpoint_url=endpoint_url,
        clients_table=args.clients_table or local.get("clients_table") or outputs.get("ClientsTableName"),
        policies_table=args.policies_table or local.get("policies_table") or outputs.get("PoliciesTableName"),
        kms_key_arn=args.kms_key_arn or local.get("kms_key_arn") or outputs.get("RequestKeyArn"),
        local=bool(args.local),
        queue_url=getattr(args, "queue_url", None)
        or local.get("validation_queue_url")
        or outputs.get("ValidationQueueUrl"),
        dead_letter_queue_url=getattr(args, "dead_letter_queue_url", None)
        or local.get("dead_letter_queue_url")
        or outputs.get("ValidationDeadLetterQueueUrl"),
        devices_table=getattr(args, "devices_table", None)
        or local.get("devices_table")
        or outputs.get("DevicesTableName"),
        cognito_issuer=local.get("oidc_issuer") or outputs.get("CognitoIssuer"),
        user_pool_client_id=local.get("user_pool_client_id") or outputs.get("UserPoolClientId"),
    )


def client_admin(args: argparse.Namespace, *, issues_keys: bool) -> ClientAdmin:
    target = resolve_target(args, os.environ)
    if not target.clients_table:
        raise UsageError("no clients table: pass --clients-table, --stack-name NAME or --local")
    if issues_keys and not target.kms_key_arn:
        raise UsageError("no KMS key: pass --kms-key-arn, --stack-name NAME or --local")
    session = session_for(target.region, local=target.local)
    dynamodb = service_client(session, "dynamodb", target)
    kms = service_client(session, "kms", target) if issues_keys else None
    sealer = SecretSealer(target.kms_key_arn, kms) if kms is not None and target.kms_key_arn else None
    return ClientAdmin(ClientStore(target.clients_table, dynamodb), sealer, clock=time.time)


def device_admin(args: argparse.Namespace) -> DeviceAdmin:
    target = resolve_target(args, os.environ)
    if not target.devices_table:
        raise UsageError("no devices table: pass --devices-table, --stack-name NAME or --local")
    session = session_for(target.region, local=target.local)
    return DeviceAdmin(
        DeviceStore(target.devices_table, service_client(session, "dynamodb", target)), clock=time.time
    )


def service_client(session: boto3.session.Session, service: str, target: AwsTarget) -> Any:
    """A boto3 client of `service` for `target`; a missing region or a bad endpoint is a usage error."""
    try:
        return session.client(service, endpoint_url=target.endpoint_url, config=CLIENT_CONFIG)  # type: ignore[call-overload]
    except NoRegionError:
        raise UsageError("no AWS region: pass --region or set AWS_REGION") from None
    except ValueError as exc:  # botocore's answer to a malformed endpoint URL
        raise UsageError(f"invalid --endpoint-url: {exc}") from None


def session_for(region: str | None, *, local: bool) -> boto3.session.Session:
    if local:
        return boto3.session.Session(
            region_name=region, aws_access_key_id=LOCAL_ACCESS_KEY, aws_secret_access_key=LOCAL_ACCESS_KEY
        )
    return boto3.session.Session(region_name=region)


def _read_local_config(path: Path) -> dict[str, str]:
    """The local stack's `.secure-ai/local.json`: its string values (other keys are ignored)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path} not found: start the local stack here first") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {type(exc).__name__}") from None
    if not isinstance(document, dict):
        raise UsageError(f"{path} is not a JSON object")
    wanted = (
        "clients_table",
        "policies_table",
        "kms_key_arn",
        "aws_endpoint_url",
        "region",
        "validation_queue_url",
        "dead_letter_queue_url",
        "devices_table",
        "oidc_issuer",
        "user_pool_client_id",
    )
    return {name: value for name in wanted if isinstance(value := document.get(name), str) and value}


def _stack_outputs(stack_name: str, region: str | None, endpoint_url: str | None) -> dict[str, str]:
    try:
        cloudformation = boto3.session.Session(region_name=region).client(
            "cloudformation", endpoint_url=endpoint_url, config=CLIENT_CONFIG
        )
        stacks = cloudformation.describe_stacks(StackName=stack_name).get("Stacks", [])
    except NoRegionError:
        raise UsageError("no AWS region: pass --region or set AWS_REGION") from None
    except ClientError as exc:
        # CloudFormation's answer for a stack that does not exist (or is not visible).
        if exc.response.get("Error", {}).get("Code") == "ValidationError":
            raise UsageError(f"stack {stack_name} not found") from None
        raise DependencyUnavailable("stack_unavailable") from exc
    except BotoCoreError as exc:
        raise DependencyUnavailable("stack_unavailable") from exc
    if len(stacks) != 1:
        raise UsageError(f"stack {stack_name} not found")
    outputs: dict[str, str] = {}
    for output in stacks[0].get("Outputs", []):
        if isinstance(output.get("OutputKey"), str) and isinstance(output.get("OutputValue"), str):
            outputs[output["OutputKey"]] = output["OutputValue"]
    return outputs
