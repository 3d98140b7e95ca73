"""Response envelopes: raw AES under the request's resp_key, bound to its req_id; no AWS involved."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secure_ai_protocol.envelope import encryption_sdk, rules
from secure_ai_protocol.envelope.responses import open_response, seal_response
from secure_ai_protocol.errors import BadRequest, DecryptionFailed, PayloadTooLarge

RESP_KEY = bytes(range(32))
PAYLOAD = b'{"choices": [{"message": {"content": "hello"}}]}'
SEALED = seal_response(PAYLOAD, resp_key=RESP_KEY, req_id="nonce-1")


def test_a_sealed_response_opens_with_its_key_and_request_id() -> None:
    assert open_response(SEALED, resp_key=RESP_KEY, req_id="nonce-1") == PAYLOAD


def test_a_response_uses_the_committing_unsigned_suite_and_the_response_context() -> None:
    header = encryption_sdk.read_header(SEALED)

    assert header.suite == "AES_256_GCM_HKDF_SHA512_COMMIT_KEY"
    assert dict(header.stored_context) == {"dir": "response", "req_id": "nonce-1"}
    assert [entry.provider_id for entry in header.data_keys] == ["secure-ai"]


def test_a_response_swapped_between_two_concurrent_requests_is_refused() -> None:
    # Given two responses sealed to the same client key for two requests in flight
    second = seal_response(b"answer 2", resp_key=RESP_KEY, req_id="nonce-2")

    # When the client reads request 1's answer from request 2's response
    with pytest.raises(DecryptionFailed) as error:
        open_response(second, resp_key=RESP_KEY, req_id="nonce-1")

    # Then it is refused
    assert error.value.reason == "context_mismatch"


def test_a_response_opened_with_another_key_is_refused() -> None:
    with pytest.raises(DecryptionFailed) as error:
        open_response(SEALED, resp_key=bytes(32), req_id="nonce-1")

    assert error.value.reason == "decrypt_failed"


def test_a_request_shaped_message_under_the_response_key_is_not_a_response() -> None:
    keyring = encryption_sdk.raw_aes_keyring(namespace="secure-ai", name="response-key", key=RESP_KEY)
    forged = encryption_sdk.encrypt(
        b"x",
        keyring,
        context={"purpose": "request", "req_id": "nonce-1"},
        required_keys=(),
        suite=rules.RESPONSE_SUITE,
    )

    with pytest.raises(DecryptionFailed) as error:
        open_response(forged, resp_key=RESP_KEY, req_id="nonce-1")

    assert error.value.reason == "context_mismatch"


def test_a_signed_response_is_refused() -> None:
    keyring = encryption_sdk.raw_aes_keyring(namespace="secure-ai", name="response-key", key=RESP_KEY)
    signed = encryption_sdk.encrypt(
        b"x",
        keyring,
        context=rules.response_context(req_id="nonce-1"),
        required_keys=(),
        suite=rules.SIGNING_COMMITTING_SUITE,
    )

    with pytest.raises(DecryptionFailed) as error:
        open_response(signed, resp_key=RESP_KEY, req_id="nonce-1")

    assert error.value.reason == "unexpected_suite"


@pytest.mark.parametrize("resp_key", [b"", bytes(16), bytes(33)])
def test_a_resp_key_that_is_not_32_bytes_cannot_seal(resp_key: bytes) -> None:
    with pytest.raises(BadRequest) as error:
        seal_response(PAYLOAD, resp_key=resp_key, req_id="nonce-1")

    assert error.value.reason == "invalid_resp_key"


def test_a_response_over_the_ciphertext_cap_is_refused_before_parsing() -> None:
    with pytest.raises(PayloadTooLarge) as error:
        open_response(SEALED, resp_key=RESP_KEY, req_id="nonce-1", max_ciphertext_bytes=len(SEALED) - 1)

    assert error.value.reason == "ciphertext_too_large"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    position=st.integers(min_value=0, max_value=len(SEALED) - 1), mask=st.integers(min_value=1, max_value=255)
)
def test_any_single_flipped_byte_is_refused_as_decryption_failed(position: int, mask: int) -> None:
    tampered = bytearray(SEALED)
    tampered[position] ^= mask

    with pytest.raises(DecryptionFailed):
        open_response(bytes(tampered), resp_key=RESP_KEY, req_id="nonce-1")


@settings(max_examples=200, deadline=None)
@given(length=st.integers(min_value=0, max_value=len(SEALED) - 1))
def test_any_truncation_is_refused_as_decryption_failed(length: int) -> None:
    with pytest.raises(DecryptionFailed):
        open_response(SEALED[:length], resp_key=RESP_KEY, req_id="nonce-1")


def test_a_refused_response_logs_nothing_at_warning_or_above(caplog: pytest.LogCaptureFixture) -> None:
    # The SDK logs "Error on closing" at ERROR after a failed read when used through its `with` block.
    caplog.set_level(logging.DEBUG)

    with pytest.raises(DecryptionFailed):
        open_response(SEALED, resp_key=bytes(32), req_id="nonce-1")

    assert [record for record in caplog.records if record.levelno >= logging.WARNING] == []
