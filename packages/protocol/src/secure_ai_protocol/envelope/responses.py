"""Response envelopes: sealed by the gateway to the request's `resp_key`, opened by the client.

One Encryption SDK message under a raw AES-256-GCM keyring (namespace "secure-ai", name
"response-key") holding the 32-byte `resp_key` the client sent inside its request envelope,
suite AES_256_GCM_HKDF_SHA512_COMMIT_KEY, stored context `{"dir": "response", "req_id": <req_id>}`.
No KMS call: only whoever opened the request envelope knows the key. The client checks the
context, so a response swapped between two of its concurrent requests is refused.
"""

from __future__ import annotations

from secure_ai_protocol.envelope import encryption_sdk, rules


def seal_response(payload: bytes, *, resp_key: bytes, req_id: str) -> bytes:
    """Encrypt the response `payload` to the client's `resp_key` for request `req_id` (gateway side).

    Raises BadRequest("invalid_resp_key") unless `resp_key` is 32 bytes.
    """
    rules.check_resp_key(resp_key)
    return encryption_sdk.encrypt(
        payload,
        _response_keyring(resp_key),
        context=rules.response_context(req_id=req_id),
        required_keys=(),
        suite=rules.RESPONSE_SUITE,
        frame_length=rules.RESPONSE_FRAME_LENGTH,
    )


def open_response(
    ciphertext: bytes,
    *,
    resp_key: bytes,
    req_id: str,
    max_ciphertext_bytes: int = rules.DEFAULT_MAX_RESPONSE_CIPHERTEXT_BYTES,
) -> bytes:
    """Decrypt the response to request `req_id` with its `resp_key` (client side).

    Raises PayloadTooLarge over `max_ciphertext_bytes`, DecryptionFailed when the envelope is not
    exactly the answer to this request under this key.
    """
    rules.check_ciphertext_size(ciphertext, max_ciphertext_bytes)
    rules.check_resp_key(resp_key)
    rules.check_response_header(encryption_sdk.read_header(ciphertext), req_id=req_id)
    decrypted = encryption_sdk.strict_decrypt(
        ciphertext,
        _response_keyring(resp_key),
        reproduced_context=rules.response_context(req_id=req_id),
        required_keys=(),
        allow_signed=False,
        # The plaintext is never longer than the ciphertext that carried it.
        max_plaintext_bytes=max_ciphertext_bytes,
    )
    rules.check_response_header(decrypted.header, req_id=req_id)
    return decrypted.plaintext


def _response_keyring(resp_key: bytes) -> encryption_sdk.Keyring:
    return encryption_sdk.raw_aes_keyring(
        namespace=rules.RESPONSE_KEY_NAMESPACE,
        name=rules.RESPONSE_KEY_NAME,
        key=resp_key,
    )
