"""The AWS Encryption SDK adapter: the strict client, keyrings, one-shot encrypt and strict decrypt.

The only module that imports the Encryption SDK and the Material Providers Library (MPL). Their
imports cost about a second, so nothing on the authorizer's import path may import
`secure_ai_protocol.envelope`. The SDK client, the MPL and the KMS keyrings are built on first use and
cached for the execution environment; per-request keyrings (response keys) are never cached.

`strict_decrypt` is the one decrypt policy, parameterised by keyring: the request path passes
KMS keyrings, the response path a raw AES keyring, and the tests raw keyrings from published
test vectors. Any SDK or MPL failure inside it becomes `DecryptionFailed` chained to the SDK
error, the plaintext cap included: what is learnt by opening an envelope is one generic 400
(a single flipped bit in the header's frame length must not answer differently from any other
flipped bit). Only the ciphertext cap, measured before any work, is a 413. Telling a KMS outage
apart is `secure_ai_protocol.envelope.kms`'s job.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Final

from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
from aws_cryptographic_material_providers.mpl.models import (
    AesWrappingAlg,
    CreateAwsKmsKeyringInput,
    CreateAwsKmsRsaKeyringInput,
    CreateDefaultCryptographicMaterialsManagerInput,
    CreateRawAesKeyringInput,
    CreateRequiredEncryptionContextCMMInput,
)
from aws_encryption_sdk import EncryptionSDKClient
from aws_encryption_sdk.exceptions import (
    AWSEncryptionSDKClientError,
    CustomMaximumValueExceeded,
    MaxEncryptedDataKeysExceeded,
)
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy
from aws_encryption_sdk.internal.formatting.deserialize import deserialize_header

from secure_ai_protocol.envelope.kms import ObservedKmsClient
from secure_ai_protocol.envelope.rules import (
    ESDK_DEFAULT_FRAME_LENGTH,
    MOBILE_ENCRYPTION_ALGORITHM,
    DataKeyEntry,
    EnvelopeHeader,
)
from secure_ai_protocol.errors import ConfigurationError, DecryptionFailed

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

# Stated even where they are the SDK's defaults: a message without key commitment (format 1 and
# every non-committing suite) is refused on decrypt and never produced on encrypt, and a message
# may carry exactly one encrypted data key (more would let a sender make us try keys at will).
COMMITMENT_POLICY: Final = CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
MAX_ENCRYPTED_DATA_KEYS: Final = 1
RAW_AES_WRAPPING_ALGORITHM: Final = AesWrappingAlg.ALG_AES256_GCM_IV12_TAG16

# An MPL keyring or materials manager; the MPL ships no type information.
Keyring = Any


@dataclass(frozen=True, slots=True)
class Decrypted:
    """A message that passed the strict decrypt, with the header the SDK authenticated."""

    plaintext: bytes
    header: EnvelopeHeader

    def __repr__(self) -> str:
        # Keep the plaintext out of logs and tracebacks that print this object.
        return f"Decrypted(header={self.header!r}, plaintext=<{len(self.plaintext)} bytes>)"


@cache
def _sdk_client() -> EncryptionSDKClient:
    return EncryptionSDKClient(
        commitment_policy=COMMITMENT_POLICY,
        max_encrypted_data_keys=MAX_ENCRYPTED_DATA_KEYS,
    )


@cache
def _material_providers() -> AwsCryptographicMaterialProviders:
    return AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())


@lru_cache(maxsize=16)
def _observed(kms_client: KMSClient) -> ObservedKmsClient:
    return ObservedKmsClient(kms_client)


@lru_cache(maxsize=16)
def kms_keyring(key_arn: str, kms_client: KMSClient) -> Keyring:
    """A strict AWS KMS keyring pinned to the symmetric key `key_arn` (encrypt and decrypt)."""
    return _create_keyring(
        _material_providers().create_aws_kms_keyring,
        CreateAwsKmsKeyringInput(kms_key_id=key_arn, kms_client=_observed(kms_client)),
    )


@lru_cache(maxsize=16)
def kms_rsa_keyring(key_arn: str, kms_client: KMSClient) -> Keyring:
    """An AWS KMS RSA keyring that decrypts with the private half of `key_arn` in KMS."""
    return _create_keyring(
        _material_providers().create_aws_kms_rsa_keyring,
        CreateAwsKmsRsaKeyringInput(
            kms_key_id=key_arn,
            encryption_algorithm=MOBILE_ENCRYPTION_ALGORITHM,
            kms_client=_observed(kms_client),
        ),
    )


@lru_cache(maxsize=16)
def kms_rsa_public_keyring(key_arn: str, public_key_pem: bytes) -> Keyring:
    """An AWS KMS RSA keyring that only encrypts, with the public key: no KMS call, no credentials."""
    return _create_keyring(
        _material_providers().create_aws_kms_rsa_keyring,
        CreateAwsKmsRsaKeyringInput(
            kms_key_id=key_arn,
            encryption_algorithm=MOBILE_ENCRYPTION_ALGORITHM,
            public_key=public_key_pem,
        ),
    )


def raw_aes_keyring(*, namespace: str, name: str, key: bytes) -> Keyring:
    """A raw AES-256-GCM keyring; built per use, never cached (its key is per request)."""
    return _create_keyring(
        _material_providers().create_raw_aes_keyring,
        CreateRawAesKeyringInput(
            key_namespace=namespace,
            key_name=name,
            wrapping_key=key,
            wrapping_alg=RAW_AES_WRAPPING_ALGORITHM,
        ),
    )


def read_header(ciphertext: bytes) -> EnvelopeHeader:
    """Parse a message header with the SDK's own deserializer, before any key is unwrapped.

    Nothing here is authenticated yet: use it to refuse early and to pick a keyring, then judge
    the header `strict_decrypt` returns.
    """
    try:
        header, _ = deserialize_header(io.BytesIO(ciphertext), MAX_ENCRYPTED_DATA_KEYS)
    except MaxEncryptedDataKeysExceeded as exc:
        raise DecryptionFailed("data_key_count") from exc
    except Exception as exc:
        # The deserializer raises struct, SDK and value errors alike on malformed input.
        raise DecryptionFailed("malformed_envelope") from exc
    return _header_facts(header)


def encrypt(
    plaintext: bytes,
    keyring: Keyring,
    *,
    context: Mapping[str, str],
    required_keys: Sequence[str],
    suite: str,
    frame_length: int = ESDK_DEFAULT_FRAME_LENGTH,
) -> bytes:
    """Encrypt `plaintext` into one message under `keyring` with the committing `suite`.

    `required_keys` name entries of `context` that bind the message without being stored in it;
    the decrypting side must supply them again. Framed, `frame_length` bytes a frame.
    """
    try:
        ciphertext, _ = _sdk_client().encrypt(
            source=plaintext,
            materials_manager=_materials_manager(keyring, required_keys),
            encryption_context=dict(context),
            algorithm=Algorithm[suite],
            frame_length=frame_length,
        )
    except Exception as exc:
        raise ConfigurationError("envelope_encrypt_failed") from exc
    return bytes(ciphertext)


def strict_decrypt(
    ciphertext: bytes,
    keyring: Keyring,
    *,
    reproduced_context: Mapping[str, str],
    required_keys: Sequence[str],
    allow_signed: bool,
    max_plaintext_bytes: int,
) -> Decrypted:
    """Decrypt one whole message under the strict policy, or raise DecryptionFailed.

    Strict: committing suites and message format 2 only, exactly one encrypted data key, the
    `required_keys` taken from `reproduced_context` (not from the message), signed suites only
    when `allow_signed`, no frame and no plaintext over `max_plaintext_bytes`.
    One-shot: the message is read to its end, tags and signature verified, before any byte is
    returned.
    """
    try:
        plaintext, header = _read_whole_message(
            mode="decrypt" if allow_signed else "decrypt-unsigned",
            source=ciphertext,
            materials_manager=_materials_manager(keyring, required_keys),
            encryption_context=dict(reproduced_context),
            max_body_length=max_plaintext_bytes,
        )
    except MaxEncryptedDataKeysExceeded as exc:
        raise DecryptionFailed("data_key_count") from exc
    except CustomMaximumValueExceeded as exc:
        raise DecryptionFailed("plaintext_too_large") from exc
    except Exception as exc:
        # Every other SDK/MPL failure (tags, commitment, context, unwrapping, format) and anything
        # escaping from under it: one generic refusal, the cause kept only as the chained exception.
        raise DecryptionFailed("decrypt_failed") from exc
    if len(plaintext) > max_plaintext_bytes:
        raise DecryptionFailed("plaintext_too_large")
    return Decrypted(plaintext=plaintext, header=_header_facts(header))


def _read_whole_message(**stream_arguments: Any) -> tuple[bytes, Any]:
    # The SDK client's `decrypt` wraps this same stream in a `with` block. After a failed read
    # its close() raises "Footer not read", logs it at ERROR, and io.IOBase's finaliser raises it
    # again later as an unraisable exception. The failure is reported by the caller already,
    # so the stream is marked closed quietly instead.
    decryptor = _sdk_client().stream(**stream_arguments)
    try:
        return bytes(decryptor.read()), decryptor.header
    finally:
        try:
            decryptor.close()
        except AWSEncryptionSDKClientError:
            io.IOBase.close(decryptor)


def _materials_manager(keyring: Keyring, required_keys: Sequence[str]) -> Keyring:
    # Cheap (tens of microseconds): built per call rather than cached next to per-request keys.
    providers = _material_providers()
    default = providers.create_default_cryptographic_materials_manager(
        CreateDefaultCryptographicMaterialsManagerInput(keyring=keyring)
    )
    if not required_keys:
        return default
    return providers.create_required_encryption_context_cmm(
        CreateRequiredEncryptionContextCMMInput(
            required_encryption_context_keys=list(required_keys),
            underlying_cmm=default,
        )
    )


def _create_keyring(factory: Any, keyring_input: Any) -> Keyring:
    try:
        return factory(input=keyring_input)
    except Exception as exc:
        # A malformed key ARN, public key or key length: the caller's configuration.
        raise ConfigurationError("envelope_keyring_invalid") from exc


def _header_facts(header: Any) -> EnvelopeHeader:
    return EnvelopeHeader(
        version=int(header.version.value),
        suite=str(header.algorithm.name),
        stored_context={str(key): str(value) for key, value in header.encryption_context.items()},
        data_keys=tuple(
            DataKeyEntry(
                provider_id=str(edk.key_provider.provider_id),
                provider_info=bytes(edk.key_provider.key_info),
            )
            for edk in header.encrypted_data_keys
        ),
    )
