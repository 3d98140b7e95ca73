"""Deny terms: whole words, case-folded, with look-alike letters and invisibles undone."""

from __future__ import annotations

import pytest

from secure_ai_gateway.screening.deny_terms import detect_deny_terms
from secure_ai_gateway.screening.normalise import normalise

TERMS = ("project nightjar", "quokkasoft", "darkpool", "caf\u00e9")


def found(text: str, terms: tuple[str, ...] = TERMS) -> list[str]:
    return [text[hit.start : hit.end] for hit in detect_deny_terms(normalise(text), terms)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("About Project Nightjar today", "Project Nightjar"),
        ("QUOKKASOFT is a competitor", "QUOKKASOFT"),
        ("(quokkasoft)", "quokkasoft"),
        ("project   nightjar", "project   nightjar"),
        ("PROJECT-NIGHTJAR on hold", "PROJECT-NIGHTJAR"),
        ("Qu\u043ekkas\u043eft with Cyrillic o", "Qu\u043ekkas\u043eft"),
        (
            "\uff44\uff41\uff52\uff4b\uff50\uff4f\uff4f\uff4c full width",
            "\uff44\uff41\uff52\uff4b\uff50\uff4f\uff4f\uff4c",
        ),
        ("dark\u200bpool with a zero-width space", "dark\u200bpool"),
        ("\u0440roject nightj\u0430r with Cyrillic p and a", "\u0440roject nightj\u0430r"),
        ("meet at the CAF\u00c9 tomorrow", "CAF\u00c9"),
        ("meet at the cafe\u0301 tomorrow", "cafe\u0301"),
    ],
)
def test_a_deny_term_is_found_in_any_spelling(text: str, value: str) -> None:
    # Given a deny term re-cased, full-width, with look-alikes or invisible characters
    # When the deny-terms detector runs
    # Then it is found, with the span of the characters as written
    assert found(text) == [value]


@pytest.mark.parametrize(
    "text",
    [
        "quokkasofty is another word",
        "darkpools are plural",
        "Xdarkpool",
        "nightjar project is reversed",
        "The dark pool of water",
        "caf\u00e9s are plural",
        "\u00e9darkpool",
    ],
)
def test_a_deny_term_inside_a_longer_word_is_not_found(text: str) -> None:
    # Given a text where the term is only part of a word
    # Then nothing is found
    assert found(text) == []


def test_every_occurrence_is_found() -> None:
    # Given a term twice
    # Then both are found
    assert found("darkpool; darkpool") == ["darkpool", "darkpool"]


def test_no_terms_find_nothing() -> None:
    # Given a policy without usable terms
    # Then nothing is found
    assert found("darkpool", ("  ",)) == []
