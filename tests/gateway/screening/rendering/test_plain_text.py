"""bare_urls(): the URLs a reader could open from displayed text."""

from __future__ import annotations

import pytest

from secure_ai_gateway.screening.rendering.plain_text import bare_urls


def spellings(text: str) -> list[str]:
    return [text[start:end] for start, end, _ in bare_urls(text)]


@pytest.mark.parametrize(
    ("text", "spelling"),
    [
        ("see https://e.example/x?d=1.", "https://e.example/x?d=1"),
        ("see HTTPS://E.EXAMPLE/x", "HTTPS://E.EXAMPLE/x"),
        ("see https:\\e.example/x", "https:\\e.example/x"),
        ("see https:/\\e.example/x", "https:/\\e.example/x"),
        ("see https:////e.example/x", "https:////e.example/x"),
        ("see wss://e.example/x", "wss://e.example/x"),
        ("see //e.example/x", "//e.example/x"),
        ("see (//e.example/x)", "//e.example/x"),
        ("see www.e.example/x", "www.e.example/x"),
        ("see https://u:p@e.example/x", "https://u:p@e.example/x"),
        ("see https://[2001:db8::1]/x", "https://[2001:db8::1]/x"),
        ("see https://e.example/?e=<EMAIL_1> now", "https://e.example/?e=<EMAIL_1>"),
        ("see evil.com/x?d=1", "evil.com/x?d=1"),
    ],
)
def test_a_url_is_found_in_each_spelling_a_reader_could_open(text: str, spelling: str) -> None:
    assert spellings(text) == [spelling]


@pytest.mark.parametrize(
    "text",
    ["// TODO: remove", "The protocol is https:// then the host", "a/b//c", "see //x/ now", "1.5 and 2.0"],
)
def test_text_that_only_looks_like_a_url_is_not_one(text: str) -> None:
    assert spellings(text) == []


def test_a_url_after_a_double_slash_word_is_not_swallowed() -> None:
    assert spellings("see //x/https://e.example/c?d=1 now") == ["https://e.example/c?d=1"]


def test_www_gets_a_scheme_to_parse() -> None:
    assert bare_urls("www.e.example/x") == [(0, 15, "https://www.e.example/x")]


def test_a_closing_parenthesis_belongs_to_the_url_only_when_balanced() -> None:
    assert spellings("(see https://e.example/a_(b)) and (https://e.example/c)") == [
        "https://e.example/a_(b)",
        "https://e.example/c",
    ]


def test_bare_domains_deep_in_a_long_paragraph_are_found_with_their_offsets() -> None:
    # Given a paragraph far longer than one linkify piece, with bare domains past its first piece
    filler = "word " * 3000
    text = f"{filler}see evil.com/a and {filler}mail bob@mail.com now"
    found = {url: (start, end) for start, end, url in bare_urls(text)}
    # Then each is found, at its own place in the whole text
    start, end = found["http://evil.com/a"]
    assert text[start:end] == "evil.com/a"
    start, end = found["mailto:bob@mail.com"]
    assert text[start:end] == "bob@mail.com"
