"""`secure-ai` argument handling: usage errors exit 2 with one clear line, before any AWS call."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from secure_ai_client.cli import COMMANDS, build_parser, main
from secure_ai_gateway.operator_cli.aws_target import resolve_target


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "the following arguments are required: COMMAND"),
        (("bogus",), "invalid choice: 'bogus'"),
        (("clients",), "the following arguments are required: ACTION"),
        (("clients", "delete"), "invalid choice: 'delete'"),
        (("clients", "create", "--max-tokens", "many"), "argument --max-tokens: not a positive integer"),
        (("clients", "create", "--max-tokens", "0"), "argument --max-tokens: not a positive integer"),
        (("clients", "create", "--token-budget", "-5"), "argument --token-budget"),
        (("clients", "create", "--scopes", "chat:complete,,x"), "argument --scopes: empty item"),
        (("clients", "rotate"), "the following arguments are required: CLIENT_ID"),
        (("clients", "rotate", "acme", "--overlap", "5y"), "argument --overlap: not a duration"),
        (("clients", "revoke", "acme", "--version", "one"), "argument --version"),
        (("clients", "show"), "the following arguments are required: CLIENT_ID"),
        (("clients", "list", "--unknown-flag"), "unrecognized arguments: --unknown-flag"),
    ],
)
def test_bad_arguments_exit_2_with_one_clear_line(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    # Given bad arguments / When run / Then exit 2, one line on stderr naming the problem, nothing on stdout
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.startswith("secure-ai")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    # When asked for help / Then exit 0 with usage on stdout
    code, out, _ = run(capsys, "clients", "create", "--help")
    assert code == 0
    assert "--secret-file PATH" in out


def test_without_a_table_the_command_says_how_to_name_one(capsys: pytest.CaptureFixture[str]) -> None:
    # Given no table option, stack or local file / When listing / Then exit 2 with the options to use
    code, _, err = run(capsys, "clients", "list", "--region", "us-east-1")
    assert code == 2
    assert "no clients table: pass --clients-table, --stack-name NAME or --local" in err


def test_local_and_stack_name_cannot_be_combined(capsys: pytest.CaptureFixture[str]) -> None:
    # When both sources are given / Then exit 2
    code, _, err = run(capsys, "clients", "list", "--local", "--stack-name", "gateway")
    assert code == 2
    assert "cannot be combined" in err


def test_local_without_a_local_file_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a directory without .secure-ai/local.json / When --local is used / Then exit 2 saying so
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "clients", "list", "--local")
    assert code == 2
    assert ".secure-ai/local.json not found" in err


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_a_malformed_local_file_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    # Given a local.json that is not a JSON object / When --local is used / Then exit 2
    (tmp_path / ".secure-ai").mkdir()
    (tmp_path / ".secure-ai" / "local.json").write_text(content)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "clients", "list", "--local")
    assert code == 2
    assert "local.json" in err


def test_a_local_file_without_an_endpoint_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a local.json naming no endpoint (so --local would reach real AWS) / When used / Then exit 2
    (tmp_path / ".secure-ai").mkdir()
    (tmp_path / ".secure-ai" / "local.json").write_text(
        json.dumps({"clients_table": "t", "region": "us-east-1"})
    )
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "clients", "list", "--local")
    assert code == 2
    assert "names no aws_endpoint_url" in err


def test_explicit_flags_override_the_local_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a local.json and explicit --clients-table and --endpoint-url
    (tmp_path / ".secure-ai").mkdir()
    (tmp_path / ".secure-ai" / "local.json").write_text(
        json.dumps(
            {
                "clients_table": "from-file",
                "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/file",
                "aws_endpoint_url": "http://127.0.0.1:4566",
                "region": "eu-west-1",
            }
        )
    )
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(
        ["clients", "list", "--local", "--clients-table", "explicit", "--endpoint-url", "http://127.0.0.1:9"]
    )
    # When the target is resolved / Then flags win and the rest comes from the file
    target = resolve_target(args, {"AWS_ENDPOINT_URL": "http://env.invalid"})
    assert (target.clients_table, target.endpoint_url) == ("explicit", "http://127.0.0.1:9")
    assert (target.kms_key_arn, target.region, target.local) == (
        "arn:aws:kms:eu-west-1:123456789012:key/file",
        "eu-west-1",
        True,
    )


def test_the_endpoint_defaults_to_the_aws_endpoint_url_environment_variable() -> None:
    # Given AWS_ENDPOINT_URL in the environment and no flag / When resolved / Then it is used
    args = build_parser().parse_args(["clients", "list", "--clients-table", "t"])
    target = resolve_target(args, {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"})
    assert target.endpoint_url == "http://127.0.0.1:5000"


@pytest.mark.parametrize(
    ("text", "seconds"), [("3600", 3600), ("90s", 90), ("15m", 900), ("24h", 86_400), ("7d", 604_800)]
)
def test_overlap_durations_accept_seconds_and_units(text: str, seconds: int) -> None:
    # Given a duration / When parsed as --overlap / Then it is that many seconds
    args = build_parser().parse_args(["clients", "rotate", "acme", "--overlap", text])
    assert args.overlap == seconds


def test_the_default_overlap_is_a_day() -> None:
    # When rotate is parsed without --overlap / Then the overlap is 24 h
    assert build_parser().parse_args(["clients", "rotate", "acme"]).overlap == 86_400


def test_a_new_top_level_command_is_added_in_one_place(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a command registered by adding one function to COMMANDS
    def add_example_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        example = commands.add_parser("example")
        example.set_defaults(run=lambda _: 7)

    monkeypatch.setattr("secure_ai_client.cli.COMMANDS", (*COMMANDS, add_example_command))
    # When it is run / Then main dispatches to it
    assert main(["example"]) == 7


def test_a_secret_file_in_a_missing_directory_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a --secret-file path whose directory does not exist / When a client is created
    code, _, err = run(
        capsys,
        *("clients", "create", "--region", "us-east-1", "--clients-table", "t"),
        *("--kms-key-arn", "arn:aws:kms:us-east-1:123456789012:key/k"),
        *("--secret-file", str(tmp_path / "missing" / "acme.json")),
    )
    # Then exit 2 before anything is created
    assert code == 2
    assert "cannot create" in err


def test_without_any_region_the_command_says_how_to_set_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given no region anywhere (environment or AWS config file)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    # When a command needs AWS / Then exit 2 naming --region
    code, _, err = run(capsys, "clients", "list", "--clients-table", "t")
    assert code == 2
    assert "no AWS region: pass --region" in err


def test_stack_name_without_any_region_says_how_to_set_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given no region anywhere / When --stack-name is used / Then exit 2 naming --region
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    code, _, err = run(capsys, "clients", "list", "--stack-name", "gateway")
    assert code == 2
    assert "no AWS region" in err


def test_a_malformed_endpoint_url_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    # Given an endpoint that is not a URL / When used / Then exit 2 naming the option
    code, _, err = run(
        capsys,
        "clients",
        "list",
        "--region",
        "us-east-1",
        "--clients-table",
        "t",
        "--endpoint-url",
        "not a url",
    )
    assert code == 2
    assert "invalid --endpoint-url" in err
