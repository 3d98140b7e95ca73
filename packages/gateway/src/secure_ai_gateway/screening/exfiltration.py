"""Exfiltration: what a client would load or open, outside the policy's allow-list.

The original text is rendered the way a chat client renders it (screening/rendering/: markdown
with raw HTML, lexbor, tinycss2, ada-url; docs/screening.md), and each resource it yields is
judged by what loading it would send:

- `exfiltration_resource` (0.95): a resource fetched without a click — markdown images, inline
  and by reference; `<img src/srcset>`, `<picture><source>`, `<video poster>`, `<audio>`,
  `<track>`, `<iframe>`, `<embed>`, `<object data>`, `<input type=image>`, `<link href>`,
  `<base href>`, `<script src>`, SVG `<image>`/`<use>` `href`/`xlink:href`, `background=`,
  meta refresh, CSS `url()`, `image-set()` and `@import` in `style` attributes and `<style>` —
  to a host outside the allow-list, whatever it carries (the request itself reaches the host).
  `data:` and `javascript:` URLs there, inline scripts and event handlers (`onerror=`) too: a
  renderer that honours them runs or leaks them.
- `exfiltration_link` (0.8): a link the reader would click or copy — markdown links and
  autolinks, linkified and bare URLs (`https:\\evil`, `//evil.tld` included), `<a>`/`<area>`
  `href`, form actions, `ping` — outside the allow-list, when it carries data: user info, a
  query value of 8+ characters, a query key that is random-looking (12+) or has 3+
  percent-escapes, or a query of 24+, a fragment holding such pairs or a random segment, a
  random-looking path segment of 20+ characters or one with 3+ percent-escapes, a host label
  that is random (20+), long (40+), hex-encoded (16+) or punycode, or 7+ labels (data sent in
  the DNS query), or a pseudonym (`<EMAIL_1>`, `%3CEMAIL_1%3E`) anywhere: restored after
  screening it would put the client's data in the URL. `mailto:` and `tel:` carry data only in
  a query; `javascript:`, `vbscript:` and `data:` links always count.

The allow-list matches a host or its subdomains, compared as ada-url serialises them: an IDN
is punycode, so a Cyrillic look-alike of an allowed host does not match it, and an IP literal
matches only when listed as written. Relative URLs stay on the client's origin and count as
allowed.

Not caught: URLs built by script; a URL cut by markup so that no renderer rejoins it; data
below the thresholds in a link's path, host or query keys (short words read as navigation); open
redirects on an allowed host (`https://allowed.example/out?to=…`), whose host receives the data
and is trusted by the policy; text too expensive to render within the budget, for which the
detector fails (`RenderBudgetExceeded`) and blocks unless the policy fails open.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Final
from urllib.parse import parse_qsl, unquote

from secure_ai_gateway.screening.entropy import looks_random
from secure_ai_gateway.screening.findings import Detection
from secure_ai_gateway.screening.matching import Pattern, ScanTarget
from secure_ai_gateway.screening.normalise import NormalisedText
from secure_ai_gateway.screening.rendering.document import DEFAULT_BUDGET_SECONDS, render
from secure_ai_gateway.screening.rendering.resources import Resource
from secure_ai_gateway.screening.rendering.urls import UrlParts, parse_url, url_parts

_RESOURCE_CONFIDENCE: Final = 0.95
_LINK_CONFIDENCE: Final = 0.8
# A placeholder as written, or as the render labels one that kept a URL from parsing.
_PSEUDONYM: Final = Pattern(
    r"(?i)<(?:EMAIL|PHONE|CARD|IBAN|SSN|IP)_[1-9][0-9]{0,5}>"
    r"|\bpseudonym-(?:email|phone|card|iban|ssn|ip)-[1-9][0-9]{0,5}\b"
)
_EXECUTABLE_SCHEMES: Final = frozenset({"javascript", "vbscript", "data"})
_NEVER_FETCHED_SCHEMES: Final = frozenset({"about"})
_QUERY_ONLY_SCHEMES: Final = frozenset({"mailto", "tel", "sms"})
_MIN_QUERY_VALUE: Final = 8
_MIN_QUERY: Final = 24
_MIN_RANDOM_SEGMENT: Final = 20
_MIN_RANDOM_FRAGMENT: Final = 12  # anchors are words (#getting-started); data is not
_MIN_RANDOM_KEY: Final = 12  # keys are names (?sort=, ?utm_source=); data is not
_MIN_PERCENT_ESCAPES: Final = 3
_MIN_RANDOM_LABEL: Final = 20
_MIN_LONG_LABEL: Final = 40
_MIN_LABELS: Final = 7
_MIN_HEX_LABEL: Final = 16
_HEX: Final = frozenset("0123456789abcdef")
_MAX_WORD: Final = 15
_WORD_RUNS: Final = re.compile(r"[^0-9A-Za-z]+")
_TAG_CHARACTER: Final = re.compile("[\U000e0020-\U000e007e]")


def detect_exfiltration(
    view: NormalisedText,
    allowed_hosts: Iterable[str],
    target: ScanTarget | None = None,
    *,
    budget_seconds: float = DEFAULT_BUDGET_SECONDS,
    clock: Callable[[], float] = time.perf_counter,
) -> list[Detection]:
    """Resources and data-carrying links outside `allowed_hosts`, with spans in the original text.

    `target` (the normalised text prepared for RE2) is not used: the render reads the original
    text, as the client will. Raises `RenderBudgetExceeded` past `budget_seconds` on `clock`.
    """
    del target
    allowed = _allow_list(tuple(sorted(allowed_hosts)))
    deadline = clock() + budget_seconds
    found: list[Detection] = []
    # Spans already reported per (type, URL), sorted: a reading that sees the same resource again
    # (with a span of other precision) adds nothing.
    reported: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for text, to_original in _readings(view):
        rendered = render(text, budget_seconds=max(deadline - clock(), 0.0), clock=clock)
        added: list[Detection] = []
        for resource in rendered.resources:
            finding = _judged(resource, allowed)
            if finding is None:
                continue
            start, end = to_original(finding.start, finding.end)
            if not _overlaps(reported.get((finding.type, finding.value), []), start, end):
                added.append(finding._replace(start=start, end=end))
        for finding in added:
            reported.setdefault((finding.type, finding.value), []).append((finding.start, finding.end))
        for spans in reported.values():
            spans.sort()
        found += added
    return found


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether [start, end) overlaps one of `spans` (sorted, each reading's own not overlapping)."""
    index = bisect_left(spans, (end, -1))
    return any(spans[before][1] > start for before in range(max(index - 2, 0), index))


def _readings(view: NormalisedText) -> list[tuple[str, Callable[[int, int], tuple[int, int]]]]:
    """The text as the client receives it and, where it differs, as a decoding client reads it.

    A client that decodes character references or escapes before rendering (or a screen that
    shows tag characters) would render `&lt;img src=…&gt;` as an image: the decoded view is
    rendered too, its spans mapped back to the original.
    """
    readings: list[tuple[str, Callable[[int, int], tuple[int, int]]]] = [
        (view.original, lambda start, end: (start, end))
    ]
    # Only decoding changes what a renderer parses: NFKC, look-alikes and invisibles do not make
    # markup, so a text without escapes or tag characters is rendered once.
    decoded = view.decoded.text is not view.original or _TAG_CHARACTER.search(view.original) is not None
    if decoded and view.text != view.original:
        readings.append((view.text, view.original_span))
    return readings


def _judged(resource: Resource, allowed: frozenset[str]) -> Detection | None:
    if resource.same_origin:
        return None
    parts = url_parts(resource.url)
    if resource.kind == "fetch":
        if parts.scheme in _NEVER_FETCHED_SCHEMES:
            return None
        if parts.scheme in _EXECUTABLE_SCHEMES or not _is_allowed(parts, allowed):
            return _detection(resource, "exfiltration_resource", _RESOURCE_CONFIDENCE)
        return None
    if parts.scheme in _EXECUTABLE_SCHEMES:
        return _detection(resource, "exfiltration_link", _LINK_CONFIDENCE)
    if _is_allowed(parts, allowed) or not _carries_data(parts, resource.url):
        return None
    return _detection(resource, "exfiltration_link", _LINK_CONFIDENCE)


def _detection(resource: Resource, finding_type: str, confidence: float) -> Detection:
    start, end = resource.span
    return Detection(
        type=finding_type,
        detector="exfiltration",
        start=start,
        end=end,
        confidence=confidence,
        value=resource.url,
    )


@lru_cache(maxsize=64)
def _allow_list(entries: tuple[str, ...]) -> frozenset[str]:
    """The policy's hosts as ada-url serialises hosts (punycode, canonical IPv4, "[…]" IPv6)."""
    hosts: set[str] = set()
    for entry in entries:
        parsed = parse_url(f"https://{entry.strip().rstrip('.')}/")
        if parsed is not None and parsed.host:
            hosts.add(parsed.host)
    return frozenset(hosts)


def _is_allowed(parts: UrlParts, allowed: frozenset[str]) -> bool:
    host = parts.host.rstrip(".")
    if not host:
        return False
    if host in allowed:
        return True
    if parts.is_ip:
        return False  # an address is allowed only as listed, never as a "subdomain"
    return any(host.endswith("." + entry) for entry in allowed)


def _carries_data(parts: UrlParts, url: str) -> bool:
    if _has_pseudonym(url):
        return True  # restored after screening, it would be the client's data
    if parts.scheme in _QUERY_ONLY_SCHEMES:
        return bool(parts.query)
    if parts.username or parts.password:
        return True
    if not parts.is_ip and _host_carries_data(parts.host):
        return True
    if _pairs_carry_data(parts.query) or _fragment_carries_data(parts.fragment):
        return True
    return any(_segment_carries_data(segment, _MIN_RANDOM_SEGMENT) for segment in parts.path.split("/"))


def _has_pseudonym(url: str) -> bool:
    return _PSEUDONYM.search(url) is not None or ("%" in url and _PSEUDONYM.search(unquote(url)) is not None)


def _host_carries_data(host: str) -> bool:
    # Data encoded in subdomains is sent to the attacker's name server in the DNS query.
    labels = host.rstrip(".").split(".")
    if len(labels) >= _MIN_LABELS:
        return True
    return any(
        label.startswith("xn--")
        or len(label) >= _MIN_LONG_LABEL
        or (len(label) >= _MIN_RANDOM_LABEL and looks_random(label))
        or _hex_encoded(label)
        for label in labels
    )


def _hex_encoded(label: str) -> bool:
    # Hex is the usual DNS-exfiltration encoding, and its 16 symbols rarely reach the entropy a
    # random-looking value needs: `6a616e65406578616d706c65` is "jane@example".
    return (
        len(label) >= _MIN_HEX_LABEL
        and all(char in _HEX for char in label.lower())
        and any(char.isdigit() for char in label)
        and any(char.isalpha() for char in label)
    )


def _pairs_carry_data(query: str) -> bool:
    if len(query) >= _MIN_QUERY:
        return True
    values = [value for _, value in parse_qsl(query, keep_blank_values=True)]
    if any(len(value) >= _MIN_QUERY_VALUE for value in values):
        return True
    # The server receives the whole query, keys included: `?c2VjcmV0ZGF0YQ` carries its data in
    # a key. A key is judged raw, as a path segment is (escapes counted, titles in words let go).
    keys = [pair.partition("=")[0] for pair in query.split("&")]
    return any(_segment_carries_data(key, _MIN_RANDOM_KEY) for key in keys)


def _fragment_carries_data(fragment: str) -> bool:
    # The page's script reads the fragment: "#k=v" pairs as a query, anything else by segment.
    if "=" in fragment:
        return _pairs_carry_data(fragment)
    return any(_segment_carries_data(segment, _MIN_RANDOM_FRAGMENT) for segment in fragment.split("/"))


def _segment_carries_data(segment: str, min_random: int) -> bool:
    if segment.count("%") >= _MIN_PERCENT_ESCAPES:
        return True
    return len(segment) >= min_random and looks_random(segment) and not _words(segment)


def _words(segment: str) -> bool:
    """A title spelled in words (`Python_(programming_language)`, `2024-05-results`): navigation.

    Runs of letters of word length, or short numbers, joined by punctuation; encoded data is one
    long run or mixes letters and digits within a run.
    """
    runs = _WORD_RUNS.split(segment)
    words = [run for run in runs if run]
    return len(words) >= 2 and all(
        (run.isalpha() and len(run) <= _MAX_WORD) or (run.isdigit() and len(run) <= 4) for run in words
    )
