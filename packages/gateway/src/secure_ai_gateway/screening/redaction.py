"""Redaction: replace spans of the original text with typed placeholders."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(slots=True)
class _Replacement:
    start: int
    end: int
    placeholder: str
    widest: int  # length of the widest span merged in, which names the placeholder


def redact(text: str, spans: Iterable[tuple[int, int, str]]) -> str:
    """`text` with each `(start, end, placeholder)` span replaced (see `redact_tracking`)."""
    return redact_tracking(text, spans, ())[0]


def redact_tracking(
    text: str, spans: Iterable[tuple[int, int, str]], kept: Sequence[tuple[int, int]]
) -> tuple[str, list[tuple[int, int]]]:
    """`text` with each `(start, end, placeholder)` span replaced.

    Overlapping spans merge into one replacement covering their union, named after the
    widest span in it (an e-mail inside a redacted link becomes one `[LINK]`). Touching but
    not overlapping spans stay separate. Returns the text and where each `kept` span (one that no
    replacement overlaps) now stands; a kept span that a replacement overlaps is gone.
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
    return "".join(pieces), _moved(kept, merged)


def _moved(kept: Sequence[tuple[int, int]], merged: list[_Replacement]) -> list[tuple[int, int]]:
    """Where the kept spans stand after the replacements; overlapped ones are dropped."""
    starts = [replacement.start for replacement in merged]
    # shift[i]: how much the first i replacements changed the length of the text before them.
    shift = [0]
    for replacement in merged:
        shift.append(shift[-1] + len(replacement.placeholder) - (replacement.end - replacement.start))
    moved: list[tuple[int, int]] = []
    for start, end in kept:
        before = bisect_right(starts, start)
        if before and merged[before - 1].end > start:
            continue
        if before < len(merged) and merged[before].start < end:
            continue
        moved.append((start + shift[before], end + shift[before]))
    return moved
