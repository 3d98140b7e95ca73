"""Escapes a reader's software decodes, found so that screening reads what they spell.

A browser shows `&#64;` as `@`, a JSON or JavaScript consumer reads `\\u0041` as `A`, and a
markdown renderer shows `ghp\\_…` as `ghp_…`. `escapes()` lists each such escape in a text with
what it decodes to; normalise.py builds the detectors' view from them, mapping each decoded
character back to its whole escape.

Decoded:
- JSON and JavaScript string escapes: `\\uXXXX` (a surrogate pair such as `\\ud83d\\ude00` is one
  character), `\\u{…}`, `\\xHH`, `\\b \\f \\n \\r \\t \\v`, and a backslash before ASCII
  punctuation (`\\/`, `\\"`, `\\\\`; CommonMark reads `\\_`, `\\-`, `\\*` the same way);
- HTML character references, by the rules and table of `html.unescape`, one reference at a time:
  named (`&amp;`, `&colon;`, and the legacy names a browser accepts without `;`, such as `&amp`),
  decimal (`&#64;`, `&#64`) and hexadecimal (`&#x40;`).

Not decoded: percent-encoding (URLs are the exfiltration detector's), and anything a second
time. Decoding is one level by design, and that is a known limit: `&amp;#64;` reads as `&#64;`,
`\\\\u0041` as `\\u0041`, so a double-encoded value is screened in its once-decoded form.
A reference `html.unescape` would drop (`&#1;`) stays as written: decoding never deletes.

Work is linear: candidates are found with a single-character-class pattern, each is read with
bounded look-ahead, and the only unbounded reads (the digits of a number, which may have any
number of leading zeros) consume what they read.
"""

from __future__ import annotations

import html
import re
import string
from collections.abc import Iterator
from functools import lru_cache
from html.entities import html5
from typing import Final

_CANDIDATE: Final = re.compile(r"[\\&]")
_HEX_RUN: Final = re.compile("[0-9A-Fa-f]*")
_DIGIT_RUN: Final = re.compile("[0-9]*")
_NAME_RUN: Final = re.compile("[0-9A-Za-z]*")
_HEX: Final = frozenset(string.hexdigits)
_PUNCTUATION: Final = frozenset(string.punctuation)
_CONTROL_ESCAPES: Final = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_LONGEST_NAME: Final = 32  # html.unescape reads at most this many characters of a name
_MAX_CODE_POINT: Final = 0x10FFFF
_LONGEST_NUMBER: Final = 8  # digits, leading zeros aside; 0x110000 and 10000000 are beyond Unicode
_BEYOND_UNICODE: Final = "110000"

type Escape = tuple[int, str]  # where the escape ends, and what it decodes to


def escapes(text: str) -> Iterator[tuple[int, int, str]]:
    """`(start, end, decoded)` for each escape in `text`, left to right, not overlapping."""
    if "\\" not in text and "&" not in text:
        return
    consumed = 0
    for candidate in _CANDIDATE.finditer(text):
        start = candidate.start()
        if start < consumed:
            continue  # inside the escape before (the second backslash of `\\`)
        found = _backslash_escape(text, start) if text[start] == "\\" else _reference(text, start)
        if found is not None:
            consumed = found[0]
            yield start, found[0], found[1]


def _backslash_escape(text: str, start: int) -> Escape | None:
    kind = text[start + 1 : start + 2]
    if kind == "u":
        return _unicode_escape(text, start)
    if kind == "x":
        digits = text[start + 2 : start + 4]
        return (start + 4, chr(int(digits, 16))) if len(digits) == 2 and _HEX.issuperset(digits) else None
    if kind in _CONTROL_ESCAPES:
        return start + 2, _CONTROL_ESCAPES[kind]
    if kind in _PUNCTUATION:
        return start + 2, kind
    return None


def _unicode_escape(text: str, start: int) -> Escape | None:
    if text[start + 2 : start + 3] == "{":
        digits_end = _HEX_RUN.match(text, start + 3).end()  # type: ignore[union-attr]  # `*` always matches
        if digits_end == start + 3 or text[digits_end : digits_end + 1] != "}":
            return None
        digits = text[start + 3 : digits_end].lstrip("0") or "0"
        if len(digits) > 6 or int(digits, 16) > _MAX_CODE_POINT:
            return None
        return digits_end + 1, chr(int(digits, 16))
    digits = text[start + 2 : start + 6]
    if len(digits) < 4 or not _HEX.issuperset(digits):
        return None
    code = int(digits, 16)
    if 0xD800 <= code < 0xDC00 and text[start + 6 : start + 8] == "\\u":
        # JSON spells a character beyond the BMP as a surrogate pair: one character.
        low = text[start + 8 : start + 12]
        if len(low) == 4 and _HEX.issuperset(low) and 0xDC00 <= int(low, 16) < 0xE000:
            return start + 12, chr(0x10000 + ((code - 0xD800) << 10) + (int(low, 16) - 0xDC00))
    return start + 6, chr(code)


def _reference(text: str, start: int) -> Escape | None:
    if text[start + 1 : start + 2] == "#":
        hexadecimal = text[start + 2 : start + 3] in {"x", "X"}
        digits_start = start + 3 if hexadecimal else start + 2
        run = _HEX_RUN if hexadecimal else _DIGIT_RUN
        digits_end = run.match(text, digits_start).end()  # type: ignore[union-attr]  # `*` always matches
        if digits_end == digits_start:
            return None
        digits = text[digits_start:digits_end].lstrip("0") or "0"
        if len(digits) > _LONGEST_NUMBER:
            # Beyond U+10FFFF: html.unescape reads any such number as it reads the first one.
            digits, hexadecimal = _BEYOND_UNICODE, True
        decoded = _number(digits, hexadecimal=hexadecimal)
        if decoded is None:
            return None
        return digits_end + (text[digits_end : digits_end + 1] == ";"), decoded
    name_end = _NAME_RUN.match(text, start + 1, start + 1 + _LONGEST_NAME).end()  # type: ignore[union-attr]
    if name_end == start + 1:
        return None
    name = text[start + 1 : name_end] + (";" if text[name_end : name_end + 1] == ";" else "")
    named = _named(name)
    if named is None:
        return None
    return start + 1 + named[0], named[1]


@lru_cache(maxsize=4096)
def _number(digits: str, *, hexadecimal: bool) -> str | None:
    """A numeric reference's character by html.unescape's own rules: its table of Windows-1252
    stand-ins (`&#128;` is €), U+FFFD for surrogates and numbers beyond Unicode, and nothing for
    a few control characters (kept as written here)."""
    return html.unescape(f"&#{'x' if hexadecimal else ''}{digits};") or None


@lru_cache(maxsize=4096)
def _named(name: str) -> tuple[int, str] | None:
    """How much of `name` (after the `&`) html.unescape reads as a reference, and its characters."""
    # The whole name if the table has it, else the longest prefix of at least two characters
    # that it has: the legacy names valid without `;` (`&ampx` is `&x`).
    if name in html5:
        return len(name), html5[name]
    for length in range(len(name) - 1, 1, -1):
        if name[:length] in html5:
            return length, html5[name[:length]]
    return None
