"""Mobile-mode request envelopes (KMS RSA public key, unsigned committing suite) against moto KMS."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from aws_cryptographic_material_providers.mpl.models import CreateRawRsaKeyringInput, PaddingScheme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secure_ai_protocol.envelope import encryption_sdk, rules
from secure_ai_protocol.envelope.requests import RequestEnvelopes, seal_request_mobile
from secure_ai_protocol.errors import DecryptionFailed
from tests.integration.envelope.conftest import PLAINTEXT, ROUTE, Keys, KmsCalls
from tests.protocol.envelope.keyrings import HandmadeKmsRsaKeyring
from tests.protocol.envelope.vectors import material_providers

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

REQUIRED = {"client_id": "client-a", "req_id": "nonce-1"}


def seal(keys: Keys, *, client_id: str = "client-a", req_id: str = "nonce-1") -> bytes:
    return seal_request_mobile(
        PLAINTEXT,
        rsa_public_key_pem=keys.rsa_public_pem,
        rsa_key_arn=keys.rsa_arn,
        client_id=client_id,
        req_id=req_id,
        route=ROUTE,
    )


def seal_with(keyring: Any, *, suite: str = rules.COMMITTING_SUITE) -> bytes:
    return encryption_sdk.encrypt(
        PLAINTEXT,
        keyring,
        context={**REQUIRED, **rules.request_context(route=ROUTE)},
        required_keys=rules.REQUIRED_CONTEXT_KEYS,
        suite=suite,
    )


def open_as(envelopes: RequestEnvelopes, ciphertext: bytes, **overrides: str) -> Any:
    return envelopes.open(ciphertext, **{**REQUIRED, "route": ROUTE, **overrides})


def test_a_mobile_client_envelope_opens_in_mobile_mode(keys: Keys, envelopes: RequestEnvelopes) -> None:
    opened = open_as(envelopes, seal(keys))

    assert opened.plaintext == PLAINTEXT
    assert opened.mode == "mobile"


def test_kms_decrypts_the_data_key_with_rsaes_oaep_sha256_on_the_pinned_key(
    keys: Keys, envelopes: RequestEnvelopes, kms_calls: KmsCalls
) -> None:
    # The deployed IAM policy allows kms:Decrypt on the RSA key only with this algorithm.
    open_as(envelopes, seal(keys))

    (decrypt,) = kms_calls.named("decrypt")
    assert decrypt["KeyId"] == keys.rsa_arn
    assert decrypt["EncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"


def test_a_mobile_envelope_of_client_a_opened_as_client_b_is_refused(
    keys: Keys, envelopes: RequestEnvelopes
) -> None:
    with pytest.raises(DecryptionFailed) as error:
        open_as(envelopes, seal(keys, client_id="client-a"), client_id="client-b")

    assert error.value.reason == "decrypt_failed"


def test_a_mobile_envelope_of_request_1_opened_with_the_nonce_of_request_2_is_refused(
    keys: Keys, envelopes: RequestEnvelopes
) -> None:
    with pytest.raises(DecryptionFailed) as error:
        open_as(envelopes, seal(keys, req_id="nonce-1"), req_id="nonce-2")

    assert error.value.reason == "decrypt_failed"


def test_an_envelope_built_from_the_documented_wire_format_opens(
    keys: Keys, envelopes: RequestEnvelopes
) -> None:
    # Given what a client in another language builds from docs/encryption.md, without the MPL
    keyring = HandmadeKmsRsaKeyring(key_arn=keys.rsa_arn, public_key_pem=keys.rsa_public_pem.encode())

    # When the gateway opens it
    opened = open_as(envelopes, seal_with(keyring))

    # Then it is a conforming mobile envelope
    assert (opened.mode, opened.plaintext) == ("mobile", PLAINTEXT)


def test_a_raw_rsa_keyring_named_like_the_kms_rsa_keyring_does_not_interoperate(
    keys: Keys, envelopes: RequestEnvelopes
) -> None:
    # A raw RSA keyring wraps the bare data key; the KMS RSA keyring also wraps a digest of the context.
    raw = material_providers().create_raw_rsa_keyring(
        input=CreateRawRsaKeyringInput(
            key_namespace="aws-kms-rsa",
            key_name=keys.rsa_arn,
            padding_scheme=PaddingScheme.OAEP_SHA256_MGF1,
            public_key=keys.rsa_public_pem.encode(),
        )
    )

    with pytest.raises(DecryptionFailed) as error:
        open_as(envelopes, seal_with(raw))

    assert error.value.reason == "decrypt_failed"


def test_a_signing_suite_envelope_in_mobile_mode_is_refused_before_any_kms_call(
    keys: Keys, envelopes: RequestEnvelopes, kms_calls: KmsCalls
) -> None:
    keyring = HandmadeKmsRsaKeyring(key_arn=keys.rsa_arn, public_key_pem=keys.rsa_public_pem.encode())
    ciphertext = seal_with(keyring, suite=rules.SIGNING_COMMITTING_SUITE)

    with pytest.raises(DecryptionFailed) as error:
        open_as(envelopes, ciphertext)

    assert error.value.reason == "unexpected_suite"
    assert kms_calls.named("decrypt") == []


def test_a_mobile_envelope_naming_another_rsa_key_is_refused_before_any_kms_call(
    keys: Keys, kms: KMSClient, envelopes: RequestEnvelopes, kms_calls: KmsCalls
) -> None:
    other_arn = kms.create_key(KeySpec="RSA_3072", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
    ciphertext = seal_request_mobile(
        PLAINTEXT,
        rsa_public_key_pem=keys.rsa_public_pem,
        rsa_key_arn=other_arn,
        client_id="client-a",
        req_id="nonce-1",
        route=ROUTE,
    )

    with pytest.raises(DecryptionFailed) as error:
        open_as(envelopes, ciphertext)

    assert error.value.reason == "unexpected_key"
    assert kms_calls.named("decrypt") == []


@pytest.fixture
def sealed(keys: Keys) -> bytes:
    return seal(keys)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_single_flipped_byte_of_a_mobile_envelope_is_refused_as_decryption_failed(
    envelopes: RequestEnvelopes, sealed: bytes, data: st.DataObject
) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(sealed) - 1))
    mask = data.draw(st.integers(min_value=1, max_value=255))
    tampered = bytearray(sealed)
    tampered[position] ^= mask

    with pytest.raises(DecryptionFailed):
        open_as(envelopes, bytes(tampered))
