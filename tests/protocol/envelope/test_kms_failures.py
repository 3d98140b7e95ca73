"""Telling "KMS is unavailable" from "the envelope is bad", on the botocore exception itself."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from secure_ai_protocol.envelope.kms import ObservedKmsClient, kms_failures_as_unavailable, public_key_pem
from secure_ai_protocol.errors import ConfigurationError, DecryptionFailed, DependencyUnavailable

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "Decrypt")


class RaisingKms:
    """A KMS client whose every call raises `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.meta = SimpleNamespace(region_name="us-east-1")

    def decrypt(self, **_: Any) -> Any:
        raise self.error

    def generate_data_key(self, **_: Any) -> Any:
        raise self.error

    def encrypt(self, **_: Any) -> Any:
        raise self.error

    def get_public_key(self, **_: Any) -> Any:
        raise self.error


def observed(error: Exception) -> ObservedKmsClient:
    return ObservedKmsClient(cast("KMSClient", RaisingKms(error)))


def sdk_call_through(kms: ObservedKmsClient, operation: str = "decrypt") -> None:
    """What the SDK does with a failed KMS call: swallow it into its own error, which we then map."""
    try:
        getattr(kms, operation)(KeyId="k")
    except Exception as exc:
        raise DecryptionFailed("decrypt_failed") from exc


@pytest.mark.parametrize(
    "failure",
    [
        EndpointConnectionError(endpoint_url="https://kms.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://kms.us-east-1.amazonaws.com"),
        client_error("ThrottlingException"),
        client_error("AccessDeniedException"),
        client_error("KMSInternalException"),
        client_error("DependencyTimeoutException"),
        client_error("KeyUnavailableException"),
        client_error("DisabledException"),
        client_error("KMSInvalidStateException"),
    ],
    ids=lambda failure: (
        failure.response["Error"]["Code"] if isinstance(failure, ClientError) else type(failure).__name__
    ),
)
def test_a_kms_failure_behind_a_decryption_error_is_unavailable(failure: Exception) -> None:
    with pytest.raises(DependencyUnavailable) as error, kms_failures_as_unavailable():
        sdk_call_through(observed(failure))

    assert error.value.reason == "kms_unavailable"
    assert error.value.__cause__ is failure


@pytest.mark.parametrize("code", ["InvalidCiphertextException", "IncorrectKeyException"])
def test_kms_refusing_the_ciphertext_stays_a_decryption_failure(code: str) -> None:
    with pytest.raises(DecryptionFailed), kms_failures_as_unavailable():
        sdk_call_through(observed(client_error(code)))


def test_a_failed_generate_data_key_is_unavailable_too() -> None:
    with pytest.raises(DependencyUnavailable), kms_failures_as_unavailable():
        sdk_call_through(observed(client_error("ThrottlingException")), "generate_data_key")


def test_a_failed_kms_encrypt_is_unavailable_too() -> None:
    with pytest.raises(DependencyUnavailable), kms_failures_as_unavailable():
        sdk_call_through(observed(client_error("ThrottlingException")), "encrypt")


def test_a_decryption_failure_without_a_kms_failure_stays_a_decryption_failure() -> None:
    with pytest.raises(DecryptionFailed), kms_failures_as_unavailable():
        raise DecryptionFailed("decrypt_failed")


def test_a_kms_failure_is_forgotten_after_its_block() -> None:
    # Given a block in which KMS failed
    with pytest.raises(DependencyUnavailable), kms_failures_as_unavailable():
        sdk_call_through(observed(client_error("ThrottlingException")))

    # When the next call fails for a reason of its own
    # Then it is not blamed on the earlier outage
    with pytest.raises(DecryptionFailed), kms_failures_as_unavailable():
        raise DecryptionFailed("decrypt_failed")


def test_a_call_outside_any_block_is_not_recorded_and_still_raises() -> None:
    failure = client_error("ThrottlingException")

    with pytest.raises(ClientError):
        observed(failure).decrypt(KeyId="k")


def test_the_observed_client_exposes_the_real_clients_metadata() -> None:
    real = RaisingKms(client_error("x"))

    assert ObservedKmsClient(cast("KMSClient", real)).meta is real.meta


def test_an_unreachable_kms_cannot_serve_the_public_key() -> None:
    kms = cast("KMSClient", RaisingKms(EndpointConnectionError(endpoint_url="https://kms")))

    with pytest.raises(DependencyUnavailable):
        public_key_pem("arn:aws:kms:us-east-1:123456789012:key/k", kms)


@pytest.mark.parametrize(
    "description",
    [
        {
            "KeySpec": "SYMMETRIC_DEFAULT",
            "KeyUsage": "ENCRYPT_DECRYPT",
            "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        },
        {"KeySpec": "RSA_3072", "KeyUsage": "SIGN_VERIFY", "EncryptionAlgorithms": []},
        {"KeySpec": "RSA_3072", "KeyUsage": "ENCRYPT_DECRYPT", "EncryptionAlgorithms": ["RSAES_OAEP_SHA_1"]},
    ],
)
def test_a_key_that_is_not_an_rsa_oaep_sha256_encryption_key_is_not_served(
    description: dict[str, Any],
) -> None:
    class DescribingKms:
        def get_public_key(self, **_: Any) -> dict[str, Any]:
            return {"KeyId": "arn", "PublicKey": b"", **description}

    with pytest.raises(ConfigurationError) as error:
        public_key_pem("arn", cast("KMSClient", DescribingKms()))

    assert error.value.reason == "rsa_key_unsuitable"
