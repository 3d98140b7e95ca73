"""Deny terms: whole words from the policy, matched case-folded and with look-alike letters
folded, so `project` spelt with a Greek capital rho and a Cyrillic ie is still `project`."""

from __future__ import annotations

from functools import lru_cache

from secure_ai_gateway.screening.findings import Detection
from secure_ai_gateway.screening.matching import Pattern, ScanTarget, escape
from secure_ai_gateway.screening.normalise import NormalisedText, fold_for_matching

_ASCII_WORD = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def detect_deny_terms(view: NormalisedText, terms: tuple[str, ...]) -> list[Detection]:
    """Whole-word occurrences of any of `terms`, with spans in the original text."""
    pattern = _deny_pattern(terms)
    if pattern is None:
        return []
    folded = view.folded()
    text = folded.text
    found: list[Detection] = []
    for match in pattern.finditer(ScanTarget(text)):
        start, end = match.span()
        # RE2's \b knows ASCII words only; a neighbouring non-ASCII letter also joins words.
        if text[start - 1 : start].isalnum() or text[end : end + 1].isalnum():
            continue
        original_start, original_end = folded.original_span(start, end)
        found.append(
            Detection(
                type="deny_term",
                detector="deny_terms",
                start=original_start,
                end=original_end,
                confidence=1.0,
                value=text[start:end],
            )
        )
    return found


@lru_cache(maxsize=64)
def _deny_pattern(terms: tuple[str, ...]) -> Pattern | None:
    """One alternation of the folded terms, longest first so `foo bar` wins over `foo`."""
    folded = sorted(
        {fold_for_matching(term).strip() for term in terms} - {""}, key=lambda term: (-len(term), term)
    )
    if not folded:
        return None
    return Pattern("|".join(_term_pattern(term) for term in folded))


def _term_pattern(term: str) -> str:
    # "project nightjar" also as "project-nightjar", "project_nightjar", "project  nightjar".
    body = r"[\s\-_.]{1,4}".join(escape(word) for word in term.split())
    head = r"\b" if term[0] in _ASCII_WORD else ""
    tail = r"\b" if term[-1] in _ASCII_WORD else ""
    return f"{head}{body}{tail}"


def deny_terms_reach(terms: tuple[str, ...]) -> int:
    """The most characters one of `terms` can span as matched: its folded words with up to four
    separators between any two, and the character either side that decides a whole word."""
    longest = 0
    for term in terms:
        words = fold_for_matching(term).split()
        longest = max(longest, sum(len(word) for word in words) + 4 * max(len(words) - 1, 0) + 2)
    return longest
