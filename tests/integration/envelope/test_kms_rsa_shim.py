"""The test-only shim gives moto's KMS the RSA Decrypt of real KMS, refusals included."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.integration.envelope.conftest import Keys

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient


CONTEXT = {"a": "b"}


def oaep(digest: hashes.HashAlgorithm) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(algorithm=digest), algorithm=digest, label=None)


def encrypt_locally(keys: Keys, plaintext: bytes, digest: hashes.HashAlgorithm) -> bytes:
    public_key = serialization.load_pem_public_key(keys.rsa_public_pem.encode())
    assert isinstance(public_key, rsa.RSAPublicKey)
    return public_key.encrypt(plaintext, oaep(digest))


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_data_encrypted_locally_under_oaep_sha256_decrypts(keys: Keys, kms: KMSClient) -> None:
    blob = encrypt_locally(keys, b"data key", hashes.SHA256())

    response = kms.decrypt(KeyId=keys.rsa_arn, CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256")

    assert response["Plaintext"] == b"data key"
    assert response["KeyId"] == keys.rsa_arn
    assert response["EncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"


def test_data_encrypted_under_oaep_sha256_does_not_decrypt_as_oaep_sha1(keys: Keys, kms: KMSClient) -> None:
    blob = encrypt_locally(keys, b"data key", hashes.SHA256())

    with pytest.raises(ClientError) as error:
        kms.decrypt(KeyId=keys.rsa_arn, CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_1")

    assert error_code(error) == "InvalidCiphertextException"


def test_bytes_that_are_no_rsa_ciphertext_are_invalid(keys: Keys, kms: KMSClient) -> None:
    with pytest.raises(ClientError) as error:
        kms.decrypt(KeyId=keys.rsa_arn, CiphertextBlob=bytes(384), EncryptionAlgorithm="RSAES_OAEP_SHA_256")

    assert error_code(error) == "InvalidCiphertextException"


def test_an_rsa_key_refuses_the_symmetric_algorithm(keys: Keys, kms: KMSClient) -> None:
    blob = encrypt_locally(keys, b"data key", hashes.SHA256())

    with pytest.raises(ClientError) as error:
        kms.decrypt(KeyId=keys.rsa_arn, CiphertextBlob=blob)

    assert error_code(error) == "InvalidKeyUsageException"


def test_an_rsa_key_refuses_an_algorithm_it_does_not_support(keys: Keys, kms: KMSClient) -> None:
    blob = encrypt_locally(keys, b"data key", hashes.SHA256())

    with pytest.raises(ClientError) as error:
        kms.decrypt(KeyId=keys.rsa_arn, CiphertextBlob=blob, EncryptionAlgorithm="SM2PKE")

    assert error_code(error) == "InvalidKeyUsageException"


def test_a_symmetric_key_refuses_an_rsa_algorithm(keys: Keys, kms: KMSClient) -> None:
    blob = kms.encrypt(KeyId=keys.symmetric_arn, Plaintext=b"x")["CiphertextBlob"]

    with pytest.raises(ClientError) as error:
        kms.decrypt(KeyId=keys.symmetric_arn, CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256")

    assert error_code(error) == "InvalidKeyUsageException"


def test_an_rsa_algorithm_without_a_key_id_is_invalid(keys: Keys, kms: KMSClient) -> None:
    blob = encrypt_locally(keys, b"data key", hashes.SHA256())

    with pytest.raises(ClientError) as error:
        kms.decrypt(CiphertextBlob=blob, EncryptionAlgorithm="RSAES_OAEP_SHA_256")

    assert error_code(error) == "ValidationException"


def test_an_unknown_key_is_not_found(kms: KMSClient) -> None:
    with pytest.raises(ClientError) as error:
        kms.decrypt(
            KeyId="arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000",
            CiphertextBlob=bytes(384),
            EncryptionAlgorithm="RSAES_OAEP_SHA_256",
        )

    assert error_code(error) == "NotFoundException"


def test_symmetric_decryption_with_a_key_id_still_goes_to_moto(keys: Keys, kms: KMSClient) -> None:
    blob = kms.encrypt(KeyId=keys.symmetric_arn, Plaintext=b"x", EncryptionContext=CONTEXT)["CiphertextBlob"]

    response = kms.decrypt(KeyId=keys.symmetric_arn, CiphertextBlob=blob, EncryptionContext=CONTEXT)

    assert response["Plaintext"] == b"x"


def test_symmetric_decryption_without_a_key_id_still_goes_to_moto(keys: Keys, kms: KMSClient) -> None:
    blob = kms.encrypt(KeyId=keys.symmetric_arn, Plaintext=b"x", EncryptionContext=CONTEXT)["CiphertextBlob"]

    response = kms.decrypt(CiphertextBlob=blob, EncryptionContext=CONTEXT)

    assert response["Plaintext"] == b"x"
