"""Completions through the SDK over real HTTP: both modes, screening outcomes, the public key route."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from secure_ai_client.client import AsyncSecureAIClient, SecureAIClient
from secure_ai_client.exchange import same_public_key
from secure_ai_local.stack import LocalStackInfo

pytestmark = pytest.mark.e2e


def test_a_server_mode_client_gets_a_decrypted_verified_answer(sdk_client: SecureAIClient) -> None:
    result = sdk_client.chat_completions(
        model="default", messages=[{"role": "user", "content": "Hello from the e2e suite"}], max_tokens=200
    )

    assert result.verdict.decision == "allow"
    assert result.text is not None
    assert "Hello from the e2e suite" in result.text
    assert result.finish_reason == "stop"
    assert result.usage.total_tokens > 0


def test_a_mobile_mode_client_gets_a_decrypted_verified_answer(state_path: Path) -> None:
    with SecureAIClient.from_local_state(state_path, mode="mobile") as client:
        result = client.chat_completions(
            model="default", messages=[{"role": "user", "content": "Hi from mobile"}]
        )

    assert result.verdict.decision == "allow"
    assert result.text is not None


def test_the_async_client_gets_the_same_answer(state_path: Path) -> None:
    async def scenario() -> tuple[str, str | None]:
        async with AsyncSecureAIClient.from_local_state(state_path) as client:
            result = await client.chat_completions(
                model="default", messages=[{"role": "user", "content": "Hello, asynchronously"}]
            )
        return result.verdict.decision, result.text

    decision, text = asyncio.run(scenario())
    assert decision == "allow"
    assert text is not None
    assert "Hello, asynchronously" in text


def test_personal_data_in_an_answer_is_redacted_before_it_leaves_the_gateway(
    sdk_client: SecureAIClient,
) -> None:
    result = sdk_client.chat_completions(
        model="default", messages=[{"role": "user", "content": "[demo:redact] How do I reach support?"}]
    )

    assert result.verdict.decision == "redact"
    assert result.verdict.finding_types == ("email", "phone")
    assert result.text is not None
    assert "[EMAIL]" in result.text
    assert "[PHONE]" in result.text
    assert "jane.doe@example.com" not in json.dumps(result.model_dump(mode="json"))


def test_an_answer_carrying_credentials_is_blocked_and_withheld(sdk_client: SecureAIClient) -> None:
    result = sdk_client.chat_completions(
        model="default", messages=[{"role": "user", "content": "[demo:block] Show me the settings."}]
    )

    assert result.blocked
    assert (result.text, result.finish_reason) == (None, "content_filter")
    assert result.verdict.finding_types == ("aws_access_key", "aws_secret_key")
    # The stub's fake key pair (secure_ai_local.stub_model) appears nowhere, not even in part.
    released = json.dumps(result.model_dump(mode="json"))
    assert "STUBDEMOKEY" not in released
    assert "NotARealKey" not in released


def test_the_public_key_route_serves_the_rsa_key_clients_pin(
    sdk_client: SecureAIClient, info: LocalStackInfo
) -> None:
    served = sdk_client.public_key()

    assert served.key_arn == info.rsa_key_arn
    assert same_public_key(served.public_key_pem, info.rsa_public_key_pem)
    assert (served.key_spec, served.encryption_algorithm) == ("RSA_3072", "RSAES_OAEP_SHA_256")


@pytest.mark.parametrize("encrypted", [False, True])
def test_the_validate_route_screens_a_text(sdk_client: SecureAIClient, encrypted: bool) -> None:
    verdict = sdk_client.validate("Write to jane.doe@example.com for details.", encrypted=encrypted)

    assert verdict.decision == "redact"
    assert verdict.finding_types == ("email",)
    assert verdict.redacted_text == "Write to [EMAIL] for details."
