"""Server-mode request envelopes (symmetric KMS key, signed suite) against moto KMS."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from aws_cryptographic_material_providers.mpl.models import CreateMultiKeyringInput
from aws_encryption_sdk import EncryptionSDKClient
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secure_ai_protocol.envelope import encryption_sdk, rules
from secure_ai_protocol.envelope.requests import RequestEnvelopes, seal_request_server
from secure_ai_protocol.errors import DecryptionFailed, PayloadTooLarge
from tests.integration.envelope.conftest import PLAINTEXT, ROUTE, Keys, KmsCalls
from tests.protocol.envelope.vectors import load, material_providers

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

HYPOTHESIS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def seal(
    keys: Keys, kms: KMSClient, *, client_id: str = "client-a", req_id: str = "nonce-1", route: str = ROUTE
) -> bytes:
    return seal_request_server(
        PLAINTEXT,
        kms_key_arn=keys.symmetric_arn,
        client_id=client_id,
        req_id=req_id,
        route=route,
        kms_client=kms,
    )


def forge(
    keys: Keys, kms: KMSClient, *, stored: dict[str, str], suite: str = rules.SIGNING_COMMITTING_SUITE
) -> bytes:
    """A server-mode message with any stored context or suite, as a misbehaving client could send."""
    return encryption_sdk.encrypt(
        PLAINTEXT,
        encryption_sdk.kms_keyring(keys.symmetric_arn, kms),
        context={"client_id": "client-a", "req_id": "nonce-1", **stored},
        required_keys=rules.REQUIRED_CONTEXT_KEYS,
        suite=suite,
    )


def open_as(envelopes: RequestEnvelopes, ciphertext: bytes, **overrides: str) -> Any:
    arguments = {"client_id": "client-a", "req_id": "nonce-1", "route": ROUTE, **overrides}
    return envelopes.open(ciphertext, **arguments)


def test_a_server_client_envelope_opens_in_server_mode(
    keys: Keys, kms: KMSClient, envelopes: RequestEnvelopes
) -> None:
    opened = open_as(envelopes, seal(keys, kms))

    assert opened.plaintext == PLAINTEXT
    assert opened.mode == "server"


def test_a_server_envelope_is_signed_with_the_default_committing_suite(keys: Keys, kms: KMSClient) -> None:
    assert (
        encryption_sdk.read_header(seal(keys, kms)).suite == "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384"
    )


def test_an_envelope_of_client_a_opened_as_client_b_is_refused(
    keys: Keys, kms: KMSClient, envelopes: RequestEnvelopes
) -> None:
    with pytest.raises(DecryptionFailed) as error:
        open_as(envelopes, seal(keys, kms, client_id="client-a"), client_id="client-b")

    assert error.value.reason == "decrypt_failed"


def test_an_envelope_of_request_1_opened_with_the_nonce_of_request_2_is_refused(
    keys: Keys, kms: KMSClient, envelopes: RequestEnvelopes
) -> None:
    with pytest.raises(DecryptionFailed) as error:
        open_as(envelopes, seal(keys, kms, req_id="nonce-1"), req_id="nonce-2")

    assert error.value.reason == "decrypt_failed"


def test_kms_sees_purpose_request_and_the_required_context_on_decrypt(
    keys: Keys, kms: KMSClient, envelopes: RequestEnvelopes, kms_calls: KmsCalls
) -> None:
    # The deployed IAM policy allows kms:Decrypt on this key only for purpose=request.
    open_as(envelopes, seal(keys, kms))

    (decrypt,) = kms_calls.named("decrypt")
    assert decrypt["KeyId"] == keys.symmetric_arn
    context = dict(decrypt["EncryptionContext"])
    assert context.pop("aws-crypto-public-key")  # the SDK's own entry for signed suites
    assert context == {
        "purpose": "request",
        "route": ROUTE,
        "version": "1",
        "client_id": "client-a",
        "req_id": "nonce-1",
    }


def test_an_envelope_for_another_route_is_refused_before_any_kms_call(
    keys: Keys, kms: KMSClient, envelopes: RequestEnvelopes, kms_calls: KmsCalls
) -> None:
    ciphertext = seal(keys, kms, route="/v1/validate")

    with pytest.raises(DecryptionFailed) as error:
        open_as(envelopes, ciphertext, route=ROUTE)

    assert error.value.reason == "context_mismatch"
    assert kms_calls.named("decrypt") == []


@pytest.mark.parametrize(
    "stored",
    [
        {"purpose": "response", "route": ROUTE, "version": "1"},
        {"purpose": "request", "route": ROUTE, "version": "1", "dir": "response"},
        {"purpose": "request", "route": ROUTE, "version": "1", "extra": "x"},
        {"purpose": "request", "route": ROUTE},
    ],
    ids=["purpose response", "dir response added", "extra key", "no version"],
)
def test_a_tampered_stored_context_is_refused_before_any_kms_call(
    keys: Keys, kms: KMSClient, envelopes: RequestEnvelopes, kms_calls: KmsCalls, stored: dict[str, str]
) -> None:
    ciphertext = forge(keys, kms, stored=stored)

    with pytest.raises(DecryptionFailed) as error:
        open_as(envelopes, ciphertext)

    assert error.value.reason == "context_mismatch"
    assert kms_calls.named("decrypt") == []


def test_a_server_envelope_without_a_signature_is_refused(
    keys: Keys, kms: KMSClient, envelopes: RequestEnvelopes
) -> None:
    ciphertext = forge(keys, kms, stored=rules.request_context(route=ROUTE), suite=rules.COMMITTING_SUITE)

    with pytest.raises(DecryptionFailed) as error:
        open_as(envelopes, ciphertext)

    assert error.value.reason == "unexpected_suite"


def test_an_envelope_under_another_symmetric_key_is_refused_before_any_kms_call(
    keys: Keys, kms: KMSClient, envelopes: RequestEnvelopes, kms_calls: KmsCalls
) -> None:
    other_key = kms.create_key()["KeyMetadata"]["Arn"]
    ciphertext = seal_request_server(
        PLAINTEXT, kms_key_arn=other_key, client_id="client-a", req_id="nonce-1", route=ROUTE, kms_client=kms
    )

    with pytest.raises(DecryptionFailed) as error:
        open_as(envelopes, ciphertext)

    assert error.value.reason == "unexpected_key"
    assert kms_calls.named("decrypt") == []


def test_an_envelope_with_two_data_keys_is_refused_before_any_kms_call(
    keys: Keys, kms: KMSClient, envelopes: RequestEnvelopes, kms_calls: KmsCalls
) -> None:
    # Given a message wrapped for the request key and a second key, by a client without an EDK cap
    other_key = kms.create_key()["KeyMetadata"]["Arn"]
    two_keys = material_providers().create_multi_keyring(
        input=CreateMultiKeyringInput(
            generator=encryption_sdk.kms_keyring(keys.symmetric_arn, kms),
            child_keyrings=[encryption_sdk.kms_keyring(other_key, kms)],
        )
    )
    unrestricted = EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    ciphertext, _ = unrestricted.encrypt(
        source=PLAINTEXT,
        keyring=two_keys,
        encryption_context={
            "client_id": "client-a",
            "req_id": "nonce-1",
            **rules.request_context(route=ROUTE),
        },
        algorithm=Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
    )

    with pytest.raises(DecryptionFailed) as error:
        open_as(envelopes, ciphertext)

    assert error.value.reason == "data_key_count"
    assert kms_calls.named("decrypt") == []


@pytest.mark.parametrize(
    "vector", sorted(load("esdk_legacy_noncommitting_negative.json")["tests"].values(), key=str)
)
def test_a_legacy_non_committing_envelope_is_refused_before_any_kms_call(
    envelopes: RequestEnvelopes, kms_calls: KmsCalls, vector: dict[str, Any]
) -> None:
    with pytest.raises(DecryptionFailed):
        open_as(envelopes, base64.b64decode(vector["ciphertext_b64"]))

    assert kms_calls.named("decrypt") == []


def test_an_envelope_over_the_ciphertext_cap_is_refused_before_any_kms_call(
    keys: Keys, kms: KMSClient, kms_calls: KmsCalls
) -> None:
    ciphertext = seal(keys, kms)
    envelopes = RequestEnvelopes(
        keys.symmetric_arn, keys.rsa_arn, kms, max_ciphertext_bytes=len(ciphertext) - 1
    )

    with pytest.raises(PayloadTooLarge) as error:
        open_as(envelopes, ciphertext)

    assert error.value.reason == "ciphertext_too_large"
    assert kms_calls.named("decrypt") == []


def test_an_envelope_over_the_plaintext_cap_is_refused(keys: Keys, kms: KMSClient) -> None:
    large = seal_request_server(
        bytes(5000),
        kms_key_arn=keys.symmetric_arn,
        client_id="client-a",
        req_id="nonce-1",
        route=ROUTE,
        kms_client=kms,
    )
    envelopes = RequestEnvelopes(keys.symmetric_arn, keys.rsa_arn, kms, max_plaintext_bytes=4096)

    with pytest.raises(DecryptionFailed) as error:
        open_as(envelopes, large)

    assert error.value.reason == "plaintext_too_large"


def test_an_opened_request_does_not_show_its_plaintext_when_printed(
    keys: Keys, kms: KMSClient, envelopes: RequestEnvelopes
) -> None:
    opened = open_as(envelopes, seal(keys, kms))

    assert b"resp_key" not in repr(opened).encode()
    assert "mode='server'" in repr(opened)


@pytest.fixture
def sealed(keys: Keys, kms: KMSClient) -> bytes:
    return seal(keys, kms)


@pytest.fixture
def kms_refusing_tampered_blobs_like_kms(kms: KMSClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto answers AccessDenied for a blob naming a key it does not know; KMS says InvalidCiphertext."""
    real_decrypt: Callable[..., Any] = kms.decrypt

    def decrypt(**params: Any) -> Any:
        try:
            return real_decrypt(**params)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "AccessDeniedException":
                raise
            raise ClientError(
                {"Error": {"Code": "InvalidCiphertextException", "Message": ""}}, "Decrypt"
            ) from exc

    monkeypatch.setattr(kms, "decrypt", decrypt)


@HYPOTHESIS
@given(data=st.data())
@pytest.mark.usefixtures("kms_refusing_tampered_blobs_like_kms")
def test_any_single_flipped_byte_of_a_server_envelope_is_refused_as_decryption_failed(
    envelopes: RequestEnvelopes, sealed: bytes, data: st.DataObject
) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(sealed) - 1))
    mask = data.draw(st.integers(min_value=1, max_value=255))
    tampered = bytearray(sealed)
    tampered[position] ^= mask

    with pytest.raises(DecryptionFailed):
        open_as(envelopes, bytes(tampered))


@HYPOTHESIS
@given(data=st.data())
def test_any_truncation_of_a_server_envelope_is_refused_as_decryption_failed(
    envelopes: RequestEnvelopes, sealed: bytes, data: st.DataObject
) -> None:
    length = data.draw(st.integers(min_value=0, max_value=len(sealed) - 1))

    with pytest.raises(DecryptionFailed):
        open_as(envelopes, sealed[:length])
