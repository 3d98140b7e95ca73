"""Reversible pseudonyms for input PII, scoped to one request.

The model sees `<EMAIL_1>` instead of an address and echoes it; `restore` writes the address back
into the answer. Three rules keep the way back from becoming a leak:

- The value ↔ placeholder map lives in the instance only, so an answer is only ever restored with
  the values of the request that produced it: a placeholder the model invents (`<EMAIL_7>`) or
  copies from elsewhere stays a placeholder.
- A placeholder is never issued if its text already occurs in the caller's input (its number is
  skipped): `<EMAIL_1>` typed by the caller comes back as they typed it, never as someone's address.
- Values are written back in plain text only, never inside markup (a URL, a link or image
  destination, an HTML tag or attribute): `![x](https://<CARD_1>.example/p.png)` keeps its
  placeholder, so the gateway never puts a caller's value where a renderer would send it away.
  The restored text is screened afterwards, with the spans where values were written
  (screening/release.py).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Final, NamedTuple

from secure_ai_gateway.screening.findings import PII_TYPES, PLACEHOLDER_TAGS, pii_tag
from secure_ai_gateway.screening.matching import Pattern, ScanTarget
from secure_ai_gateway.screening.normalise import NormalisedText, normalise
from secure_ai_gateway.screening.pii import DEFAULT_PHONE_REGIONS, canonical_value, detect_pii
from secure_ai_protocol.errors import PayloadTooLarge

MAX_PSEUDONYMISE_CHARS: Final = 1 << 20
_PLACEHOLDER: Final = Pattern("<" + PLACEHOLDER_TAGS + r"_[1-9][0-9]{0,5}>")
# What the caller wrote that a model could echo as a placeholder: any case, any number of digits.
_WRITTEN_PLACEHOLDER: Final = Pattern(r"(?i)<" + PLACEHOLDER_TAGS + r"_[0-9]{1,7}>")
_MAX_NUMBER: Final = 999_999

type Span = tuple[int, int]


class Restoration(NamedTuple):
    """An answer with the caller's values written back, and the spans of `text` they occupy."""

    text: str
    spans: tuple[Span, ...]


class Pseudonymiser:
    """One request's pseudonyms, made from all of the caller's text at once.

    Built from every string the model will see, so no placeholder can collide with a literal
    anywhere in the request; `texts` are those strings with PII replaced, in the same order.
    """

    __slots__ = ("_originals", "texts")

    def __init__(
        self,
        texts: Sequence[str],
        *,
        types: Iterable[str] = PII_TYPES,
        phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
    ) -> None:
        if sum(len(text) for text in texts) > MAX_PSEUDONYMISE_CHARS:
            raise PayloadTooLarge("pseudonymise_input_too_large")
        chosen = frozenset(types) & frozenset(PII_TYPES)
        # Each distinct text once: a schema repeats its keywords ("type", "string") hundreds of times.
        views = {text: normalise(text) for text in texts}
        issuer = _Issuer(_written_placeholders(views.values()))
        self._originals: dict[str, str] = {}  # placeholder -> value as first written
        replaced = {text: self._replaced(view, issuer, chosen, phone_regions) for text, view in views.items()}
        self.texts: tuple[str, ...] = tuple(replaced[text] for text in texts)

    def restore(self, text: str, *, markup: Sequence[Span]) -> Restoration:
        """`text` with this instance's placeholders replaced by their values, except where a
        placeholder touches a `markup` span (spans of `text` that are not plain text)."""
        if not self._originals:
            return Restoration(text, ())
        in_markup = _SpanSet(markup)
        pieces: list[str] = []
        spans: list[Span] = []
        written = 0
        cursor = 0
        for match in _PLACEHOLDER.finditer(ScanTarget(text)):
            start, end = match.span()
            original = self._originals.get(text[start:end])
            if original is None or in_markup.touches(start, end):
                continue
            pieces.append(text[cursor:start])
            written += start - cursor
            pieces.append(original)
            spans.append((written, written + len(original)))
            written += len(original)
            cursor = end
        pieces.append(text[cursor:])
        return Restoration("".join(pieces), tuple(spans))

    def _replaced(
        self, view: NormalisedText, issuer: _Issuer, types: frozenset[str], phone_regions: Sequence[str]
    ) -> str:
        text = view.original
        pieces: list[str] = []
        cursor = 0
        for detection in detect_pii(view, phone_regions=phone_regions):
            if detection.type not in types or detection.start < cursor:
                continue
            placeholder = issuer.placeholder(pii_tag(detection.type), canonical_value(detection))
            self._originals.setdefault(placeholder, text[detection.start : detection.end])
            pieces.append(text[cursor : detection.start])
            pieces.append(placeholder)
            cursor = detection.end
        pieces.append(text[cursor:])
        return "".join(pieces)


class _Issuer:
    """Numbers placeholders per tag, one per distinct value, skipping the caller's own."""

    __slots__ = ("_counters", "_issued", "_taken")

    def __init__(self, taken: frozenset[str]) -> None:
        self._taken = taken
        self._issued: dict[tuple[str, str], str] = {}  # (tag, canonical value) -> placeholder
        self._counters: Counter[str] = Counter()

    def placeholder(self, tag: str, value: str) -> str:
        issued = self._issued.get((tag, value))
        if issued is not None:
            return issued
        while True:
            self._counters[tag] += 1
            if self._counters[tag] > _MAX_NUMBER:
                # Unreachable within the size cap; refusing beats issuing a number restore ignores.
                raise PayloadTooLarge("pseudonymise_too_many_values")
            candidate = f"<{tag}_{self._counters[tag]}>"
            if candidate not in self._taken:
                self._issued[(tag, value)] = candidate
                return candidate


class _SpanSet:
    """Spans merged and sorted once, so each question costs a binary search, not a scan."""

    __slots__ = ("_ends", "_starts")

    def __init__(self, spans: Iterable[Span]) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        for start, end in sorted(spans):
            if self._ends and start <= self._ends[-1]:
                self._ends[-1] = max(self._ends[-1], end)
            else:
                self._starts.append(start)
                self._ends.append(end)

    def touches(self, start: int, end: int) -> bool:
        """Whether `[start, end)` overlaps any span."""
        index = bisect_right(self._starts, end - 1) - 1
        return index >= 0 and self._ends[index] > start


def _written_placeholders(views: Iterable[NormalisedText]) -> frozenset[str]:
    """Every placeholder-shaped literal in the caller's text, as written and as normalised
    (fullwidth letters, invisible characters, lower case), in the form a placeholder would take."""
    found: set[str] = set()
    for view in views:
        for text in {view.original, view.text}:
            for match in _WRITTEN_PLACEHOLDER.finditer(ScanTarget(text)):
                start, end = match.span()
                found.add(text[start:end].upper())
    return frozenset(found)
