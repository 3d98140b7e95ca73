"""Sealing client secrets under KMS, with the encryption context binding client and key version."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.stub import Stubber

from secure_ai_gateway.adapters.secret_sealing import SecretSealer
from secure_ai_protocol.errors import DependencyUnavailable, ProtocolError, Unauthenticated
from tests.integration.clients.aws_doubles import REGION, STUB_KEY_ARN, stub_kms, unreachable_kms

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

SECRET = bytes(range(32))


def test_a_sealed_secret_unseals_to_the_same_bytes(sealer: SecretSealer) -> None:
    # Given a secret sealed for acme.1 / When unsealed for acme.1 / Then the same 32 bytes return
    sealed = sealer.seal("acme", 1, SECRET)
    assert sealer.unseal("acme", 1, sealed) == SECRET


def test_the_sealed_blob_does_not_contain_the_secret(sealer: SecretSealer) -> None:
    # Given a sealed secret / Then its plaintext bytes do not appear in it
    assert SECRET not in sealer.seal("acme", 1, SECRET)


def test_a_blob_cannot_be_unsealed_as_another_clients_secret(sealer: SecretSealer) -> None:
    # Given acme's sealed secret / When unsealed as evil's / Then "unseal_failed"
    sealed = sealer.seal("acme", 1, SECRET)
    with pytest.raises(Unauthenticated) as caught:
        sealer.unseal("evil", 1, sealed)
    assert caught.value.reason == "unseal_failed"


def test_a_blob_cannot_be_unsealed_as_another_key_version(sealer: SecretSealer) -> None:
    # Given acme.1's sealed secret / When unsealed as acme.2 / Then "unseal_failed"
    sealed = sealer.seal("acme", 1, SECRET)
    with pytest.raises(Unauthenticated) as caught:
        sealer.unseal("acme", 2, sealed)
    assert caught.value.reason == "unseal_failed"


def test_a_blob_sealed_under_another_key_is_never_unsealed(sealer: SecretSealer, kms: KMSClient) -> None:
    # Given a secret sealed under a second KMS key with the right context
    other_key = kms.create_key(Description="not the request key")["KeyMetadata"]["Arn"]
    sealed = SecretSealer(other_key, kms).seal("acme", 1, SECRET)
    # When the request key's sealer unseals it / Then it refuses (the key id is pinned on Decrypt)
    with pytest.raises(ProtocolError):
        sealer.unseal("acme", 1, sealed)


def test_decrypt_names_the_key_and_the_purpose_the_authorizer_may_use(
    sealer: SecretSealer, key_arn: str, decrypt_calls: list[dict[str, Any]]
) -> None:
    # Given a sealed secret / When unsealed
    sealer.unseal("acme", 7, sealer.seal("acme", 7, SECRET))
    # Then Decrypt pinned the key and sent the context the IAM condition (purpose) allows
    assert decrypt_calls == [
        {
            "KeyId": key_arn,
            "CiphertextBlob": decrypt_calls[0]["CiphertextBlob"],
            "EncryptionContext": {"purpose": "client-secret", "client_id": "acme", "key_id": "acme.7"},
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        }
    ]


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_only_a_32_byte_secret_can_be_sealed(length: int) -> None:
    # Given a secret of the wrong length / When sealed / Then ValueError, before any KMS call
    kms = stub_kms()
    with Stubber(kms), pytest.raises(ValueError, match="exactly 32 bytes"):
        SecretSealer(STUB_KEY_ARN, kms).seal("acme", 1, b"x" * length)


def test_an_unsealed_plaintext_of_the_wrong_length_is_refused() -> None:
    # Given KMS answering with 16 bytes (a blob that was never a client secret)
    kms = stub_kms()
    stubber = Stubber(kms)
    stubber.add_response("decrypt", {"Plaintext": b"x" * 16, "KeyId": STUB_KEY_ARN})
    # When unsealed / Then "unseal_failed", and the short plaintext is not returned
    with stubber, pytest.raises(Unauthenticated) as caught:
        SecretSealer(STUB_KEY_ARN, kms).unseal("acme", 1, b"blob")
    assert caught.value.reason == "unseal_failed"


@pytest.mark.parametrize("code", ["InvalidCiphertextException", "IncorrectKeyException"])
def test_kms_saying_the_blob_is_not_this_keys_is_an_unseal_failure(code: str) -> None:
    # Given KMS refusing the blob itself / When unsealed / Then Unauthenticated("unseal_failed")
    kms = stub_kms()
    stubber = Stubber(kms)
    stubber.add_client_error("decrypt", service_error_code=code)
    with stubber, pytest.raises(Unauthenticated) as caught:
        SecretSealer(STUB_KEY_ARN, kms).unseal("acme", 1, b"blob")
    assert caught.value.reason == "unseal_failed"


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "AccessDeniedException", "KMSInternalException", "DisabledException"]
)
def test_kms_failing_to_decrypt_is_a_dependency_failure(code: str) -> None:
    # Given KMS answering an error about itself, not the blob / When unsealed / Then fail closed
    kms = stub_kms()
    stubber = Stubber(kms)
    stubber.add_client_error("decrypt", service_error_code=code)
    with stubber, pytest.raises(DependencyUnavailable) as caught:
        SecretSealer(STUB_KEY_ARN, kms).unseal("acme", 1, b"blob")
    assert caught.value.reason == "kms_unavailable"


def test_an_unreachable_kms_is_a_dependency_failure_when_unsealing() -> None:
    # Given KMS cannot be reached / When unsealing / Then DependencyUnavailable
    with pytest.raises(DependencyUnavailable):
        SecretSealer(STUB_KEY_ARN, unreachable_kms()).unseal("acme", 1, b"blob")


def test_an_unreachable_kms_is_a_dependency_failure_when_sealing() -> None:
    # Given KMS cannot be reached / When sealing / Then DependencyUnavailable
    with pytest.raises(DependencyUnavailable):
        SecretSealer(STUB_KEY_ARN, unreachable_kms()).seal("acme", 1, SECRET)


def test_kms_refusing_to_encrypt_is_a_dependency_failure() -> None:
    # Given KMS throttling Encrypt / When sealing / Then DependencyUnavailable
    kms = stub_kms()
    stubber = Stubber(kms)
    stubber.add_client_error("encrypt", service_error_code="ThrottlingException")
    with stubber, pytest.raises(DependencyUnavailable):
        SecretSealer(STUB_KEY_ARN, kms).seal("acme", 1, SECRET)


def test_the_default_client_comes_from_the_shared_factory(key_arn: str) -> None:
    # Given no injected client (moto is active) / When sealing and unsealing / Then it works
    sealer = SecretSealer(key_arn)
    assert sealer.unseal("acme", 1, sealer.seal("acme", 1, SECRET)) == SECRET


def test_failures_put_no_secret_in_messages_or_logs(
    sealer: SecretSealer, caplog: pytest.LogCaptureFixture
) -> None:
    # Given logs captured at INFO, the deployed level, and a blob unsealed under the wrong context
    caplog.set_level(logging.INFO)
    sealed = sealer.seal("acme", 1, SECRET)
    with pytest.raises(Unauthenticated) as caught:
        sealer.unseal("acme", 2, sealed)
    # Then neither the exception chain nor the logs carry the secret or the blob
    texts = [str(caught.value), repr(caught.value), str(caught.value.__cause__), caplog.text]
    assert not any(SECRET.hex() in text or repr(SECRET) in text or repr(sealed) in text for text in texts)


def test_a_sealer_for_one_region_cannot_unseal_with_a_client_for_another(key_arn: str) -> None:
    # Given a blob sealed in us-east-1 and a KMS client for eu-west-1 (a misconfigured function)
    sealed = SecretSealer(key_arn, boto3.client("kms", region_name=REGION)).seal("acme", 1, SECRET)
    elsewhere = SecretSealer(key_arn, boto3.client("kms", region_name="eu-west-1"))
    # When unsealed there / Then it fails rather than returning anything
    with pytest.raises(ProtocolError):
        elsewhere.unseal("acme", 1, sealed)
