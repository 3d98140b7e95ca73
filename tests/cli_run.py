"""`secure-ai` run in process, as the command-line tests drive it: exit code and captured output."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from secure_ai_client.cli import main


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def secure_ai(capsys: pytest.CaptureFixture[str], argv: Sequence[str]) -> Run:
    """Run `secure-ai argv`; what it printed, and nothing printed before it."""
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)
