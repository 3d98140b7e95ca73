"""Make moto's KMS Decrypt honour `EncryptionAlgorithm` for RSA keys, as real KMS does.

moto decrypts every ciphertext as its own symmetric blob and ignores `EncryptionAlgorithm`
(docs/local-stack.md lists it), so data a mobile client encrypted locally with the RSA key's public
half never decrypts. Here a Decrypt that names an RSA key is answered from moto's stored private
key with RSAES-OAEP, the way KMS would: a wrong algorithm or key usage is InvalidKeyUsageException,
bytes that do not decrypt are InvalidCiphertextException. Symmetric keys still go to moto unchanged.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

OAEP_HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "RSAES_OAEP_SHA_1": hashes.SHA1,
    "RSAES_OAEP_SHA_256": hashes.SHA256,
}
SYMMETRIC: Final = "SYMMETRIC_DEFAULT"


class KmsRejection(Exception):
    """What KMS would answer instead of a plaintext: an error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def is_rsa(key: Any) -> bool:
    """Whether a moto key is an RSA key."""
    return str(key.key_spec).startswith("RSA_")


def rsa_decrypt(key: Any, ciphertext: bytes, algorithm: str) -> bytes:
    """RSAES-OAEP decryption with a moto RSA key's private half, refusing like KMS."""
    if key.key_usage != "ENCRYPT_DECRYPT" or algorithm not in OAEP_HASHES:
        raise KmsRejection("InvalidKeyUsageException", f"{algorithm} is not valid for this key")
    digest = OAEP_HASHES[algorithm]()
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=digest), algorithm=digest, label=None)
    try:
        plaintext: bytes = key.private_key.private_key.decrypt(ciphertext, oaep)
    except ValueError:
        raise KmsRejection("InvalidCiphertextException", "") from None
    return plaintext


def honour_rsa_decrypt() -> None:
    """Patch moto's KMS Decrypt handler (call it in the process that serves moto)."""
    from moto.kms.responses import KmsResponse  # noqa: PLC0415 - moto takes seconds to import

    original = KmsResponse.decrypt

    def decrypt(self: KmsResponse) -> Any:
        key_id = self._get_param("KeyId")
        algorithm = self._get_param("EncryptionAlgorithm", SYMMETRIC)
        try:
            key = self.kms_backend.describe_key(key_id) if key_id else None
        except KeyError:
            key = None  # moto's own handler answers NotFoundException
        if key is None or not is_rsa(key):
            return original(self)
        try:
            # moto's _get_param has already base64-decoded CiphertextBlob.
            plaintext = rsa_decrypt(key, self._get_param("CiphertextBlob"), algorithm)
        except KmsRejection as rejection:
            return 400, {}, json.dumps({"__type": rejection.code, "message": str(rejection)})
        return json.dumps(
            {
                "Plaintext": base64.b64encode(plaintext).decode(),
                "KeyId": key.arn,
                "EncryptionAlgorithm": algorithm,
            }
        )

    KmsResponse.decrypt = decrypt  # type: ignore[method-assign]
