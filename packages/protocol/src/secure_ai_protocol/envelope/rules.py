"""What a conforming envelope is: modes, algorithm suites, encryption contexts, size caps.

Pure rules with no SDK import. The SDK adapter (`secure_ai_protocol.envelope.encryption_sdk`)
parses a message header into an `EnvelopeHeader`; these functions judge it, once before any key
is unwrapped (so junk and foreign contexts never cost a KMS call) and again on the header the SDK
has authenticated.
A refused envelope is a `DecryptionFailed` whose reason is a fixed code, never a value from the
message; only the ciphertext cap, measured before anything is parsed, is a `PayloadTooLarge`.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from secure_ai_protocol.errors import BadRequest, DecryptionFailed, PayloadTooLarge

EnvelopeMode = Literal["server", "mobile"]

# EDK provider ids written by the MPL's AWS KMS keyring and AWS KMS RSA keyring.
SERVER_PROVIDER_ID: Final = "aws-kms"
# The RSA padding of mobile mode: the only one the gateway decrypts with.
MOBILE_ENCRYPTION_ALGORITHM: Final = "RSAES_OAEP_SHA_256"
MOBILE_PROVIDER_ID: Final = "aws-kms-rsa"
_MODE_BY_PROVIDER: Final[Mapping[str, EnvelopeMode]] = {
    SERVER_PROVIDER_ID: "server",
    MOBILE_PROVIDER_ID: "mobile",
}

# Algorithm suites, named as the Encryption SDK's `Algorithm` enum names them.
# Server clients sign (0x0578, the SDK default); RSA-keyring clients cannot sign with the MPL's
# KMS RSA keyring and are authenticated by the request signature instead (0x0478).
SIGNING_COMMITTING_SUITE: Final = "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384"
COMMITTING_SUITE: Final = "AES_256_GCM_HKDF_SHA512_COMMIT_KEY"
SUITE_BY_MODE: Final[Mapping[EnvelopeMode, str]] = {
    "server": SIGNING_COMMITTING_SUITE,
    "mobile": COMMITTING_SUITE,
}
RESPONSE_SUITE: Final = COMMITTING_SUITE
SIGNING_SUITES: Final = frozenset({SIGNING_COMMITTING_SUITE})

# Message format 2 is the only one that carries key commitment.
MESSAGE_FORMAT_VERSION: Final = 2

# Supplied by the caller on both sides and never stored in the message (required encryption context).
REQUIRED_CONTEXT_KEYS: Final = ("client_id", "req_id")
# The SDK stores the signature verification key under this name for signing suites.
SDK_PUBLIC_KEY_CONTEXT_KEY: Final = "aws-crypto-public-key"
REQUEST_PURPOSE: Final = "request"
CONTEXT_VERSION: Final = "1"
RESPONSE_DIRECTION: Final = "response"

# The response keyring: a raw AES keyring is named by (namespace, name) in the message.
RESPONSE_KEY_NAMESPACE: Final = "secure-ai"
RESPONSE_KEY_NAME: Final = "response-key"
RESP_KEY_BYTES: Final = 32
_RAW_AES_INFO_SUFFIX: Final = struct.pack(">II", 128, 12)  # tag bits, IV bytes
_RAW_AES_IV_BYTES: Final = 12

DEFAULT_MAX_CIPHERTEXT_BYTES: Final = 1024 * 1024
DEFAULT_MAX_PLAINTEXT_BYTES: Final = 512 * 1024
# Lambda's synchronous response payload limit: no genuine response envelope is larger.
DEFAULT_MAX_RESPONSE_CIPHERTEXT_BYTES: Final = 6 * 1024 * 1024
# Frame lengths. The ESDK refuses a message whose header names a frame longer than the decryptor's
# maximum body length, so a frame may not exceed what its reader accepts: the gateway reads request
# plaintexts up to DEFAULT_MAX_PLAINTEXT_BYTES, the SDKs read answers up to 6 MiB and the TypeScript
# client frames up to 512 KiB (MAX_FRAME_LENGTH there).
ESDK_DEFAULT_FRAME_LENGTH: Final = 4096
# Answers: one frame up to 512 KiB (almost every answer). Messages are built and read whole, never
# streamed, and a browser pays one WebCrypto call per frame: 4 KiB frames cost 16 at 64 KiB.
RESPONSE_FRAME_LENGTH: Final = 512 * 1024


@dataclass(frozen=True, slots=True)
class DataKeyEntry:
    """One encrypted data key as the header names it (the wrapped key itself is not kept).

    `provider_info` is the key ARN for the KMS keyrings; a raw AES keyring writes its key name
    followed by the GCM tag length in bits, the IV length and the IV.
    """

    provider_id: str
    provider_info: bytes


@dataclass(frozen=True, slots=True)
class EnvelopeHeader:
    """The parts of an Encryption SDK message header the policy judges."""

    version: int
    suite: str
    stored_context: Mapping[str, str]
    data_keys: tuple[DataKeyEntry, ...]


def request_context(*, route: str) -> dict[str, str]:
    """The stored encryption context of a request envelope for `route`."""
    if not route:
        raise ValueError("route must be non-empty")
    return {"purpose": REQUEST_PURPOSE, "route": route, "version": CONTEXT_VERSION}


def required_context(*, client_id: str, req_id: str) -> dict[str, str]:
    """The required (never stored) encryption context binding an envelope to one client and request."""
    if not client_id or not req_id:
        raise ValueError("client_id and req_id must be non-empty")
    return {"client_id": client_id, "req_id": req_id}


def response_context(*, req_id: str) -> dict[str, str]:
    """The stored encryption context of the response to request `req_id`."""
    if not req_id:
        raise ValueError("req_id must be non-empty")
    return {"dir": RESPONSE_DIRECTION, "req_id": req_id}


def mode_of(header: EnvelopeHeader) -> EnvelopeMode:
    """The client mode a request envelope claims, from its one encrypted data key's provider id."""
    entry = _single_data_key(header)
    mode = _MODE_BY_PROVIDER.get(entry.provider_id)
    if mode is None:
        raise DecryptionFailed("unknown_key_provider")
    return mode


def check_request_header(header: EnvelopeHeader, *, mode: EnvelopeMode, key_arn: str, route: str) -> None:
    """Refuse a request envelope that is not exactly what `mode` allows for `route` under `key_arn`."""
    provider_id = SERVER_PROVIDER_ID if mode == "server" else MOBILE_PROVIDER_ID
    _check_header(header, suite=SUITE_BY_MODE[mode], context=request_context(route=route))
    entry = _single_data_key(header)
    if entry.provider_id != provider_id or entry.provider_info != key_arn.encode():
        raise DecryptionFailed("unexpected_key")


def check_response_header(header: EnvelopeHeader, *, req_id: str) -> None:
    """Refuse a response envelope that is not the answer to request `req_id`."""
    _check_header(header, suite=RESPONSE_SUITE, context=response_context(req_id=req_id))
    entry = _single_data_key(header)
    name_and_lengths = RESPONSE_KEY_NAME.encode() + _RAW_AES_INFO_SUFFIX
    if (
        entry.provider_id != RESPONSE_KEY_NAMESPACE
        or not entry.provider_info.startswith(name_and_lengths)
        or len(entry.provider_info) != len(name_and_lengths) + _RAW_AES_IV_BYTES
    ):
        raise DecryptionFailed("unexpected_key")


def check_resp_key(resp_key: bytes) -> None:
    """Refuse a response key that is not exactly 32 bytes (it comes from the client's plaintext)."""
    if len(resp_key) != RESP_KEY_BYTES:
        raise BadRequest("invalid_resp_key")


def new_resp_key() -> bytes:
    """A fresh response key for one request (client side)."""
    return secrets.token_bytes(RESP_KEY_BYTES)


def check_ciphertext_size(ciphertext: bytes, max_bytes: int) -> None:
    """Refuse an envelope over `max_bytes` before any parsing or key work."""
    if len(ciphertext) > max_bytes:
        raise PayloadTooLarge("ciphertext_too_large")


def _single_data_key(header: EnvelopeHeader) -> DataKeyEntry:
    if len(header.data_keys) != 1:
        raise DecryptionFailed("data_key_count")
    return header.data_keys[0]


def _check_header(header: EnvelopeHeader, *, suite: str, context: Mapping[str, str]) -> None:
    if header.version != MESSAGE_FORMAT_VERSION:
        raise DecryptionFailed("legacy_format")
    if header.suite != suite:
        raise DecryptionFailed("unexpected_suite")
    stored = dict(header.stored_context)
    if suite in SIGNING_SUITES:
        # The SDK's own entry; the SDK verifies the signature with it.
        stored.pop(SDK_PUBLIC_KEY_CONTEXT_KEY, None)
    if stored != dict(context):
        raise DecryptionFailed("context_mismatch")
