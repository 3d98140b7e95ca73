"""The body a function may parse: size-capped, decoded, and equal to what the signature covered.

API Gateway REST authorizers never see the body, so the authorizer verified the signature over the
Content-Digest *value*. Before parsing anything, every function behind it re-hashes the raw body and
compares, in constant time, with that verified value (RFC 9421 §7.2.8).
"""

from __future__ import annotations

import base64
import binascii

from secure_ai_protocol.errors import BadRequest, PayloadTooLarge, SignatureRejected
from secure_ai_protocol.signing.content_digest import body_matches_digest


def verified_body(
    body: str | None, *, is_base64_encoded: bool, verified_digest: str, max_bytes: int
) -> bytes:
    """The raw body bytes, after the size cap and the digest check; raise before any parsing."""
    text = body or ""
    # Cap on the encoded size first, so an oversized body costs no decoding.
    encoded_cap = (max_bytes + 2) // 3 * 4 if is_base64_encoded else max_bytes * 4
    if len(text) > encoded_cap:
        raise PayloadTooLarge("body_too_large")
    if is_base64_encoded:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("body_not_base64") from None
    else:
        raw = text.encode("utf-8", errors="surrogatepass")
    if len(raw) > max_bytes:
        raise PayloadTooLarge("body_too_large")
    if not verified_digest or not body_matches_digest(raw, verified_digest):
        raise SignatureRejected("body_digest_mismatch")
    return raw
