"""`secure-ai devices list|revoke`, and `secure-ai clients enable-enrollment|disable-enrollment`.

Devices are listed per app, or per user of an app (the OIDC `sub`), and revoked one by one, per
user or per app; a revocation is refused by the authorizer within its key-cache time (60 s).
docs/enrollment.md ("Operating devices") shows each command.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Final

from secure_ai_gateway.client_registry.records import EnrollmentSettings
from secure_ai_gateway.operator_cli.arguments import comma_list, positive_int
from secure_ai_gateway.operator_cli.aws_target import aws_options, client_admin, device_admin, resolve_target
from secure_ai_gateway.operator_cli.output import print_json, reported
from secure_ai_protocol.command_line import EXIT_OK, UsageError

if TYPE_CHECKING:
    from secure_ai_protocol.command_line import SubParsers

DEFAULT_MAX_DEVICES: Final = 5
DEFAULT_USER_TOKEN_BUDGET: Final = 50_000
DEFAULT_USER_REQUEST_BUDGET: Final = 200


def add_devices_command(commands: SubParsers) -> None:
    """`secure-ai devices ...`: list and revoke enrolled devices."""
    devices = commands.add_parser("devices", help="list and revoke enrolled devices")
    actions = devices.add_subparsers(dest="action", metavar="ACTION", required=True)
    aws = aws_options()

    listing = actions.add_parser(
        "list", parents=[aws], help="an app's devices, or one user's (JSON, no secrets)"
    )
    listing.add_argument("--app", required=True, metavar="APP_ID", help="the app (a client id)")
    listing.add_argument("--user", metavar="SUB", help="only this user's devices (the OIDC `sub`)")
    listing.set_defaults(run=reported(run_list_devices))

    revoke = actions.add_parser(
        "revoke", parents=[aws], help="revoke one device, a user's devices, or an app's"
    )
    revoke.add_argument("device_id", nargs="?", metavar="DEVICE_ID", help="the device (dev-...)")
    revoke.add_argument(
        "--app", metavar="APP_ID", help="revoke every device of this app (with --user: of one user)"
    )
    revoke.add_argument("--user", metavar="SUB", help="with --app: only this user's devices")
    revoke.set_defaults(run=reported(run_revoke_devices))


def add_enrollment_actions(actions: SubParsers) -> None:
    """`clients enable-enrollment` and `clients disable-enrollment`."""
    aws = aws_options()
    enable = actions.add_parser(
        "enable-enrollment", parents=[aws], help="let the app's signed-in users enroll devices"
    )
    enable.add_argument("client_id", metavar="APP_ID")
    issuer = enable.add_mutually_exclusive_group(required=True)
    issuer.add_argument("--issuer", metavar="URL", help="the OIDC issuer (exactly the tokens' `iss`)")
    issuer.add_argument(
        "--cognito", action="store_true", help="the stack's Cognito user pool and its app client"
    )
    enable.add_argument(
        "--audience",
        type=comma_list,
        action="extend",
        help="accepted aud / client_id values (comma-separated)",
    )
    enable.add_argument("--algorithms", type=comma_list, help="accepted JWS algorithms (default: RS256)")
    enable.add_argument("--token-use", choices=("id", "access"), help="required token_use claim (Cognito)")
    enable.add_argument("--jwks-uri", metavar="URL", help="default: <issuer>/.well-known/jwks.json")
    enable.add_argument("--max-devices", type=positive_int, default=DEFAULT_MAX_DEVICES, help="per user")
    enable.add_argument(
        "--user-token-budget",
        type=positive_int,
        default=DEFAULT_USER_TOKEN_BUDGET,
        help="tokens per user per day",
    )
    enable.add_argument(
        "--user-request-budget",
        type=positive_int,
        default=DEFAULT_USER_REQUEST_BUDGET,
        help="requests per user per day",
    )
    enable.add_argument(
        "--allowed-origins",
        type=comma_list,
        action="extend",
        help="browser origins the app's devices call from",
    )
    enable.set_defaults(run=reported(run_enable_enrollment))

    disable = actions.add_parser(
        "disable-enrollment", parents=[aws], help="stop enrollment; the app's devices are refused"
    )
    disable.add_argument("client_id", metavar="APP_ID")
    disable.set_defaults(run=reported(run_disable_enrollment))


def run_list_devices(args: argparse.Namespace) -> int:
    admin = device_admin(args)
    print_json([view.model_dump(mode="json") for view in admin.list_devices(args.app, args.user)])
    return EXIT_OK


def run_revoke_devices(args: argparse.Namespace) -> int:
    if (args.device_id is None) == (args.app is None):
        raise UsageError("name one DEVICE_ID, or --app (with --user for one user's devices)")
    if args.user is not None and args.app is None:
        raise UsageError("--user needs --app")
    admin = device_admin(args)
    if args.device_id is not None:
        print_json(
            {"revoked": [args.device_id], "device": admin.revoke(args.device_id).model_dump(mode="json")}
        )
    else:
        print_json({"revoked": admin.revoke_all(args.app, args.user)})
    return EXIT_OK


def run_enable_enrollment(args: argparse.Namespace) -> int:
    issuer, audiences = args.issuer, args.audience
    if args.cognito:
        target = resolve_target(args, os.environ)
        if not target.cognito_issuer or not target.user_pool_client_id:
            raise UsageError("no Cognito user pool: pass --stack-name NAME or --local, or --issuer")
        issuer, audiences = target.cognito_issuer, audiences or [target.user_pool_client_id]
    if not audiences:
        raise UsageError("--audience is required with --issuer")
    settings = EnrollmentSettings(
        issuer=issuer,
        audiences=tuple(audiences),
        algorithms=tuple(args.algorithms or ("RS256",)),
        token_use=args.token_use if args.token_use is not None or not args.cognito else "id",
        jwks_uri=args.jwks_uri,
        max_devices=args.max_devices,
        user_token_budget=args.user_token_budget,
        user_request_budget=args.user_request_budget,
        allowed_origins=tuple(args.allowed_origins or ()),
    )
    admin = client_admin(args, issues_keys=False)
    admin.set_enrollment(args.client_id, settings)
    print_json({"client_id": args.client_id, "enrollment": settings.model_dump(mode="json")})
    return EXIT_OK


def run_disable_enrollment(args: argparse.Namespace) -> int:
    client_admin(args, issues_keys=False).set_enrollment(args.client_id, None)
    print_json({"client_id": args.client_id, "enrollment": None})
    return EXIT_OK
