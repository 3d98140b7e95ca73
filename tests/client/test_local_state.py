"""`from_local_state` and the `.secure-ai/local.json` reader."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from secure_ai_client.client import SecureAIClient
from secure_ai_client.errors import LocalStateError
from secure_ai_client.local_state import read_local_state
from tests.client.conftest import KEY_ID, SECRET, Keys
from tests.client.fake_gateway import BASE_URL, FakeGateway


def _write_state(path: Path, keys: Keys, **changes: Any) -> Path:
    document = {
        "api_url": BASE_URL,
        "authority": "abc123.execute-api.us-east-1.amazonaws.com",
        "stage": "prod",
        "tag": "secure-ai-v1",
        "region": "us-east-1",
        "aws_endpoint_url": "http://127.0.0.1:1",
        "model_base_url": "http://127.0.0.1:2/v1",
        "client_id": "app-1",
        "key_id": KEY_ID,
        "secret": base64.b64encode(SECRET).decode(),
        "kms_key_arn": keys.symmetric_arn,
        "rsa_key_arn": keys.rsa_arn,
        "rsa_public_key_pem": keys.rsa_pem,
        "clients_table": "clients",
    } | changes
    path.write_text(json.dumps({name: value for name, value in document.items() if value is not None}))
    return path


def test_a_mobile_client_from_local_state_pins_the_files_key_and_round_trips(
    tmp_path: Path, keys: Keys, gateway: FakeGateway
) -> None:
    path = _write_state(tmp_path / "local.json", keys)

    with SecureAIClient.from_local_state(path, "mobile", transport=httpx.MockTransport(gateway)) as client:
        result = client.chat_completions(model="default", messages=[{"role": "user", "content": "hi"}])

    assert (client.base_url, client.key_id, client.mode) == (BASE_URL, KEY_ID, "mobile")
    assert result.verdict.decision == "allow"
    assert [request.method for request in gateway.requests] == ["POST"]


def test_other_fields_are_kept_for_the_demo_and_a_missing_one_is_named(tmp_path: Path, keys: Keys) -> None:
    state = read_local_state(_write_state(tmp_path / "local.json", keys, verdicts_table="verdicts"))

    assert state.require("verdicts_table") == "verdicts"
    with pytest.raises(LocalStateError, match="'event_bus_name'"):
        state.require("event_bus_name")
    assert "secret" not in state.other
    assert base64.b64encode(SECRET).decode() not in repr(state)


def test_a_missing_file_says_to_start_the_local_stack(tmp_path: Path) -> None:
    with pytest.raises(LocalStateError, match="start the local stack"):
        read_local_state(tmp_path / "absent.json")


def test_a_file_without_a_required_field_is_refused_naming_it(tmp_path: Path, keys: Keys) -> None:
    with pytest.raises(LocalStateError, match="kms_key_arn"):
        read_local_state(_write_state(tmp_path / "local.json", keys, kms_key_arn=None))


def test_a_secret_that_is_not_base64_is_refused_without_quoting_it(tmp_path: Path, keys: Keys) -> None:
    with pytest.raises(LocalStateError) as refused:
        read_local_state(_write_state(tmp_path / "local.json", keys, secret="not base64!"))

    assert "not base64!" not in str(refused.value)
