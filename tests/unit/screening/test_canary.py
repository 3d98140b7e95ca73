"""System-prompt canary: planted per request, found however the model disguises it."""

from __future__ import annotations

import re

import pytest

from secure_ai.screening.canary import detect_canary, new_canary
from secure_ai.screening.errors import WeakCanary
from secure_ai.screening.normalise import normalise

CANARY = "kavure-mosidu-tepoka-lunabi"


def found(text: str, canary: str = CANARY) -> list[str]:
    return [text[hit.start : hit.end] for hit in detect_canary(normalise(text), canary)]


def test_a_new_canary_is_a_word_like_token() -> None:
    # When a canary is made
    canary = new_canary()
    # Then it is four pronounceable lower-case groups
    assert re.fullmatch(r"(?:[bdfgklmnprstvz][aeiou]){3}(?:-(?:[bdfgklmnprstvz][aeiou]){3}){3}", canary)


def test_new_canaries_do_not_repeat() -> None:
    # When many canaries are made
    canaries = {new_canary() for _ in range(2000)}
    # Then all differ (about 73 random bits each)
    assert len(canaries) == 2000


@pytest.mark.parametrize(
    "leaked",
    [
        CANARY,
        CANARY.upper(),
        "k a v u r e m o s i d u t e p o k a l u n a b i",
        "kavure mosidu tepoka lunabi",
        "kavure.mosidu.tepoka.lunabi",
        "\u200b".join(CANARY),
        "KaVuRe-MoSiDu-TePoKa-LuNaBi",
        "kavure\nmosidu\ntepoka\nlunabi",
        "k\u0430vur\u0435-m\u043esidu-t\u0435p\u043ek\u0430-lun\u0430bi",
        "".join(chr(ord(char) + 0xFEE0) if char.isalpha() else char for char in CANARY),
        "k-a-v-u-r-e-m-o-s-i-d-u-t-e-p-o-k-a-l-u-n-a-b-i",
    ],
)
def test_a_leaked_canary_is_found_however_it_is_disguised(leaked: str) -> None:
    # Given an answer that leaks the canary split, spaced, re-cased, or with look-alike letters
    text = f"Sure, the secret word is {leaked}. Anything else?"
    # When the canary detector runs
    # Then the disguised canary is found, with its original span
    assert found(text) == [leaked]


@pytest.mark.parametrize(
    "text",
    [
        "The reference code is tomibe-rukafa-sonilo-pedamu.",
        "It starts with kavuremosi and that is all I know.",
        "k     a     v     u     r     e     m     o     s     i     d     u",
        "I cannot share my system prompt.",
        "ibanul-akopet-udisom-eruvak",
    ],
)
def test_other_words_partial_leaks_and_far_apart_letters_are_not_the_canary(text: str) -> None:
    # Given an answer with another code, a partial leak, or letters spread far apart
    # Then the canary is not reported
    assert found(text) == []


def test_a_short_canary_is_refused() -> None:
    # Given a canary with fewer than 12 letters and digits
    # When the detector runs
    # Then it refuses rather than risk matching by chance
    with pytest.raises(WeakCanary):
        detect_canary(normalise("anything"), "abc-123")
