"""Client signing secrets sealed under the symmetric KMS key (KMS Encrypt/Decrypt, no data keys).

The encryption context binds a sealed secret to its client and key version: a blob copied into
another client's record, or under another version, does not unseal. `purpose=client-secret` is
what the authorizer's IAM condition allows it to decrypt, so it cannot be turned into a decryption
oracle for request envelopes. A 32-byte secret fits in one KMS call (the limit is 4 KiB).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from botocore.exceptions import BotoCoreError, ClientError

from secure_ai_gateway.adapters.aws_clients import kms_client as default_kms_client
from secure_ai_protocol.errors import DependencyUnavailable, Unauthenticated
from secure_ai_protocol.key_ids import format_key_id

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

SECRET_BYTES: Final = 32
SEALING_PURPOSE: Final = "client-secret"
# KMS says these when the blob, its context or its key do not match: the blob is not this
# client's secret. Anything else is KMS (or the network, or IAM) failing, and fails closed.
_NOT_THIS_SECRET: Final = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})


def sealing_context(client_id: str, version: int) -> dict[str, str]:
    """The KMS encryption context that binds a sealed secret to one client key version."""
    return {"purpose": SEALING_PURPOSE, "client_id": client_id, "key_id": format_key_id(client_id, version)}


class SecretSealer:
    """Seals and unseals 32-byte client secrets with one KMS key."""

    def __init__(self, key_arn: str, boto3_client: KMSClient | None = None) -> None:
        self._key_arn = key_arn
        self._kms = boto3_client if boto3_client is not None else default_kms_client()

    def seal(self, client_id: str, version: int, secret: bytes) -> bytes:
        """Encrypt `secret` for `<client_id>.<version>`; raise DependencyUnavailable if KMS fails."""
        if len(secret) != SECRET_BYTES:
            raise ValueError(f"a client secret is exactly {SECRET_BYTES} bytes")
        try:
            response = self._kms.encrypt(
                KeyId=self._key_arn,
                Plaintext=secret,
                EncryptionContext=sealing_context(client_id, version),
                EncryptionAlgorithm="SYMMETRIC_DEFAULT",
            )
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailable("kms_unavailable") from exc
        return response["CiphertextBlob"]

    def unseal(self, client_id: str, version: int, sealed: bytes) -> bytes:
        """Decrypt the secret of `<client_id>.<version>`.

        Raises Unauthenticated("unseal_failed") when the blob is not that key's secret, and
        DependencyUnavailable when KMS cannot answer.
        """
        try:
            response = self._kms.decrypt(
                # Pinned: KMS must not pick the key from the blob's own header.
                KeyId=self._key_arn,
                CiphertextBlob=sealed,
                EncryptionContext=sealing_context(client_id, version),
                EncryptionAlgorithm="SYMMETRIC_DEFAULT",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _NOT_THIS_SECRET:
                raise Unauthenticated("unseal_failed") from exc
            raise DependencyUnavailable("kms_unavailable") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable("kms_unavailable") from exc
        secret = response.get("Plaintext", b"")
        if len(secret) != SECRET_BYTES:
            raise Unauthenticated("unseal_failed")
        return secret
