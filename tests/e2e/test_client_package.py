"""secure-ai-client on its own: a fresh environment holding only it (and secure-ai-protocol, which it
depends on) asks the running stack, and holds none of the gateway's server dependencies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest

pytestmark = pytest.mark.e2e

REPOSITORY: Final = Path(__file__).resolve().parents[2]
UV: Final = REPOSITORY / ".tools/uv/bin/uv"
PACKAGES: Final = (REPOSITORY / "packages/protocol", REPOSITORY / "packages/client")
SERVER_ONLY: Final = frozenset(
    {"secure-ai-gateway", "aws-lambda-powertools", "aws-xray-sdk", "openai", "google-re2", "jsonschema"}
)


def run(*command: str | Path, cwd: Path = REPOSITORY) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "UV_PYTHON": sys.executable}
    return subprocess.run(  # noqa: S603 - our own tools, fixed arguments
        [str(part) for part in command], cwd=cwd, env=environment, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def client_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with secure-ai-client and its locked dependencies, nothing else."""
    home = tmp_path_factory.mktemp("client-only")
    venv, requirements = home / "venv", home / "requirements.txt"
    python = venv / "bin/python"
    export = ("--no-dev", "--package", "secure-ai-client", "--no-emit-workspace", "--no-header")
    for step in (
        (UV, "venv", "--quiet", "--python", sys.executable, venv),
        (UV, "export", "--frozen", "--quiet", *export, "--format", "requirements-txt", "-o", requirements),
        (UV, "pip", "install", "--quiet", "--python", python, "--require-hashes", "-r", requirements),
        (UV, "pip", "install", "--quiet", "--python", python, "--no-deps", *PACKAGES),
    ):
        done = run(*step)
        assert done.returncode == 0, done.stderr
    return venv / "bin"


def test_the_client_installs_without_the_gateways_server_dependencies(client_only: Path) -> None:
    listed = run(UV, "pip", "list", "--python", client_only / "python", "--format", "json")
    names = {package["name"] for package in json.loads(listed.stdout)}
    assert {"secure-ai-client", "secure-ai-protocol", "httpx"} <= names
    assert names & SERVER_ONLY == set()


def test_ask_works_from_the_client_package_alone(client_only: Path, state_path: Path) -> None:
    prompt = "Hello from a client-only install"
    asked = run(client_only / "secure-ai", "ask", prompt, "--local-state", state_path)
    assert asked.returncode == 0, asked.stderr
    assert prompt in asked.stdout
    assert asked.stderr.startswith("verdict: allow · request ")


def test_the_operator_commands_are_not_there_without_the_gateway(client_only: Path) -> None:
    refused = run(client_only / "secure-ai", "clients", "list")
    assert refused.returncode == 2
    assert "invalid choice: 'clients'" in refused.stderr
