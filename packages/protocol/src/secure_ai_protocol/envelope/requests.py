"""Request envelopes: opened by the gateway, sealed by clients.

A request envelope is one Encryption SDK message whose plaintext is the JSON document
`{"resp_key": <base64 of 32 bytes>, "request": {...}}` (parsed by the caller, not here), in one
of two modes chosen by who the client is:

- server: a strict AWS KMS keyring on the symmetric request key, suite
  AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 (the SDK default, signed);
- mobile: an AWS KMS RSA keyring (RSAES_OAEP_SHA_256) on the RSA request key, suite
  AES_256_GCM_HKDF_SHA512_COMMIT_KEY; the client needs only the public key.

Both bind `client_id` and `req_id` (the request signature's nonce) as required encryption context,
not stored in the message: the gateway supplies them from the authorizer, so an envelope lifted
into another client's or another request's call does not decrypt. The stored context is exactly
`{"purpose": "request", "route": <route>, "version": "1"}`. See docs/encryption.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from secure_ai_protocol.envelope import encryption_sdk, rules
from secure_ai_protocol.envelope.kms import PublicKey, kms_failures_as_unavailable, public_key_pem
from secure_ai_protocol.envelope.rules import EnvelopeMode

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient


@dataclass(frozen=True, slots=True)
class OpenedRequest:
    """A request envelope that decrypted under every rule, and the mode it was sealed in."""

    plaintext: bytes
    mode: EnvelopeMode

    def __repr__(self) -> str:
        # Keep the plaintext out of logs and tracebacks that print this object.
        return f"OpenedRequest(mode={self.mode!r}, plaintext=<{len(self.plaintext)} bytes>)"


class RequestEnvelopes:
    """Opens request envelopes in either mode for one pair of KMS keys (the gateway's side)."""

    def __init__(
        self,
        symmetric_key_arn: str,
        rsa_key_arn: str,
        kms_client: KMSClient,
        *,
        max_ciphertext_bytes: int = rules.DEFAULT_MAX_CIPHERTEXT_BYTES,
        max_plaintext_bytes: int = rules.DEFAULT_MAX_PLAINTEXT_BYTES,
    ) -> None:
        self._key_arns: dict[EnvelopeMode, str] = {"server": symmetric_key_arn, "mobile": rsa_key_arn}
        self._kms = kms_client
        self._max_ciphertext_bytes = max_ciphertext_bytes
        self._max_plaintext_bytes = max_plaintext_bytes
        self._public_key: PublicKey | None = None

    def open(self, ciphertext: bytes, *, client_id: str, req_id: str, route: str) -> OpenedRequest:
        """Decrypt the request envelope `client_id` sent as request `req_id` to `route`.

        Raises PayloadTooLarge (413) over the ciphertext cap, before any work; DecryptionFailed (one
        generic 400) for anything else wrong with the envelope, the plaintext cap included;
        DependencyUnavailable (503) when KMS fails.
        """
        rules.check_ciphertext_size(ciphertext, self._max_ciphertext_bytes)
        reproduced = rules.required_context(client_id=client_id, req_id=req_id)
        claimed = encryption_sdk.read_header(ciphertext)
        mode = rules.mode_of(claimed)
        key_arn = self._key_arns[mode]
        # Judged before any KMS call: junk costs no KMS request, and a foreign `purpose` cannot
        # reach KMS (where the IAM condition on purpose=request would answer AccessDenied,
        # which must stay a sign of our own misconfiguration).
        rules.check_request_header(claimed, mode=mode, key_arn=key_arn, route=route)
        with kms_failures_as_unavailable():
            decrypted = encryption_sdk.strict_decrypt(
                ciphertext,
                self._keyring(mode, key_arn),
                reproduced_context=reproduced,
                required_keys=rules.REQUIRED_CONTEXT_KEYS,
                allow_signed=mode == "server",
                max_plaintext_bytes=self._max_plaintext_bytes,
            )
        # Again on the header the SDK authenticated: suite, key and stored context, exactly.
        rules.check_request_header(decrypted.header, mode=mode, key_arn=key_arn, route=route)
        return OpenedRequest(plaintext=decrypted.plaintext, mode=mode)

    def public_key(self) -> PublicKey:
        """The RSA request key's public half for `GET /v1/keys/public`, fetched once."""
        if self._public_key is None:
            self._public_key = public_key_pem(self._key_arns["mobile"], self._kms)
        return self._public_key

    def _keyring(self, mode: EnvelopeMode, key_arn: str) -> encryption_sdk.Keyring:
        if mode == "server":
            return encryption_sdk.kms_keyring(key_arn, self._kms)
        return encryption_sdk.kms_rsa_keyring(key_arn, self._kms)


def seal_request_server(
    plaintext: bytes,
    *,
    kms_key_arn: str,
    client_id: str,
    req_id: str,
    route: str,
    kms_client: KMSClient,
) -> bytes:
    """Seal a request as a server client: the symmetric request key through KMS, signed suite.

    Raises DependencyUnavailable when KMS fails, ConfigurationError for a malformed key ARN.
    """
    with kms_failures_as_unavailable():
        return encryption_sdk.encrypt(
            plaintext,
            encryption_sdk.kms_keyring(kms_key_arn, kms_client),
            context=_sealing_context(client_id=client_id, req_id=req_id, route=route),
            required_keys=rules.REQUIRED_CONTEXT_KEYS,
            suite=rules.SUITE_BY_MODE["server"],
        )


def seal_request_mobile(
    plaintext: bytes,
    *,
    rsa_public_key_pem: str | bytes,
    rsa_key_arn: str,
    client_id: str,
    req_id: str,
    route: str,
) -> bytes:
    """Seal a request as a mobile/web client: the pinned RSA public key only, no AWS call or credentials.

    Raises ConfigurationError for a malformed public key or key ARN.
    """
    pem = rsa_public_key_pem.encode("ascii") if isinstance(rsa_public_key_pem, str) else rsa_public_key_pem
    return encryption_sdk.encrypt(
        plaintext,
        encryption_sdk.kms_rsa_public_keyring(rsa_key_arn, pem),
        context=_sealing_context(client_id=client_id, req_id=req_id, route=route),
        required_keys=rules.REQUIRED_CONTEXT_KEYS,
        suite=rules.SUITE_BY_MODE["mobile"],
    )


def _sealing_context(*, client_id: str, req_id: str, route: str) -> dict[str, str]:
    # The whole context on encrypt; the required-context CMM keeps client_id and req_id out of the message.
    required = rules.required_context(client_id=client_id, req_id=req_id)
    return {**required, **rules.request_context(route=route)}
