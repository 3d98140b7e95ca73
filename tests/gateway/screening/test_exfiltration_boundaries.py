"""Exfiltration at its thresholds: each boundary the detector draws, pinned from both sides.

A link outside the allow-list is a finding only when it carries data; the thresholds below decide
what "carries data" means (docs/screening.md). Each threshold is tested exactly at its value and
one step under it, so a threshold that moves, or a comparison that loosens, fails a test; the
other tests pin how a URL is cut into the pieces that are measured, and which readings are rendered.
"""

from __future__ import annotations

import itertools

import pytest

from secure_ai_gateway.screening.errors import RenderBudgetExceeded
from secure_ai_gateway.screening.exfiltration import detect_exfiltration
from secure_ai_gateway.screening.normalise import normalise

ALLOWED = ("example.com",)


def found(text: str) -> list[tuple[str, str]]:
    """(finding type, spelling at its span) of each finding."""
    return [(hit.type, text[hit.start : hit.end]) for hit in detect_exfiltration(normalise(text), ALLOWED)]


def clicked(url: str) -> list[tuple[str, str]]:
    """The findings for a markdown link to `url`."""
    return found(f"[x]({url})")


def link(url: str) -> list[tuple[str, str]]:
    return [("exfiltration_link", url)]


def in_tag_characters(ascii_text: str) -> str:
    """`ascii_text` spelt in Unicode tag characters, invisible on most screens."""
    return "".join(chr(0xE0000 + ord(char)) for char in ascii_text)


# Host: data sent to the attacker's name server in the DNS query.


def test_a_host_of_seven_labels_carries_data() -> None:
    url = "https://a.b.c.d.e.evil.example/"
    assert clicked(url) == link(url)


@pytest.mark.parametrize("url", ["https://a.b.c.d.evil.example/", "https://a.b.c.d.evil.example./"])
def test_a_host_of_six_labels_is_navigation_with_or_without_its_root_dot(url: str) -> None:
    # Given six labels, written as they are or with the DNS root's trailing dot
    # Then the root is not a seventh label
    assert clicked(url) == []


def test_a_random_host_label_of_twenty_characters_carries_data() -> None:
    url = "https://zq8vk2mw9pl4xr7ty3nb.evil.example/"
    assert clicked(url) == link(url)


def test_a_random_host_label_of_nineteen_characters_is_navigation() -> None:
    assert clicked("https://zq8vk2mw9pl4xr7ty3n.evil.example/") == []


def test_a_hex_host_label_of_sixteen_characters_carries_data() -> None:
    # Given "jane@exa" hex-encoded: too few symbols to look random, so only the hex rule sees it
    url = "https://6a616e6540657861.evil.example/"
    assert clicked(url) == link(url)


def test_a_hex_host_label_of_fifteen_characters_is_navigation() -> None:
    assert clicked("https://6a616e654065786.evil.example/") == []


@pytest.mark.parametrize("label", ["cdn2", "documentation-portal"])
def test_a_short_label_with_a_digit_or_a_long_label_in_words_is_navigation(label: str) -> None:
    assert clicked(f"https://{label}.evil.example/") == []


# Query.


def test_a_query_value_of_eight_characters_carries_data() -> None:
    url = "https://evil.example/c?d=Zq8vK2mW"
    assert clicked(url) == link(url)


def test_a_query_value_of_seven_characters_is_navigation() -> None:
    assert clicked("https://evil.example/c?d=Zq8vK2m") == []


def test_a_query_of_twenty_four_characters_carries_data_in_short_values() -> None:
    url = "https://evil.example/c?a=1234567&b=1234567&c=12"
    assert clicked(url) == link(url)


def test_a_query_of_twenty_three_characters_in_short_values_is_navigation() -> None:
    assert clicked("https://evil.example/c?a=1234567&b=1234567&c=1") == []


def test_data_in_a_bare_query_key_is_found() -> None:
    # Given base64 of "secretdata" as the whole query: no value, and under 24 characters
    url = "https://evil.example/c?c2VjcmV0ZGF0YQ"
    # Then the key is data, as it would be in a value or a fragment
    assert clicked(url) == link(url)


def test_a_random_query_key_of_twelve_characters_carries_data() -> None:
    # Given the key in the second pair: each pair's key is judged, not the first one's
    url = "https://evil.example/c?n=1&Zq8vK2mW9pL4=1"
    assert clicked(url) == link(url)


def test_a_random_query_key_of_eleven_characters_is_navigation() -> None:
    assert clicked("https://evil.example/c?n=1&Zq8vK2mW9pL=1") == []


def test_a_query_key_of_three_percent_escapes_carries_data() -> None:
    url = "https://evil.example/c?%41%42%43=1"
    assert clicked(url) == link(url)


# Path.


def test_a_random_path_segment_of_twenty_characters_carries_data() -> None:
    url = "https://evil.example/Zq8vK2mW9pL4xR7tY3nB/view"
    assert clicked(url) == link(url)


def test_a_random_path_segment_of_nineteen_characters_is_navigation() -> None:
    assert clicked("https://evil.example/Zq8vK2mW9pL4xR7tY3n/view") == []


def test_a_path_segment_of_three_percent_escapes_carries_data() -> None:
    url = "https://evil.example/s/%73%65%63"
    assert clicked(url) == link(url)


def test_a_path_segment_of_two_percent_escapes_is_navigation() -> None:
    assert clicked("https://evil.example/s/%73%65") == []


@pytest.mark.parametrize(
    "path",
    ["/caf%C3%A9/men%C3%BC", "/Zq8vK2mW/9pL4xR7t/Y3nB6cV1"],
    ids=["escapes", "random"],
)
def test_segments_are_judged_one_by_one_not_as_a_whole_path(path: str) -> None:
    # Given a path whose escapes or randomness reach a threshold only when its segments are summed
    # Then no segment carries data
    assert clicked(f"https://evil.example{path}") == []


# Fragment.


def test_a_fragment_of_pairs_is_judged_as_a_query_even_in_words() -> None:
    url = "https://evil.example/s#q=quarterly+revenue+numbers"
    assert clicked(url) == link(url)


def test_a_random_fragment_of_twelve_characters_carries_data() -> None:
    url = "https://evil.example/#Zq8vK2mW9pL4"
    assert clicked(url) == link(url)


def test_a_random_fragment_of_eleven_characters_is_navigation() -> None:
    assert clicked("https://evil.example/#Zq8vK2mW9pL") == []


def test_a_fragment_route_of_short_segments_is_navigation() -> None:
    assert clicked("https://evil.example/#/Zq8vK2/mW9pL4/xR7tY3") == []


def test_a_fragment_of_random_letters_in_one_run_carries_data() -> None:
    # Given one run of mixed-case letters, no longer than a word but not one
    url = "https://evil.example/#QzVkWmPbRtXnLy"
    assert clicked(url) == link(url)


# Titles in words: random-looking by their letters, navigation by their shape.


@pytest.mark.parametrize(
    "segment",
    ["Annual_Sustainability", "Troubleshooting_Guide", "Quarterly-Results-2024"],
    ids=["two-words", "fifteen-letter-word", "four-digit-number"],
)
def test_a_path_title_in_words_and_short_numbers_is_navigation(segment: str) -> None:
    assert clicked(f"https://evil.example/{segment}") == []


@pytest.mark.parametrize(
    "segment",
    ["Misunderstanding_Guide", "Quarterly-Results-20245", "Zq8v-K2mW-9pL4-xR7t-Y3nB"],
    ids=["sixteen-letter-run", "five-digit-number", "letters-and-digits-in-a-run"],
)
def test_a_path_segment_with_a_run_longer_than_a_word_or_a_mixed_run_carries_data(segment: str) -> None:
    url = f"https://evil.example/{segment}"
    assert clicked(url) == link(url)


# Readings: the text as received, and as a decoding client reads it.


def test_escaped_markup_is_found_and_its_span_is_in_the_original_text() -> None:
    # Given an image spelt with character references, after another reference that shifts offsets
    text = 'Fish &amp; chips &lt;img src="//evil.example/p.png"&gt;'
    # Then the image is found, spanning the URL where the original text spells it
    assert found(text) == [("exfiltration_resource", "//evil.example/p.png")]


def test_markup_spelt_in_tag_characters_is_found() -> None:
    hidden = in_tag_characters('<img src="//evil.example/p.png">')
    assert found(f"see {hidden} ok") == [("exfiltration_resource", in_tag_characters("//evil.example/p.png"))]


def test_a_full_width_exclamation_mark_does_not_make_a_link_an_image() -> None:
    # Given U+FF01, the full-width "!", which normalisation folds to "!" but no client renders as one
    # Then the link after it is only a link, and carries no data
    assert found("\uff01[x](//evil.example/p.png)") == []


def test_two_identical_touching_findings_are_both_reported() -> None:
    # Given an image tag, and right after it the same image escaped one level deeper, which only
    # the decoded reading renders (as a whole tag, its URL still escaped)
    tag = '<img src="https&#58;//evil.example/p.png">'
    escaped = '&lt;img src="https&amp;#58;//evil.example/p.png"&gt;'
    # Then the second span starts where the first ends: touching is not overlapping
    assert found(tag + escaped) == [("exfiltration_resource", tag), ("exfiltration_resource", escaped)]


# What a finding carries, and what a render may cost.


def test_an_executable_link_has_the_link_confidence() -> None:
    (hit,) = detect_exfiltration(normalise("[x](javascript:alert(1))"), ALLOWED)
    assert (hit.type, hit.confidence) == ("exfiltration_link", 0.8)


def test_a_render_past_the_detector_budget_raises() -> None:
    # Given a budget of zero, and a clock that moves a microsecond per reading from 1000 s (a
    # clock reads a point in time, not a duration, as perf_counter does)
    ticks = itertools.count()
    # Then the render stops at its first look at the clock
    with pytest.raises(RenderBudgetExceeded):
        detect_exfiltration(
            normalise('<img src="//evil.example/p.png">'),
            ALLOWED,
            budget_seconds=0.0,
            clock=lambda: 1000.0 + next(ticks) / 1_000_000,
        )


def test_the_render_budget_is_read_on_the_injected_clock() -> None:
    # Given a budget of zero on a clock that never moves: the deadline is never passed
    view = normalise('<img src="//evil.example/p.png">')
    # Then the text is rendered and screened, whatever the wall clock says
    (hit,) = detect_exfiltration(view, ALLOWED, budget_seconds=0.0, clock=lambda: 1000.0)
    assert hit.type == "exfiltration_resource"
