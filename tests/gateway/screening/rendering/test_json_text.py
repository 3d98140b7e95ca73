"""json_unescaped(): the text a client reads after JSON-decoding, mapped back to the original."""

from __future__ import annotations

from secure_ai_gateway.screening.rendering.json_text import json_unescaped


def test_json_escapes_are_decoded() -> None:
    decoded = json_unescaped('a \\"https:\\/\\/e.example\\u002fx\\" \\ud83d\\ude00\\n\\\\')
    assert decoded is not None
    assert decoded[0] == 'a "https://e.example/x" \U0001f600\n\\'


def test_each_escape_maps_back_to_its_whole_spelling() -> None:
    text = "x https:\\/\\/e.example y"
    decoded = json_unescaped(text)
    assert decoded is not None
    decoded_text, offsets = decoded
    start = decoded_text.index("https")
    end = start + len("https://e.example")
    assert offsets.source_span(start, end) == (2, 2 + len("https:\\/\\/e.example"))


def test_a_malformed_escape_is_kept_as_written() -> None:
    decoded = json_unescaped("\\x41 \\u12 \\q and \\/")
    assert decoded is not None
    assert decoded[0] == "\\x41 \\u12 \\q and /"


def test_text_without_a_json_escape_has_no_decoded_reading() -> None:
    assert json_unescaped("no escapes here") is None
    assert json_unescaped("a \\q backslash") is None
