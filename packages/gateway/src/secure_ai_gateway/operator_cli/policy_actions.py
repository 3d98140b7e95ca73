"""What each `policies` action does (put, get, list, history, rollback, delete), and `clients set-policy`.

Imported only when one of them runs (commands.py): the policy model brings the screen's detectors.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.policy_store import PolicyStore
from secure_ai_gateway.operator_cli.aws_target import resolve_target, service_client, session_for
from secure_ai_gateway.operator_cli.output import print_json
from secure_ai_gateway.policy_registry.admin import PolicyAdmin
from secure_ai_protocol.command_line import EXIT_OK, UsageError
from secure_ai_protocol.errors import DependencyUnavailable

# A policy's JSON: far above any valid policy (500 deny terms of 100 characters), far below
# DynamoDB's 400 KB item limit, which holds the document twice (version and head).
MAX_POLICY_FILE_BYTES: Final = 128 * 1024


def run_put(args: argparse.Namespace) -> int:
    document = _policy_file(args.file, args.policy_id)
    target = policy_target(args)
    stored = target.admin.put(args.policy_id, document, written_by=target.caller())
    print_json(stored.view(current=stored.version))
    return EXIT_OK


def run_get(args: argparse.Namespace) -> int:
    admin = policy_target(args).admin
    stored = admin.get(args.policy_id, args.version)
    current = stored if args.version is None else admin.get(args.policy_id)
    print_json(stored.view(current=current.version))
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    heads = sorted(policy_target(args).admin.list_current(), key=lambda stored: stored.policy_id)
    print_json([stored.view(current=stored.version) for stored in heads])
    return EXIT_OK


def run_history(args: argparse.Namespace) -> int:
    head, versions = policy_target(args).admin.history(args.policy_id)
    current = None if head is None else head.version
    print_json(
        {
            "policy_id": args.policy_id,
            "current": current,
            "versions": [stored.view(current=current or 0) for stored in versions],
        }
    )
    return EXIT_OK


def run_rollback(args: argparse.Namespace) -> int:
    target = policy_target(args)
    stored = target.admin.rollback(args.policy_id, args.to, written_by=target.caller())
    print_json(stored.view(current=stored.version))
    return EXIT_OK


def run_delete(args: argparse.Namespace) -> int:
    retired = policy_target(args).admin.delete(args.policy_id)
    print_json({"deleted": args.policy_id, "last_version": retired.version})
    return EXIT_OK


def run_set_policy(args: argparse.Namespace) -> int:
    policy_target(args).admin.set_client_policy(args.client_id, args.policy_id)
    print_json({"client_id": args.client_id, "policy_id": args.policy_id})
    return EXIT_OK


@dataclass(frozen=True, slots=True)
class PolicyTarget:
    """The policy operations, and who performs them (for the versions they write)."""

    admin: PolicyAdmin
    caller: Callable[[], str]


def policy_target(args: argparse.Namespace) -> PolicyTarget:
    """The policy operations on the target's policies and clients tables."""
    target = resolve_target(args, os.environ)
    if not target.policies_table:
        raise UsageError("no policies table: pass --policies-table, --stack-name NAME or --local")
    if not target.clients_table:
        raise UsageError("no clients table: pass --clients-table, --stack-name NAME or --local")
    session = session_for(target.region, local=target.local)
    dynamodb = service_client(session, "dynamodb", target)
    sts = service_client(session, "sts", target)
    admin = PolicyAdmin(
        PolicyStore(target.policies_table, dynamodb),
        ClientStore(target.clients_table, dynamodb),
        clock=time.time,
    )
    return PolicyTarget(admin, lambda: caller_arn(sts))


def caller_arn(sts: Any) -> str:
    """The ARN of whoever the credentials belong to, as STS says (recorded in each policy version)."""
    try:
        arn = sts.get_caller_identity().get("Arn")
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailable("caller_identity_unavailable") from exc
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        raise DependencyUnavailable("caller_identity_unavailable")
    return arn


ACTIONS: Final[dict[str, Callable[[argparse.Namespace], int]]] = {
    "put": run_put,
    "get": run_get,
    "list": run_list,
    "history": run_history,
    "rollback": run_rollback,
    "delete": run_delete,
    "set_policy": run_set_policy,
}


def _policy_file(path: Path, policy_id: str) -> dict[str, Any]:
    """The JSON object in `path`; its `policy_id`, if any, must be the one being written."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_POLICY_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    if len(raw) > MAX_POLICY_FILE_BYTES:
        raise UsageError(f"{path} is larger than {MAX_POLICY_FILE_BYTES} bytes")
    try:
        document = json.loads(raw)
    except ValueError:
        raise UsageError(f"{path} is not JSON") from None
    if not isinstance(document, dict):
        raise UsageError(f"{path} is not a JSON object")
    if document.get("policy_id", policy_id) != policy_id:
        raise UsageError(f"{path} holds policy_id {document['policy_id']!r}, not {policy_id!r}")
    return document
