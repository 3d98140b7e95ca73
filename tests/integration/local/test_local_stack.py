"""`python -m secure_ai_local`, the command behind `make run`: the real template, end to end."""

from __future__ import annotations

import base64
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from secure_ai_local.stack import LocalStackOptions
from secure_ai_local.stack_template import REPOSITORY_ROOT

STARTUP_LIMIT_SECONDS = 90


def test_the_local_stack_serves_the_template_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    # Given no model provider configured
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AWS_", "SECURE_AI_"))}
    state_dir = tmp_path / "state"
    stdout_path, stderr_path = tmp_path / "stdout", tmp_path / "stderr"
    with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed module
            [sys.executable, "-m", "secure_ai_local", "--port", "0", "--state-dir", str(state_dir)],
            cwd=REPOSITORY_ROOT,
            env=environment,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        # When it starts
        ready_line = _wait_for_ready(process, stdout_path, stderr_path)
        info = json.loads((state_dir / "local.json").read_text())

        # Then it announces the API's URL in one line and writes local.json for its owner only
        assert info["api_url"] in ready_line
        assert info["api_url"].startswith("http://127.0.0.1:")
        assert info["api_url"].endswith("/prod")
        assert stat.S_IMODE((state_dir / "local.json").stat().st_mode) == 0o600
        assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
        assert info["key_id"] == f"{info['client_id']}.1"
        assert len(base64.b64decode(info["secret"])) == 32
        assert info["rsa_public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----\n")
        assert info["authority"] == info["api_url"].removeprefix("http://").removesuffix("/prod")
        assert (info["stage"], info["tag"], info["region"]) == ("prod", "secure-ai-v1", "us-east-1")

        # And the demo client is stored, sealed, in moto's clients table
        aws = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        dynamodb = aws.client("dynamodb", endpoint_url=info["aws_endpoint_url"])
        item = dynamodb.get_item(
            TableName=info["clients_table"], Key={"client_id": {"S": info["client_id"]}}
        )["Item"]
        assert item["status"] == {"S": "active"}
        assert (
            base64.b64decode(info["secret"]) not in item["key_versions"]["M"]["1"]["M"]["sealed_secret"]["B"]
        )

        # And the stub model accepts only the key stored in the model secret
        secrets = aws.client("secretsmanager", endpoint_url=info["aws_endpoint_url"])
        (secret,) = [
            s for s in secrets.list_secrets()["SecretList"] if s["Name"].endswith("-ModelApiKeySecret")
        ]
        key = secrets.get_secret_value(SecretId=secret["ARN"])["SecretString"]
        models = f"{info['model_base_url']}/models"
        assert httpx.get(models, headers={"Authorization": f"Bearer {key}"}, timeout=5).status_code == 200
        assert httpx.get(models, headers={"Authorization": "Bearer another"}, timeout=5).status_code == 401

        # And the API applies the template's authorizer and gateway responses
        unsigned = httpx.post(f"{info['api_url']}/v1/chat/completions", content=b"{}", timeout=30)
        assert unsigned.status_code == 401
        assert unsigned.json() == {"error": "unauthorized", "message": "unauthorized"}
        forged = httpx.post(
            f"{info['api_url']}/v1/chat/completions",
            headers={
                "Signature": "sig=:AAAA:",
                "Signature-Input": "sig=()",
                "Content-Digest": "sha-256=:AAAA:",
            },
            content=b"{}",
            timeout=30,
        )
        assert forged.status_code == 401  # the real authorizer ran, in a worker process, and refused
        children = _descendants(process.pid)
        commands = [_command(pid) for pid in children]
        assert any("spawn_main" in command for command in commands), commands

        # When it is interrupted
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0

        # Then nothing it started is left, and local.json (whose secret died with moto) is removed
        assert _all_gone(children, within_seconds=5), {pid: _command(pid) for pid in children if _alive(pid)}
        assert not (state_dir / "local.json").exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_model_provider_is_configured_from_the_openai_variables() -> None:
    options = LocalStackOptions.from_environment(
        {"OPENAI_API_KEY": "sk-test", "SECURE_AI_PORT": "3123"}, state_dir=None
    )

    assert options.uses_real_provider is True
    assert (options.provider_api_key, options.provider_base_url, options.port) == ("sk-test", None, 3123)
    assert LocalStackOptions.from_environment({}).uses_real_provider is False


def _wait_for_ready(process: subprocess.Popen[Any], stdout: Path, stderr: Path) -> str:
    deadline = time.monotonic() + STARTUP_LIMIT_SECONDS
    while time.monotonic() < deadline:
        ready = [line for line in stdout.read_text().splitlines() if "ready" in line]
        if ready:
            (line,) = ready
            return line
        if process.poll() is not None:
            pytest.fail(f"the local stack exited with {process.returncode}:\n{stderr.read_text()}")
        time.sleep(0.2)
    pytest.fail(f"the local stack was not ready within {STARTUP_LIMIT_SECONDS} s:\n{stderr.read_text()}")


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc)."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:  # the process ended meanwhile
        return found
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        for child in children:
            found += [int(child), *_descendants(int(child))]
    return found


def _all_gone(pids: list[int], within_seconds: float) -> bool:
    # multiprocessing's resource tracker ends when it sees its parent's pipe close: allow it a moment.
    deadline = time.monotonic() + within_seconds
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return "(gone)"


def _alive(pid: int) -> bool:
    """True unless the process is gone or a zombie (reaped late by a container's init)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"
