"""Bidi controls: findings in their own right, and the display order they impose.

The embedding, override and isolate controls (U+202A to U+202E, U+2066 to U+2069) make a
screen show characters in another order than they are stored: `moc.elpmaxe@nhoj` between RLO
(U+202E) and PDF (U+202C) is displayed as an e-mail address. `bidi_controls.detect_bidi_controls` reports
each run of them; `display_pieces` gives the order a reader sees, from which normalise.py
builds `NormalisedText.visual()` for the text detectors. LRM, RLM and ALM (U+200E, U+200F,
U+061C) only nudge neutral characters and are not findings.

The display order is the explicit part of the Unicode Bidirectional Algorithm (UAX #9: X1-X8
with its stack of 125 levels and overflow counters, then L2) on a left-to-right paragraph:
RLE, RLO and RLI open an odd level, LRE, LRO, LRI and FSI an even one, PDF and PDI close them,
a paragraph separator (a line break) closes all; characters at odd levels are displayed
reversed, and nested levels reverse again. Simplifications, known limits:
- inside RLE and RLI every character is read as right-to-left, as RLO makes it. The full
  algorithm keeps Latin letters and digits in order there (the logical view reads that order)
  but moves digit groups around spaces, which neither view reads;
- FSI is read as LRI (its direction would come from its first letter);
- right-to-left letters outside any control (Hebrew, Arabic) are not reordered.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final

_CONTROL: Final = re.compile("[\u202a-\u202e\u2066-\u2069]")
CONTROL_RUN: Final = re.compile("[\u202a-\u202e\u2066-\u2069]+")
_PARAGRAPH_END: Final = re.compile("[\n\r\x1c-\x1e\x85\u2029]")
_MAX_DEPTH: Final = 125  # UAX #9's max_depth: deeper controls overflow and are ignored

# The opening controls: whether each opens an odd (right-to-left) level, and an isolate.
_OPENS: Final = {
    "\u202a": (False, False),  # LRE
    "\u202b": (True, False),  # RLE
    "\u202d": (False, False),  # LRO
    "\u202e": (True, False),  # RLO
    "\u2066": (False, True),  # LRI
    "\u2067": (True, True),  # RLI
    "\u2068": (False, True),  # FSI, read as LRI
}
_PDF: Final = "\u202c"
_PDI: Final = "\u2069"

type Piece = tuple[int, int, bool]  # a source span, and whether it is displayed reversed


def display_pieces(text: str) -> list[Piece] | None:
    """Spans of `text` in the order a screen displays them, controls left out.

    None when no control reverses anything (no control, or only left-to-right ones). A
    reversed piece never splits a base character from its combining marks: those stay after
    their base, as a screen draws them.
    """
    if _CONTROL.search(text) is None:
        return None
    segments = _explicit_levels(text)
    if not any(level % 2 for _, _, level in segments):
        return None  # even levels only: reversed an even number of times, i.e. not at all
    return _keep_clusters(text, _display_order(segments))


def _explicit_levels(text: str) -> list[tuple[int, int, int]]:
    """`(start, end, level)` of the text between the controls, in logical order (UAX #9 X1-X8)."""
    segments: list[tuple[int, int, int]] = []
    embeddings = _Embeddings()
    position = 0
    for match in _CONTROL.finditer(text):
        start = match.start()
        if start > position:
            embeddings = _add_text(text, position, start, embeddings, segments)
        embeddings.apply(text[start])
        position = start + 1
    if position < len(text):
        _add_text(text, position, len(text), embeddings, segments)
    return segments


def _add_text(
    text: str, start: int, end: int, embeddings: _Embeddings, segments: list[tuple[int, int, int]]
) -> _Embeddings:
    """Add `text[start:end]` at the current level; after a paragraph end, at level 0 afresh."""
    paragraph_end = None if embeddings.idle() else _PARAGRAPH_END.search(text, start, end)
    if paragraph_end is None:
        segments.append((start, end, embeddings.stack[-1][0]))
        return embeddings
    if paragraph_end.start() > start:
        segments.append((start, paragraph_end.start(), embeddings.stack[-1][0]))
    segments.append((paragraph_end.start(), end, 0))
    return _Embeddings()


class _Embeddings:
    """The stack of explicit levels (UAX #9, X1-X8) of a left-to-right paragraph."""

    __slots__ = ("overflow_embeddings", "overflow_isolates", "stack", "valid_isolates")

    def __init__(self) -> None:
        self.stack = [(0, False)]  # (level, opened by an isolate)
        self.overflow_isolates = 0
        self.overflow_embeddings = 0
        self.valid_isolates = 0

    def idle(self) -> bool:
        """Nothing is open: a paragraph end would change nothing."""
        return len(self.stack) == 1 and not self.overflow_isolates and not self.overflow_embeddings

    def apply(self, control: str) -> None:
        """Open or close a level as `control` says, with the overflow rules of X5-X7."""
        stack = self.stack
        if control == _PDF:
            if self.overflow_isolates:
                return
            if self.overflow_embeddings:
                self.overflow_embeddings -= 1
            elif len(stack) > 1 and not stack[-1][1]:
                stack.pop()
        elif control == _PDI:
            if self.overflow_isolates:
                self.overflow_isolates -= 1
            elif self.valid_isolates:
                self.overflow_embeddings = 0
                while not stack.pop()[1]:
                    pass
                self.valid_isolates -= 1
        else:
            odd, isolate = _OPENS[control]
            level = stack[-1][0]
            new_level = level + 1 if (level % 2 == 0) == odd else level + 2
            if new_level <= _MAX_DEPTH and not self.overflow_isolates and not self.overflow_embeddings:
                stack.append((new_level, isolate))
                self.valid_isolates += isolate
            elif isolate:
                self.overflow_isolates += 1
            elif not self.overflow_isolates:
                self.overflow_embeddings += 1


class _Run:
    """Text at `level` or deeper, reversed once for each level in `floor`..`level` (L2)."""

    __slots__ = ("floor", "items", "level")

    def __init__(self, floor: int, level: int) -> None:
        self.floor = floor
        self.level = level
        self.items: list[_Run | tuple[int, int]] = []


def _display_order(segments: list[tuple[int, int, int]]) -> list[Piece]:
    """Rule L2 in linear time: a tree of nested runs, then one walk that flips as it descends.

    Reversing each level's runs in turn would cost the text length times the depth; a run
    covering several levels that have no text of their own is one node.
    """
    root = _Run(0, 0)
    stack = [root]
    for start, end, level in segments:
        while stack[-1].level > level:
            run = stack.pop()
            if stack[-1].level < level:
                # The closed run sits inside a level between it and its parent: that level
                # gets its own node, which this segment joins.
                between = _Run(stack[-1].level + 1, level)
                stack[-1].items[-1] = between
                between.items.append(run)
                run.floor = level + 1
                stack.append(between)
        if stack[-1].level < level:
            run = _Run(stack[-1].level + 1, level)
            stack[-1].items.append(run)
            stack.append(run)
        stack[-1].items.append((start, end))
    pieces: list[Piece] = []
    _walk(root, reverse=False, pieces=pieces)
    return pieces


def _walk(run: _Run, *, reverse: bool, pieces: list[Piece]) -> None:
    # L2 reverses the runs at each level from the highest down to 1 (the lowest odd level of a
    # left-to-right line), so a run is reversed once per level it spans. Recursion depth is
    # bounded by the 125 levels.
    spanned = run.level - max(run.floor, 1) + 1 if run.level else 0
    flip = reverse != (spanned % 2 == 1)
    for item in reversed(run.items) if flip else run.items:
        if isinstance(item, _Run):
            _walk(item, reverse=flip, pieces=pieces)
        else:
            pieces.append((item[0], item[1], flip))


def _keep_clusters(text: str, pieces: list[Piece]) -> list[Piece]:
    """Reversed pieces split so that each combining sequence keeps its own order."""
    kept: list[Piece] = []
    for start, end, flipped in pieces:
        if not flipped or text[start:end].isascii():
            kept.append((start, end, flipped))
            continue
        boundaries = [index for index in range(start, end) if index == start or not _attaches(text[index])]
        boundaries.append(end)
        for cluster_end, cluster_start in zip(reversed(boundaries), reversed(boundaries[:-1]), strict=False):
            if cluster_end - cluster_start > 1:
                kept.append((cluster_start, cluster_end, False))
            elif kept and kept[-1][2] and kept[-1][0] == cluster_end:
                kept[-1] = (cluster_start, kept[-1][1], True)
            else:
                kept.append((cluster_start, cluster_end, True))
    return kept


@lru_cache(maxsize=4096)
def _attaches(char: str) -> bool:
    """A mark or an invisible format character, drawn with the character before it."""
    category = unicodedata.category(char)
    return category[0] == "M" or category == "Cf"
