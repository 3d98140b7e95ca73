"""What the operator actions print: JSON documents on stdout, failure messages for stderr, and the
one place their failures become exit codes (`reported`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Final

from botocore.exceptions import ClientError
from pydantic import ValidationError

from secure_ai_gateway.policy_registry.errors import PolicyConflict, PolicyInUse
from secure_ai_protocol.command_line import CommandFailed, UsageError
from secure_ai_protocol.errors import DependencyUnavailable, ProtocolError

Action = Callable[[argparse.Namespace], int]

_FAILURE_MESSAGES: Final = {
    "unknown_client": "no such client",
    "unknown_key": "no such key version",
    "client_exists": "a client with this id already exists",
    "client_revoked": "the client is revoked",
    "concurrent_update": "the client was changed by someone else meanwhile; run the command again",
    "version_exhausted": "the client has used every key version number",
    "client_record_malformed": "the client record in the table is malformed",
    "unknown_policy": "no such policy",
    "unknown_version": "no such policy version",
    "stale_version": (
        "the file's version is not the current one: someone changed the policy since it was read; "
        'get it again, or remove "version" from the file to write over the current version'
    ),
    "already_current": "that version's policy is already the current one",
    "policy_malformed": "a stored policy version is malformed",
    "unknown_device": "no such device",
    "reserved_client_id": "client ids starting with dev- name enrolled devices; choose another",
    "device_record_malformed": "a device record in the table is malformed",
}
# Failures about the policy an action names, rather than the client.
_POLICY_REASONS: Final = frozenset(
    {
        "unknown_policy",
        "unknown_version",
        "stale_version",
        "already_current",
        "policy_in_use",
        "policy_malformed",
    }
)


def print_json(document: object) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")


def validation_message(exc: ValidationError, subject: str = "client settings") -> str:
    # Field locations and pydantic's messages only: never the rejected input.
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}" for error in exc.errors()
    )
    return f"invalid {subject}: {problems}"


def failure_message(exc: ProtocolError, client_id: str | None, policy_id: str | None = None) -> str:
    about_policy = isinstance(exc, PolicyConflict) or exc.reason in _POLICY_REASONS
    named = policy_id if policy_id and about_policy else client_id or policy_id
    subject = f"{named}: " if named else ""
    if isinstance(exc, PolicyInUse):
        return f"{subject}the policy is named by client(s) {', '.join(exc.client_ids)}; set-policy them first"
    if isinstance(exc, PolicyConflict) and exc.reason == "concurrent_update":
        return f"{subject}the policy was changed by someone else meanwhile; run the command again"
    if isinstance(exc, DependencyUnavailable):
        cause = exc.__cause__
        detail = type(cause).__name__
        if isinstance(cause, ClientError):
            detail = str(cause.response.get("Error", {}).get("Code", detail))
        return (
            f"{subject}AWS request failed ({exc.reason}: {detail}); "
            "check the region, endpoint, credentials, tables and key"
        )
    return subject + _FAILURE_MESSAGES.get(exc.reason, exc.reason)


def reported(action: Action, invalid: str = "client settings") -> Action:
    """`action`, with invalid `invalid` as usage errors and gateway errors as failed operations."""

    def run(args: argparse.Namespace) -> int:
        try:
            return action(args)
        except ValidationError as exc:
            raise UsageError(validation_message(exc, invalid)) from None
        except ProtocolError as exc:
            message = failure_message(exc, getattr(args, "client_id", None), getattr(args, "policy_id", None))
            raise CommandFailed(message) from exc

    return run
