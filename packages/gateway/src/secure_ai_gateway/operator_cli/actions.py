"""What each `clients` action does: create, rotate, revoke, list, show."""

from __future__ import annotations

import argparse
import base64
import time
from pathlib import Path
from typing import Any, Final

from secure_ai_gateway.client_registry.admin import ClientAdmin, client_view
from secure_ai_gateway.operator_cli.aws_target import client_admin
from secure_ai_gateway.operator_cli.output import print_json
from secure_ai_protocol.command_line import EXIT_FAILED, EXIT_OK, UsageError, report_error
from secure_ai_protocol.credentials import ClientCredentials, SecretFile
from secure_ai_protocol.errors import ProtocolError
from secure_ai_protocol.key_ids import format_key_id

DEFAULT_SCOPES: Final = ("chat:complete",)
DEFAULT_MAX_TOKENS: Final = 1024
DEFAULT_TOKEN_BUDGET: Final = 200_000
DEFAULT_REQUEST_BUDGET: Final = 1_000


def run_create(args: argparse.Namespace) -> int:
    admin = client_admin(args, issues_keys=True)
    secret_file = _reserve_secret_file(args.secret_file)
    try:
        record, secret = admin.create_client(
            client_id=args.client_id,
            scopes=args.scopes if args.scopes is not None else DEFAULT_SCOPES,
            allowed_models=args.models or (),
            max_tokens=args.max_tokens,
            token_budget=args.token_budget,
            request_budget=args.request_budget,
            policy_id=args.policy_id,
        )
    except BaseException:
        if secret_file is not None:
            secret_file.abandon()
        raise
    # The view is built from the record just written: no further AWS call stands between the
    # new secret and its only delivery.
    view = client_view(record, time.time()).model_dump(mode="json")
    return _issue(view, ClientCredentials(format_key_id(record.client_id, 1), secret), secret_file)


def run_rotate(args: argparse.Namespace) -> int:
    admin = client_admin(args, issues_keys=True)
    secret_file = _reserve_secret_file(args.secret_file)
    try:
        version, secret = admin.rotate_key(args.client_id, overlap_seconds=args.overlap)
    except BaseException:
        if secret_file is not None:
            secret_file.abandon()
        raise
    view = _view_if_readable(admin, args.client_id)
    return _issue(view, ClientCredentials(format_key_id(args.client_id, version), secret), secret_file)


def run_revoke(args: argparse.Namespace) -> int:
    admin = client_admin(args, issues_keys=False)
    admin.revoke(args.client_id, args.version)
    revoked = args.client_id if args.version is None else format_key_id(args.client_id, args.version)
    print_json({"revoked": revoked, "client": _view_if_readable(admin, args.client_id)})
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    admin = client_admin(args, issues_keys=False)
    print_json([view.model_dump(mode="json") for view in admin.list_clients()])
    return EXIT_OK


def run_show(args: argparse.Namespace) -> int:
    admin = client_admin(args, issues_keys=False)
    print_json(admin.show_client(args.client_id).model_dump(mode="json"))
    return EXIT_OK


def _view_if_readable(admin: ClientAdmin, client_id: str) -> dict[str, Any] | None:
    """The client's view after a change, or None if it cannot be read back: the change is done and,
    after create or rotate, a secret is waiting to be handed out; a failed read must not hide it."""
    try:
        return admin.show_client(client_id).model_dump(mode="json")
    except ProtocolError:
        return None


def _issue(
    view: dict[str, Any] | None, credentials: ClientCredentials, secret_file: SecretFile | None
) -> int:
    """Hand out a new secret exactly once: into the reserved file, or onto stdout."""
    output: dict[str, Any] = {"client": view, "key_id": credentials.key_id}
    if secret_file is None:
        output["secret"] = base64.b64encode(credentials.secret).decode("ascii")
        print_json(output)
        return EXIT_OK
    try:
        secret_file.write(credentials)
    except OSError as exc:
        report_error(
            f"{credentials.key_id} was issued but its secret could not be written to {secret_file.path} "
            f"({exc.strerror or type(exc).__name__}); revoke it or rotate the client's key"
        )
        return EXIT_FAILED
    output["secret_file"] = str(secret_file.path)
    print_json(output)
    return EXIT_OK


def _reserve_secret_file(path: Path | None) -> SecretFile | None:
    if path is None:
        return None
    try:
        return SecretFile.reserve(path)
    except FileExistsError:
        raise UsageError(f"{path} already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise UsageError(f"cannot create {path}: {exc.strerror or type(exc).__name__}") from None
