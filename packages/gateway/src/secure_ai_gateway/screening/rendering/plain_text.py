"""URLs in the text a reader sees: what a linkifier makes clickable and what a person would copy.

Two finders run over the decoded text of each paragraph (entities and escapes already decoded,
so `https&#58;//evil` reads as `https://evil`):
- linkify-it (the linkifier of markdown-it and of GFM-like clients): schemes, `www.`, bare
  domains under a known top-level domain, e-mail addresses;
- an RE2 pattern for the spellings a browser's address bar accepts: any case, one to four
  slashes or backslashes after the scheme (`https:\\evil`, `https:/\\evil`), a
  protocol-relative `//host.tld` after a space, bracket, quote or `=`, and `www.`.
A URL may hold a pseudonym (`<EMAIL_1>`): restored after screening, it would put the client's
data in the URL, so it belongs to it.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Final

from secure_ai_gateway.screening.matching import Pattern, ScanTarget

if TYPE_CHECKING:
    from linkify_it import LinkifyIt  # type: ignore[import-untyped]

_PSEUDONYM: Final = r"<(?:EMAIL|PHONE|CARD|IBAN|SSN|IP)_[1-9][0-9]{0,5}>"
_STOP: Final = r"\s\p{Z}\x00-\x1f\x7f<>\"'`\[\]"
_HOST_STOP: Final = _STOP + r"/?#:@()\\"
_USER_INFO: Final = rf"(?:[^{_STOP}/?#@()\\]{{1,256}}@)?"
_HOST: Final = rf"(?:\[[0-9A-Fa-f:.]{{2,45}}\]|[^{_HOST_STOP}]{{1,253}})"
_DOTTED_HOST: Final = rf"(?:\[[0-9A-Fa-f:.]{{2,45}}\]|[^{_HOST_STOP}.]{{1,63}}\.[^{_HOST_STOP}]{{1,189}})"
_REST: Final = rf"(?::[0-9]{{1,5}})?(?:[/?#\\](?:[^{_STOP}]|{_PSEUDONYM})*)?"
_BARE_URL: Final = (
    rf"(?:(?i:\b(?:https?|ftps?|wss?):[\\/]{{1,4}})|(?i:\bwww\.)){_USER_INFO}{_HOST}{_REST}"
    # Protocol-relative: RE2 has no look-behind, so the character before "//" is matched and
    # dropped; the host must have a dot, or "// TODO" and "//x/" would read as hosts.
    rf"|(?:^|[\s(=\"'<\[])[\\/]{{2}}{_USER_INFO}{_DOTTED_HOST}{_REST}"
)
_OPENERS: Final = frozenset(" \t\n\r\f(=\"'<[")
_TRAILING_PUNCTUATION: Final = ".,;:!?*_'\""
_CHUNK: Final = 4096


def bare_urls(text: str) -> list[tuple[int, int, str]]:
    """`(start, end, url)` for each URL a reader could open from `text`; `url` is what to parse."""
    found: list[tuple[int, int, str]] = []
    for match in bare_url_pattern().finditer(ScanTarget(text)):
        start, end = match.span()
        if text[start] in _OPENERS:
            start += 1
        end = start + _trimmed_length(text[start:end])
        url = text[start:end]
        if url[:4].lower() == "www.":
            url = "https://" + url
        if end > start:
            found.append((start, end, url))
    # The pattern's matches are the longer reading (backslashes, pseudonyms): linkify-it reads
    # only the rest, for what the pattern leaves out (bare domains, e-mail addresses). Blanking
    # the matches keeps offsets and spares linkify-it most of a URL-dense text.
    rest = _blanked(text, found)
    linkify = linkifier()
    added = False
    for offset, chunk in _chunks(rest):
        if linkify.pretest(chunk):
            for link in linkify.match(chunk) or ():
                found.append((offset + link.index, offset + link.last_index, link.url))
                added = True
    if added:
        found.sort()
    return found


def _chunks(text: str) -> list[tuple[int, str]]:
    """`text` in pieces of about `_CHUNK` characters, cut at white space (which no link crosses).

    linkify-it re-slices the rest of its input after every link it finds, which is quadratic in a
    long, link-dense paragraph; bounded pieces keep the whole pass linear. A run without white
    space longer than a piece is cut where it is (a bare domain there is read in two halves; the
    scheme URLs that matter are the RE2 pattern's).
    """
    if len(text) <= _CHUNK:
        return [(0, text)]
    pieces: list[tuple[int, str]] = []
    start = 0
    while start < len(text):
        end = min(start + _CHUNK, len(text))
        if end < len(text):
            cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            if cut > start:
                end = cut
        pieces.append((start, text[start:end]))
        start = end
    return pieces


def _blanked(text: str, spans: list[tuple[int, int, str]]) -> str:
    if not spans:
        return text
    pieces: list[str] = []
    copied = 0
    for start, end, _ in spans:
        pieces.append(text[copied:start])
        pieces.append(" " * (end - start))
        copied = end
    pieces.append(text[copied:])
    return "".join(pieces)


@cache
def bare_url_pattern() -> Pattern:
    # Compiled on first use (a few milliseconds): importing the screen should not pay for it.
    return Pattern(_BARE_URL)


@cache
def linkifier() -> LinkifyIt:
    from linkify_it import LinkifyIt  # noqa: PLC0415 - only text with a link candidate needs it

    return LinkifyIt()


def _trimmed_length(url: str) -> int:
    """Drop sentence punctuation and closing brackets that belong to the prose around the URL.

    Works on an index with running counts: slicing or recounting per character would be
    quadratic in a URL that ends in a million ")".
    """
    end = len(url)
    unbalanced = url.count(")") - url.count("(")
    while end:
        last = url[end - 1]
        if last in _TRAILING_PUNCTUATION:
            end -= 1
        elif last == ")" and unbalanced > 0:
            end -= 1
            unbalanced -= 1
        else:
            break
    return end
