"""The envelope rules on parsed headers: modes, suites, keys, contexts, sizes, response keys."""

from __future__ import annotations

import dataclasses
import struct

import pytest

from secure_ai_protocol.envelope import rules
from secure_ai_protocol.envelope.rules import DataKeyEntry, EnvelopeHeader
from secure_ai_protocol.errors import BadRequest, DecryptionFailed, PayloadTooLarge

SERVER_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111"
RSA_ARN = "arn:aws:kms:us-east-1:123456789012:key/22222222-2222-2222-2222-222222222222"
ROUTE = "/v1/chat/completions"


def server_header(**changes: object) -> EnvelopeHeader:
    header = EnvelopeHeader(
        version=2,
        suite=rules.SIGNING_COMMITTING_SUITE,
        stored_context={
            "purpose": "request",
            "route": ROUTE,
            "version": "1",
            "aws-crypto-public-key": "A1b2",
        },
        data_keys=(DataKeyEntry(provider_id="aws-kms", provider_info=SERVER_ARN.encode()),),
    )
    return dataclasses.replace(header, **changes)  # type: ignore[arg-type]


def mobile_header(**changes: object) -> EnvelopeHeader:
    header = EnvelopeHeader(
        version=2,
        suite=rules.COMMITTING_SUITE,
        stored_context={"purpose": "request", "route": ROUTE, "version": "1"},
        data_keys=(DataKeyEntry(provider_id="aws-kms-rsa", provider_info=RSA_ARN.encode()),),
    )
    return dataclasses.replace(header, **changes)  # type: ignore[arg-type]


def response_header(req_id: str = "nonce-1", **changes: object) -> EnvelopeHeader:
    info = b"response-key" + struct.pack(">II", 128, 12) + bytes(12)
    header = EnvelopeHeader(
        version=2,
        suite=rules.COMMITTING_SUITE,
        stored_context={"dir": "response", "req_id": req_id},
        data_keys=(DataKeyEntry(provider_id="secure-ai", provider_info=info),),
    )
    return dataclasses.replace(header, **changes)  # type: ignore[arg-type]


def reason_of(error: pytest.ExceptionInfo[DecryptionFailed]) -> str:
    return error.value.reason


def test_an_aws_kms_data_key_means_server_mode() -> None:
    assert rules.mode_of(server_header()) == "server"


def test_an_aws_kms_rsa_data_key_means_mobile_mode() -> None:
    assert rules.mode_of(mobile_header()) == "mobile"


def test_a_data_key_from_any_other_provider_is_refused() -> None:
    header = server_header(data_keys=(DataKeyEntry(provider_id="raw-aes", provider_info=b"k"),))

    with pytest.raises(DecryptionFailed) as error:
        rules.mode_of(header)

    assert reason_of(error) == "unknown_key_provider"


def test_two_data_keys_are_refused_even_from_the_expected_provider() -> None:
    entry = DataKeyEntry(provider_id="aws-kms", provider_info=SERVER_ARN.encode())

    with pytest.raises(DecryptionFailed) as error:
        rules.mode_of(server_header(data_keys=(entry, entry)))

    assert reason_of(error) == "data_key_count"


def test_a_conforming_server_header_passes() -> None:
    rules.check_request_header(server_header(), mode="server", key_arn=SERVER_ARN, route=ROUTE)


def test_a_conforming_mobile_header_passes() -> None:
    rules.check_request_header(mobile_header(), mode="mobile", key_arn=RSA_ARN, route=ROUTE)


def test_message_format_1_is_refused_as_legacy() -> None:
    with pytest.raises(DecryptionFailed) as error:
        rules.check_request_header(server_header(version=1), mode="server", key_arn=SERVER_ARN, route=ROUTE)

    assert reason_of(error) == "legacy_format"


def test_server_mode_refuses_the_non_signing_suite() -> None:
    header = server_header(suite=rules.COMMITTING_SUITE, stored_context=mobile_header().stored_context)

    with pytest.raises(DecryptionFailed) as error:
        rules.check_request_header(header, mode="server", key_arn=SERVER_ARN, route=ROUTE)

    assert reason_of(error) == "unexpected_suite"


def test_mobile_mode_refuses_the_signing_suite() -> None:
    header = mobile_header(suite=rules.SIGNING_COMMITTING_SUITE)

    with pytest.raises(DecryptionFailed) as error:
        rules.check_request_header(header, mode="mobile", key_arn=RSA_ARN, route=ROUTE)

    assert reason_of(error) == "unexpected_suite"


def test_a_non_committing_suite_is_refused() -> None:
    header = mobile_header(suite="AES_256_GCM_IV12_TAG16_HKDF_SHA256")

    with pytest.raises(DecryptionFailed) as error:
        rules.check_request_header(header, mode="mobile", key_arn=RSA_ARN, route=ROUTE)

    assert reason_of(error) == "unexpected_suite"


def test_a_data_key_under_another_kms_key_is_refused() -> None:
    with pytest.raises(DecryptionFailed) as error:
        rules.check_request_header(server_header(), mode="server", key_arn=RSA_ARN, route=ROUTE)

    assert reason_of(error) == "unexpected_key"


@pytest.mark.parametrize(
    ("case", "stored_context"),
    [
        ("purpose is response", {"purpose": "response", "route": ROUTE, "version": "1"}),
        ("another route", {"purpose": "request", "route": "/v1/validate", "version": "1"}),
        ("another version", {"purpose": "request", "route": ROUTE, "version": "2"}),
        ("version missing", {"purpose": "request", "route": ROUTE}),
        ("an extra key", {"purpose": "request", "route": ROUTE, "version": "1", "x": "y"}),
        ("dir=response added", {"purpose": "request", "route": ROUTE, "version": "1", "dir": "response"}),
        ("client_id stored", {"purpose": "request", "route": ROUTE, "version": "1", "client_id": "a"}),
        (
            "a signing key on an unsigned suite",
            {**mobile_header().stored_context, "aws-crypto-public-key": "A"},
        ),
    ],
)
def test_a_stored_context_that_is_not_exactly_the_request_context_is_refused(
    case: str, stored_context: dict[str, str]
) -> None:
    with pytest.raises(DecryptionFailed) as error:
        rules.check_request_header(
            mobile_header(stored_context=stored_context), mode="mobile", key_arn=RSA_ARN, route=ROUTE
        )

    assert reason_of(error) == "context_mismatch", case


def test_the_request_route_must_be_the_route_called() -> None:
    with pytest.raises(DecryptionFailed) as error:
        rules.check_request_header(server_header(), mode="server", key_arn=SERVER_ARN, route="/v1/validate")

    assert reason_of(error) == "context_mismatch"


def test_a_conforming_response_header_passes() -> None:
    rules.check_response_header(response_header(), req_id="nonce-1")


def test_a_response_to_another_request_is_refused() -> None:
    with pytest.raises(DecryptionFailed) as error:
        rules.check_response_header(response_header("nonce-2"), req_id="nonce-1")

    assert reason_of(error) == "context_mismatch"


def test_a_request_context_on_a_response_is_refused() -> None:
    header = response_header(stored_context={"purpose": "request", "req_id": "nonce-1"})

    with pytest.raises(DecryptionFailed) as error:
        rules.check_response_header(header, req_id="nonce-1")

    assert reason_of(error) == "context_mismatch"


@pytest.mark.parametrize(
    "entry",
    [
        DataKeyEntry(
            provider_id="other", provider_info=b"response-key" + struct.pack(">II", 128, 12) + bytes(12)
        ),
        DataKeyEntry(
            provider_id="secure-ai", provider_info=b"other-key" + struct.pack(">II", 128, 12) + bytes(12)
        ),
        DataKeyEntry(provider_id="secure-ai", provider_info=b"response-key" + struct.pack(">II", 128, 12)),
    ],
)
def test_a_response_data_key_not_named_response_key_is_refused(entry: DataKeyEntry) -> None:
    with pytest.raises(DecryptionFailed) as error:
        rules.check_response_header(response_header(data_keys=(entry,)), req_id="nonce-1")

    assert reason_of(error) == "unexpected_key"


def test_contexts_refuse_empty_values() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        rules.required_context(client_id="", req_id="n")
    with pytest.raises(ValueError, match="non-empty"):
        rules.request_context(route="")
    with pytest.raises(ValueError, match="non-empty"):
        rules.response_context(req_id="")


def test_a_ciphertext_over_the_cap_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge) as error:
        rules.check_ciphertext_size(bytes(11), 10)

    assert error.value.reason == "ciphertext_too_large"


def test_a_ciphertext_at_the_cap_is_accepted() -> None:
    rules.check_ciphertext_size(bytes(10), 10)


def test_a_new_resp_key_is_32_fresh_bytes() -> None:
    first, second = rules.new_resp_key(), rules.new_resp_key()

    assert len(first) == 32
    assert first != second


@pytest.mark.parametrize("resp_key", [b"", bytes(16), bytes(33)])
def test_a_resp_key_that_is_not_32_bytes_is_a_bad_request(resp_key: bytes) -> None:
    with pytest.raises(BadRequest) as error:
        rules.check_resp_key(resp_key)

    assert error.value.reason == "invalid_resp_key"
