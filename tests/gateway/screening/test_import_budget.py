"""Imports are a budget: screening without moderation never loads the openai SDK or boto3."""

from __future__ import annotations

import subprocess
import sys


def test_screening_imports_neither_openai_nor_boto3() -> None:
    # Given a fresh interpreter that imports everything but the moderation adapter
    code = (
        "import sys\n"
        "import secure_ai_gateway.screening.screen, secure_ai_gateway.screening.pseudonymise\n"
        "print(sorted(name for name in ('openai', 'boto3', 'botocore') if name in sys.modules))\n"
    )
    # When it runs
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    # Then neither SDK was loaded
    assert result.stdout.strip() == "[]"
