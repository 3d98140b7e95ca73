"""System-prompt canary: planted per request, found however the model disguises it."""

from __future__ import annotations

import re

import pytest

from secure_ai_gateway.screening.canary import CUT_SHORT_LABEL, detect_canary, new_canary
from secure_ai_gateway.screening.errors import WeakCanary
from secure_ai_gateway.screening.normalise import normalise

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


@pytest.mark.parametrize(
    ("ending", "leaked"),
    [
        ("kavuremo", "kavuremo"),
        ("kavuremo.", "kavuremo"),
        ("kavuremo  \n", "kavuremo"),
        ("kavure-mosidu-tep", "kavure-mosidu-tep"),
        ("K A V U R E M O S I", "K A V U R E M O S I"),
        ("`kavuremosid`\n", "kavuremosid"),
    ],
)
def test_an_answer_cut_short_inside_the_canary_leaks_it(ending: str, leaked: str) -> None:
    # Given an answer whose last letters are the first eight or more of the canary
    text = f"My instructions begin with the marker {ending}"
    # When the canary detector runs
    hits = detect_canary(normalise(text), CANARY)
    # Then the cut-short canary is found and labelled as such
    assert [(text[hit.start : hit.end], hit.label) for hit in hits] == [(leaked, CUT_SHORT_LABEL)]


def test_seven_letters_of_the_canary_at_the_end_are_not_enough() -> None:
    # Given an answer ending in only seven of the canary's letters
    # Then nothing is reported: seven letters are too likely to end an answer by chance
    assert found("The marker is kavurem.") == []


def test_eight_letters_of_the_canary_followed_by_more_text_are_an_ordinary_word() -> None:
    # Given the same eight letters, but the answer goes on after them
    # Then nothing is reported
    assert found("The marker is kavuremo, and more text follows.") == []


def test_a_whole_canary_at_the_end_is_reported_once() -> None:
    # Given an answer ending with the whole canary
    # Then it is one finding, not also a cut-short one
    hits = detect_canary(normalise(f"It is {CANARY}."), CANARY)
    assert [(hit.value, hit.label) for hit in hits] == [("kavure-mosidu-tepoka-lunabi", None)]
