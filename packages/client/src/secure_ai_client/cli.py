"""`secure-ai`: the command line. `ask` and `demo` are the client SDK's; others are plug-ins.

    secure-ai ask "prompt" [--model M] [--mobile] [--stream]
                           [--local | --url URL --credentials FILE --kms-key-arn ARN]
    secure-ai demo --local
    secure-ai clients create|rotate|revoke|list|show ...     (with secure-ai-gateway installed)

Commands other than `ask` and `demo` come from the `secure_ai.commands` entry points of the
installed distributions (secure_ai_protocol.command_line holds the contract); secure-ai-gateway adds
the operator's `clients`. `ask` prints the released answer on stdout (with `--stream`, each piece
as it is released) and the verdict on stderr.
Exit codes, as for every `secure-ai` command: 0 done, 1 the request failed or its answer was
blocked, 2 bad arguments or configuration (nothing was sent). The client SDK (and the Encryption
SDK under it, ~1 s to import) is imported only when one of these commands runs, so
`secure-ai clients` never pays for it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from secure_ai_client.demo import QueueTarget, run_demo
from secure_ai_client.errors import DeviceLimitReached, RateLimited, SecureAIError, Unauthorized
from secure_ai_client.local_state import (
    DEFAULT_LOCAL_STATE,
    EXAMPLE_LOCAL_STATE_NAME,
    LocalState,
    read_local_state,
)
from secure_ai_protocol.command_line import (
    ENTRY_POINT_GROUP,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    CommandFailed,
    CommandParser,
    UsageError,
    report_error,
)
from secure_ai_protocol.credentials import read_credentials_file
from secure_ai_protocol.envelope.rules import EnvelopeMode

if TYPE_CHECKING:
    from secure_ai_client.client import SecureAIClient
    from secure_ai_client.results import VerdictResult
    from secure_ai_protocol.command_line import SubParsers

DEFAULT_MODEL: Final = "default"  # the gateway's alias for its configured default model
DEFAULT_DEVICE_FILE: Final = Path(".secure-ai") / "device.json"
# Keys of .secure-ai/local.json that the demo's queue step needs besides the client's own.
BUS_NAME_KEY: Final = "event_bus_name"
VERDICTS_TABLE_KEY: Final = "verdicts_table"


class _Refused(Exception):
    """Bad arguments or configuration: exit 2, nothing sent."""


def build_parser() -> argparse.ArgumentParser:
    """The `secure-ai` argument parser: `COMMANDS`, then every installed plug-in command."""
    parser = CommandParser(prog=PROG, description="Signed, encrypted and screened access to AI models.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(commands)
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda entry: entry.name):
        entry_point.load()(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `secure-ai` with `argv` (default: the process arguments); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        report_error(str(exc), prog=exc.prog)
        return EXIT_USAGE
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except UsageError as exc:
        report_error(str(exc), prog=exc.prog)
        return EXIT_USAGE
    except CommandFailed as exc:
        report_error(str(exc))
        return EXIT_FAILED


def add_ask_command(commands: SubParsers) -> None:
    """`secure-ai ask PROMPT`: one signed, encrypted, screened chat completion."""
    ask = commands.add_parser("ask", help="send one prompt through the gateway and print the answer")
    ask.add_argument("prompt", metavar="PROMPT", help="the user message")
    ask.add_argument("--model", default=DEFAULT_MODEL, help="model name (default: the gateway's default)")
    ask.add_argument("--max-tokens", type=int, help="completion token limit (default: the client's cap)")
    ask.add_argument(
        "--mobile",
        action="store_true",
        help="encrypt as a mobile/web client (RSA public key only) instead of with KMS",
    )
    ask.add_argument(
        "--device",
        type=Path,
        metavar="FILE",
        help="sign as the enrolled device in FILE (secure-ai enroll); renews its key when due",
    )
    ask.add_argument("--json", action="store_true", help="print the whole result as JSON")
    ask.add_argument(
        "--stream",
        action="store_true",
        help="print the answer as it is released (streamed, encrypted chunk by chunk), then the verdict",
    )
    ask.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (default: %(default)s)")
    target = ask.add_argument_group("gateway (either --local, or --url and --credentials)")
    _local_options(target)
    target.add_argument(
        "--url", help="the API's base URL with its stage, e.g. https://abc.execute-api.../prod"
    )
    target.add_argument(
        "--credentials", type=Path, metavar="FILE", help="key id and secret (secure-ai clients --secret-file)"
    )
    target.add_argument("--kms-key-arn", help="server mode: the gateway's symmetric request key ARN")
    target.add_argument("--rsa-key-arn", help="mobile mode: the RSA request key ARN to pin")
    target.add_argument(
        "--public-key-file", type=Path, metavar="PEM", help="mobile mode: the RSA public key (PEM) to pin"
    )
    ask.set_defaults(run=run_ask)


def add_enroll_command(commands: SubParsers) -> None:
    """`secure-ai enroll`: sign in, enroll this device, keep its key in a 0600 file."""
    enroll = commands.add_parser(
        "enroll", help="enroll this device with a signed-in user's OIDC token; write its key file"
    )
    enroll.add_argument(
        "--device-file",
        type=Path,
        default=DEFAULT_DEVICE_FILE,
        metavar="FILE",
        help="where to write the device's credentials (mode 0600, never overwritten; default: %(default)s)",
    )
    enroll.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (default: %(default)s)")
    target = enroll.add_argument_group("gateway (either --local, or --url, --app and --id-token-file)")
    _local_options(target)
    target.add_argument("--url", help="the API's base URL with its stage")
    target.add_argument("--app", metavar="APP_ID", help="the app to enroll with")
    target.add_argument(
        "--id-token-file", type=Path, metavar="FILE", help="a file holding the signed-in user's OIDC ID token"
    )
    enroll.set_defaults(run=run_enroll)


def add_demo_command(commands: SubParsers) -> None:
    """`secure-ai demo --local`: a completion, a redaction, a block and a queued validation."""
    demo = commands.add_parser("demo", help="show the gateway's paths, step by step, on the local stack")
    _local_options(demo)
    demo.set_defaults(run=run_demo_command)


def _local_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--local", action="store_true", help=f"use the local stack described in {DEFAULT_LOCAL_STATE}"
    )
    parser.add_argument(
        "--local-state",
        type=Path,
        metavar="PATH",
        help="use the local stack described in PATH (implies --local)",
    )


def run_ask(args: argparse.Namespace) -> int:
    """Send the prompt; answer on stdout, verdict on stderr."""
    if args.stream and args.json:
        return _fail("--stream cannot be combined with --json", EXIT_USAGE)
    try:
        client = _ask_client(args)
    except (_Refused, SecureAIError, ValueError) as error:
        return _fail(str(error), EXIT_USAGE)
    params = {"max_tokens": args.max_tokens} if args.max_tokens is not None else {}
    if args.stream:
        return _ask_streamed(client, args.model, args.prompt, params)
    try:
        with client:
            result = client.chat_completions(
                model=args.model, messages=[{"role": "user", "content": args.prompt}], **params
            )
    except SecureAIError as error:
        return _fail(_failure_text(error), EXIT_FAILED)
    if args.json:
        sys.stdout.write(json.dumps(result.model_dump(mode="json"), indent=2, sort_keys=True) + "\n")
    elif result.text is not None:
        sys.stdout.write(result.text + "\n")
    sys.stderr.write(_verdict_line(result.verdict, result.req_id))
    if result.text is None:
        return _fail("screening blocked the answer; nothing of it left the gateway", EXIT_FAILED)
    return EXIT_OK


def _ask_streamed(client: SecureAIClient, model: str, prompt: str, params: dict[str, Any]) -> int:
    """`ask --stream`: each delta on stdout as it arrives, then the verdict on stderr."""
    printed = False
    try:
        with (
            client,
            client.chat_completions(
                model=model, messages=[{"role": "user", "content": prompt}], stream=True, **params
            ) as stream,
        ):
            for delta in stream:
                sys.stdout.write(delta)
                sys.stdout.flush()
                printed = True
    except SecureAIError as error:
        if printed:
            sys.stdout.write("\n")
            sys.stdout.flush()
            return _fail(f"the answer broke off and is incomplete: {_failure_text(error)}", EXIT_FAILED)
        return _fail(_failure_text(error), EXIT_FAILED)
    if printed:
        sys.stdout.write("\n")
    sys.stderr.write(_verdict_line(stream.verdict, stream.req_id))
    if stream.blocked:
        return _fail(
            "screening blocked the answer: what was printed was screened; the rest never left the gateway",
            EXIT_FAILED,
        )
    return EXIT_OK


def _verdict_line(verdict: VerdictResult, req_id: str) -> str:
    types = verdict.finding_types
    findings = f" ({', '.join(types)})" if types else ""
    return f"verdict: {verdict.decision}{findings} · request {req_id}\n"


def run_enroll(args: argparse.Namespace) -> int:
    """Enroll; print the device's id, key id and expiry (never its secret)."""
    from secure_ai_client.client import SecureAIClient  # noqa: PLC0415 - see the module docstring

    try:
        url, app_id, id_token = _enrollment_target(args)
        client = SecureAIClient.enroll(
            url, app_id=app_id, id_token=id_token, device_file=args.device_file, timeout=args.timeout
        )
    except FileExistsError:
        return _fail(f"{args.device_file} already exists; refusing to overwrite it", EXIT_USAGE)
    except (_Refused, ValueError) as error:
        return _fail(str(error), EXIT_USAGE)
    except OSError as error:
        return _fail(f"cannot write {args.device_file}: {_problem(error)}", EXIT_FAILED)
    except SecureAIError as error:
        return _fail(_enrollment_failure(error), EXIT_FAILED)
    with client:
        device = client.device_credentials
    if device is None:  # pragma: no cover - enroll always returns a device client
        return _fail("enrollment returned no device", EXIT_FAILED)
    summary = {
        "app_id": device.app_id,
        "device_id": device.device_id,
        "key_id": device.key_id,
        "expires_at": device.expires_at,
        "renew_after": device.renew_after,
        "device_file": str(args.device_file),
    }
    sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return EXIT_OK


def _enrollment_target(args: argparse.Namespace) -> tuple[str, str, str]:
    """(API URL, app id, ID token): from the local stack's demo user, or from the flags."""
    if args.local or args.local_state:
        if args.url or args.app or args.id_token_file:
            raise _Refused("--local cannot be combined with --url, --app or --id-token-file")
        state = read_local_state(args.local_state or DEFAULT_LOCAL_STATE)
        return state.api_url, state.require("demo_app_id"), sign_in_demo_user(state)
    if not (args.url and args.app and args.id_token_file):
        raise _Refused("pass --local, or --url, --app and --id-token-file")
    try:
        id_token = args.id_token_file.read_text(encoding="ascii").strip()
    except (OSError, ValueError) as error:
        raise _Refused(f"cannot read {args.id_token_file}: {_problem(error)}") from None
    return args.url, args.app, id_token


def sign_in_demo_user(state: LocalState) -> str:
    """The local demo user's ID token from the local stack's Cognito (moto), by password."""
    cognito = state.session().client("cognito-idp", endpoint_url=state.aws_endpoint_url)
    answer = cognito.initiate_auth(
        ClientId=state.require("user_pool_client_id"),
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={
            "USERNAME": state.require("demo_username"),
            "PASSWORD": state.require("demo_password"),
        },
    )
    token = answer.get("AuthenticationResult", {}).get("IdToken")
    if not isinstance(token, str):
        raise _Refused("the local user pool did not sign the demo user in")
    return token


def _enrollment_failure(error: SecureAIError) -> str:
    if isinstance(error, DeviceLimitReached):
        limit = f" ({error.limit})" if error.limit is not None else ""
        return f"this user already has the most devices the app allows{limit}; revoke one first"
    if isinstance(error, Unauthorized):
        return "enrollment refused: the sign-in token was not accepted for this app (sign in again)"
    return str(error)


def run_demo_command(args: argparse.Namespace) -> int:
    """Run the demo against the local stack; exit 1 unless every step behaved as expected."""
    from secure_ai_client.client import SecureAIClient  # noqa: PLC0415 - see the module docstring

    if not (args.local or args.local_state):
        return _fail(
            "the demo runs against the local stack: pass --local (start it with make run)", EXIT_USAGE
        )
    state_path = args.local_state or DEFAULT_LOCAL_STATE
    try:
        state = read_local_state(state_path)
        client = SecureAIClient(**state.client_arguments("server"))
    except (SecureAIError, ValueError) as error:
        return _fail(str(error), EXIT_USAGE)
    queue, problem = _queue_target(state)
    policy_client, policy_problem = _example_client(state_path.with_name(EXAMPLE_LOCAL_STATE_NAME))
    with client:
        ok = run_demo(
            client,
            queue,
            sys.stdout,
            setup_problem=problem,
            policy_client=policy_client,
            policy_problem=policy_problem,
        )
    if policy_client is not None:
        policy_client.close()
    return EXIT_OK if ok else EXIT_FAILED


def _example_client(path: Path) -> tuple[SecureAIClient | None, str | None]:
    """The local stack's client on the example policy, from its state file, or why there is none."""
    from secure_ai_client.client import SecureAIClient  # noqa: PLC0415 - see the module docstring

    try:
        return SecureAIClient(**read_local_state(path).client_arguments("server")), None
    except (SecureAIError, ValueError) as error:
        return None, str(error)


def _queue_target(state: LocalState) -> tuple[QueueTarget | None, str | None]:
    """Step 4's bus and table from local.json, or why they are missing."""
    try:
        bus_name, table = state.require(BUS_NAME_KEY), state.require(VERDICTS_TABLE_KEY)
    except SecureAIError as error:
        return None, str(error)
    session = state.session()
    endpoint = state.aws_endpoint_url
    return (
        QueueTarget(
            bus_name=bus_name,
            verdicts_table=table,
            events=session.client("events", endpoint_url=endpoint),
            dynamodb=session.client("dynamodb", endpoint_url=endpoint),
        ),
        None,
    )


def _ask_client(args: argparse.Namespace) -> SecureAIClient:
    from secure_ai_client.client import SecureAIClient  # noqa: PLC0415 - see the module docstring

    if args.device is not None:
        return _device_client(args)
    mode: EnvelopeMode = "mobile" if args.mobile else "server"
    remote = {
        "--url": args.url,
        "--credentials": args.credentials,
        "--kms-key-arn": args.kms_key_arn,
        "--rsa-key-arn": args.rsa_key_arn,
        "--public-key-file": args.public_key_file,
    }
    if args.local or args.local_state:
        given = [flag for flag, value in remote.items() if value is not None]
        if given:
            raise _Refused(f"--local cannot be combined with {', '.join(given)}")
        return SecureAIClient.from_local_state(
            args.local_state or DEFAULT_LOCAL_STATE, mode, timeout=args.timeout
        )
    if args.url is None or args.credentials is None:
        raise _Refused("pass --local, or --url and --credentials")
    if mode == "server" and args.kms_key_arn is None:
        raise _Refused("server mode needs --kms-key-arn (or use --mobile)")
    try:
        credentials = read_credentials_file(args.credentials)
    except (OSError, ValueError) as error:
        raise _Refused(f"cannot use {args.credentials}: {_problem(error)}") from None
    try:
        pem = args.public_key_file.read_text(encoding="ascii") if args.public_key_file else None
    except (OSError, ValueError) as error:
        raise _Refused(f"cannot read {args.public_key_file}: {_problem(error)}") from None
    if mode == "mobile" and pem is None and args.rsa_key_arn is None:
        sys.stderr.write("secure-ai: note: no RSA public key pinned; using the one the gateway serves\n")
    return SecureAIClient(
        args.url,
        key_id=credentials.key_id,
        secret=credentials.secret,
        mode=mode,
        kms_key_arn=args.kms_key_arn,
        rsa_public_key_pem=pem,
        rsa_key_arn=args.rsa_key_arn,
        timeout=args.timeout,
    )


def _device_client(args: argparse.Namespace) -> SecureAIClient:
    """A client signing as the enrolled device in `--device` (mobile mode: a device has no KMS access)."""
    from secure_ai_client.client import SecureAIClient  # noqa: PLC0415 - see the module docstring

    if args.credentials is not None or args.kms_key_arn is not None:
        raise _Refused("--device cannot be combined with --credentials or --kms-key-arn")
    options: dict[str, Any] = {"timeout": args.timeout}
    if args.local or args.local_state:
        if args.url is not None:
            raise _Refused("--local cannot be combined with --url")
        state = read_local_state(args.local_state or DEFAULT_LOCAL_STATE)
        url = state.api_url
        options.update(rsa_public_key_pem=state.rsa_public_key_pem, rsa_key_arn=state.rsa_key_arn)
    elif args.url is None:
        raise _Refused("--device needs --local or --url")
    else:
        url = args.url
    try:
        return SecureAIClient.from_device_file(url, args.device, **options)
    except (OSError, ValueError) as error:
        raise _Refused(f"cannot use {args.device}: {_problem(error)}") from None


def _problem(error: OSError | ValueError) -> str:
    # The OS's reason or the parser's fixed message; never the file's content.
    if isinstance(error, UnicodeError):
        return "not ASCII text"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _failure_text(error: SecureAIError) -> str:
    if isinstance(error, RateLimited) and error.retry_after is not None:
        return f"{error}; retry after {error.retry_after} s"
    return str(error)


def _fail(message: str, code: int) -> int:
    report_error(message)
    return code


# The commands this package gives; installed distributions add theirs through ENTRY_POINT_GROUP.
COMMANDS: Final[tuple[Callable[[SubParsers], None], ...]] = (
    add_ask_command,
    add_enroll_command,
    add_demo_command,
)
