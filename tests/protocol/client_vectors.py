"""Cross-language client vectors: fixed inputs, and the exact bytes a conforming client produces.

`tools/make-client-vectors` writes `build_vectors()` to docs/vectors/client-vectors.json; the
TypeScript client (clients/typescript) rebuilds every value from the inputs, and
tests/protocol/test_client_vectors.py checks each one against the gateway's own code.

The AWS Encryption SDK draws the message id, data key and wrapping IV at random, and RSA-OAEP draws
its seed at random, so the messages are built here from `cryptography` primitives with those values
fixed, following the ESDK message-format specification (format 2, suite 0x0478, framed body). The
RSA-OAEP encoding is written out (RFC 8017 §7.1.1) so that its seed can be fixed too; the test
decrypts it with the private key like any OAEP ciphertext. Nothing here is used by the gateway.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Mapping, Sequence
from typing import Any, Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from secure_ai_protocol.signing.canonical_query import canonical_query
from secure_ai_protocol.signing.content_digest import compute_content_digest
from secure_ai_protocol.signing.profile import PROFILE_TAG, SignedRequest, sign_request

# ----------------------------------------------------------------------------- the fixed inputs
# A throwaway RSA-2048 key made for these vectors (the deployed key is RSA_3072): never a real key.
RSA_PRIVATE_KEY_PEM: Final = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDbjDiMAXX0qoU7\n"
    "U5SK57XCAWHxamBJ6PIuSNw0wYR83EJHdc8vP1lKqORxHOHRqayDpSFkefos9lLR\n"
    "XQYDLYl1VRiwLAg9YA9q1iynLw5cXgXhkVRHHbJRmsaOLGFc8HxBUywo9JYT574k\n"
    "nq/p4YN0mEPQoZU5KyzzLb15q1AcAfh0iutNfAnZEomy5bNiN72TFfrU6SnjDgtz\n"
    "8IreUv5vfjzR14o7D5IS4B5hhXChS+RiWlicxXbrwMXfxY+BbYP1/+twTIZe5gKz\n"
    "evBM68hFDraxD4ThGrs+58pwgnMIYkG+NGBavz3IGjmLc8NBTowA5bnBEL26xwp2\n"
    "MM2Ayr6rAgMBAAECggEAEYYUsWAgeSHvNngKYDf0cwLHPYy/GMcmJXmdUfysRYcT\n"
    "Jz8JBX1p9CKc8UZb4+9GHM/eZXWy+UnD/IAPTcuhsCLVsKIjGjsDoARuVf3UiJzc\n"
    "nU+LSY3eQNM4y/pQ3yk20cQAv1geboJN1AByjBl686B/sTRkg8aldNeOyxpYb5O2\n"
    "0SbxDpvGmrHFa+K2AR0Ok07fO6lYlNk8d/WJH/ycAFTmDeD9+xPVj06+LxgBi6Lz\n"
    "R6KwZqdH5yYMJPV1WnsMWql7CAw3qh6rBSDkE7Lxx66fhyKupLkm7ijZYFxf19HS\n"
    "ULBDQ6p6SkrVDaG/OfHHnJs+8p+1E8REtgFlsbXdQQKBgQD12tCdlT3z/3Gvw3k2\n"
    "OhuMDj2kh+KQZvbQOKLWZUwpItyGMYiLFdZXIDnC7FlgsJYBvqE8UGizxBlhiKqU\n"
    "z8VstPbzRwAyNmb6caGaBmE0p1QjHbTB9Q2bJFgyqVhM2/aB3kWj4lUZScH3kQOT\n"
    "H7obEHY4X4N+OlZQSatb1Zhb4QKBgQDkm4BZfLEhbPcgCGBO94K8Y9aZBxBHD9i4\n"
    "gYfjrGBw7aVda9f73PMeT8QWjz9QHefns1YOYgJLuQFT2PXFNOQyL0c8HJxbraSc\n"
    "TsXydcQ0Dnbutjze2K5yAy3JV8qou7sStBqWf0dZW+K8/P4qw1KwWGOWCineFwI/\n"
    "ngFr1vhMCwKBgQCVtd17WDoVruOnyDyzjMbhjnpzClwo2spJGXPvYlfyZMws21Tu\n"
    "fSm8fF8wF4SFoIJ4JYFBnSVk8nESN4rIe40ZGUmX8xBng0FKGI/znxbqXUqa56f+\n"
    "xB647nTWxNCEXR3LD3MQzO5NK+D1xFSM7rEBchDLWz5TS2rsETBMB9FzgQKBgEGv\n"
    "yMZtxLu1AqEqpvmptuAI0+2ukOfKTtxdI72wlxl7v2tDhJDzIMxR4ScWS/vqS+tQ\n"
    "pWaGlOBLLW15Rs0+cF9XJGHKWscg8s6S99++JP1MNrJKnNzvZ9iMv0g+OJYZMxyh\n"
    "sY4Szl6Hv3PMQf/plcXj7+F51CPjeprq/L+OylOXAoGBAOSjAnuf+Qcu+KSskz+E\n"
    "u3VUjr/ryNqrqTTxhkpuBckgNwvXxoLGJCODLYnnQsZnH/mDZa3EZ7DNKjvqVkI/\n"
    "ryIIMCPrwEA0JpkDy0EdKuksDJYmyJOE3uP82znQZx1Aiaji86gv4JnKfNZ+QaSa\n"
    "Zz+XN0eRM0jJxHiFXlvgYCKe\n"
    "-----END PRIVATE KEY-----\n"
)
# moto's default account and region, so that the gateway test can open the message in moto.
RSA_KEY_ARN: Final = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0"
CLIENT_ID: Final = "dev-abcdefghijklmnopqrstuvwxyz"
KEY_ID: Final = f"{CLIENT_ID}.1"
SIGNING_SECRET: Final = bytes(range(0x20, 0x40))
NONCE: Final = "Y2xpZW50LXZlY3RvcnMtMDE"  # the request's req_id as well
CREATED: Final = 1767225600
EXPIRES: Final = CREATED + 120
METHOD: Final = "POST"
BASE_URL: Final = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
ROUTE: Final = "/v1/chat/completions"
ENVELOPE_CONTENT_TYPE: Final = "application/vnd.secure-ai.envelope"
LABEL: Final = "sig"

REQUEST_DATA_KEY: Final = bytes(range(0x40, 0x60))
REQUEST_MESSAGE_ID: Final = bytes(range(0x60, 0x80))
OAEP_SEED: Final = bytes(range(0x80, 0xA0))
RESP_KEY: Final = bytes(range(0xA0, 0xC0))
RESPONSE_DATA_KEY: Final = bytes(range(0xC0, 0xE0))
RESPONSE_MESSAGE_ID: Final = bytes(range(0xE0, 0x100))
RESPONSE_WRAPPING_IV: Final = bytes(range(0x10, 0x1C))
FRAME_LENGTH: Final = 4096

# Long enough for two frames (one full, one final), with non-ASCII text.
PROMPT: Final = "Summarise this for José: " + "the quick brown fox jumps over the lazy dog. " * 100
REQUEST_DOCUMENT: Final = {
    "resp_key": base64.b64encode(RESP_KEY).decode("ascii"),
    "request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 200},
}
RESPONSE_DOCUMENT: Final = {
    "req_id": NONCE,
    "completion": {
        "id": "chatcmpl-vector",
        "object": "chat.completion",
        "created": CREATED,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Write to [EMAIL]."},
                "finish_reason": "stop",
            }
        ],
    },
    "verdict": {
        "decision": "redact",
        "findings": [
            {
                "type": "email",
                "detector": "regex",
                "span": [9, 29],
                "confidence": 1.0,
                "sample": "j…[redacted]",
                "action": "redact",
            }
        ],
        "findings_total": 1,
        "policy_id": "default",
        "policy_version": 1,
    },
    "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
}
CANONICAL_QUERY_PAIRS: Final = [
    ("model", "gpt-4o mini"),
    ("b", "2"),
    ("a", "z"),
    ("a", "1"),
    ("name", "José & Ana"),
]

# ----------------------------------------------------------------------------- the ESDK message format
SUITE_ID: Final = 0x0478  # AES_256_GCM_HKDF_SHA512_COMMIT_KEY
MESSAGE_FORMAT: Final = 2
FRAMED: Final = 2
FINAL_FRAME_MARKER: Final = 0xFFFFFFFF
FRAME_AAD: Final = b"AWSKMSEncryptionClient Frame"
FINAL_FRAME_AAD: Final = b"AWSKMSEncryptionClient Final Frame"
GCM_IV_BYTES: Final = 12


def canonical_context(context: Mapping[str, str]) -> bytes:
    """The ESDK's serialised encryption context: count, then (key, value) sorted by key bytes."""
    if not context:
        return b""
    pairs = sorted((key.encode("utf-8"), value.encode("utf-8")) for key, value in context.items())
    out = struct.pack(">H", len(pairs))
    for key, value in pairs:
        out += struct.pack(">H", len(key)) + key + struct.pack(">H", len(value)) + value
    return out


def _hkdf_sha512(data_key: bytes, *, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA512(), length=32, salt=salt, info=info).derive(data_key)


def derived_key(data_key: bytes, message_id: bytes) -> bytes:
    """The message's content key: HKDF-SHA512(salt=message id, info=suite id || "DERIVEKEY")."""
    return _hkdf_sha512(data_key, salt=message_id, info=struct.pack(">H", SUITE_ID) + b"DERIVEKEY")


def commitment_key(data_key: bytes, message_id: bytes) -> bytes:
    """The key commitment stored in the header: HKDF-SHA512(salt=message id, info="COMMITKEY")."""
    return _hkdf_sha512(data_key, salt=message_id, info=b"COMMITKEY")


def _short(data: bytes) -> bytes:
    return struct.pack(">H", len(data)) + data


def header_body(
    *,
    message_id: bytes,
    stored_context: Mapping[str, str],
    data_key_entry: tuple[bytes, bytes, bytes],
    commitment: bytes,
    frame_length: int = FRAME_LENGTH,
) -> bytes:
    """Message format 2 header body: everything the header authentication tag covers."""
    provider_id, provider_info, wrapped = data_key_entry
    return (
        struct.pack(">BH", MESSAGE_FORMAT, SUITE_ID)
        + message_id
        + _short(canonical_context(stored_context))
        + struct.pack(">H", 1)
        + _short(provider_id)
        + _short(provider_info)
        + _short(wrapped)
        + struct.pack(">BI", FRAMED, frame_length)
        + commitment
    )


def header_tag(key: bytes, body: bytes, required_context: Mapping[str, str]) -> bytes:
    """AES-GCM over nothing, IV all zeros, AAD = header body || serialised required context."""
    return AESGCM(key).encrypt(bytes(GCM_IV_BYTES), b"", body + canonical_context(required_context))


def framed_body(key: bytes, message_id: bytes, plaintext: bytes, frame_length: int = FRAME_LENGTH) -> bytes:
    """Regular frames while more than a frame is left, then a final frame (< frame length, maybe empty)."""
    out = b""
    sequence = 1
    offset = 0
    while len(plaintext) - offset >= frame_length:
        chunk = plaintext[offset : offset + frame_length]
        iv = _frame_iv(sequence)
        aad = message_id + FRAME_AAD + struct.pack(">IQ", sequence, len(chunk))
        out += struct.pack(">I", sequence) + iv + AESGCM(key).encrypt(iv, chunk, aad)
        sequence += 1
        offset += frame_length
    chunk = plaintext[offset:]
    iv = _frame_iv(sequence)
    aad = message_id + FINAL_FRAME_AAD + struct.pack(">IQ", sequence, len(chunk))
    sealed = AESGCM(key).encrypt(iv, chunk, aad)
    return (
        out + struct.pack(">II", FINAL_FRAME_MARKER, sequence) + iv + struct.pack(">I", len(chunk)) + sealed
    )


def _frame_iv(sequence: int) -> bytes:
    return bytes(GCM_IV_BYTES - 4) + struct.pack(">I", sequence)


def oaep_sha256_encrypt(public_key: rsa.RSAPublicKey, message: bytes, seed: bytes) -> bytes:
    """RSAES-OAEP-ENCRYPT (RFC 8017 §7.1.1), SHA-256 and MGF1-SHA-256, empty label, with a given seed."""
    numbers = public_key.public_numbers()
    k = (numbers.n.bit_length() + 7) // 8
    h_len = 32
    if len(seed) != h_len or len(message) > k - 2 * h_len - 2:
        raise ValueError("seed or message length")
    data_block = hashlib.sha256(b"").digest() + bytes(k - len(message) - 2 * h_len - 2) + b"\x01" + message
    masked_db = _xor(data_block, _mgf1(seed, k - h_len - 1))
    masked_seed = _xor(seed, _mgf1(masked_db, h_len))
    encoded = int.from_bytes(b"\x00" + masked_seed + masked_db, "big")
    return pow(encoded, numbers.e, numbers.n).to_bytes(k, "big")


def _mgf1(seed: bytes, length: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(seed + struct.pack(">I", counter)).digest()
        counter += 1
    return out[:length]


def _xor(first: bytes, second: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(first, second, strict=True))


# ----------------------------------------------------------------------------- the vectors


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64url_int(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _json_bytes(document: Any) -> bytes:
    # What the Python SDK sends: compact separators, non-ASCII as \\u escapes.
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode("utf-8")


def private_key() -> rsa.RSAPrivateKey:
    """The vectors' RSA key pair."""
    key = serialization.load_pem_private_key(RSA_PRIVATE_KEY_PEM.encode("ascii"), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _rsa_section() -> dict[str, Any]:
    key = private_key()
    numbers = key.private_numbers()
    public = numbers.public_numbers
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_jwk = {"kty": "RSA", "n": _b64url_int(public.n), "e": _b64url_int(public.e)}
    private_jwk = {
        **public_jwk,
        "d": _b64url_int(numbers.d),
        "p": _b64url_int(numbers.p),
        "q": _b64url_int(numbers.q),
        "dp": _b64url_int(numbers.dmp1),
        "dq": _b64url_int(numbers.dmq1),
        "qi": _b64url_int(numbers.iqmp),
    }
    return {
        "key_arn": RSA_KEY_ARN,
        "key_spec": "RSA_2048",
        "public_key_pem": public_pem.decode("ascii"),
        "private_key_pem": RSA_PRIVATE_KEY_PEM,
        "public_jwk": public_jwk,
        "private_jwk": private_jwk,
    }


def request_envelope_section() -> dict[str, Any]:
    """The mobile-mode request message and every intermediate value."""
    plaintext = _json_bytes(REQUEST_DOCUMENT)
    required = {"client_id": CLIENT_ID, "req_id": NONCE}
    stored = {"purpose": "request", "route": ROUTE, "version": "1"}
    full = {**required, **stored}
    digest = hashlib.sha384(canonical_context(full)).digest()
    edk_plaintext = digest + REQUEST_DATA_KEY
    wrapped = oaep_sha256_encrypt(private_key().public_key(), edk_plaintext, OAEP_SEED)
    key = derived_key(REQUEST_DATA_KEY, REQUEST_MESSAGE_ID)
    commitment = commitment_key(REQUEST_DATA_KEY, REQUEST_MESSAGE_ID)
    body = header_body(
        message_id=REQUEST_MESSAGE_ID,
        stored_context=stored,
        data_key_entry=(b"aws-kms-rsa", RSA_KEY_ARN.encode("utf-8"), wrapped),
        commitment=commitment,
    )
    tag = header_tag(key, body, required)
    message = body + tag + framed_body(key, REQUEST_MESSAGE_ID, plaintext)
    return {
        "inputs": {
            "client_id": CLIENT_ID,
            "req_id": NONCE,
            "route": ROUTE,
            "key_arn": RSA_KEY_ARN,
            "plaintext_b64": _b64(plaintext),
            "data_key_hex": REQUEST_DATA_KEY.hex(),
            "message_id_hex": REQUEST_MESSAGE_ID.hex(),
            "oaep_seed_hex": OAEP_SEED.hex(),
            "frame_length": FRAME_LENGTH,
        },
        "expected": {
            "full_context_hex": canonical_context(full).hex(),
            "stored_context_hex": canonical_context(stored).hex(),
            "required_context_hex": canonical_context(required).hex(),
            "context_sha384_hex": digest.hex(),
            "edk_plaintext_hex": edk_plaintext.hex(),
            "edk_ciphertext_hex": wrapped.hex(),
            "derived_key_hex": key.hex(),
            "commitment_key_hex": commitment.hex(),
            "header_body_hex": body.hex(),
            "header_auth_tag_hex": tag.hex(),
            "frame_count": len(plaintext) // FRAME_LENGTH + 1,
            "message_b64": _b64(message),
        },
    }


def response_envelope_section() -> dict[str, Any]:
    """The sealed answer: raw AES keyring under resp_key, stored context {dir, req_id}."""
    payload = _json_bytes(RESPONSE_DOCUMENT)
    stored = {"dir": "response", "req_id": NONCE}
    provider_info = b"response-key" + struct.pack(">II", 128, GCM_IV_BYTES) + RESPONSE_WRAPPING_IV
    wrapped = AESGCM(RESP_KEY).encrypt(RESPONSE_WRAPPING_IV, RESPONSE_DATA_KEY, canonical_context(stored))
    key = derived_key(RESPONSE_DATA_KEY, RESPONSE_MESSAGE_ID)
    commitment = commitment_key(RESPONSE_DATA_KEY, RESPONSE_MESSAGE_ID)
    body = header_body(
        message_id=RESPONSE_MESSAGE_ID,
        stored_context=stored,
        data_key_entry=(b"secure-ai", provider_info, wrapped),
        commitment=commitment,
    )
    tag = header_tag(key, body, {})
    message = body + tag + framed_body(key, RESPONSE_MESSAGE_ID, payload)
    return {
        "inputs": {
            "resp_key_b64": _b64(RESP_KEY),
            "req_id": NONCE,
            "payload_b64": _b64(payload),
            "data_key_hex": RESPONSE_DATA_KEY.hex(),
            "message_id_hex": RESPONSE_MESSAGE_ID.hex(),
            "wrapping_iv_hex": RESPONSE_WRAPPING_IV.hex(),
            "frame_length": FRAME_LENGTH,
        },
        "expected": {
            "stored_context_hex": canonical_context(stored).hex(),
            "provider_info_hex": provider_info.hex(),
            "edk_ciphertext_hex": wrapped.hex(),
            "derived_key_hex": key.hex(),
            "commitment_key_hex": commitment.hex(),
            "header_body_hex": body.hex(),
            "header_auth_tag_hex": tag.hex(),
            "message_b64": _b64(message),
            "text": RESPONSE_DOCUMENT["completion"]["choices"][0]["message"]["content"],  # type: ignore[index]
            "decision": "redact",
        },
    }


def signing_section(body: bytes) -> dict[str, Any]:
    """The signature of the request carrying `body` (the request message) to the chat route."""
    content_digest = compute_content_digest(body)
    host = BASE_URL.split("/")[2]
    path = "/" + BASE_URL.split("/", 3)[3] + ROUTE
    request = SignedRequest(
        method=METHOD,
        authority=host,
        path=path,
        query="",
        content_type=ENVELOPE_CONTENT_TYPE,
        content_digest=content_digest,
    )
    signature_input, signature = sign_request(
        request,
        secret=SIGNING_SECRET,
        key_id=KEY_ID,
        tag=PROFILE_TAG,
        created=CREATED,
        expires=EXPIRES,
        nonce=NONCE,
        label=LABEL,
    )
    params = signature_input[len(LABEL) + 1 :]
    base = "\n".join(
        [
            f'"@method": {METHOD}',
            f'"@authority": {host}',
            f'"@path": {path}',
            '"@query": ?',
            f'"content-type": {ENVELOPE_CONTENT_TYPE}',
            f'"content-digest": {content_digest}',
            f'"@signature-params": {params}',
        ]
    )
    return {
        "inputs": {
            "key_id": KEY_ID,
            "secret_b64": _b64(SIGNING_SECRET),
            "method": METHOD,
            "url": BASE_URL + ROUTE,
            "content_type": ENVELOPE_CONTENT_TYPE,
            "body": "request_envelope.expected.message_b64",
            "created": CREATED,
            "expires": EXPIRES,
            "nonce": NONCE,
            "label": LABEL,
        },
        "expected": {
            "content_digest": content_digest,
            "signature_base": base,
            "signature_input": signature_input,
            "signature": signature,
        },
    }


def _canonical_query_section(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {"pairs": [list(pair) for pair in pairs], "expected": canonical_query(pairs)}


def build_vectors() -> dict[str, Any]:
    """Every vector, in the order the file lists them."""
    request = request_envelope_section()
    message = base64.b64decode(request["expected"]["message_b64"])
    return {
        "description": (
            "Cross-language vectors for secure-ai clients: signing (docs/protocol.md), the mobile request "
            "envelope and the sealed answer (docs/encryption.md). Written by tools/make-client-vectors; "
            "do not edit by hand."
        ),
        "rsa": _rsa_section(),
        "canonical_query": _canonical_query_section(CANONICAL_QUERY_PAIRS),
        "signing": signing_section(message),
        "request_envelope": request,
        "response_envelope": response_envelope_section(),
    }


def render() -> str:
    """The file's exact text."""
    return json.dumps(build_vectors(), indent=2, ensure_ascii=False) + "\n"
