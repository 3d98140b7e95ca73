"""KMS as the envelope code sees it: failures told apart, and the RSA public key served to clients.

Why the KMS client is wrapped: the MPL keyrings call KMS themselves and flatten what goes wrong.
A botocore `ClientError` becomes an MPL `ComAmazonawsKms` error inside a `CollectionOfErrors`
carrying only a message (for the error codes KMS models, such as `KMSInternalException` or
`InvalidCiphertextException`, the code is gone); a connection error or timeout (`BotoCoreError`)
escapes the MPL and the SDK unwrapped. Neither tells "this ciphertext is bad" (400) from
"KMS is unavailable" (503) reliably. So the keyrings get an `ObservedKmsClient`, which records
every exception the real client raises while `kms_failures_as_unavailable()` is active, and the
decision is made on the botocore exception itself, the way
`secure_ai_gateway.adapters.secret_sealing` makes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key

from secure_ai_protocol.envelope.rules import MOBILE_ENCRYPTION_ALGORITHM
from secure_ai_protocol.errors import ConfigurationError, DependencyUnavailable, ProtocolError

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

# KMS answers these when the wrapped key, its context or its key do not match: the envelope is
# bad, not KMS. Every other KMS failure (throttling, access denied, disabled key, network,
# timeouts) fails closed as unavailable.
_NOT_THIS_CIPHERTEXT: Final = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})

_observed_failures: ContextVar[list[Exception] | None] = ContextVar("kms_observed_failures", default=None)


class PublicKey(NamedTuple):
    """The RSA public key mobile/web clients pin, as served by `GET /v1/keys/public`."""

    pem: str
    key_arn: str
    key_spec: str


class ObservedKmsClient:
    """A KMS client for the MPL that records the real client's exceptions, then re-raises them."""

    def __init__(self, client: KMSClient) -> None:
        self._client = client

    @property
    def meta(self) -> Any:
        """The wrapped client's botocore metadata (the MPL reads its region)."""
        return self._client.meta

    def decrypt(self, **kwargs: Any) -> Any:
        """KMS Decrypt (both keyrings, on decrypt)."""
        return _observe(self._client.decrypt, kwargs)

    def generate_data_key(self, **kwargs: Any) -> Any:
        """KMS GenerateDataKey (the symmetric keyring, on encrypt)."""
        return _observe(self._client.generate_data_key, kwargs)

    def encrypt(self, **kwargs: Any) -> Any:
        """KMS Encrypt (a symmetric keyring wrapping an existing data key)."""
        return _observe(self._client.encrypt, kwargs)


def _observe(call: Any, kwargs: dict[str, Any]) -> Any:
    try:
        return call(**kwargs)
    except Exception as exc:
        failures = _observed_failures.get()
        if failures is not None:
            failures.append(exc)
        raise


@contextmanager
def kms_failures_as_unavailable() -> Iterator[None]:
    """Turn a gateway error caused by KMS failing (not by the envelope) into DependencyUnavailable.

    Wrap the SDK call whose keyrings use an `ObservedKmsClient`. When that call raises a
    `ProtocolError` and a KMS call failed for a reason other than the ciphertext, the KMS failure
    is what the caller sees: `DependencyUnavailable("kms_unavailable")`, chained to the botocore error.
    """
    failures: list[Exception] = []
    token = _observed_failures.set(failures)
    try:
        yield
    except ProtocolError:
        unavailable = next((failure for failure in failures if not _is_ciphertext_fault(failure)), None)
        if unavailable is not None:
            raise DependencyUnavailable("kms_unavailable") from unavailable
        raise
    finally:
        _observed_failures.reset(token)


def _is_ciphertext_fault(failure: Exception) -> bool:
    if not isinstance(failure, ClientError):
        return False
    return failure.response.get("Error", {}).get("Code") in _NOT_THIS_CIPHERTEXT


def public_key_pem(rsa_key_arn: str, kms_client: KMSClient) -> PublicKey:
    """Fetch the RSA request key's public half (KMS GetPublicKey) as PEM, with its key ARN and spec.

    `rsa_key_arn` must be the key ARN (not an alias): clients pin it as the EDK's key name.

    Raises DependencyUnavailable when KMS cannot answer, ConfigurationError when the key is not an
    RSA encryption key that allows RSAES_OAEP_SHA_256 (the only padding the server decrypts with).
    """
    try:
        response = kms_client.get_public_key(KeyId=rsa_key_arn)
    except (BotoCoreError, ClientError) as exc:
        raise DependencyUnavailable("kms_unavailable") from exc
    # CustomerMasterKeySpec is the deprecated name of the same field (moto returns only that one).
    key_spec = response.get("KeySpec") or response.get("CustomerMasterKeySpec") or ""
    if (
        not key_spec.startswith("RSA_")
        or response.get("KeyUsage") != "ENCRYPT_DECRYPT"
        or MOBILE_ENCRYPTION_ALGORITHM not in response.get("EncryptionAlgorithms", [])
    ):
        raise ConfigurationError("rsa_key_unsuitable")
    der = response["PublicKey"]
    pem = load_der_public_key(der).public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    # The configured ARN, not the response's KeyId: it is what the gateway checks the EDK against,
    # so it is exactly the key name a client must write.
    return PublicKey(pem=pem.decode("ascii"), key_arn=rsa_key_arn, key_spec=key_spec)
