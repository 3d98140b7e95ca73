"""URLs as a browser reads them: WHATWG parsing (ada-url), `srcset` lists and meta refresh.

A URL without a scheme is resolved against a placeholder base, `https://client.invalid/`, so a
relative URL stays on the client's own origin and a protocol-relative `//evil.example` or
`\\\\evil.example` goes where a browser would send it. ada-url is imported on first use: the
completion function's cold start should not pay for it when an answer holds no link.
"""

from __future__ import annotations

from functools import cache, lru_cache
from types import ModuleType
from typing import Final, NamedTuple

BASE_URL: Final = "https://client.invalid/"
BASE_HOST: Final = "client.invalid"
_ASCII_WHITESPACE: Final = " \t\n\f\r"
_REFRESH_SEPARATORS: Final = ";," + _ASCII_WHITESPACE
_PART_NAMES: Final = (
    "protocol",
    "hostname",
    "host_type",
    "username",
    "password",
    "pathname",
    "search",
    "hash",
)


class ParsedUrl(NamedTuple):
    """A URL as a browser resolves it: its WHATWG serialisation and its IDNA host."""

    href: str
    host: str  # punycode for IDNs, "[…]" for IPv6, "" when the scheme has none (data:, mailto:)


class UrlParts(NamedTuple):
    """The parts of a serialised URL the screen reasons about, as ada-url reads them."""

    scheme: str  # lower case, without ":"
    host: str
    is_ip: bool
    username: str
    password: str
    path: str
    query: str  # without "?"
    fragment: str  # without "#"


@cache
def _ada() -> ModuleType:
    import ada_url  # noqa: PLC0415 - ada-url loads a native library; only links need it

    return ada_url


@lru_cache(maxsize=4096)
def parse_url(raw: str) -> ParsedUrl | None:
    """`raw` as a browser reads it; None if it is no URL.

    A URL with a scheme is read on its own: on an `https:` page `https:/\\evil.example` is a
    path of that page, but on a page of any other scheme (http:, an app's own) it reaches
    evil.example, and the client's scheme is not known here. Only URLs without one are
    resolved against the placeholder base.
    """
    ada = _ada()
    try:
        url = ada.URL(raw)
    except ValueError:
        try:
            url = ada.URL(raw, base=BASE_URL)
        except ValueError:
            return None
    return ParsedUrl(href=url.href, host=url.hostname)


@lru_cache(maxsize=1024)
def url_parts(href: str) -> UrlParts:
    """The parts of `href`, a URL `parse_url` serialised (so it parses)."""
    parts = _ada().parse_url(href, attributes=_PART_NAMES)
    return UrlParts(
        scheme=parts["protocol"][:-1],
        host=parts["hostname"],
        is_ip=int(parts["host_type"]) != 0,
        username=parts["username"],
        password=parts["password"],
        path=parts["pathname"],
        query=parts["search"][1:],
        fragment=parts["hash"][1:],
    )


def srcset_candidates(value: str) -> list[tuple[int, int]]:
    """Spans of the URLs in a `srcset` value, by the HTML Standard's parsing algorithm.

    A candidate is a run of non-whitespace characters (trailing commas belong to the list, not
    the URL), then descriptors up to a comma outside parentheses.
    """
    spans: list[tuple[int, int]] = []
    position, length = 0, len(value)
    while True:
        while position < length and (value[position] in _ASCII_WHITESPACE or value[position] == ","):
            position += 1
        if position >= length:
            return spans
        start = position
        while position < length and value[position] not in _ASCII_WHITESPACE:
            position += 1
        end = position
        if value[end - 1] == ",":
            while end > start and value[end - 1] == ",":
                end -= 1
        else:
            position = _skip_descriptors(value, position)
        if end > start:
            spans.append((start, end))


def _skip_descriptors(value: str, position: int) -> int:
    in_parentheses = False
    for index in range(position, len(value)):
        char = value[index]
        if char == "(":
            in_parentheses = True
        elif char == ")":
            in_parentheses = False
        elif char == "," and not in_parentheses:
            return index + 1
    return len(value)


def refresh_url(content: str) -> tuple[int, int] | None:
    """The span of the URL in a meta refresh `content` ("5; url='…'"), by the HTML Standard."""
    position, length = 0, len(content)
    while position < length and content[position] in _ASCII_WHITESPACE:
        position += 1
    while position < length and content[position] in "0123456789.":
        position += 1
    if position >= length or content[position] not in _REFRESH_SEPARATORS:
        return None
    while position < length and content[position] in _REFRESH_SEPARATORS:
        position += 1
    position = _after_url_equals(content, position)
    end = length
    if position < length and content[position] in "'\"":
        quote = content[position]
        position += 1
        closing = content.find(quote, position)
        end = length if closing < 0 else closing
    while end > position and content[end - 1] in _ASCII_WHITESPACE:
        end -= 1
    return (position, end) if end > position else None


def _after_url_equals(content: str, position: int) -> int:
    # The standard's steps, including their quirk: "u", "ur" or "url" not followed by "=" is
    # skipped, and the URL starts after it.
    length = len(content)
    for letter in "url":
        if position >= length or content[position].lower() != letter:
            return position
        position += 1
    while position < length and content[position] in _ASCII_WHITESPACE:
        position += 1
    if position < length and content[position] == "=":
        position += 1
        while position < length and content[position] in _ASCII_WHITESPACE:
            position += 1
    return position
