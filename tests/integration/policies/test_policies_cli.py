"""`secure-ai policies ...` and `secure-ai clients set-policy` against moto: JSON out, one-line errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from secure_ai_client.cli import main
from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.operator_cli.aws_target import resolve_target
from secure_ai_local.provision import ProvisionedStack
from tests.cli_run import Run, secure_ai
from tests.gateway.client_registry.fakes import client_record
from tests.integration.clients.aws_doubles import REGION

# What STS answers under moto for the test credentials.
MOTO_CALLER = "arn:aws:sts::123456789012:user/moto"
DOCS = {"allowed_hosts": ["docs.example.com"], "deny_terms": ["Project Falcon"]}


@pytest.fixture
def cli(aws_stack: ProvisionedStack, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run `secure-ai` in process against the moto stack's tables."""
    target = [
        *("--region", REGION, "--clients-table", aws_stack.ref("ClientsTable")),
        *("--policies-table", aws_stack.ref("PoliciesTable")),
    ]

    def run(*argv: str) -> Run:
        return secure_ai(capsys, [*argv, *target])

    return run


@pytest.fixture
def policy_file(tmp_path: Path) -> Any:
    def write(document: object, name: str = "policy.json") -> str:
        path = tmp_path / name
        path.write_text(json.dumps(document), encoding="utf-8")
        return str(path)

    return write


@pytest.fixture
def clients(aws_stack: ProvisionedStack) -> ClientStore:
    return ClientStore(aws_stack.ref("ClientsTable"), boto3.client("dynamodb", region_name=REGION))


def test_put_stores_version_1_and_prints_it_with_its_writer(cli: Any, policy_file: Any) -> None:
    run = cli("policies", "put", "docs", "--file", policy_file(DOCS))
    assert (run.code, run.stderr) == (0, "")
    printed = run.json()
    assert (printed["policy_id"], printed["version"], printed["current"]) == ("docs", 1, True)
    assert printed["written_by"] == MOTO_CALLER
    assert printed["policy"]["allowed_hosts"] == ["docs.example.com"]
    assert printed["policy"]["deny_terms"] == ["Project Falcon"]


def test_get_prints_the_current_version_or_the_one_asked_for(cli: Any, policy_file: Any) -> None:
    cli("policies", "put", "docs", "--file", policy_file(DOCS))
    cli("policies", "put", "docs", "--file", policy_file({"deny_terms": ["other"]}))
    current, first = cli("policies", "get", "docs"), cli("policies", "get", "docs", "--version", "1")
    assert (current.json()["version"], current.json()["current"]) == (2, True)
    assert (first.json()["version"], first.json()["current"]) == (1, False)


def test_get_output_put_back_unchanged_writes_the_next_version(cli: Any, policy_file: Any) -> None:
    # The round trip an operator makes: get, edit, put; the file carries the version it was read at
    cli("policies", "put", "docs", "--file", policy_file(DOCS))
    document = cli("policies", "get", "docs").json()["policy"]
    run = cli("policies", "put", "docs", "--file", policy_file({**document, "deny_terms": []}))
    assert (run.code, run.json()["version"]) == (0, 2)


def test_put_of_a_stale_edit_exits_1_and_changes_nothing(cli: Any, policy_file: Any) -> None:
    cli("policies", "put", "docs", "--file", policy_file(DOCS))
    edit = cli("policies", "get", "docs").json()["policy"]
    cli("policies", "put", "docs", "--file", policy_file({"deny_terms": ["someone else"]}))
    run = cli("policies", "put", "docs", "--file", policy_file(edit))
    assert run.code == 1
    assert run.stderr.startswith("secure-ai: error: docs: the file's version is not the current one")
    assert run.stderr.count("\n") == 1
    assert cli("policies", "get", "docs").json()["version"] == 2


def test_list_prints_the_current_version_of_every_policy(cli: Any, policy_file: Any) -> None:
    cli("policies", "put", "docs", "--file", policy_file(DOCS))
    cli("policies", "put", "docs", "--file", policy_file({}))
    cli("policies", "put", "strict", "--file", policy_file({"input_secrets": "block"}))
    listed = cli("policies", "list").json()
    assert [(item["policy_id"], item["version"]) for item in listed] == [("docs", 2), ("strict", 1)]


def test_history_and_rollback(cli: Any, policy_file: Any) -> None:
    # Given version 1 without the host, version 2 with it
    cli("policies", "put", "docs", "--file", policy_file({"deny_terms": ["Project Falcon"]}))
    cli("policies", "put", "docs", "--file", policy_file(DOCS))
    # When rolled back to 1
    run = cli("policies", "rollback", "docs", "--to", "1")
    # Then version 3 is current, a copy of 1, and the history shows all three
    assert run.code == 0
    assert (run.json()["version"], run.json()["rolled_back_from"]) == (3, 1)
    assert run.json()["policy"]["allowed_hosts"] == []
    history = cli("policies", "history", "docs").json()
    assert history["current"] == 3
    assert [(v["version"], v["current"]) for v in history["versions"]] == [(1, False), (2, False), (3, True)]


def test_delete_is_refused_while_a_client_names_the_policy(
    cli: Any, policy_file: Any, clients: ClientStore
) -> None:
    cli("policies", "put", "docs", "--file", policy_file(DOCS))
    clients.create(client_record("acme"))
    assert cli("clients", "set-policy", "acme", "docs").code == 0
    refused = cli("policies", "delete", "docs")
    assert refused.code == 1
    assert refused.stderr == (
        "secure-ai: error: docs: the policy is named by client(s) acme; set-policy them first\n"
    )
    # ...and once no client names it, it is deleted; its history stays
    cli("clients", "set-policy", "acme", "default")
    deleted = cli("policies", "delete", "docs")
    assert (deleted.code, deleted.json()) == (0, {"deleted": "docs", "last_version": 1})
    assert cli("policies", "get", "docs").code == 1
    assert cli("policies", "history", "docs").json()["current"] is None


def test_set_policy_names_the_policy_on_the_client(cli: Any, policy_file: Any, clients: ClientStore) -> None:
    cli("policies", "put", "docs", "--file", policy_file(DOCS))
    clients.create(client_record("acme"))
    run = cli("clients", "set-policy", "acme", "docs")
    assert (run.code, run.json()) == (0, {"client_id": "acme", "policy_id": "docs"})
    stored = clients.get("acme")
    assert stored is not None
    assert stored.policy_id == "docs"


def test_set_policy_to_a_policy_that_does_not_exist_exits_1(cli: Any, clients: ClientStore) -> None:
    clients.create(client_record("acme"))
    run = cli("clients", "set-policy", "acme", "docs")
    assert (run.code, run.stderr) == (1, "secure-ai: error: docs: no such policy\n")
    stored = clients.get("acme")
    assert stored is not None
    assert stored.policy_id == "default"


def test_set_policy_of_an_unknown_client_exits_1(cli: Any, policy_file: Any) -> None:
    cli("policies", "put", "docs", "--file", policy_file(DOCS))
    run = cli("clients", "set-policy", "nobody", "docs")
    assert (run.code, run.stderr) == (1, "secure-ai: error: nobody: no such client\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("policies", "get", "nope"), "nope: no such policy"),
        (("policies", "get", "nope", "--version", "2"), "nope: no such policy version"),
        (("policies", "history", "nope"), "nope: no such policy"),
        (("policies", "rollback", "nope", "--to", "1"), "nope: no such policy"),
        (("policies", "delete", "nope"), "nope: no such policy"),
    ],
)
def test_acting_on_a_policy_that_does_not_exist_exits_1(
    cli: Any, argv: tuple[str, ...], message: str
) -> None:
    run = cli(*argv)
    assert (run.code, run.stdout, run.stderr) == (1, "", f"secure-ai: error: {message}\n")


def test_rollback_to_the_current_policy_exits_1(cli: Any, policy_file: Any) -> None:
    cli("policies", "put", "docs", "--file", policy_file(DOCS))
    run = cli("policies", "rollback", "docs", "--to", "1")
    assert (run.code, run.stderr) == (
        1,
        "secure-ai: error: docs: that version's policy is already the current one\n",
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"allowed_hosts": ["https://docs.example.com/"]}, "invalid policy: allowed_hosts"),
        ({"detectors": ["telepathy"]}, "invalid policy: detectors"),
        ({"no_such_field": 1}, "invalid policy: no_such_field"),
        ({"policy_id": "other"}, "holds policy_id 'other', not 'docs'"),
        ([1, 2], "is not a JSON object"),
    ],
)
def test_an_invalid_policy_file_exits_2_and_writes_nothing(
    cli: Any, policy_file: Any, document: object, message: str
) -> None:
    run = cli("policies", "put", "docs", "--file", policy_file(document))
    assert run.code == 2
    assert message in run.stderr
    assert run.stderr.count("\n") == 1
    assert cli("policies", "history", "docs").code == 1


def test_a_file_that_is_not_json_or_is_missing_exits_2(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    assert cli("policies", "put", "docs", "--file", str(tmp_path / "bad.json")).code == 2
    assert cli("policies", "put", "docs", "--file", str(tmp_path / "missing.json")).code == 2


def test_an_invalid_policy_id_exits_2(cli: Any, policy_file: Any) -> None:
    run = cli("policies", "put", "../docs", "--file", policy_file(DOCS))
    assert run.code == 2
    assert "not a policy id" in run.stderr


def test_without_a_policies_table_exits_2_before_any_aws_call(
    aws_stack: ProvisionedStack, capsys: Any
) -> None:
    code = main(["policies", "list", "--region", REGION, "--clients-table", aws_stack.ref("ClientsTable")])
    assert code == 2
    assert "no policies table" in capsys.readouterr().err


def test_an_unreachable_endpoint_is_one_line_and_exit_1(aws_stack: ProvisionedStack, capsys: Any) -> None:
    code = main(
        [
            *("policies", "list", "--region", REGION, "--endpoint-url", "http://127.0.0.1:9"),
            *("--clients-table", "c", "--policies-table", "p"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("secure-ai: error: AWS request failed (policies_store_unavailable: ")
    assert err.count("\n") == 1


def test_stack_name_reads_the_policies_table_from_the_stacks_outputs(
    aws_stack: ProvisionedStack, capsys: Any, policy_file: Any
) -> None:
    template = {
        "Resources": {"Marker": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "marker"}}},
        "Outputs": {
            "ClientsTableName": {"Value": aws_stack.ref("ClientsTable")},
            "PoliciesTableName": {"Value": aws_stack.ref("PoliciesTable")},
        },
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="gateway", TemplateBody=json.dumps(template)
    )
    code = main(["policies", "put", "docs", "--file", policy_file(DOCS), "--stack-name", "gateway"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["version"] == 1


def test_local_reads_the_policies_table_from_the_local_stacks_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".secure-ai").mkdir()
    (tmp_path / ".secure-ai" / "local.json").write_text(
        json.dumps({"policies_table": "local-policies", "aws_endpoint_url": "http://127.0.0.1:5000"})
    )
    monkeypatch.chdir(tmp_path)
    names = ("region", "endpoint_url", "clients_table", "policies_table", "kms_key_arn", "stack_name")
    args = argparse.Namespace(local=True, **dict.fromkeys(names))
    assert resolve_target(args, {}).policies_table == "local-policies"
    # ...and an explicit flag wins
    args.policies_table = "explicit"
    assert resolve_target(args, {}).policies_table == "explicit"
