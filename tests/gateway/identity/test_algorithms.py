"""The algorithms an issuer may name are defined once, and naming them costs the authorizer nothing."""

from __future__ import annotations

import subprocess
import sys

from secure_ai_gateway.identity import oidc
from secure_ai_gateway.identity.algorithms import ASYMMETRIC_ALGORITHMS


def test_every_algorithm_an_app_may_name_has_the_key_type_verification_needs() -> None:
    assert set(oidc._KEY_TYPES) == ASYMMETRIC_ALGORITHMS


def test_the_authorizer_imports_neither_pyjwt_nor_the_token_checks() -> None:
    # Client records check enrollment settings against the algorithm names; the authorizer reads
    # client records on every cold start and verifies no tokens (1.45x its baseline import with them).
    code = (
        "import sys\n"
        "import gateway_authorizer.app\n"
        "print(sorted(name for name in ('jwt', 'secure_ai_gateway.identity.oidc') if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert result.stdout.strip() == "[]"
