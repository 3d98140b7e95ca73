"""Custom MPL keyrings for tests: a static data key, a call recorder, and a hand-built KMS RSA encryptor."""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Mapping
from typing import Any

from aws_cryptographic_material_providers.mpl.models import (
    DecryptionMaterials,
    EncryptedDataKey,
    EncryptionMaterials,
    OnDecryptOutput,
    OnEncryptOutput,
)
from aws_cryptographic_material_providers.mpl.references import IKeyring
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class StaticDataKeyKeyring(IKeyring):  # type: ignore[misc]  # the MPL is untyped
    """Hands the SDK a known plaintext data key whatever the message's EDKs say (commitment KATs)."""

    def __init__(self, data_key: bytes) -> None:
        self._data_key = data_key

    def on_encrypt(self, param: Any) -> Any:
        raise NotImplementedError

    def on_decrypt(self, param: Any) -> Any:
        materials = param.materials
        return OnDecryptOutput(
            materials=DecryptionMaterials(
                algorithm_suite=materials.algorithm_suite,
                encryption_context=materials.encryption_context,
                required_encryption_context_keys=materials.required_encryption_context_keys,
                plaintext_data_key=self._data_key,
                verification_key=materials.verification_key,
            )
        )


class RecordingKeyring(IKeyring):  # type: ignore[misc]  # the MPL is untyped
    """Counts unwrap attempts and never succeeds: shows a message was refused before key unwrapping."""

    def __init__(self) -> None:
        self.decrypt_calls = 0

    def on_encrypt(self, param: Any) -> Any:
        raise NotImplementedError

    def on_decrypt(self, param: Any) -> Any:
        self.decrypt_calls += 1
        raise RuntimeError("no key")


def canonical_context(context: Mapping[str, str]) -> bytes:
    """The Encryption SDK's serialized encryption context (its AAD form), written independently.

    Empty context: no bytes. Otherwise a 2-byte count, then each pair sorted by key bytes,
    key and value each as a 2-byte length and UTF-8 bytes. All integers big-endian.
    """
    if not context:
        return b""
    pairs = sorted((key.encode("utf-8"), value.encode("utf-8")) for key, value in context.items())
    out = struct.pack(">H", len(pairs))
    for key, value in pairs:
        out += struct.pack(">H", len(key)) + key + struct.pack(">H", len(value)) + value
    return out


class HandmadeKmsRsaKeyring(IKeyring):  # type: ignore[misc]  # the MPL is untyped
    """What a client in another language must produce, built from docs/encryption.md, not the MPL.

    EDK: provider id "aws-kms-rsa", provider info = the KMS key ARN (UTF-8), ciphertext =
    RSAES-OAEP(SHA-256, MGF1-SHA-256, no label) of SHA-384(canonical full context) || data key.
    """

    def __init__(self, *, key_arn: str, public_key_pem: bytes, provider_id: str = "aws-kms-rsa") -> None:
        public_key = serialization.load_pem_public_key(public_key_pem)
        assert isinstance(public_key, rsa.RSAPublicKey)
        self._public_key = public_key
        self._key_arn = key_arn
        self._provider_id = provider_id

    def on_encrypt(self, param: Any) -> Any:
        materials = param.materials
        data_key = materials.plaintext_data_key or os.urandom(32)
        # The full context, including the required keys the message will not store.
        digest = hashlib.sha384(canonical_context(materials.encryption_context)).digest()
        oaep = padding.OAEP(
            mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None
        )
        wrapped = self._public_key.encrypt(digest + data_key, oaep)
        edk = EncryptedDataKey(
            key_provider_id=self._provider_id,
            key_provider_info=self._key_arn.encode("utf-8"),
            ciphertext=wrapped,
        )
        return OnEncryptOutput(
            materials=EncryptionMaterials(
                algorithm_suite=materials.algorithm_suite,
                encryption_context=materials.encryption_context,
                encrypted_data_keys=[*materials.encrypted_data_keys, edk],
                required_encryption_context_keys=materials.required_encryption_context_keys,
                plaintext_data_key=data_key,
                signing_key=materials.signing_key,
                symmetric_signing_keys=materials.symmetric_signing_keys,
            )
        )

    def on_decrypt(self, param: Any) -> Any:
        raise NotImplementedError
