"""Import budgets, per package and per handler: what a cold start or a command must not load.

Each budget is a fresh interpreter importing one entry point and listing which of the expensive or
out-of-place modules it loaded. bench/bench_handler_imports.py measures what the imports cost.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

ENCRYPTION_SDK = ("aws_encryption_sdk", "aws_cryptographic_material_providers")
SCREEN_PARSERS = (
    "markdown_it",
    "linkify_it",
    "selectolax",
    "tinycss2",
    "ada_url",
    "phonenumbers",
    "jsonschema",
    "referencing",  # jsonschema's $ref registry, imported by screening/schema.py itself
)
SERVER_ONLY = ("aws_lambda_powertools", "aws_xray_sdk", "openai", "re2", "jsonschema", "secure_ai_gateway")


def loaded(statement: str, candidates: tuple[str, ...]) -> list[str]:
    code = f"import sys\n{statement}\nprint(' '.join(sorted(set({candidates!r}) & set(sys.modules))))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    return done.stdout.split()


@pytest.mark.parametrize(
    ("statement", "forbidden"),
    [
        # The authorizer runs on every request: no envelopes, no model, no tracer, no screen.
        (
            "import gateway_authorizer.app",
            (*ENCRYPTION_SDK, *SCREEN_PARSERS, "openai", "httpx2", "aws_xray_sdk", "re2", "secure_ai_client"),
        ),
        # Parsers load on the first render, not at a cold start.
        ("import gateway_completion.app", (*SCREEN_PARSERS, "secure_ai_client")),
        # The validator imports the Encryption SDK only when an envelope arrives.
        ("import gateway_validator.app", (*ENCRYPTION_SDK, *SCREEN_PARSERS, "secure_ai_client")),
        # Enrollment verifies a token and seals a key: no envelopes, no model, no screen, no tracer.
        (
            "import gateway_devices.app",
            (*ENCRYPTION_SDK, *SCREEN_PARSERS, "openai", "aws_xray_sdk", "secure_ai_client"),
        ),
        # Signing is pure: a client that only signs loads no AWS library.
        (
            "import secure_ai_protocol.signing.content_digest, secure_ai_protocol.key_ids\n"
            "import secure_ai_protocol.signing.canonical_query, secure_ai_protocol.signing.signature_base\n"
            "import secure_ai_protocol.signing.profile",
            ("boto3", "botocore", *ENCRYPTION_SDK, "pydantic", "httpx"),
        ),
        # `secure-ai` starts without the Encryption SDK (~1 s) and without anything server-side.
        ("import secure_ai_client.cli", (*ENCRYPTION_SDK, *SERVER_ONLY)),
        ("import secure_ai_client.client", SERVER_ONLY),
    ],
)
def test_an_entry_point_loads_nothing_outside_its_budget(statement: str, forbidden: tuple[str, ...]) -> None:
    assert loaded(statement, forbidden) == []


def test_a_budget_check_sees_what_was_loaded() -> None:
    assert loaded("import json", ("json", "csv")) == ["json"]
