"""Normalisation: one view for detectors, and a map back to the characters the client sent."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secure_ai.screening.normalise import fold_for_matching, normalise


def test_ascii_text_is_its_own_normal_form() -> None:
    # Given plain ASCII
    text = "plain ascii, nothing to do"
    # When it is normalised
    view = normalise(text)
    # Then the view is the text and spans map to themselves
    assert view.text == text
    assert view.original_span(6, 11) == (6, 11)


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e"])
def test_invisible_characters_are_removed_and_spans_still_cover_them(invisible: str) -> None:
    # Given an address with an invisible character inside
    text = f"mail jo{invisible}hn@example.com now"
    # When it is normalised
    view = normalise(text)
    # Then the view has the plain address, and its span covers the invisible character too
    assert view.text == "mail john@example.com now"
    start, end = view.original_span(5, 21)
    assert text[start:end] == f"jo{invisible}hn@example.com"


def test_every_format_character_is_removed() -> None:
    # Given one of each Unicode format character (category Cf)
    format_chars = "".join(chr(cp) for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Cf")
    # When they are normalised between two letters
    view = normalise(f"a{format_chars}b")
    # Then nothing but the letters is left
    assert view.text == "ab"


def test_full_width_digits_become_ascii_and_map_back_one_to_one() -> None:
    # Given full-width digits
    text = "card \uff14\uff11\uff11\uff11"
    # When normalised
    view = normalise(text)
    # Then they read as ASCII digits, each mapping to its own original character
    assert view.text == "card 4111"
    assert view.original_span(5, 9) == (5, 9)


def test_other_decimal_digits_become_ascii() -> None:
    # Given Arabic-Indic and Devanagari digits
    view = normalise("\u0663\u0664 and \u0967\u0968")
    # Then they read as ASCII digits
    assert view.text == "34 and 12"


def test_a_composed_character_maps_back_to_its_base_and_combining_mark() -> None:
    # Given "e" followed by a combining acute accent
    text = "caf" + "e\u0301" + "!"
    # When normalised (NFKC composes them)
    view = normalise(text)
    # Then one character of the view maps to both original characters
    assert view.text == "caf\u00e9!"
    assert view.original_span(3, 4) == (3, 5)


def test_an_expanding_ligature_maps_back_to_the_single_character() -> None:
    # Given the "fi" ligature
    text = "\ufb01ne"
    # When normalised to "fine"
    view = normalise(text)
    # Then either letter of "fi" maps to the ligature
    assert view.text == "fine"
    assert view.original_span(0, 1) == (0, 1)
    assert view.original_span(1, 2) == (0, 1)


def test_a_lone_surrogate_becomes_a_replacement_character() -> None:
    # Given a string with a lone surrogate (possible through JSON "\ud800")
    view = normalise("x\ud800y")
    # Then the view can be UTF-8 encoded
    assert view.text.encode() == "x\ufffdy".encode()


def test_the_folded_view_turns_look_alikes_into_latin_lower_case() -> None:
    # Given "PayPal" with Cyrillic "a" and Greek capital rho
    text = "\u03a1\u0430y\u0420\u0430l"
    # When folded
    folded = normalise(text).folded()
    # Then it reads as Latin lower case
    assert folded.text == "paypal"


def test_the_folded_view_maps_expanded_case_folds_back() -> None:
    # Given a sharp s, which case-folds to two letters
    text = "Stra\u00dfe X"
    folded = normalise(text).folded()
    # Then the folded text is longer, and its spans still land on the original characters
    assert folded.text == "strasse x"
    assert folded.original_span(4, 6) == (4, 5)
    assert folded.original_span(7, 8) == (6, 7)


def test_policy_values_fold_the_same_way_as_text() -> None:
    # Given a deny term written in full-width capitals
    # Then it folds to its plain spelling
    assert fold_for_matching("\uff31\uff55\uff4f\uff4b\uff4b\uff41") == "quokka"


@given(st.text(max_size=200))
def test_every_span_of_the_view_maps_inside_the_original(text: str) -> None:
    # Given any text
    view = normalise(text)
    folded = view.folded()
    # Then every single-character span of both views maps to an ordered span of the original
    for derived in (view, folded):
        for index in range(len(derived.text)):
            start, end = derived.original_span(index, index + 1)
            assert 0 <= start <= end <= len(text)


def test_an_empty_span_maps_to_a_point_of_the_original() -> None:
    # Given a view with an expanded ligature
    view = normalise("a\ufb01b")
    # Then an empty span maps to an empty span at the corresponding place
    assert view.original_span(0, 0) == (0, 0)
    assert view.original_span(2, 2) == (1, 1)


def test_a_text_of_invisible_characters_only_normalises_to_nothing() -> None:
    view = normalise("\u200b\u200d\ufeff")
    assert view.text == ""
    assert view.original_span(0, 0) == (0, 0)
