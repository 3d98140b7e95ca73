"""`secure-ai ask` and `secure-ai demo` against the running local stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secure_ai_client.cli import main
from secure_ai_client.local_state import EXAMPLE_LOCAL_STATE_NAME
from tests.e2e.test_devices import device_admin_for_state

pytestmark = pytest.mark.e2e


def test_ask_prints_the_answer_and_the_verdict(state_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ask", "Hello from the command line", "--local-state", str(state_path)])

    printed = capsys.readouterr()
    assert code == 0
    assert "Hello from the command line" in printed.out
    assert printed.err.startswith("verdict: allow · request ")


def test_ask_exits_1_when_the_answer_is_blocked(state_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ask", "[demo:block] settings please", "--local-state", str(state_path)])

    printed = capsys.readouterr()
    assert code == 1
    assert printed.out == ""
    assert "verdict: block (aws_access_key, aws_secret_key)" in printed.err


def test_the_demo_shows_every_path_and_succeeds(
    demo_state_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["demo", "--local-state", str(demo_state_path)])

    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "verdict     allow — no findings" in printed
    assert "verdict     redact — findings: email, phone" in printed
    assert "verdict     block — findings: aws_access_key, aws_secret_key" in printed
    assert "verdict     local-demo.1 (default): block — findings: exfiltration_link" in printed
    assert "verdict     local-docs.1 (docs-links): allow — no findings" in printed
    assert "5 of 5 steps behaved as expected." in printed


def test_the_demo_fails_step_4_clearly_when_local_json_names_no_bus(
    demo_state_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a local.json that names neither the validation bus nor the verdicts table
    document = json.loads(demo_state_path.read_text())
    del document["event_bus_name"], document["verdicts_table"]
    incomplete = tmp_path / "local.json"
    incomplete.write_text(json.dumps(document))
    incomplete.chmod(0o600)
    # ...beside the example client's file, as the stack writes it
    example = tmp_path / EXAMPLE_LOCAL_STATE_NAME
    example.write_text(demo_state_path.with_name(EXAMPLE_LOCAL_STATE_NAME).read_text())
    example.chmod(0o600)

    code = main(["demo", "--local-state", str(incomplete)])

    printed = capsys.readouterr().out
    assert code == 1
    assert "has no 'event_bus_name'" in printed
    assert "4 of 5 steps behaved as expected." in printed


def test_enroll_writes_a_private_device_file_once_and_ask_signs_with_it(
    state_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device_admin_for_state(state_path).revoke_all("local-app")
    device_file = tmp_path / "device.json"
    # When the demo user enrolls from the command line
    code = main(["enroll", "--local-state", str(state_path), "--device-file", str(device_file)])
    summary = json.loads(capsys.readouterr().out)
    # Then the credentials are in a 0600 file, and the summary names the key but not the secret
    assert code == 0
    assert device_file.stat().st_mode & 0o777 == 0o600
    assert summary["key_id"] == f"{summary['device_id']}.1"
    assert "secret" not in summary
    # And a second enrollment never overwrites the file
    assert main(["enroll", "--local-state", str(state_path), "--device-file", str(device_file)]) == 2
    assert "already exists" in capsys.readouterr().err
    # And ask signs as the device
    code = main(
        ["ask", "Hello from my device", "--local-state", str(state_path), "--device", str(device_file)]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "Hello from my device" in printed.out
