"""`secure-ai clients ...` against moto: secrets shown once, never listed, never logged."""

from __future__ import annotations

import base64
import errno
import json
import logging
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from secure_ai_client.cli import main
from secure_ai_gateway.adapters.aws_clients import reset_clients
from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.secret_sealing import SecretSealer
from secure_ai_gateway.client_registry.admin import ClientAdmin
from secure_ai_gateway.client_registry.resolver import SigningKeyResolver
from secure_ai_local.provision import ProvisionedStack, provision_stack
from secure_ai_local.stack_template import StackTemplate
from secure_ai_protocol.credentials import ClientCredentials, SecretFile, read_credentials_file
from secure_ai_protocol.errors import DependencyUnavailable
from tests.cli_run import Run, secure_ai
from tests.gateway.client_registry.fakes import FakeClock
from tests.integration.clients.aws_doubles import REGION

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@pytest.fixture
def cli(aws_stack: ProvisionedStack, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run `secure-ai` in process against the moto stack; return exit code and captured output."""
    target = [
        "--region",
        REGION,
        "--clients-table",
        aws_stack.ref("ClientsTable"),
        "--kms-key-arn",
        aws_stack.attribute("RequestKey", "Arn"),
    ]

    def run(*argv: str, aws: bool = True) -> Run:
        return secure_ai(capsys, [*argv, *target] if aws else list(argv))

    return run


def secret_of(run: Run) -> bytes:
    return base64.b64decode(run.json()["secret"], validate=True)


def sealed_blobs(dynamodb: DynamoDBClient, table: str) -> list[bytes]:
    items = dynamodb.scan(TableName=table)["Items"]
    return [
        version["M"]["sealed_secret"]["B"] for item in items for version in item["key_versions"]["M"].values()
    ]


def forms_of(secret: bytes) -> list[str]:
    """Every way a secret could appear in text output."""
    return [base64.b64encode(secret).decode(), base64.urlsafe_b64encode(secret).decode(), secret.hex()]


# ------------------------------------------------------------------------------------ create


def test_create_prints_the_new_secret_once_with_its_key_id(cli: Any, aws_stack: ProvisionedStack) -> None:
    # When a client is created
    run = cli("clients", "create", "--client-id", "acme", "--scopes", "chat:complete,output:validate")
    # Then it succeeds, printing key id and a 32-byte secret on stdout, nothing on stderr
    assert (run.code, run.stderr) == (0, "")
    assert run.json()["key_id"] == "acme.1"
    secret = secret_of(run)
    assert len(secret) == 32
    assert run.stdout.count(run.json()["secret"]) == 1
    # ...and it is the secret the authorizer will verify with
    store = ClientStore(aws_stack.ref("ClientsTable"), boto3.client("dynamodb", region_name=REGION))
    sealer = SecretSealer(aws_stack.attribute("RequestKey", "Arn"), boto3.client("kms", region_name=REGION))
    assert SigningKeyResolver(store, sealer, clock=FakeClock(4e9)).resolve("acme.1").secret == secret


def test_create_stores_the_given_settings(cli: Any) -> None:
    # When a client is created with explicit settings
    settings = [
        *("--client-id", "acme", "--scopes", "chat:complete", "--scopes", "output:validate"),
        *("--models", "gpt-4o-mini,llama3.1:8b", "--max-tokens", "256", "--token-budget", "5000"),
        *("--request-budget", "50", "--policy-id", "strict"),
    ]
    run = cli("clients", "create", *settings)
    # Then the printed client carries them
    client = run.json()["client"]
    assert client["scopes"] == ["chat:complete", "output:validate"]
    assert client["allowed_models"] == ["gpt-4o-mini", "llama3.1:8b"]
    assert (client["max_tokens"], client["token_budget"], client["request_budget"]) == (256, 5000, 50)
    assert client["policy_id"] == "strict"


def test_create_without_a_client_id_generates_one(cli: Any) -> None:
    # When created without --client-id / Then an id was generated and printed
    run = cli("clients", "create")
    assert run.code == 0
    assert run.json()["client"]["client_id"].startswith("client-")


def test_show_and_list_never_contain_the_secret_or_the_sealed_blob(
    cli: Any, dynamodb: DynamoDBClient, clients_table: str
) -> None:
    # Given a created client
    secret = secret_of(cli("clients", "create", "--client-id", "acme"))
    [sealed] = sealed_blobs(dynamodb, clients_table)
    # When it is shown and listed
    shown, listed = cli("clients", "show", "acme"), cli("clients", "list")
    # Then both succeed, name the key, and contain neither the secret nor the sealed blob
    assert (shown.code, listed.code) == (0, 0)
    assert shown.json()["keys"][0]["key_id"] == "acme.1"
    assert [client["client_id"] for client in listed.json()] == ["acme"]
    for run in (shown, listed):
        for text in forms_of(secret) + forms_of(sealed):
            assert text not in run.stdout
            assert text not in run.stderr


def test_no_secret_reaches_the_logs_or_stderr(cli: Any, caplog: pytest.LogCaptureFixture) -> None:
    # Given every log record captured at INFO, the level the stack runs at
    caplog.set_level(logging.INFO)
    # When a client is created and rotated
    created = cli("clients", "create", "--client-id", "acme")
    rotated = cli("clients", "rotate", "acme")
    # Then neither secret appears in any log record or on stderr
    for secret in (secret_of(created), secret_of(rotated)):
        for text in forms_of(secret):
            assert text not in caplog.text
            assert text not in created.stderr + rotated.stderr


def test_create_with_a_secret_file_writes_it_mode_0600_and_prints_no_secret(cli: Any, tmp_path: Path) -> None:
    # When created with --secret-file
    path = tmp_path / "acme.json"
    run = cli("clients", "create", "--client-id", "acme", "--secret-file", str(path))
    # Then the file is owner-only and holds the key id and secret; stdout names the file instead
    assert run.code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    credentials = read_credentials_file(path)
    assert credentials.key_id == "acme.1"
    assert "secret" not in run.json()
    assert run.json()["secret_file"] == str(path)
    for text in forms_of(credentials.secret):
        assert text not in run.stdout


def test_create_refuses_to_overwrite_an_existing_secret_file(cli: Any, tmp_path: Path) -> None:
    # Given a file already at the path
    path = tmp_path / "acme.json"
    path.write_text("precious")
    # When a client is created with --secret-file pointing at it
    run = cli("clients", "create", "--client-id", "acme", "--secret-file", str(path))
    # Then it exits 2 with a clear message, the file is untouched, and no client was created
    assert run.code == 2
    assert "already exists; refusing to overwrite" in run.stderr
    assert path.read_text() == "precious"
    assert cli("clients", "show", "acme").code == 1


def test_create_refuses_a_symlink_planted_at_the_secret_file_path(cli: Any, tmp_path: Path) -> None:
    # Given a symlink at the path pointing elsewhere
    target, path = tmp_path / "elsewhere", tmp_path / "acme.json"
    path.symlink_to(target)
    # When created with --secret-file / Then refused, and nothing is written through the link
    run = cli("clients", "create", "--client-id", "acme", "--secret-file", str(path))
    assert run.code == 2
    assert not target.exists()


def test_a_failed_create_leaves_no_secret_file_behind(cli: Any, tmp_path: Path) -> None:
    # Given an existing client
    cli("clients", "create", "--client-id", "acme")
    # When created again with a secret file / Then it fails and the reserved file is removed
    path = tmp_path / "acme.json"
    run = cli("clients", "create", "--client-id", "acme", "--secret-file", str(path))
    assert run.code == 1
    assert not path.exists()


def test_creating_an_existing_client_exits_1_with_a_clear_message(cli: Any) -> None:
    # Given a client / When created again / Then exit 1 and a one-line message
    cli("clients", "create", "--client-id", "acme")
    run = cli("clients", "create", "--client-id", "acme")
    assert run.code == 1
    assert run.stderr == "secure-ai: error: acme: a client with this id already exists\n"
    assert run.stdout == ""


def test_invalid_client_settings_exit_2_naming_the_field(cli: Any) -> None:
    # When created with a malformed scope / Then exit 2 and the field is named
    run = cli("clients", "create", "--client-id", "acme", "--scopes", "chat complete")
    assert run.code == 2
    assert "invalid client settings: scopes.0" in run.stderr


def test_an_invalid_client_id_exits_2(cli: Any) -> None:
    # When created with a client id containing a dot / Then exit 2 naming client_id
    run = cli("clients", "create", "--client-id", "acme.prod")
    assert run.code == 2
    assert "client_id" in run.stderr


# ------------------------------------------------------------------------------------ rotate / revoke


def test_rotate_issues_the_next_version_and_schedules_the_old_ones_end(cli: Any) -> None:
    # Given a client
    cli("clients", "create", "--client-id", "acme")
    # When rotated with a one-hour overlap
    run = cli("clients", "rotate", "acme", "--overlap", "1h")
    # Then key 2 is printed with its secret and key 1 is expiring
    assert run.code == 0
    assert run.json()["key_id"] == "acme.2"
    assert len(secret_of(run)) == 32
    keys = run.json()["client"]["keys"]
    assert [(key["key_id"], key["state"]) for key in keys] == [("acme.1", "expiring"), ("acme.2", "active")]
    assert keys[0]["not_after"] == keys[1]["not_before"] + 3600


def test_rotate_with_a_secret_file_writes_the_new_key(cli: Any, tmp_path: Path) -> None:
    # Given a client / When rotated into a secret file
    cli("clients", "create", "--client-id", "acme")
    path = tmp_path / "acme-2.json"
    run = cli("clients", "rotate", "acme", "--secret-file", str(path))
    # Then the file holds key 2 and stdout no secret
    assert run.code == 0
    assert read_credentials_file(path).key_id == "acme.2"
    assert "secret" not in run.json()


def test_rotating_an_unknown_client_exits_1_and_leaves_no_secret_file(cli: Any, tmp_path: Path) -> None:
    # When an unknown client is rotated into a secret file / Then exit 1, and no file remains
    path = tmp_path / "nobody.json"
    run = cli("clients", "rotate", "nobody", "--secret-file", str(path))
    assert run.code == 1
    assert "nobody: no such client" in run.stderr
    assert not path.exists()


def test_rotating_an_unknown_client_exits_1(cli: Any) -> None:
    # When an unknown client is rotated / Then exit 1 and nothing on stdout
    run = cli("clients", "rotate", "nobody")
    assert (run.code, run.stdout) == (1, "")
    assert "nobody: no such client" in run.stderr


def test_a_secret_that_cannot_be_written_is_reported_and_never_printed(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a disk that fails when the secret is written
    def full_disk(self: SecretFile, credentials: ClientCredentials) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(SecretFile, "write", full_disk)
    # When a client is created into a secret file
    run = cli("clients", "create", "--client-id", "acme", "--secret-file", str(tmp_path / "acme.json"))
    # Then exit 1 says the key was issued and must be replaced, and the secret is not printed instead
    assert run.code == 1
    assert run.stdout == ""
    assert "acme.1 was issued but its secret could not be written" in run.stderr
    assert "No space left on device" in run.stderr


def test_a_rotation_whose_read_back_fails_still_hands_out_the_new_secret(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a client, and DynamoDB failing right after the rotation is written
    cli("clients", "create", "--client-id", "acme")

    def unavailable(self: ClientAdmin, client_id: str) -> None:
        raise DependencyUnavailable("clients_store_unavailable")

    monkeypatch.setattr(ClientAdmin, "show_client", unavailable)
    # When rotated / Then the new key's secret is still printed, without the client view
    run = cli("clients", "rotate", "acme")
    assert run.code == 0
    assert (run.json()["key_id"], run.json()["client"]) == ("acme.2", None)
    assert len(secret_of(run)) == 32


def test_revoke_with_a_version_revokes_that_key(cli: Any) -> None:
    # Given a rotated client / When key 1 is revoked / Then key 1 is revoked and key 2 active
    cli("clients", "create", "--client-id", "acme")
    cli("clients", "rotate", "acme")
    run = cli("clients", "revoke", "acme", "--version", "1")
    assert run.code == 0
    assert run.json()["revoked"] == "acme.1"
    assert [key["state"] for key in run.json()["client"]["keys"]] == ["revoked", "active"]


def test_revoke_without_a_version_revokes_the_client(cli: Any) -> None:
    # Given a client / When revoked without --version / Then the client is revoked
    cli("clients", "create", "--client-id", "acme")
    run = cli("clients", "revoke", "acme")
    assert run.code == 0
    assert run.json()["client"]["status"] == "revoked"


def test_revoking_an_unknown_key_exits_1(cli: Any) -> None:
    # Given a client with one key / When key 7 is revoked / Then exit 1 naming the problem
    cli("clients", "create", "--client-id", "acme")
    run = cli("clients", "revoke", "acme", "--version", "7")
    assert run.code == 1
    assert "no such key version" in run.stderr


def test_showing_an_unknown_client_exits_1(cli: Any) -> None:
    # When an unknown client is shown / Then exit 1 and a one-line message
    run = cli("clients", "show", "nobody")
    assert (run.code, run.stderr) == (1, "secure-ai: error: nobody: no such client\n")


# ------------------------------------------------------------------------------------ failures


def test_an_aws_failure_is_one_line_with_the_error_code_and_no_traceback(
    aws_stack: ProvisionedStack, capsys: Any
) -> None:
    # When the named table does not exist
    code = main(["clients", "list", "--region", REGION, "--clients-table", "no-such-table"])
    # Then exit 1 with the AWS error code on one line, and no traceback
    stderr = capsys.readouterr().err
    assert code == 1
    assert "ResourceNotFoundException" in stderr
    assert "Traceback" not in stderr
    assert stderr.count("\n") == 1


def test_an_unreachable_endpoint_is_one_line_naming_the_connection_error(
    aws_stack: ProvisionedStack, capsys: Any
) -> None:
    # Given an endpoint on a loopback port where nothing listens
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    # When a command runs against it / Then exit 1 naming the connection failure
    code = main(
        ["clients", "show", "acme", "--region", REGION, "--clients-table", "t", "--endpoint-url", dead]
    )
    stderr = capsys.readouterr().err
    assert code == 1
    assert "EndpointConnectionError" in stderr
    assert stderr.count("\n") == 1


def test_an_unreachable_cloudformation_is_one_line_naming_the_connection_error(
    aws_stack: ProvisionedStack, capsys: Any
) -> None:
    # Given --stack-name with an endpoint where nothing listens
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    # When a command runs / Then exit 1 naming the connection failure
    code = main(["clients", "list", "--region", REGION, "--stack-name", "gateway", "--endpoint-url", dead])
    stderr = capsys.readouterr().err
    assert code == 1
    assert "stack_unavailable: EndpointConnectionError" in stderr


def test_create_without_a_kms_key_exits_2_before_any_aws_call(
    aws_stack: ProvisionedStack, capsys: Any
) -> None:
    # When created with a table but no key / Then exit 2 naming the missing option
    code = main(["clients", "create", "--region", REGION, "--clients-table", aws_stack.ref("ClientsTable")])
    assert code == 2
    assert "no KMS key" in capsys.readouterr().err


def test_list_needs_no_kms_key(aws_stack: ProvisionedStack, capsys: Any) -> None:
    # When listed with only a table / Then it succeeds with an empty list
    code = main(["clients", "list", "--region", REGION, "--clients-table", aws_stack.ref("ClientsTable")])
    assert (code, json.loads(capsys.readouterr().out)) == (0, [])


# ------------------------------------------------------------------------------------ targets


STACK_TEMPLATE = {
    "Resources": {"Marker": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "marker"}}},
    "Outputs": {
        "ClientsTableName": {"Value": "__TABLE__"},
        "RequestKeyArn": {"Value": "__KEY__"},
    },
}


def test_stack_name_reads_the_table_and_key_from_the_stacks_outputs(
    aws_stack: ProvisionedStack, capsys: Any
) -> None:
    # Given a CloudFormation stack whose outputs name the table and key
    body = json.dumps(STACK_TEMPLATE)
    body = body.replace("__TABLE__", aws_stack.ref("ClientsTable"))
    body = body.replace("__KEY__", aws_stack.attribute("RequestKey", "Arn"))
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName="gateway", TemplateBody=body)
    # When a client is created with --stack-name only
    code = main(["clients", "create", "--client-id", "acme", "--stack-name", "gateway", "--region", REGION])
    # Then it was created in that table
    assert code == 0
    assert json.loads(capsys.readouterr().out)["key_id"] == "acme.1"


def test_an_unknown_stack_exits_2(aws_stack: ProvisionedStack, capsys: Any) -> None:
    # When --stack-name names no stack / Then exit 2 saying so
    code = main(["clients", "list", "--stack-name", "nope", "--region", REGION])
    assert code == 2
    assert "stack nope not found" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def local_stack(
    stack_template: StackTemplate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ProvisionedStack]:
    """A moto server on loopback holding the template's resources, and its .secure-ai/local.json."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        session = boto3.session.Session(
            region_name="eu-west-1", aws_access_key_id="provisioner", aws_secret_access_key="provisioner"
        )
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        stack = provision_stack(stack_template, session)
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        # Real-looking credentials in the environment must not be what --local uses.
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKINGKEY00")
        (tmp_path / ".secure-ai").mkdir()
        (tmp_path / ".secure-ai" / "local.json").write_text(
            json.dumps(
                {
                    "clients_table": stack.ref("ClientsTable"),
                    "kms_key_arn": stack.attribute("RequestKey", "Arn"),
                    "aws_endpoint_url": endpoint,
                    "region": "eu-west-1",
                    "api_url": "http://127.0.0.1:3000",
                }
            )
        )
        monkeypatch.chdir(tmp_path)
        yield stack
    finally:
        server.stop()
        reset_clients()


def test_local_reads_the_local_stacks_file_and_talks_to_its_endpoint(
    local_stack: ProvisionedStack, capsys: Any
) -> None:
    # Given a running local stack and its .secure-ai/local.json in the working directory
    # When a client is created and shown with --local only
    created = main(["clients", "create", "--client-id", "acme", "--local"])
    capsys.readouterr()
    shown = main(["clients", "show", "acme", "--local"])
    # Then both worked against the local stack
    assert (created, shown) == (0, 0)
    assert json.loads(capsys.readouterr().out)["keys"][0]["key_id"] == "acme.1"
