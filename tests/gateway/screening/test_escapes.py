"""Escapes: what a browser or a JSON reader decodes is listed, once, with the span it came from."""

from __future__ import annotations

import html
import json
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from secure_ai_gateway.screening.escapes import escapes


def decode(text: str) -> str:
    """`text` with every escape `escapes()` lists replaced by what it decodes to."""
    pieces: list[str] = []
    copied_until = 0
    for start, end, decoded in escapes(text):
        pieces += [text[copied_until:start], decoded]
        copied_until = end
    return "".join(pieces) + text[copied_until:]


@pytest.mark.parametrize(
    ("escape", "decoded"),
    [
        ("\\u0041", "A"),
        ("\\u00e9", "\u00e9"),
        ("\\ud83d\\ude00", "\U0001f600"),
        ("\\u{1F600}", "\U0001f600"),
        ("\\u{000041}", "A"),
        ("\\x41", "A"),
        ("\\/", "/"),
        ('\\"', '"'),
        ("\\\\", "\\"),
        ("\\n", "\n"),
        ("\\t", "\t"),
        ("\\_", "_"),
        ("&amp;", "&"),
        ("&amp", "&"),
        ("&colon;", ":"),
        ("&sol;", "/"),
        ("&period;", "."),
        ("&commat;", "@"),
        ("&#64;", "@"),
        ("&#64", "@"),
        ("&#0000064;", "@"),
        ("&#x40;", "@"),
        ("&#X40;", "@"),
        ("&#128;", "\u20ac"),
        ("&#xD800;", "\ufffd"),
        ("&#99999999999999;", "\ufffd"),
    ],
)
def test_an_escape_is_decoded_and_spans_all_of_itself(escape: str, decoded: str) -> None:
    # Given an escape between two words
    text = f"a {escape} b"
    # When the escapes are listed
    found = list(escapes(text))
    # Then it is one escape, spanning exactly its characters, with what it stands for
    assert found == [(2, 2 + len(escape), decoded)]


@pytest.mark.parametrize(
    "text",
    [
        "\\q",
        "\\u12",
        "\\u12g4",
        "\\u{}",
        "\\u{110000}",
        "\\x4",
        "&;",
        "&#;",
        "&#x;",
        "&nosuchname;",
        "&colon",
        "&1;",
        "&#1;",
        "AT&T",
        "100%40",
        "%3Cscript%3E",
    ],
)
def test_what_no_reader_decodes_stays_as_written(text: str) -> None:
    # Given text that is not an escape (percent-encoding included), or a reference that
    # html.unescape would drop
    # When the escapes are listed
    # Then there are none
    assert list(escapes(text)) == []


def test_a_legacy_name_without_semicolon_decodes_only_its_known_prefix() -> None:
    # Given `&amp` glued to more letters, which browsers read as `&` and the letters
    text = "x&ampersand"
    # When the escapes are listed
    # Then only `&amp` is an escape
    assert list(escapes(text)) == [(1, 5, "&")]


@pytest.mark.parametrize(
    ("text", "once"),
    [
        ("&amp;#64;", "&#64;"),
        ("&amp;amp;", "&amp;"),
        ("\\\\u0041", "\\u0041"),
        ("\\u0026#64;", "&#64;"),
        ("&#92;u0041", "\\u0041"),
    ],
)
def test_decoding_is_one_level_only(text: str, once: str) -> None:
    # Given a value encoded twice
    # When it is decoded
    # Then it is decoded once, not twice
    assert decode(text) == once


def test_a_backslash_pair_is_one_escape_and_the_next_backslash_starts_another() -> None:
    # Given an escaped backslash followed by an escaped slash
    # When decoded
    # Then it reads as a backslash and a slash
    assert decode("\\\\\\/") == "\\/"


@given(st.text(alphabet="&#;xXamplt0123456789ABCDEFcolnsu ", max_size=40))
def test_html_references_decode_as_html_unescape_decodes_them(text: str) -> None:
    # Given HTML-like text whose numeric references all stand for something
    numbers = re.finditer(r"&#(?:[0-9]+|[xX][0-9a-fA-F]+);?", text)
    assume(all(html.unescape(number.group()) for number in numbers))
    # When decoded
    # Then the result is what html.unescape makes of it
    assert decode(text) == html.unescape(text)


@given(st.text(alphabet=st.characters(exclude_characters="&"), max_size=40))
def test_a_json_string_body_decodes_to_the_string_it_encodes(value: str) -> None:
    # Given a value as JSON writes it inside a string (ASCII only: \uXXXX, surrogate pairs, \n…)
    body = json.dumps(value)[1:-1]
    # When decoded
    # Then it reads as the value
    assert decode(body) == value


def test_a_long_run_of_leading_zeros_is_read_whole() -> None:
    # Given a reference with a hundred thousand leading zeros
    text = "&#" + "0" * 100_000 + "64;"
    # When decoded
    # Then it is one `@` spanning the whole reference
    assert list(escapes(text)) == [(0, len(text), "@")]
