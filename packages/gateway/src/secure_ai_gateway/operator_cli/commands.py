"""The `clients` and `policies` command trees, and the one place their failures become exit codes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from secure_ai_gateway.client_registry.admin import DEFAULT_OVERLAP_SECONDS
from secure_ai_gateway.client_registry.records import DEFAULT_POLICY_ID
from secure_ai_gateway.operator_cli.actions import (
    DEFAULT_MAX_TOKENS,
    DEFAULT_REQUEST_BUDGET,
    DEFAULT_SCOPES,
    DEFAULT_TOKEN_BUDGET,
    run_create,
    run_list,
    run_revoke,
    run_rotate,
    run_show,
)
from secure_ai_gateway.operator_cli.arguments import (
    comma_list,
    duration,
    policy_id,
    positive_int,
    secret_file_option,
)
from secure_ai_gateway.operator_cli.aws_target import aws_options
from secure_ai_gateway.operator_cli.device_actions import add_enrollment_actions
from secure_ai_gateway.operator_cli.output import Action, reported

if TYPE_CHECKING:
    from secure_ai_protocol.command_line import SubParsers


def add_clients_command(commands: SubParsers) -> None:
    """`secure-ai clients ...`: manage client records and their signing keys."""
    clients = commands.add_parser("clients", help="manage clients and their signing keys")
    actions = clients.add_subparsers(dest="action", metavar="ACTION", required=True)
    aws = aws_options()

    create = actions.add_parser("create", parents=[aws], help="create a client with key version 1")
    create.add_argument("--client-id", help="the client id ([A-Za-z0-9_-]{1,64}); generated if absent")
    create.add_argument(
        "--scopes",
        type=comma_list,
        action="extend",
        help=f"comma-separated scopes, e.g. chat:complete,output:validate (default: {DEFAULT_SCOPES[0]})",
    )
    create.add_argument(
        "--models", type=comma_list, action="extend", help="comma-separated model allow-list (default: none)"
    )
    create.add_argument(
        "--max-tokens",
        type=positive_int,
        default=DEFAULT_MAX_TOKENS,
        help="tokens per request (default: %(default)s)",
    )
    create.add_argument(
        "--token-budget",
        type=positive_int,
        default=DEFAULT_TOKEN_BUDGET,
        help="tokens per day (default: %(default)s)",
    )
    create.add_argument(
        "--request-budget",
        type=positive_int,
        default=DEFAULT_REQUEST_BUDGET,
        help="requests per day (default: %(default)s)",
    )
    create.add_argument("--policy-id", default=DEFAULT_POLICY_ID, help="screening policy (default: default)")
    secret_file_option(create)
    create.set_defaults(run=reported(run_create))

    rotate = actions.add_parser("rotate", parents=[aws], help="issue a new key version; retire the old ones")
    rotate.add_argument("client_id", metavar="CLIENT_ID")
    rotate.add_argument(
        "--overlap",
        type=duration,
        default=DEFAULT_OVERLAP_SECONDS,
        help="how long the previous versions stay valid: 3600, 90s, 15m, 24h, 7d (default: 24h)",
    )
    secret_file_option(rotate)
    rotate.set_defaults(run=reported(run_rotate))

    revoke = actions.add_parser("revoke", parents=[aws], help="revoke one key version, or the whole client")
    revoke.add_argument("client_id", metavar="CLIENT_ID")
    revoke.add_argument(
        "--version", type=positive_int, help="the key version; without it the client is revoked"
    )
    revoke.set_defaults(run=reported(run_revoke))

    listing = actions.add_parser("list", parents=[aws], help="list clients (JSON, no secrets)")
    listing.set_defaults(run=reported(run_list))

    show = actions.add_parser("show", parents=[aws], help="show one client (JSON, no secrets)")
    show.add_argument("client_id", metavar="CLIENT_ID")
    show.set_defaults(run=reported(run_show))

    set_policy = actions.add_parser(
        "set-policy", parents=[aws], help="name the client's screening policy (it must exist)"
    )
    set_policy.add_argument("client_id", metavar="CLIENT_ID")
    set_policy.add_argument("policy_id", metavar="POLICY_ID", type=policy_id)
    set_policy.set_defaults(run=reported(_policy_action("set_policy")))

    add_enrollment_actions(actions)


def add_policies_command(commands: SubParsers) -> None:
    """`secure-ai policies ...`: manage screening policies, every version kept."""
    policies = commands.add_parser("policies", help="manage screening policies and their versions")
    actions = policies.add_subparsers(dest="action", metavar="ACTION", required=True)
    aws = aws_options()

    put = actions.add_parser("put", parents=[aws], help="store a policy as its next version, made current")
    put.add_argument("policy_id", metavar="POLICY_ID", type=policy_id)
    put.add_argument("--file", type=Path, required=True, metavar="PATH", help="the policy, as JSON")
    put.set_defaults(run=reported(_policy_action("put"), "policy"))

    get = actions.add_parser("get", parents=[aws], help="show the current version, or another one")
    get.add_argument("policy_id", metavar="POLICY_ID", type=policy_id)
    get.add_argument("--version", type=positive_int, help="the version (default: the current one)")
    get.set_defaults(run=reported(_policy_action("get")))

    listing = actions.add_parser("list", parents=[aws], help="list the current version of every policy")
    listing.set_defaults(run=reported(_policy_action("list")))

    history = actions.add_parser("history", parents=[aws], help="every version of a policy, oldest first")
    history.add_argument("policy_id", metavar="POLICY_ID", type=policy_id)
    history.set_defaults(run=reported(_policy_action("history")))

    rollback = actions.add_parser(
        "rollback", parents=[aws], help="make an earlier version current again (written as a new version)"
    )
    rollback.add_argument("policy_id", metavar="POLICY_ID", type=policy_id)
    rollback.add_argument(
        "--to", type=positive_int, required=True, metavar="N", help="the version to restore"
    )
    rollback.set_defaults(run=reported(_policy_action("rollback"), "policy"))

    delete = actions.add_parser(
        "delete", parents=[aws], help="stop serving a policy no client names (its versions are kept)"
    )
    delete.add_argument("policy_id", metavar="POLICY_ID", type=policy_id)
    delete.set_defaults(run=reported(_policy_action("delete")))


def _policy_action(name: str) -> Action:
    """The policy action `name`, imported when it runs: the policy model and the screen's detectors
    it validates with (~120 ms) stay out of every other `secure-ai` command's start."""

    def run(args: argparse.Namespace) -> int:
        from secure_ai_gateway.operator_cli import policy_actions  # noqa: PLC0415 - see above

        action: Action = policy_actions.ACTIONS[name]
        return action(args)

    return run
