"""Normalisation: one view for detectors, and a map back to the characters the client sent."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secure_ai_gateway.screening.normalise import fold_for_matching, normalise


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


def test_every_format_character_but_the_ascii_tags_is_removed() -> None:
    # Given one of each Unicode format character (category Cf) except the tag characters that
    # shadow printable ASCII, which are read rather than removed
    format_chars = "".join(
        chr(cp)
        for cp in range(0x110000)
        if unicodedata.category(chr(cp)) == "Cf" and not 0xE0020 <= cp <= 0xE007E
    )
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


def tags(text: str) -> str:
    """`text` spelled in Unicode tag characters, invisible on screen ("ASCII smuggling")."""
    return "".join(chr(0xE0000 + ord(char)) for char in text)


def test_tag_characters_read_as_the_ascii_they_shadow() -> None:
    # Given a word spelled in tag characters between two visible ones
    text = f"see {tags('hidden words')} here"
    # When normalised
    view = normalise(text)
    # Then the view reads the word, and each of its letters maps to its own tag character
    assert view.text == "see hidden words here"
    assert view.original_span(4, 10) == (4, 10)


@pytest.mark.parametrize(("tag", "letter"), [("\U000e0020", " "), ("\U000e0041", "A"), ("\U000e007e", "~")])
def test_the_first_and_last_ascii_tags_are_read(tag: str, letter: str) -> None:
    # Given the tags for space, A and tilde (U+E0020, U+E0041, U+E007E)
    # Then each reads as its ASCII character
    assert normalise(f"x{tag}y").text == f"x{letter}y"


@pytest.mark.parametrize("tag", ["\U000e0001", "\U000e007f"])
def test_the_language_tag_and_the_cancel_tag_stay_invisible(tag: str) -> None:
    # Given the language tag or the cancel tag, which shadow no character
    # Then they are removed like other invisible characters
    assert normalise(f"x{tag}y").text == "xy"


@pytest.mark.parametrize(
    ("escaped", "plain"),
    [
        ("mail john&#64;example&period;com", "mail john@example.com"),
        ("see https&colon;&sol;&sol;evil.example&sol;x", "see https://evil.example/x"),
        ("mail john&#x40;example.com", "mail john@example.com"),
        ('{"k": "\\u0041KIA\\/x\\"y\\\\z"}', '{"k": "AKIA/x"y\\z"}'),
        ("smile \\ud83d\\ude00", "smile \U0001f600"),
        ("line\\nbreak\\ttab", "line\nbreak\ttab"),
        ("token ghp\\_abc", "token ghp_abc"),
    ],
)
def test_escapes_are_decoded_in_the_view(escaped: str, plain: str) -> None:
    # Given HTML references, JSON escapes or markdown backslash escapes
    # When normalised
    # Then the view reads what a browser or a JSON reader shows
    assert normalise(escaped).text == plain


def test_a_decoded_character_maps_back_to_its_whole_escape() -> None:
    # Given an address whose @ is an HTML reference
    text = "mail john&#64;example.com"
    view = normalise(text)
    # Then the @ of the view maps to the reference, and the address to all of it
    at_start, at_end = view.original_span(9, 10)
    address_start, address_end = view.original_span(5, 21)
    assert text[at_start:at_end] == "&#64;"
    assert text[address_start:address_end] == "john&#64;example.com"


def test_escapes_are_decoded_one_level_only() -> None:
    # Given an escape escaped again
    # Then the view decodes the outer level and leaves the inner one as written
    assert normalise("a &amp;#64; b \\\\u0041").text == "a &#64; b \\u0041"


def test_percent_encoding_is_not_decoded() -> None:
    # Given a percent-encoded @ (the URL detector reads URLs)
    # Then the view keeps it
    assert normalise("john%40example.com").text == "john%40example.com"


def test_an_escaped_tag_character_reads_as_its_ascii() -> None:
    # Given a tag character written as a JSON surrogate pair
    # Then the escape is decoded, and the tag read as the letter it shadows
    assert normalise("\\udb40\\udc41KIA").text == "AKIA"


def test_plain_ascii_without_escapes_stays_on_the_fast_path() -> None:
    # Given a mebibyte of ASCII prose without backslashes or ampersands
    text = ("The quick brown fox jumps over the lazy dog. " * 23302)[: 1 << 20]
    # When normalised
    view = normalise(text)
    # Then the view is the text itself, not a copy, and spans map to themselves
    assert view.text is text
    assert view.original_span(100, 200) == (100, 200)


def test_the_latin_view_reads_look_alikes_as_latin_and_keeps_case() -> None:
    # Given a key prefix with a Cyrillic capital A, a Cyrillic small a, and a Greek capital omicron
    text = "\u0410KIA p\u0430ss \u039fK"
    # When the latin view is built
    latin = normalise(text).latin()
    # Then capitals stay capitals and small letters small, one character for each
    assert latin.text == "AKIA pass OK"
    assert latin.original_span(0, 4) == (0, 4)


def test_the_latin_view_of_text_without_look_alikes_is_the_view_itself() -> None:
    # Given ASCII text and non-Latin text without look-alikes
    for text in ("plain ascii", "\u65e5\u672c\u8a9e"):
        view = normalise(text)
        # Then the latin view is the normalised view
        assert view.latin() is view


def test_small_capitals_read_as_capitals_in_the_latin_view() -> None:
    # Given "AKIA" in Latin small capitals (small A, K, I) and a Lisu A
    # Then the latin view reads capitals
    assert normalise("\u1d00\u1d0b\u026a\ua4ee").latin().text == "AKIA"


def test_the_folded_view_still_folds_every_look_alike_to_lower_case() -> None:
    # Given look-alikes in both cases, and a Cherokee capital
    # Then the folded view is Latin lower case, with the palochka read as l
    assert normalise("\u0410\u0430\u13aa \u04c0").folded().text == "aaa l"


@given(st.text(max_size=200))
def test_every_span_of_the_latin_and_visual_views_maps_inside_the_original(text: str) -> None:
    # Given any text
    view = normalise(text)
    # Then every single-character span of the latin and visual views maps inside the original
    for derived in (view.latin(), view.visual()):
        if derived is None:
            continue
        for index in range(len(derived.text)):
            start, end = derived.original_span(index, index + 1)
            assert 0 <= start <= end <= len(text)


def test_the_undecoded_view_keeps_escapes_as_a_raw_link_reads_them() -> None:
    # Given a link whose escaped dot joins two hosts only once decoded
    text = "https://evil.example\\u002eallowed.example/?d=secret"
    view = normalise(text)
    undecoded = view.undecoded()
    # Then the view reads the decoded host, and the undecoded view the backslash a browser reads as `/`
    assert view.text == "https://evil.example.allowed.example/?d=secret"
    assert undecoded is not None
    assert undecoded.text == text
    assert undecoded.original_span(8, 20) == (8, 20)


def test_text_without_escapes_has_no_undecoded_view() -> None:
    # Given text with no escape, and its derived views
    view = normalise("https://evil.example/?d=secret \u0410")
    # Then there is no separate undecoded reading
    assert view.undecoded() is None
    assert view.latin().undecoded() is None
