"""`secure-ai ask` and `secure-ai demo`: refused arguments (exit 2), and `ask` against the fake gateway."""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from secure_ai_client.cli import main
from secure_ai_client.client import SecureAIClient
from secure_ai_protocol.credentials import ClientCredentials
from tests.client.conftest import KEY_ID, SECRET, Keys
from tests.client.fake_gateway import BASE_URL, BLOCK_VERDICT, FakeGateway, json_response

ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["ask", "hi"], "pass --local, or --url and --credentials"),
        (["ask", "hi", "--url", "https://gw.example/prod"], "pass --local, or --url and --credentials"),
        (
            ["ask", "hi", "--local", "--url", "https://gw.example/prod"],
            "--local cannot be combined with --url",
        ),
        (["ask", "hi", "--url", "https://gw.example/prod", "--credentials", "c.json"], "needs --kms-key-arn"),
        (["demo"], "pass --local"),
    ],
)
def test_incomplete_or_contradictory_targets_exit_2(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(arguments) == 2
    assert message in capsys.readouterr().err


def test_a_missing_local_state_exits_2_and_says_to_start_the_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", "hi", "--local-state", str(tmp_path / "local.json")]) == 2
    assert "start the local stack" in capsys.readouterr().err
    assert main(["demo", "--local-state", str(tmp_path / "local.json")]) == 2


def test_a_credentials_file_others_can_read_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials = tmp_path / "client.json"
    credentials.write_text('{"key_id": "app-1.1", "secret": "AAAA"}')
    credentials.chmod(0o644)

    code = main(
        [
            "ask",
            "hi",
            "--url",
            "https://gw.example/prod",
            "--credentials",
            str(credentials),
            "--kms-key-arn",
            ARN,
        ]
    )

    assert code == 2
    assert "chmod 600" in capsys.readouterr().err


def test_ask_and_demo_are_listed_next_to_clients(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    listing = capsys.readouterr().out
    assert all(command in listing for command in ("clients", "ask", "demo"))


@pytest.fixture
def credentials_file(tmp_path: Path) -> Path:
    path = tmp_path / "client.json"
    path.write_text(ClientCredentials(KEY_ID, SECRET).to_json())
    path.chmod(0o600)
    return path


@pytest.fixture
def ask(
    credentials_file: Path, keys: Keys, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., int]:
    """Run `secure-ai ask` against the fake gateway (its transport and moto's KMS injected)."""
    monkeypatch.setattr(
        "secure_ai_client.client.SecureAIClient",
        functools.partial(SecureAIClient, transport=httpx.MockTransport(gateway), kms_client=keys.kms),
    )

    def run(*arguments: str) -> int:
        target = ["--url", BASE_URL, "--credentials", str(credentials_file)]
        return main(["ask", "Hello", *target, *arguments])

    return run


def test_ask_prints_the_answer_on_stdout_and_the_verdict_on_stderr(
    ask: Callable[..., int], keys: Keys, gateway: FakeGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ask("--kms-key-arn", keys.symmetric_arn, "--max-tokens", "64") == 0

    printed = capsys.readouterr()
    assert printed.out == "Hello from the fake model.\n"
    assert printed.err == f"verdict: allow · request {gateway.signatures[0].nonce}\n"
    assert gateway.opened[0].plaintext["request"]["max_tokens"] == 64


def test_ask_json_prints_the_whole_result(
    ask: Callable[..., int], keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ask("--kms-key-arn", keys.symmetric_arn, "--json") == 0

    document = json.loads(capsys.readouterr().out)
    assert (document["text"], document["verdict"]["decision"]) == ("Hello from the fake model.", "allow")


def test_ask_exits_1_with_nothing_on_stdout_when_the_answer_is_blocked(
    ask: Callable[..., int], keys: Keys, gateway: FakeGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway.answer, gateway.verdict = None, BLOCK_VERDICT

    assert ask("--kms-key-arn", keys.symmetric_arn) == 1

    printed = capsys.readouterr()
    assert printed.out == ""
    assert "verdict: block (aws_access_key)" in printed.err
    assert "screening blocked the answer" in printed.err


def test_ask_exits_1_on_a_refusal_and_says_when_to_retry(
    ask: Callable[..., int], keys: Keys, gateway: FakeGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway.canned = json_response(429, {"error": "too_many_requests"}, **{"Retry-After": "5"})

    assert ask("--kms-key-arn", keys.symmetric_arn) == 1
    assert "429 too_many_requests; retry after 5 s" in capsys.readouterr().err


def test_ask_in_mobile_mode_pins_the_key_files(
    ask: Callable[..., int],
    keys: Keys,
    gateway: FakeGateway,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pem = tmp_path / "gateway.pem"
    pem.write_text(keys.rsa_pem)

    assert ask("--mobile", "--public-key-file", str(pem), "--rsa-key-arn", keys.rsa_arn) == 0
    assert [request.method for request in gateway.requests] == ["POST"]
    assert "note" not in capsys.readouterr().err


def test_ask_in_mobile_mode_without_pins_says_it_trusts_the_served_key(
    ask: Callable[..., int], gateway: FakeGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ask("--mobile") == 0
    assert [request.method for request in gateway.requests] == ["GET", "POST"]
    assert "no RSA public key pinned" in capsys.readouterr().err


def test_ask_refuses_an_unreadable_public_key_file(
    ask: Callable[..., int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ask("--mobile", "--public-key-file", str(tmp_path / "absent.pem")) == 2
    assert "No such file or directory" in capsys.readouterr().err


def test_ask_stream_prints_each_delta_as_it_arrives_then_the_verdict(
    ask: Callable[..., int],
    keys: Keys,
    gateway: FakeGateway,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Terminal(io.StringIO):
        """Stdout, remembering what had been written at each flush."""

        def __init__(self) -> None:
            super().__init__()
            self.flushes: list[str] = []

        def flush(self) -> None:
            self.flushes.append(self.getvalue())

    terminal = Terminal()
    monkeypatch.setattr("sys.stdout", terminal)

    assert ask("--kms-key-arn", keys.symmetric_arn, "--stream") == 0

    assert terminal.flushes[:4] == [
        "Hel",
        "Hello from the ",
        "Hello from the fake",
        "Hello from the fake model.",
    ]
    assert terminal.getvalue() == "Hello from the fake model.\n"
    assert capsys.readouterr().err == f"verdict: allow · request {gateway.signatures[0].nonce}\n"
    assert gateway.opened[0].plaintext["request"]["stream"] is True


def test_ask_stream_exits_1_when_the_rest_of_the_answer_is_blocked(
    ask: Callable[..., int], keys: Keys, gateway: FakeGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway.stream_deltas, gateway.verdict = ["Here it is: "], BLOCK_VERDICT

    assert ask("--kms-key-arn", keys.symmetric_arn, "--stream") == 1

    printed = capsys.readouterr()
    assert printed.out == "Here it is: \n"
    assert "verdict: block (aws_access_key)" in printed.err
    assert "screening blocked the answer" in printed.err


def test_ask_stream_says_when_a_broken_stream_left_an_incomplete_answer(
    ask: Callable[..., int], keys: Keys, gateway: FakeGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway.stream_mangle = lambda events, key, req_id: events[:-1]

    assert ask("--kms-key-arn", keys.symmetric_arn, "--stream") == 1

    printed = capsys.readouterr()
    assert printed.out == "Hello from the fake model.\n"
    assert "broke off and is incomplete" in printed.err
    assert "stream_truncated" in printed.err
    assert "verdict" not in printed.err


def test_ask_stream_reports_a_refusal_before_the_stream(
    ask: Callable[..., int], keys: Keys, gateway: FakeGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway.canned = json_response(429, {"error": "too_many_requests"}, **{"Retry-After": "5"})

    assert ask("--kms-key-arn", keys.symmetric_arn, "--stream") == 1
    assert "429 too_many_requests; retry after 5 s" in capsys.readouterr().err


def test_ask_stream_and_json_together_exit_2(
    ask: Callable[..., int], keys: Keys, gateway: FakeGateway, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ask("--kms-key-arn", keys.symmetric_arn, "--stream", "--json") == 2
    assert "--stream cannot be combined with --json" in capsys.readouterr().err
    assert gateway.requests == []
