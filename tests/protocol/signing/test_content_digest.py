"""RFC 9530 Content-Digest under the profile: the RFC's sample values, and everything refused."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from secure_ai_protocol.errors import SignatureRejected
from secure_ai_protocol.signing.content_digest import (
    body_matches_digest,
    compute_content_digest,
    parse_content_digest,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "rfc9530_content_digest.json").read_text(encoding="utf-8")
)
CASES: list[dict[str, Any]] = VECTORS["cases"]
DEPRECATED: dict[str, str] = VECTORS["deprecated_algorithms_must_not_be_accepted_for_security"]

HELLO = b'{"hello": "world"}'
HELLO_SHA256 = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"


def _header_value(case: dict[str, Any]) -> str:
    header: str = case["header"]
    return header.removeprefix("Content-Digest: ")


def _reason(value: str) -> str:
    with pytest.raises(SignatureRejected) as caught:
        parse_content_digest(value)
    return caught.value.reason


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case['algorithm']}-{len(case['content'])}")
def test_computed_digest_reproduces_the_rfc_sample_byte_for_byte(case: dict[str, Any]) -> None:
    # Given a sample body and algorithm from RFC 9530
    body = case["content"].encode("utf-8")

    # When its digest is computed
    value = compute_content_digest(body, case["algorithm"])

    # Then it is exactly the RFC's header value
    assert value == _header_value(case)


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case['algorithm']}-{len(case['content'])}")
def test_rfc_sample_parses_to_its_algorithm_and_hash(case: dict[str, Any]) -> None:
    # Given an RFC 9530 sample header value
    value = _header_value(case)

    # When it is parsed
    algorithm, digest = parse_content_digest(value)

    # Then the algorithm and raw hash come back
    assert algorithm == case["algorithm"]
    assert digest == hashlib.new(algorithm.replace("-", ""), case["content"].encode("utf-8")).digest()


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case['algorithm']}-{len(case['content'])}")
def test_body_matches_its_own_rfc_digest(case: dict[str, Any]) -> None:
    assert body_matches_digest(case["content"].encode("utf-8"), _header_value(case))


def test_a_different_body_does_not_match_the_digest() -> None:
    assert not body_matches_digest(HELLO + b"\n", HELLO_SHA256)


def test_the_empty_body_has_the_rfc_empty_digest() -> None:
    assert compute_content_digest(b"") == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"


def test_sha_256_is_the_default_algorithm() -> None:
    assert compute_content_digest(HELLO) == HELLO_SHA256


@pytest.mark.parametrize("algorithm", ["md5", "sha", "sha-384", "crc32c"])
def test_computing_with_an_algorithm_outside_the_profile_is_a_programming_error(algorithm: str) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        compute_content_digest(HELLO, algorithm)


@pytest.mark.parametrize(("algorithm", "encoded"), sorted(DEPRECATED.items()))
def test_deprecated_rfc_algorithms_are_refused(algorithm: str, encoded: str) -> None:
    # Given a digest with an algorithm RFC 9530 marks insecure (md5, sha, crc32c, unixsum, ...)
    value = f"{algorithm}={encoded}"

    # Then it is refused for its algorithm
    assert _reason(value) == "digest_algorithm"


@pytest.mark.parametrize("algorithm", ["sha-384", "sha3-256", "blake2b", "x"])
def test_unknown_algorithms_are_refused(algorithm: str) -> None:
    assert _reason(f"{algorithm}=:{base64.b64encode(bytes(32)).decode()}:") == "digest_algorithm"


def test_two_digest_members_are_refused_even_when_both_are_correct() -> None:
    both = f"{HELLO_SHA256}, {compute_content_digest(HELLO, 'sha-512')}"
    assert _reason(both) == "digest_members"


def test_the_same_algorithm_twice_is_refused() -> None:
    # http_sfv would keep only the last of duplicate keys; the profile refuses the field instead.
    assert _reason(f"{HELLO_SHA256}, {HELLO_SHA256}") == "digest_not_canonical"


def test_a_digest_in_non_canonical_base64_is_refused() -> None:
    # Given the same 32 bytes spelt with non-zero padding bits in the last base64 character
    non_canonical = HELLO_SHA256.replace("BPE=", "BPF=")
    assert base64.b64decode(non_canonical[9:-1]) == base64.b64decode(HELLO_SHA256[9:-1])

    # Then the spelling is refused
    assert _reason(non_canonical) == "digest_not_canonical"


@pytest.mark.parametrize(
    "value",
    [
        'sha-256="X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="',
        "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE",
        "sha-256=1",
        "sha-256",
        "sha-256=(:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:)",
    ],
    ids=["string", "token", "integer", "boolean", "inner-list"],
)
def test_a_member_that_is_not_a_byte_sequence_is_refused(value: str) -> None:
    assert _reason(value) == "digest_value"


@pytest.mark.parametrize(
    "value",
    [
        f"sha-256=:{base64.b64encode(bytes(31)).decode()}:",
        f"sha-256=:{base64.b64encode(bytes(64)).decode()}:",
        f"sha-512=:{base64.b64encode(bytes(32)).decode()}:",
        "sha-256=::",
    ],
    ids=["short", "sha-512-length-under-sha-256", "sha-256-length-under-sha-512", "empty"],
)
def test_a_digest_of_the_wrong_length_is_refused(value: str) -> None:
    assert _reason(value) == "digest_value"


def test_a_digest_with_parameters_is_refused() -> None:
    assert _reason(f"{HELLO_SHA256};foo=1") == "digest_value"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
        "SHA-256=:AAAA:",
        "=:AAAA:",
        "sha-256=:A:",
        ",",
    ],
    ids=["empty", "unterminated", "upper-case-key", "no-key", "bad-base64", "comma"],
)
def test_malformed_structured_fields_are_refused(value: str) -> None:
    assert _reason(value) == "digest_malformed"


@pytest.mark.parametrize("value", [HELLO_SHA256 + "\r\nX-Evil: 1", HELLO_SHA256 + "\t", "sha-256=:é:"])
def test_control_and_non_ascii_characters_are_refused(value: str) -> None:
    assert _reason(value) == "header_characters"


def test_a_10_kb_digest_header_is_refused_before_parsing() -> None:
    assert _reason(f"sha-256=:{'A' * 10240}:") == "header_too_large"


def test_checking_a_body_against_a_refused_digest_raises_instead_of_answering_false() -> None:
    with pytest.raises(SignatureRejected) as caught:
        body_matches_digest(b"", "md5=:1B2M2Y8AsgTpgAmY7PhCfg==:")
    assert caught.value.reason == "digest_algorithm"
