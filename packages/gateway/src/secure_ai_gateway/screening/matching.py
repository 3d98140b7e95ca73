"""RE2 patterns for the detectors: linear-time matching with character offsets.

Every detector pattern is compiled here, with RE2 (no backtracking, so a match attempt is linear
in the input). RE2 alone does not make `finditer` linear: a search that has found a match keeps
reading while a higher-priority alternative is still alive, and each later search can re-read
the same stretch (`a+b|a` over "aaaa…" is quadratic even on RE2). The detector patterns
therefore bound every run that must be followed by something else, so a search reads at most
a bounded distance past the match it returns; bench/bench_screening.py times adversarial inputs.

Texts are matched as UTF-8 bytes, encoded once per text. The `re2` wrapper's `str` path would
re-encode the text and translate every offset on each pass (~5 ms per pass per MB, and the
secrets detector makes twenty passes); here byte offsets are translated only for the matches,
and only when the text is not ASCII (for ASCII, bytes are characters).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from itertools import accumulate
from typing import Any, Final, Protocol, cast

import re2

# Lone surrogates cannot be UTF-8 encoded for RE2; U+FFFD keeps the offsets (stdlib re: a
# single character class, linear, and able to see surrogates, which RE2 cannot).
_SURROGATE = re.compile("[\ud800-\udfff]")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_SHORT_RUN: Final = 64


class RegexMatch(Protocol):
    """The part of an `re2` match object the detectors use (offsets in characters)."""

    def span(self, group: int = 0) -> tuple[int, int]: ...

    def start(self, group: int = 0) -> int: ...

    def end(self, group: int = 0) -> int: ...


class _ByteToChar:
    """Character offsets of UTF-8 byte offsets, built on first use from the non-ASCII runs.

    Outside a run, the character offset is the byte offset minus the extra bytes of the runs
    before it; inside a run it is found by position within the run.
    """

    __slots__ = ("_byte_starts", "_char_starts", "_extra_after", "_run_offsets", "_runs", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._byte_starts: list[int] | None = None
        self._char_starts: list[int] = []
        self._runs: list[str] = []
        self._extra_after: list[int] = []
        self._run_offsets: dict[int, list[int]] = {}

    def char(self, byte_offset: int) -> int:
        if byte_offset < 0:
            return byte_offset  # an unmatched group
        if self._byte_starts is None:
            self._build()
        byte_starts = cast(list[int], self._byte_starts)
        index = bisect_right(byte_starts, byte_offset) - 1
        if index < 0:
            return byte_offset
        run = self._runs[index]
        run_bytes = len(run) + self._extra_after[index] - (self._extra_after[index - 1] if index else 0)
        within = byte_offset - byte_starts[index]
        if within >= run_bytes:
            return byte_offset - self._extra_after[index]
        return self._char_starts[index] + self._chars_in(index, run, within)

    def _build(self) -> None:
        byte_starts: list[int] = []
        extra = 0
        for match in _NON_ASCII_RUN.finditer(self._text):
            run = match.group()
            byte_starts.append(match.start() + extra)
            self._char_starts.append(match.start())
            self._runs.append(run)
            extra += len(run.encode()) - len(run)
            self._extra_after.append(extra)
        self._byte_starts = byte_starts

    def _chars_in(self, index: int, run: str, byte_count: int) -> int:
        if len(run) <= _SHORT_RUN:
            return len(run.encode()[:byte_count].decode("utf-8", "ignore"))
        # A long run (e.g. text without spaces) gets a per-character table, built once.
        offsets = self._run_offsets.get(index)
        if offsets is None:
            offsets = [0, *accumulate(len(char.encode()) for char in run)]
            self._run_offsets[index] = offsets
        return bisect_right(offsets, byte_count) - 1


class _CharMatch:
    """An `re2` match over UTF-8 bytes, answering in character offsets."""

    __slots__ = ("_match", "_offsets")

    def __init__(self, match: Any, offsets: _ByteToChar) -> None:
        self._match = match
        self._offsets = offsets

    def span(self, group: int = 0) -> tuple[int, int]:
        start, end = self._match.span(group)
        return self._offsets.char(start), self._offsets.char(end)

    def start(self, group: int = 0) -> int:
        return self._offsets.char(self._match.start(group))

    def end(self, group: int = 0) -> int:
        return self._offsets.char(self._match.end(group))


class ScanTarget:
    """A text prepared once for many patterns: its UTF-8 bytes and the way back to characters."""

    __slots__ = ("_bytes", "_offsets", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        if text.isascii():
            self._bytes = text.encode("ascii")
            self._offsets: _ByteToChar | None = None
            return
        clean = _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text
        self._bytes = clean.encode("utf-8")
        self._offsets = _ByteToChar(clean)


class Pattern:
    """A compiled RE2 pattern with its named groups as indices."""

    __slots__ = ("_regex", "groups")

    def __init__(self, pattern: str, *, max_mem: int = 64 << 20) -> None:
        options = re2.Options()
        # More DFA memory than the 8 MiB default: without it RE2 falls back to its (still
        # linear, but slower) NFA on long inputs.
        options.max_mem = max_mem
        options.log_errors = False
        self._regex = re2.compile(pattern, options)
        self.groups: dict[str, int] = dict(self._regex.groupindex)

    def finditer(self, target: ScanTarget) -> Iterator[RegexMatch]:
        """Non-overlapping matches, leftmost first, with character offsets."""
        matches = self._regex.finditer(target._bytes)
        offsets = target._offsets
        if offsets is None:
            return cast(Iterator[RegexMatch], matches)
        return (_CharMatch(match, offsets) for match in matches)

    def search(self, text: str | bytes) -> RegexMatch | None:
        """The leftmost match in `text`, if any (one pass; do not call in a loop)."""
        return cast(RegexMatch | None, self._regex.search(text))


class HintSet:
    """Which of many short patterns occur in a text, found in one RE2 pass (a prefilter)."""

    __slots__ = ("_set",)

    def __init__(self, hints: list[str]) -> None:
        """`present` answers with indices into `hints`."""
        options = re2.Options()
        options.log_errors = False
        self._set = re2.Set.SearchSet(options)
        for hint in hints:
            self._set.Add(hint)
        self._set.Compile()

    def present(self, target: ScanTarget) -> frozenset[int]:
        """Indices of the hints that occur anywhere in `target`."""
        # The wrapper answers None rather than an empty list when nothing occurs.
        return frozenset(self._set.Match(target._bytes) or ())


def escape(literal: str) -> str:
    """`literal` quoted for use inside an RE2 pattern."""
    return cast(str, re2.escape(literal))
