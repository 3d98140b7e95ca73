"""Bidi controls: each run is a finding, and the order a screen displays is screened too."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secure_ai_gateway.screening.bidi_controls import detect_bidi_controls
from secure_ai_gateway.screening.normalise import normalise
from secure_ai_gateway.screening.pii import detect_pii
from secure_ai_gateway.screening.secrets import detect_secrets

RLO, PDF, LRO, RLE, LRE = "\u202e", "\u202c", "\u202d", "\u202b", "\u202a"
RLI, LRI, FSI, PDI = "\u2067", "\u2066", "\u2068", "\u2069"


def found(text: str) -> list[tuple[str, str, str]]:
    return [
        (hit.type, hit.detector, text[hit.start : hit.end]) for hit in detect_bidi_controls(normalise(text))
    ]


def shown(text: str) -> str | None:
    visual = normalise(text).visual()
    return None if visual is None else visual.text


@pytest.mark.parametrize("control", [LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI])
def test_each_embedding_override_and_isolate_control_is_a_finding(control: str) -> None:
    # Given text with one control
    # When the bidi detector runs
    # Then the control is a bidi_control finding spanning exactly it
    assert found(f"ab{control}cd") == [("bidi_control", "bidi", control)]


@pytest.mark.parametrize(
    "neighbour",
    ["\u200e", "\u200f", "\u061c", "\u2029", "\u202f", "\u2065", "\u206a", "\u2028", "\u200d"],
)
def test_marks_and_the_characters_beside_the_controls_are_not_findings(neighbour: str) -> None:
    # Given LRM, RLM, ALM, or a character just outside the control ranges
    # When the bidi detector runs
    # Then nothing is found
    assert found(f"ab{neighbour}cd") == []


def test_a_run_of_controls_is_one_finding() -> None:
    # Given two controls side by side, then another further on
    text = f"a{RLO}{LRI}b{PDF}c"
    # Then the adjacent pair is one finding and the lone one another
    assert [value for _, _, value in found(text)] == [RLO + LRI, PDF]


@pytest.mark.parametrize("escape", ["&#x202E;", "&#8238;", "\\u202e"])
def test_a_control_spelled_as_an_escape_is_a_finding_spanning_the_escape(escape: str) -> None:
    # Given an override written as an HTML reference or a JSON escape, which its reader applies
    # Then the finding covers the escape
    assert found(f"x {escape}moc.elpmaxe@nhoj") == [("bidi_control", "bidi", escape)]


def test_a_finding_names_its_controls_rather_than_carrying_them() -> None:
    # Given a run of ten overrides
    hit = detect_bidi_controls(normalise("a" + RLO * 10 + "b"))[0]
    # Then its value names code points, without a raw control that would reorder a log line
    assert hit.value.startswith("U+202E U+202E")
    assert RLO not in hit.value


def test_text_without_reversing_controls_has_no_visual_view() -> None:
    # Given plain text, and text with left-to-right controls only
    # Then neither is displayed in another order
    assert shown("plain text, john@example.com") is None
    assert shown(f"a{LRO}bc{PDF}d{LRE}ef{PDF}") is None


def test_an_override_is_displayed_reversed_without_the_controls() -> None:
    # Given text reversed inside RLO…PDF
    # Then the visual view reads it the right way round
    assert shown(f"mail {RLO}moc.elpmaxe@nhoj{PDF} now") == "mail john@example.com now"


def test_an_unterminated_override_reverses_up_to_the_end_of_the_line() -> None:
    # Given an override never closed, then a new line
    # Then only the rest of its line is reversed
    assert shown(f"a {RLO}cba\nxyz") == "a abc\nxyz"


def test_an_isolate_and_an_embedding_reverse_what_they_enclose() -> None:
    # Given RLI…PDI and RLE…PDF
    # Then their contents are read reversed (the simplification: as if they were overrides)
    assert shown(f"{RLI}cba{PDI}d") == "abcd"
    assert shown(f"{RLE}cba{PDF}d") == "abcd"


def test_nested_runs_reverse_as_the_bidi_algorithm_orders_them() -> None:
    # Given a left-to-right override nested inside a right-to-left one
    text = f"a{RLO}b{LRO}cd{PDF}e{PDF}f"
    # Then the outer run is reversed and the inner one keeps its order (UAX #9 rule L2)
    assert shown(text) == "aecdbf"


def test_controls_nested_beyond_the_depth_limit_overflow_without_failing() -> None:
    # Given 200 nested embeddings, past the algorithm's 125 levels
    text = RLE * 200 + "ab" + PDF * 200 + "c"
    # Then the deepest valid level (125, odd) reverses the text and the rest is ignored
    assert shown(text) == "bac"


def test_a_combining_mark_stays_with_its_base_when_reversed() -> None:
    # Given an accented letter written as e + combining acute inside an override
    # Then the visual view has the composed letter, after the other character
    assert shown(f"{RLO}e\u0301x{PDF}") == "x\u00e9"


def test_tag_characters_are_invisible_in_the_visual_view() -> None:
    # Given a visible word with tag characters inside
    tags = "".join(chr(0xE0000 + ord(char)) for char in "hidden")
    # Then the logical view reads the tags, the visual view shows only the word
    view = normalise(f"sec{tags}ret")
    assert view.text == "sechiddenret"
    assert view.visual() is not None
    assert shown(f"sec{tags}ret") == "secret"


def test_spans_of_the_visual_view_map_to_the_characters_displayed() -> None:
    # Given a reversed e-mail address
    text = f"x {RLO}moc.elpmaxe@nhoj{PDF} y"
    visual = normalise(text).visual()
    assert visual is not None
    # Then each displayed character maps to the original character it shows
    for index, char in enumerate(visual.text):
        start, end = visual.original_span(index, index + 1)
        assert text[start:end] == char
    # And a span across the address covers its reversed original
    start, end = visual.original_span(2, 18)
    assert text[start:end] == "moc.elpmaxe@nhoj"


def test_pii_reversed_inside_an_override_is_found_in_the_visual_view() -> None:
    # Given a card number and an e-mail address, each written reversed inside RLO…PDF
    text = f"Card {RLO}1111 1111 1111 1114{PDF}, mail {RLO}moc.elpmaxe@nhoj{PDF}."
    view = normalise(text)
    visual = view.visual()
    assert visual is not None
    # When the PII detector reads both views
    logical = detect_pii(view)
    displayed = detect_pii(visual)
    # Then the logical view hides them and the visual view finds them, spanning the originals
    assert logical == []
    assert [(hit.type, text[hit.start : hit.end]) for hit in displayed] == [
        ("card", "1111 1111 1111 1114"),
        ("email", "moc.elpmaxe@nhoj"),
    ]


def test_a_secret_reversed_inside_an_override_is_found_in_the_visual_view() -> None:
    # Given an AWS key written reversed inside RLO…PDF
    key = "AKIA2G4JVXLWWQNTO4O2"
    text = f"key {RLO}{key[::-1]}{PDF} end"
    visual = normalise(text).visual()
    assert visual is not None
    # Then the secrets detector finds it in the visual view, spanning the reversed original
    assert [(hit.type, text[hit.start : hit.end]) for hit in detect_secrets(visual)] == [
        ("aws_access_key", key[::-1])
    ]


@given(
    st.lists(
        st.sampled_from(
            ["a", "b", "1", " ", "\n", "e\u0301", "\u05d0", RLO, PDF, LRO, RLE, LRE, RLI, LRI, FSI, PDI]
        )
    )
)
def test_every_span_of_the_visual_view_maps_inside_the_original(parts: list[str]) -> None:
    # Given any mix of text and controls
    text = "".join(parts)
    visual = normalise(text).visual()
    # Then the visual view, if any, keeps every visible character, and its spans stay inside the text
    if visual is None:
        return
    assert sorted(visual.text) == sorted(normalise(text).text)
    for index in range(len(visual.text)):
        start, end = visual.original_span(index, index + 1)
        assert 0 <= start < end <= len(text)
