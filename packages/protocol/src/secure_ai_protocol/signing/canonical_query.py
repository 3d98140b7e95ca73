"""Query strings: the profile's canonical query, and the form encoding RFC 9421 re-encodes with.

The canonical query (docs/protocol.md §5) is what the profile's `@query` covers: API Gateway REST
hands the authorizer only decoded parameters, so client and gateway both rebuild one form from the
(name, value) pairs. The form helpers serve the general builder's `@query-param` (RFC 9421 §2.2.8).
"""

from __future__ import annotations

from collections.abc import Iterable

_ALPHANUMERIC = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# RFC 3986 §2.3 unreserved: the only bytes the canonical query leaves unescaped.
_UNRESERVED = frozenset(_ALPHANUMERIC + b"-._~")
# WHATWG URL application/x-www-form-urlencoded serializer: what RFC 9421 §2.2.8 re-encodes with.
_FORM_SAFE = frozenset(_ALPHANUMERIC + b"*-._")
_HEX_DIGITS = frozenset(b"0123456789ABCDEFabcdef")


def _percent_encode(text: str, safe: frozenset[int], *, space_as_plus: bool = False) -> str:
    out: list[str] = []
    for byte in text.encode("utf-8"):
        if byte in safe:
            out.append(chr(byte))
        elif space_as_plus and byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def _percent_decode(text: str, *, strict: bool) -> str:
    # '+' is a space in application/x-www-form-urlencoded, the convention httpx and browsers use.
    data = text.replace("+", " ").encode("utf-8")
    out = bytearray()
    index = 0
    while index < len(data):
        byte = data[index]
        if byte == 0x25:  # '%'
            escape = data[index + 1 : index + 3]
            if len(escape) == 2 and _HEX_DIGITS.issuperset(escape):
                out.append(int(escape, 16))
                index += 3
                continue
            if strict:
                raise ValueError("malformed percent-escape in query")
        out.append(byte)
        index += 1
    return out.decode("utf-8", errors="strict" if strict else "replace")


def _query_pairs(query: str, *, strict: bool) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for segment in query.split("&"):
        if segment:  # WHATWG URL §5.1 skips empty sequences ("a=1&&b=2")
            name, _, value = segment.partition("=")
            pairs.append((_percent_decode(name, strict=strict), _percent_decode(value, strict=strict)))
    return pairs


def parse_query(query: str) -> list[tuple[str, str]]:
    """Decode a raw query string (no leading '?') into (name, value) pairs, in order.

    '+' decodes to a space and %XX to its byte; the bytes must be UTF-8. A '%' not followed by
    two hex digits, or invalid UTF-8, raises `ValueError`.
    """
    return _query_pairs(query, strict=True)


def parse_form_query(query: str) -> list[tuple[str, str]]:
    """Decode a raw query string as the WHATWG form parser does, for RFC 9421 §2.2.8.

    Like `parse_query`, but a malformed escape stays literal and invalid UTF-8 becomes U+FFFD.
    """
    return _query_pairs(query, strict=False)


def form_encode(text: str) -> str:
    """Encode one name or value with the WHATWG application/x-www-form-urlencoded serializer."""
    return _percent_encode(text, _FORM_SAFE, space_as_plus=True)


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """The profile's canonical query: what `@query` covers (after its leading '?').

    Each name and value is UTF-8 encoded and percent-encoded per RFC 3986 (unreserved
    A-Z a-z 0-9 - . _ ~ literal, every other byte %XX with upper-case hex); pairs are sorted by
    encoded name, then encoded value (byte order), and joined as `name=value` with '&'.
    No pairs gives ''. API Gateway REST hands the authorizer only decoded parameters, so this
    is the one form both sides can rebuild.
    """
    encoded = sorted(
        (_percent_encode(name, _UNRESERVED), _percent_encode(value, _UNRESERVED)) for name, value in pairs
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def is_canonical_query(query: str) -> bool:
    """True when `query` is already in the form `canonical_query` produces."""
    try:
        return canonical_query(parse_query(query)) == query
    except ValueError:
        return False
