"""RFC 9530 `Content-Digest`, restricted to what the signing profile accepts.

Only `sha-256` and `sha-512` are accepted, exactly one member, in canonical RFC 8941 form.
RFC 9530 lists md5, sha, crc32c, unixsum, unixcksum and adler as deprecated or insecure: a digest
the signature covers is only as strong as its hash, so they are refused here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from http_sfv.dictionary import Dictionary
from http_sfv.item import Item

from secure_ai_protocol.errors import SignatureRejected

# A header longer than this is refused before any parsing: parsers are not a place to spend
# attacker-controlled CPU, and no field of the profile comes near it.
MAX_FIELD_LENGTH = 4096

# The only algorithms the profile accepts: RFC 9530 name -> hashlib name.
DIGEST_ALGORITHMS: dict[str, str] = {"sha-256": "sha256", "sha-512": "sha512"}

_VISIBLE_ASCII = frozenset(chr(code) for code in range(0x20, 0x7F))


def is_visible_ascii(text: str) -> bool:
    """True when `text` holds only printable ASCII and spaces: no controls, CR/LF, tabs or non-ASCII."""
    return _VISIBLE_ASCII.issuperset(text)


def parse_strict_dictionary(value: str, *, malformed: str, not_canonical: str) -> Dictionary:
    """Parse an RFC 8941 Dictionary field, accepting only its canonical serialisation.

    http_sfv keeps the last of duplicate keys and parameters and tolerates extra whitespace;
    requiring the received text to equal the re-serialised value refuses all of those at once,
    so the field a verifier reasons about is exactly the field the client sent.
    Raises `SignatureRejected` with `header_too_large`, `header_characters`, `malformed` or `not_canonical`.
    """
    if len(value) > MAX_FIELD_LENGTH:
        raise SignatureRejected("header_too_large")
    if not is_visible_ascii(value):
        raise SignatureRejected("header_characters")
    text = value.strip(" ")
    parsed = Dictionary()
    try:
        parsed.parse(text.encode("ascii"))
        canonical = str(parsed)
    except ValueError:
        # `from None`: parser messages quote fragments of the input, which may be a signature.
        raise SignatureRejected(malformed) from None
    if canonical != text:
        raise SignatureRejected(not_canonical)
    return parsed


def compute_content_digest(body: bytes, algorithm: str = "sha-256") -> str:
    """The `Content-Digest` header value for `body`, e.g. `sha-256=:...:`."""
    if algorithm not in DIGEST_ALGORITHMS:
        raise ValueError(f"unsupported digest algorithm {algorithm!r}")
    digest = hashlib.new(DIGEST_ALGORITHMS[algorithm], body).digest()
    return f"{algorithm}=:{base64.b64encode(digest).decode('ascii')}:"


def parse_content_digest(value: str) -> tuple[str, bytes]:
    """Strictly parse a `Content-Digest` value into (algorithm, digest bytes).

    Raises `SignatureRejected`: `digest_malformed`, `digest_not_canonical`, `digest_members`,
    `digest_algorithm` or `digest_value` (plus the size and character reasons of
    `parse_strict_dictionary`).
    """
    parsed = parse_strict_dictionary(
        value, malformed="digest_malformed", not_canonical="digest_not_canonical"
    )
    if len(parsed) != 1:
        raise SignatureRejected("digest_members")
    ((algorithm, member),) = parsed.items()
    hash_name = DIGEST_ALGORITHMS.get(algorithm)
    if hash_name is None:
        raise SignatureRejected("digest_algorithm")
    if (
        not isinstance(member, Item)
        or type(member.value) is not bytes
        or member.params
        or len(member.value) != hashlib.new(hash_name).digest_size
    ):
        raise SignatureRejected("digest_value")
    return algorithm, member.value


def body_matches_digest(body: bytes, value: str) -> bool:
    """True when `body` hashes to the digest in `value`, compared in constant time.

    A malformed or non-profile `value` raises `SignatureRejected` rather than returning False,
    so a caller cannot mistake "unverifiable" for "different body".
    """
    algorithm, expected = parse_content_digest(value)
    actual = hashlib.new(DIGEST_ALGORITHMS[algorithm], body).digest()
    return hmac.compare_digest(actual, expected)
