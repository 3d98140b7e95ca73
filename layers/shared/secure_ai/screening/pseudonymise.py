"""Reversible pseudonyms for input PII, scoped to one request.

The model sees `<EMAIL_1>` instead of an address and echoes it; `restore` puts the address
back into the answer. The value ↔ placeholder map lives in the instance only, so an answer can
only ever be restored with the values of the request that produced it: a placeholder the
model invents (`<EMAIL_7>`) or copies from elsewhere stays a placeholder.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Final

from secure_ai.errors import PayloadTooLarge
from secure_ai.screening.findings import PII_TYPES, pii_tag
from secure_ai.screening.matching import Pattern, ScanTarget
from secure_ai.screening.normalise import normalise
from secure_ai.screening.pii import canonical_value, detect_pii

MAX_PSEUDONYMISE_CHARS: Final = 1 << 20
_PLACEHOLDER = Pattern(r"<(?:EMAIL|PHONE|CARD|IBAN|SSN|IP)_[1-9][0-9]{0,5}>")


class Pseudonymiser:
    """Per-request PII pseudonyms: create one per request and never share it."""

    __slots__ = ("_counters", "_originals", "_placeholders", "_types")

    def __init__(self, types: Iterable[str] = PII_TYPES) -> None:
        self._types = frozenset(types) & frozenset(PII_TYPES)
        self._placeholders: dict[tuple[str, str], str] = {}  # (tag, canonical value) -> placeholder
        self._originals: dict[str, str] = {}  # placeholder -> value as first written
        self._counters: Counter[str] = Counter()

    def pseudonymise(self, text: str) -> str:
        """`text` with each PII value replaced by its placeholder; equal values share one."""
        if len(text) > MAX_PSEUDONYMISE_CHARS:
            raise PayloadTooLarge("pseudonymise_input_too_large")
        pieces: list[str] = []
        cursor = 0
        for detection in detect_pii(normalise(text)):
            if detection.type not in self._types or detection.start < cursor:
                continue
            tag = pii_tag(detection.type)
            key = (tag, canonical_value(detection))
            placeholder = self._placeholders.get(key)
            if placeholder is None:
                self._counters[tag] += 1
                placeholder = f"<{tag}_{self._counters[tag]}>"
                self._placeholders[key] = placeholder
                self._originals[placeholder] = text[detection.start : detection.end]
            pieces.append(text[cursor : detection.start])
            pieces.append(placeholder)
            cursor = detection.end
        pieces.append(text[cursor:])
        return "".join(pieces)

    def restore(self, text: str) -> str:
        """`text` with this instance's placeholders replaced by their values; others untouched."""
        if not self._originals:
            return text
        pieces: list[str] = []
        cursor = 0
        for match in _PLACEHOLDER.finditer(ScanTarget(text)):
            start, end = match.span()
            original = self._originals.get(text[start:end])
            if original is None:
                continue
            pieces.append(text[cursor:start])
            pieces.append(original)
            cursor = end
        pieces.append(text[cursor:])
        return "".join(pieces)
