"""RE2 matching over UTF-8 bytes, answering in character offsets."""

from __future__ import annotations

import pytest
import re2

from secure_ai_gateway.screening.matching import HintSet, Pattern, ScanTarget

TEXTS = [
    "plain ascii x here",
    "caf\u00e9 x \u00fcber",
    "\u00e9" * 70 + "\u00fc" + "\u00e9" * 10 + " x",
    "\u4e2d\u6587" * 50 + "x" + "\u00e9",
    "x\ud800 x",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("pattern", ["x", "\u00fc", "\u00e9+", r"\p{Han}{3}"])
def test_match_offsets_are_the_character_offsets_python_would_give(text: str, pattern: str) -> None:
    # Given ASCII, short and long non-ASCII runs, and a lone surrogate
    target = ScanTarget(text)
    # When matched through ScanTarget (UTF-8 bytes underneath)
    spans = [(match.start(), match.end()) for match in Pattern(pattern).finditer(target)]
    # Then every span is what the re2 module's own str path gives
    clean = text.replace("\ud800", "\ufffd")
    expected = [match.span() for match in re2.finditer(pattern, clean)]
    assert spans == expected


def test_an_unmatched_group_keeps_its_negative_offsets() -> None:
    match = next(Pattern("(a)|(\u00e9)").finditer(ScanTarget("\u00fc\u00e9")))
    assert (match.span(1), match.span(2)) == ((-1, -1), (1, 2))


def test_a_hint_set_names_the_hints_that_occur() -> None:
    hints = HintSet(["AKIA", "(?i)bearer\\s", "ghp_"])
    assert hints.present(ScanTarget("Bearer x and AKIA")) == frozenset({0, 1})
    assert hints.present(ScanTarget("nothing here")) == frozenset()
