"""The body a function parses is capped first and must hash to the digest the authorizer verified."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secure_ai_gateway.api.body_integrity import verified_body
from secure_ai_protocol.errors import BadRequest, PayloadTooLarge, SignatureRejected
from secure_ai_protocol.signing.content_digest import compute_content_digest

BODY = b'{"text": "hello"}'
DIGEST = compute_content_digest(BODY)


def test_a_text_body_matching_the_verified_digest_is_returned() -> None:
    assert (
        verified_body(BODY.decode(), is_base64_encoded=False, verified_digest=DIGEST, max_bytes=100) == BODY
    )


def test_a_base64_body_is_decoded_before_hashing() -> None:
    encoded = base64.b64encode(BODY).decode()
    assert verified_body(encoded, is_base64_encoded=True, verified_digest=DIGEST, max_bytes=100) == BODY


def test_a_sha512_digest_is_honoured() -> None:
    digest = compute_content_digest(BODY, "sha-512")
    assert (
        verified_body(BODY.decode(), is_base64_encoded=False, verified_digest=digest, max_bytes=100) == BODY
    )


def test_a_body_changed_under_the_old_digest_is_refused() -> None:
    with pytest.raises(SignatureRejected) as refused:
        verified_body('{"text": "hellO"}', is_base64_encoded=False, verified_digest=DIGEST, max_bytes=100)
    assert refused.value.reason == "body_digest_mismatch"


def test_a_missing_verified_digest_is_refused() -> None:
    with pytest.raises(SignatureRejected):
        verified_body(BODY.decode(), is_base64_encoded=False, verified_digest="", max_bytes=100)


def test_an_empty_body_must_match_the_digest_of_nothing() -> None:
    assert (
        verified_body(None, is_base64_encoded=False, verified_digest=compute_content_digest(b""), max_bytes=1)
        == b""
    )
    with pytest.raises(SignatureRejected):
        verified_body(None, is_base64_encoded=False, verified_digest=DIGEST, max_bytes=100)


def test_an_oversized_body_is_refused_before_decoding() -> None:
    with pytest.raises(PayloadTooLarge):
        verified_body("A" * 1000, is_base64_encoded=True, verified_digest=DIGEST, max_bytes=10)


def test_an_oversized_decoded_body_is_refused() -> None:
    raw = b"x" * 11
    with pytest.raises(PayloadTooLarge):
        verified_body(
            base64.b64encode(raw).decode(),
            is_base64_encoded=True,
            verified_digest=compute_content_digest(raw),
            max_bytes=10,
        )


def test_an_oversized_text_body_is_refused() -> None:
    raw = "é" * 6
    with pytest.raises(PayloadTooLarge):
        verified_body(
            raw, is_base64_encoded=False, verified_digest=compute_content_digest(raw.encode()), max_bytes=10
        )


def test_invalid_base64_is_a_bad_request() -> None:
    with pytest.raises(BadRequest) as refused:
        verified_body("not*base64", is_base64_encoded=True, verified_digest=DIGEST, max_bytes=100)
    assert refused.value.reason == "body_not_base64"


@given(st.binary(min_size=1, max_size=64), st.data())
def test_any_single_byte_change_to_the_body_is_refused(body: bytes, data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
    flip = data.draw(st.integers(min_value=1, max_value=255))
    changed = bytearray(body)
    changed[index] ^= flip
    with pytest.raises(SignatureRejected):
        verified_body(
            base64.b64encode(bytes(changed)).decode(),
            is_base64_encoded=True,
            verified_digest=compute_content_digest(body),
            max_bytes=100,
        )
