"""Redaction: replace spans of the original text with typed placeholders."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(slots=True)
class _Replacement:
    start: int
    end: int
    placeholder: str
    widest: int  # length of the widest span merged in, which names the placeholder


def redact(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    """`text` with each `(start, end, placeholder)` span replaced.

    Overlapping spans merge into one replacement covering their union, named after the
    widest span in it (an e-mail inside a redacted link becomes one `[LINK]`). Touching but
    not overlapping spans stay separate.
    """
    merged: list[_Replacement] = []
    for start, end, placeholder in sorted(spans, key=lambda span: (span[0], -span[1])):
        if merged and start < merged[-1].end:
            last = merged[-1]
            last.end = max(last.end, end)
            if end - start > last.widest:
                last.placeholder, last.widest = placeholder, end - start
            continue
        merged.append(_Replacement(start, end, placeholder, end - start))
    pieces: list[str] = []
    cursor = 0
    for replacement in merged:
        pieces.append(text[cursor : replacement.start])
        pieces.append(replacement.placeholder)
        cursor = replacement.end
    pieces.append(text[cursor:])
    return "".join(pieces)
