"""Exfiltration links: markdown images and links, HTML `src=` and bare URLs that point outside
the policy's allow-list and carry data (in the query, the path or a long host label).

A markdown image is fetched by the client without a click, so it needs less data to count:
any query or a shorter data-like path segment. A link or bare URL counts when a query value is
8+ characters (or the query is 24+), a path segment looks random or percent-encoded, or a host
label looks random (DNS exfiltration). Host comparison uses the NFKC view, not the folded one:
`apple.com` spelt with a Cyrillic `a` must not pass for an allow-listed `apple.com`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final
from urllib.parse import SplitResult, parse_qsl, urlsplit

from secure_ai.screening.entropy import looks_random
from secure_ai.screening.findings import Detection
from secure_ai.screening.matching import Pattern, ScanTarget
from secure_ai.screening.normalise import NormalisedText

_PSEUDONYM = r"<(?:EMAIL|PHONE|CARD|IBAN|SSN|IP)_[1-9][0-9]{0,5}>"
_URL = Pattern(
    # A protocol-relative "//host" counts only where a URL is expected: after "(" (markdown),
    # "=" or a quote (HTML attributes). RE2 has no look-behind, so that character is matched
    # and dropped in code; a bare "//" would swallow (and hide) whatever non-space follows it.
    r"(?:(?i:\b(?:https?|wss?|ftp)://)|[(=\"']//|(?i:\bwww\.))"
    r"(?:[^\s/?#@\[\]()<>\"'`\\]{1,256}@)?"  # user info: the host is what follows it
    r"(?:\[[0-9A-Fa-f:.]{2,45}\]|[^\s/?#:@\[\]()<>\"'`\\]{1,253})"
    r"(?::\d{1,5})?"
    # The path and query may hold pseudonyms (<EMAIL_1>): restored after screening, they would
    # put the client's PII in the URL, so they belong to it (and count as data).
    rf"(?:[/?#\\](?:[^\s<>\"'`\[\]]|{_PSEUDONYM})*)?"
)
_URL_OPENERS: Final = frozenset("(=\"'")
_TRAILING_PUNCTUATION: Final = ".,;:!?*_'\""
_IMAGE_CONFIDENCE: Final = 0.95
_LINK_CONFIDENCE: Final = 0.8


def detect_exfiltration(
    view: NormalisedText, allowed_hosts: Iterable[str], target: ScanTarget | None = None
) -> list[Detection]:
    """URLs to hosts outside `allowed_hosts` that carry data, with spans in the original text."""
    allowed = tuple(host.casefold().rstrip(".") for host in allowed_hosts)
    text = view.text
    found: list[Detection] = []
    for match in _URL.finditer(target or ScanTarget(text)):
        start, end = match.span()
        if text[start] in _URL_OPENERS:
            start += 1
        end = start + _trimmed_length(text[start:end])
        url = text[start:end]
        parts = _split(url)
        if parts is None:
            continue
        host = (parts.hostname or "").rstrip(".")
        if not host or _is_allowed(host, allowed):
            continue
        image = _is_image(text, start)
        if not _carries_data(parts, host, image=image):
            continue
        original_start, original_end = view.original_span(start, end)
        found.append(
            Detection(
                type="exfiltration_link",
                detector="exfiltration",
                start=original_start,
                end=original_end,
                confidence=_IMAGE_CONFIDENCE if image else _LINK_CONFIDENCE,
                value=url,
            )
        )
    return found


def _trimmed_length(url: str) -> int:
    """Drop sentence punctuation and a closing bracket that belongs to the markdown around it.

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


def _split(url: str) -> SplitResult | None:
    # Browsers read "\" as "/" in http(s) URLs; urlsplit does not, so do it first.
    cleaned = url.replace("\\", "/")
    if cleaned.startswith("//"):
        cleaned = "https:" + cleaned
    elif cleaned[:4].lower() == "www.":
        cleaned = "https://" + cleaned
    try:
        parts = urlsplit(cleaned)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return None
    return parts


def _is_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    host = host.casefold()
    return any(host == entry or host.endswith("." + entry) for entry in allowed)


def _is_image(text: str, start: int) -> bool:
    """True when the URL is a markdown image target or an HTML src attribute."""
    before = text[max(0, start - 5) : start].lower()
    if before.endswith(("src=", 'src="', "src='")):
        return True
    if text[max(0, start - 2) : start] != "](":
        return False
    # Find the "[" that opens the alt text (bounded look-back) and check for "!" before it.
    opening = text.rfind("[", max(0, start - 1000), start - 2)
    return opening > 0 and text[opening - 1] == "!"


def _carries_data(parts: SplitResult, host: str, *, image: bool) -> bool:
    if "<" in parts.path or "<" in parts.query:
        return True  # a pseudonym: PII once restored
    if any(len(label) >= 20 and looks_random(label) for label in host.split(".")):
        return True  # data encoded in a subdomain is sent in the DNS query
    if parts.query:
        if image:
            return True
        values = [value for _, value in parse_qsl(parts.query, keep_blank_values=True)]
        if len(parts.query) >= 24 or any(len(value) >= 8 for value in values):
            return True
    min_segment = 12 if image else 20
    for segment in parts.path.split("/"):
        if segment.count("%") >= 3:
            return True
        if len(segment) >= min_segment and looks_random(segment):
            return True
    return False
