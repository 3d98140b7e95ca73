"""`secure-ai`: the gateway's command line.

    secure-ai clients create|rotate|revoke|list|show ...
    secure-ai ask "prompt" [--local | --url URL --credentials FILE --kms-key-arn ARN] [--mobile]
    secure-ai demo --local

Every top-level command registers itself in `COMMANDS` (one function that adds its subparser and
sets `run`); that tuple is the one place to add `ask` or `demo`. Output is JSON on stdout; errors
are one line on stderr. Exit codes: 0 success, 1 the operation failed (no such client, conflict,
AWS error), 2 bad arguments or configuration (nothing was changed).

A new secret is printed once (or written to `--secret-file`, mode 0600, never printed); `list`
and `show` never contain one. Nothing here logs.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError
from pydantic import ValidationError

from secure_ai.aws_clients import CLIENT_CONFIG
from secure_ai.clients.admin import DEFAULT_OVERLAP_SECONDS, ClientAdmin, client_view
from secure_ai.clients.credentials import ClientCredentials, SecretFile
from secure_ai.clients.records import DEFAULT_POLICY_ID, format_key_id
from secure_ai.clients.sealing import SecretSealer
from secure_ai.clients.store import ClientStore
from secure_ai.errors import DependencyUnavailable, GatewayError
from secure_ai.sdk.cli_commands import add_ask_command, add_demo_command

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2

LOCAL_CONFIG_PATH: Final = Path(".secure-ai") / "local.json"
# Fixed fake credentials for --local: real AWS credentials are never sent, even signed, to the
# local emulator's endpoint.
LOCAL_ACCESS_KEY: Final = "secure-ai-local"

DEFAULT_SCOPES: Final = ("chat:complete",)
DEFAULT_MAX_TOKENS: Final = 1024
DEFAULT_TOKEN_BUDGET: Final = 200_000
DEFAULT_REQUEST_BUDGET: Final = 1_000

_FAILURE_MESSAGES: Final = {
    "unknown_client": "no such client",
    "unknown_key": "no such key version",
    "client_exists": "a client with this id already exists",
    "client_revoked": "the client is revoked",
    "concurrent_update": "the client was changed by someone else meanwhile; run the command again",
    "version_exhausted": "the client has used every key version number",
    "client_record_malformed": "the client record in the table is malformed",
}


class UsageError(Exception):
    """Bad arguments or configuration: exit 2, nothing changed."""

    def __init__(self, message: str, *, prog: str = "secure-ai") -> None:
        super().__init__(message)
        self.prog = prog


class CommandParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so `main` returns its exit code."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: {self.prog} --help)", prog=self.prog)


if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[CommandParser]


# ------------------------------------------------------------------------------- the command tree


def add_clients_command(commands: SubParsers) -> None:
    """`secure-ai clients ...`: manage client records and their signing keys."""
    clients = commands.add_parser("clients", help="manage clients and their signing keys")
    actions = clients.add_subparsers(dest="action", metavar="ACTION", required=True)
    aws = _aws_options()

    create = actions.add_parser("create", parents=[aws], help="create a client with key version 1")
    create.add_argument("--client-id", help="the client id ([A-Za-z0-9_-]{1,64}); generated if absent")
    create.add_argument(
        "--scopes",
        type=_comma_list,
        action="extend",
        help=f"comma-separated scopes, e.g. chat:complete,output:validate (default: {DEFAULT_SCOPES[0]})",
    )
    create.add_argument(
        "--models", type=_comma_list, action="extend", help="comma-separated model allow-list (default: none)"
    )
    create.add_argument(
        "--max-tokens",
        type=_positive_int,
        default=DEFAULT_MAX_TOKENS,
        help="tokens per request (default: %(default)s)",
    )
    create.add_argument(
        "--token-budget",
        type=_positive_int,
        default=DEFAULT_TOKEN_BUDGET,
        help="tokens per day (default: %(default)s)",
    )
    create.add_argument(
        "--request-budget",
        type=_positive_int,
        default=DEFAULT_REQUEST_BUDGET,
        help="requests per day (default: %(default)s)",
    )
    create.add_argument("--policy-id", default=DEFAULT_POLICY_ID, help="screening policy (default: default)")
    _secret_file_option(create)
    create.set_defaults(run=_run_create)

    rotate = actions.add_parser("rotate", parents=[aws], help="issue a new key version; retire the old ones")
    rotate.add_argument("client_id", metavar="CLIENT_ID")
    rotate.add_argument(
        "--overlap",
        type=_duration,
        default=DEFAULT_OVERLAP_SECONDS,
        help="how long the previous versions stay valid: 3600, 90s, 15m, 24h, 7d (default: 24h)",
    )
    _secret_file_option(rotate)
    rotate.set_defaults(run=_run_rotate)

    revoke = actions.add_parser("revoke", parents=[aws], help="revoke one key version, or the whole client")
    revoke.add_argument("client_id", metavar="CLIENT_ID")
    revoke.add_argument(
        "--version", type=_positive_int, help="the key version; without it the client is revoked"
    )
    revoke.set_defaults(run=_run_revoke)

    listing = actions.add_parser("list", parents=[aws], help="list clients (JSON, no secrets)")
    listing.set_defaults(run=_run_list)

    show = actions.add_parser("show", parents=[aws], help="show one client (JSON, no secrets)")
    show.add_argument("client_id", metavar="CLIENT_ID")
    show.set_defaults(run=_run_show)


# Top-level commands: add one registering function here.
COMMANDS: Final[tuple[Callable[[SubParsers], None], ...]] = (
    add_clients_command,
    add_ask_command,
    add_demo_command,
)


def build_parser() -> argparse.ArgumentParser:
    """The `secure-ai` argument parser, with every command in `COMMANDS`."""
    parser = CommandParser(
        prog="secure-ai", description="Signed, encrypted and screened access to AI models."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `secure-ai` with `argv` (default: the process arguments); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        _fail(str(exc), prog=exc.prog)
        return EXIT_USAGE
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except UsageError as exc:
        _fail(str(exc), prog=exc.prog)
        return EXIT_USAGE
    except ValidationError as exc:
        _fail(_validation_message(exc))
        return EXIT_USAGE
    except GatewayError as exc:
        _fail(_failure_message(exc, getattr(args, "client_id", None)))
        return EXIT_FAILED


# ------------------------------------------------------------------------------- clients actions


def _run_create(args: argparse.Namespace) -> int:
    admin = _client_admin(args, issues_keys=True)
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


def _run_rotate(args: argparse.Namespace) -> int:
    admin = _client_admin(args, issues_keys=True)
    secret_file = _reserve_secret_file(args.secret_file)
    try:
        version, secret = admin.rotate_key(args.client_id, overlap_seconds=args.overlap)
    except BaseException:
        if secret_file is not None:
            secret_file.abandon()
        raise
    view = _view_if_readable(admin, args.client_id)
    return _issue(view, ClientCredentials(format_key_id(args.client_id, version), secret), secret_file)


def _run_revoke(args: argparse.Namespace) -> int:
    admin = _client_admin(args, issues_keys=False)
    admin.revoke(args.client_id, args.version)
    revoked = args.client_id if args.version is None else format_key_id(args.client_id, args.version)
    _print_json({"revoked": revoked, "client": _view_if_readable(admin, args.client_id)})
    return EXIT_OK


def _run_list(args: argparse.Namespace) -> int:
    admin = _client_admin(args, issues_keys=False)
    _print_json([view.model_dump(mode="json") for view in admin.list_clients()])
    return EXIT_OK


def _run_show(args: argparse.Namespace) -> int:
    admin = _client_admin(args, issues_keys=False)
    _print_json(admin.show_client(args.client_id).model_dump(mode="json"))
    return EXIT_OK


def _view_if_readable(admin: ClientAdmin, client_id: str) -> dict[str, Any] | None:
    """The client's view after a change, or None if it cannot be read back: the change is done and,
    after create or rotate, a secret is waiting to be handed out; a failed read must not hide it."""
    try:
        return admin.show_client(client_id).model_dump(mode="json")
    except GatewayError:
        return None


def _issue(
    view: dict[str, Any] | None, credentials: ClientCredentials, secret_file: SecretFile | None
) -> int:
    """Hand out a new secret exactly once: into the reserved file, or onto stdout."""
    output: dict[str, Any] = {"client": view, "key_id": credentials.key_id}
    if secret_file is None:
        output["secret"] = base64.b64encode(credentials.secret).decode("ascii")
        _print_json(output)
        return EXIT_OK
    try:
        secret_file.write(credentials)
    except OSError as exc:
        _fail(
            f"{credentials.key_id} was issued but its secret could not be written to {secret_file.path} "
            f"({exc.strerror or type(exc).__name__}); revoke it or rotate the client's key"
        )
        return EXIT_FAILED
    output["secret_file"] = str(secret_file.path)
    _print_json(output)
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


# ------------------------------------------------------------------------------- AWS configuration


@dataclass(frozen=True, slots=True)
class AwsTarget:
    """Where the commands act: region, endpoint, clients table, sealing key."""

    region: str | None
    endpoint_url: str | None
    clients_table: str | None
    kms_key_arn: str | None
    local: bool


def _aws_options() -> CommandParser:
    options = CommandParser(add_help=False)
    group = options.add_argument_group("AWS target")
    group.add_argument(
        "--endpoint-url", help="AWS endpoint (default: $AWS_ENDPOINT_URL), e.g. the local stack"
    )
    group.add_argument("--region", help="AWS region (default: the usual AWS configuration)")
    group.add_argument("--clients-table", help="the clients DynamoDB table name")
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
        kms_key_arn=args.kms_key_arn or local.get("kms_key_arn") or outputs.get("RequestKeyArn"),
        local=bool(args.local),
    )


def _client_admin(args: argparse.Namespace, *, issues_keys: bool) -> ClientAdmin:
    target = resolve_target(args, os.environ)
    if not target.clients_table:
        raise UsageError("no clients table: pass --clients-table, --stack-name NAME or --local")
    if issues_keys and not target.kms_key_arn:
        raise UsageError("no KMS key: pass --kms-key-arn, --stack-name NAME or --local")
    session = _session(target.region, local=target.local)
    try:
        dynamodb = session.client("dynamodb", endpoint_url=target.endpoint_url, config=CLIENT_CONFIG)
        kms = (
            session.client("kms", endpoint_url=target.endpoint_url, config=CLIENT_CONFIG)
            if issues_keys
            else None
        )
    except NoRegionError:
        raise UsageError("no AWS region: pass --region or set AWS_REGION") from None
    except ValueError as exc:  # botocore's answer to a malformed endpoint URL
        raise UsageError(f"invalid --endpoint-url: {exc}") from None
    sealer = SecretSealer(target.kms_key_arn, kms) if kms is not None and target.kms_key_arn else None
    return ClientAdmin(ClientStore(target.clients_table, dynamodb), sealer, clock=time.time)


def _session(region: str | None, *, local: bool) -> boto3.session.Session:
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
    wanted = ("clients_table", "kms_key_arn", "aws_endpoint_url", "region")
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


# ------------------------------------------------------------------------------- argument types


def _comma_list(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"empty item in {text!r}")
    return items


def _positive_int(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,12}", text) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return int(text)


_DURATION_UNITS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text: str) -> int:
    match = re.fullmatch(r"([0-9]{1,9})([smhd]?)", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration (like 3600, 90s, 15m, 24h, 7d): {text!r}")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _secret_file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--secret-file",
        type=Path,
        metavar="PATH",
        help="write the new key id and secret to PATH (created with mode 0600, never overwritten) "
        "instead of printing the secret",
    )


# ------------------------------------------------------------------------------- output


def _print_json(document: object) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")


def _fail(message: str, *, prog: str = "secure-ai") -> None:
    sys.stderr.write(f"{prog}: error: {message}\n")


def _validation_message(exc: ValidationError) -> str:
    # Field locations and pydantic's messages only: never the rejected input.
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}" for error in exc.errors()
    )
    return f"invalid client settings: {problems}"


def _failure_message(exc: GatewayError, client_id: str | None) -> str:
    subject = f"{client_id}: " if client_id else ""
    if isinstance(exc, DependencyUnavailable):
        cause = exc.__cause__
        detail = type(cause).__name__
        if isinstance(cause, ClientError):
            detail = str(cause.response.get("Error", {}).get("Code", detail))
        return (
            f"{subject}AWS request failed ({exc.reason}: {detail}); "
            "check the region, endpoint, credentials, table and key"
        )
    return subject + _FAILURE_MESSAGES.get(exc.reason, exc.reason)
