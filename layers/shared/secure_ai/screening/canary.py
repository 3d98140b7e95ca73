"""System-prompt canary: plant a per-request word, then find it in the answer however it is
split, spaced, re-cased or disguised with look-alike letters."""

from __future__ import annotations

import secrets
from typing import Final

from secure_ai.screening.errors import WeakCanary
from secure_ai.screening.findings import Detection
from secure_ai.screening.matching import Pattern, ScanTarget, escape
from secure_ai.screening.normalise import NormalisedText, fold_for_matching

_CONSONANTS: Final = "bdfgklmnprstvz"
_VOWELS: Final = "aeiou"
_GROUPS: Final = 4
_SYLLABLES_PER_GROUP: Final = 3
# Letters and digits of a canary may be separated by up to this many other characters
# ("k a v u", "ka-vu", "K.A.V.U"); invisible characters are already gone in the folded view,
# which is lower case. An ASCII class: Unicode letter classes cost ~50 ms to compile per canary.
_SEPARATOR: Final = r"[^a-z0-9]{0,3}"
MIN_CANARY_LENGTH: Final = 12


def new_canary() -> str:
    """A fresh word-like canary such as `kavure-mosidu-tepoka-lunabi` (about 73 random bits)."""
    groups = (
        "".join(secrets.choice(_CONSONANTS) + secrets.choice(_VOWELS) for _ in range(_SYLLABLES_PER_GROUP))
        for _ in range(_GROUPS)
    )
    return "-".join(groups)


def detect_canary(view: NormalisedText, canary: str) -> list[Detection]:
    """Every occurrence of `canary`'s letters and digits, in order, in the folded view."""
    skeleton = [char for char in fold_for_matching(canary) if char.isalnum()]
    if len(skeleton) < MIN_CANARY_LENGTH:
        raise WeakCanary("canary_too_short")
    pattern = Pattern(_SEPARATOR.join(escape(char) for char in skeleton))
    folded = view.folded()
    found: list[Detection] = []
    for match in pattern.finditer(ScanTarget(folded.text)):
        start, end = match.span()
        original_start, original_end = folded.original_span(start, end)
        found.append(
            Detection(
                type="canary",
                detector="canary",
                start=original_start,
                end=original_end,
                confidence=1.0,
                value=folded.text[start:end],
            )
        )
    return found
