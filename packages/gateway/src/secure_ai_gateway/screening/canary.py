"""System-prompt canary: plant a per-request word, then find it in the answer however it is
split, spaced, re-cased or disguised with look-alike letters.

An answer that stops part-way through the canary leaked it too: a model cut off by its token limit,
or told to stop there, still released the start of the system prompt's secret. So a prefix of at
least `MIN_CUT_SHORT_LENGTH` of its letters and digits at the very end of the answer counts
(trailing characters that are neither letters nor digits ignored); the same prefix followed by
more text is an ordinary word and does not.
"""

from __future__ import annotations

import re
import secrets
from typing import Final

from secure_ai_gateway.screening.errors import WeakCanary
from secure_ai_gateway.screening.findings import Detection
from secure_ai_gateway.screening.matching import Pattern, ScanTarget, escape
from secure_ai_gateway.screening.normalise import NormalisedText, TextView, fold_for_matching

_CONSONANTS: Final = "bdfgklmnprstvz"
_VOWELS: Final = "aeiou"
_GROUPS: Final = 4
_SYLLABLES_PER_GROUP: Final = 3
# Letters and digits of a canary may be separated by up to this many other characters
# ("k a v u", "ka-vu", "K.A.V.U"); invisible characters are already gone in the folded view,
# which is lower case. An ASCII class: Unicode letter classes cost ~50 ms to compile per canary.
_SEPARATOR: Final = r"[^a-z0-9]{0,3}"
MIN_CANARY_LENGTH: Final = 12
# Eight letters of a ~73-bit canary chosen from 14 consonants and 5 vowels: about 1 in 24 million
# for one word chosen at random to end an answer, and the answer must also end right there.
MIN_CUT_SHORT_LENGTH: Final = 8
CUT_SHORT_LABEL: Final = "cut_short"
# A prefix written with the widest separators spans at most this many characters per letter.
_WINDOW_PER_CHAR: Final = 4
# Python's \w is exactly str.isalnum() plus "_": this is a run of neither letters nor digits.
_NOT_ALNUM_RUN: Final = re.compile(r"[\W_]*")


def new_canary() -> str:
    """A fresh word-like canary such as `kavure-mosidu-tepoka-lunabi` (about 73 random bits)."""
    groups = (
        "".join(secrets.choice(_CONSONANTS) + secrets.choice(_VOWELS) for _ in range(_SYLLABLES_PER_GROUP))
        for _ in range(_GROUPS)
    )
    return "-".join(groups)


def detect_canary(view: NormalisedText, canary: str) -> list[Detection]:
    """Every occurrence of `canary`'s letters and digits, in order, in the folded view; and a
    prefix of at least `MIN_CUT_SHORT_LENGTH` of them that ends the answer (label `cut_short`)."""
    skeleton = [char for char in fold_for_matching(canary) if char.isalnum()]
    if len(skeleton) < MIN_CANARY_LENGTH:
        raise WeakCanary("canary_too_short")
    folded = view.folded()
    whole = Pattern(_SEPARATOR.join(escape(char) for char in skeleton))
    spans = [match.span() for match in whole.finditer(ScanTarget(folded.text))]
    found = [_detection(folded, start, end, None) for start, end in spans]
    cut_short = _prefix_at_end(folded.text, skeleton)
    if cut_short is not None and not any(start < cut_short[1] and cut_short[0] < end for start, end in spans):
        found.append(_detection(folded, *cut_short, CUT_SHORT_LABEL))
    return found


def _prefix_at_end(text: str, skeleton: list[str]) -> tuple[int, int] | None:
    """The span of the longest prefix of `skeleton` (at least the minimum) ending `text`'s last
    letter or digit, if there is one."""
    # Read backwards (one anchored, linear match) so a long run of trailing punctuation costs one pass.
    trailing = _NOT_ALNUM_RUN.match(text[::-1])
    end = len(text) - (trailing.end() if trailing is not None else 0)
    # Only the tail can hold a match that ends at `end`: search there, not the whole answer.
    start = max(0, end - _WINDOW_PER_CHAR * len(skeleton))
    match = _prefix_pattern(skeleton).search(text[start:end])
    if match is None:
        return None
    return start + match.start(), start + match.end()


def _prefix_pattern(skeleton: list[str]) -> Pattern:
    # `k S a S v S u S r S e S m S o (?:S s (?:S i …)?)?\z`: greedy, so the longest prefix wins.
    letters = [escape(char) for char in skeleton]
    optional = ""
    for letter in reversed(letters[MIN_CUT_SHORT_LENGTH:]):
        optional = f"(?:{_SEPARATOR}{letter}{optional})?"
    return Pattern(_SEPARATOR.join(letters[:MIN_CUT_SHORT_LENGTH]) + optional + r"\z")


def _detection(folded: TextView, start: int, end: int, label: str | None) -> Detection:
    original_start, original_end = folded.original_span(start, end)
    return Detection(
        type="canary",
        detector="canary",
        start=original_start,
        end=original_end,
        confidence=1.0,
        value=folded.text[start:end],
        label=label,
    )


def canary_reach(canary: str | None) -> int:
    """The most characters an occurrence of `canary`, or a cut-short prefix of it, can span: each
    letter or digit and up to three separators after it (a stream holds back at least this)."""
    if canary is None:
        return 0
    return _WINDOW_PER_CHAR * sum(char.isalnum() for char in fold_for_matching(canary))
