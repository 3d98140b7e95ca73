"""Text normalisation for screening, with a map back to the original characters.

Detectors look at a normalised view (NFKC, invisible characters removed, every decimal digit
as ASCII) so that full-width digits or a zero-width joiner inside an e-mail address do not
hide it. Redaction must still replace the characters the client sent, so every view keeps an
offset map back to the original text.

Two views exist:
- `NormalisedText.text`: NFKC + invisible characters removed + digits as ASCII. Case and
  script are kept (secrets are case-sensitive; a Cyrillic host name must stay Cyrillic so it
  cannot pass for an allow-listed Latin one).
- `NormalisedText.folded()`: the normalised view with Latin look-alike letters folded to
  Latin and case folded, for deny terms and the canary.

The patterns here use the standard library `re`, not RE2: they are single character classes
(linear by construction) and must match lone surrogates, which RE2 (UTF-8 only) cannot see.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from functools import lru_cache
from typing import Final

# Invisible characters: every format character (Unicode category Cf, incl. zero-width
# space/joiners, bidi controls, word joiner, BOM, tag characters used for "ASCII smuggling")
# plus the invisible marks and fillers outside Cf (combining grapheme joiner, Hangul fillers,
# Mongolian and standard variation selectors, Khmer inherent vowels).
_INVISIBLE_CLASS = (
    "\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u17b4\u17b5"
    "\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\u3164\ufe00-\ufe0f"
    "\ufeff\uffa0\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f\U000e0100-\U000e01ef"
)
_INVISIBLE = re.compile(f"[{_INVISIBLE_CLASS}]")
# Characters that force the slow path even inside NFKC-normal text: invisibles, lone
# surrogates (cannot be UTF-8 encoded) and non-ASCII decimal digits (e.g. Arabic-Indic).
_SPECIAL = re.compile(f"[{_INVISIBLE_CLASS}\ud800-\udfff]|(?![0-9])\\d")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")

# Latin look-alikes folded to the Latin letter they imitate. Written as escapes: the look-alikes
# themselves would be indistinguishable from Latin in review. Full-width and mathematical
# letters are handled by NFKC.
_HOMOGLYPHS: Final[dict[int, int]] = {
    # Cyrillic look-alikes (a, ve, ghe, ie, io, shha, i, yi, je, ka, em, en, o, pe, er, es, te, u, ha, ...)
    **str.maketrans(
        "\u0430\u0432\u0433\u0435\u0451\u04bb\u0456\u0457\u0458\u043a\u043c\u043d", "abreehiijkmh"
    ),
    **str.maketrans(
        "\u043e\u043f\u0440\u0441\u0442\u0443\u0445\u0455\u0501\u051b\u051d\u04cf", "onpctyxsdqwl"
    ),
    **str.maketrans(
        "\u0475\u04af\u0410\u0412\u0415\u0401\u041a\u041c\u041d\u041e\u0420\u0421", "vyabeekmhopc"
    ),
    **str.maketrans(
        "\u0422\u0423\u0425\u0405\u0406\u0407\u0408\u051a\u051c\u04c0\u04ba\u04ae", "tyxsiijqwlhy"
    ),
    **str.maketrans("\u0474", "v"),
    # Greek look-alikes (omicron, alpha, beta, gamma, epsilon, eta, iota, kappa, nu, rho, ...)
    **str.maketrans(
        "\u03bf\u03b1\u03b2\u03b3\u03b5\u03b7\u03b9\u03ba\u03bd\u03c1\u03c4\u03c5", "oabyenikvptu"
    ),
    **str.maketrans(
        "\u03c7\u03f2\u03f3\u03c9\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c", "xcjwabezhikm"
    ),
    **str.maketrans("\u039d\u039f\u03a1\u03a4\u03a5\u03a7\u03f9\u037f", "noptyxcj"),
    # Armenian look-alikes (oh, vo, seh, ho, co)
    **str.maketrans("\u0585\u0578\u057d\u0570\u0581", "onuhg"),
    # Latin-extended look-alikes: dotless i/j, script g, long s, small capitals
    **str.maketrans(
        "\u0131\u0237\u0261\u017f\u1d00\u0299\u1d04\u1d05\u1d07\u0262\u029c\u026a", "ijgsabcdeghi"
    ),
    **str.maketrans(
        "\u1d0a\u1d0b\u029f\u1d0d\u0274\u1d0f\u1d18\u0280\ua731\u1d1b\u1d1c\u1d20", "jklmnoprstuv"
    ),
    **str.maketrans("\u1d21\u028f\u1d22", "wyz"),
}


class OffsetMap:
    """Maps spans of a derived text back to the text it was derived from.

    The derived text is a sequence of segments. An identity segment copies a run of source
    characters one for one; a cluster segment is the output of one source cluster (a base
    character with its combining marks and any removed invisibles) and maps as a whole.
    """

    __slots__ = ("_identity", "_source_ends", "_source_starts", "_target_starts")

    def __init__(self) -> None:
        self._target_starts: list[int] = []
        self._source_starts: list[int] = []
        self._source_ends: list[int] = []
        self._identity: list[bool] = []

    def add(self, target_start: int, source_start: int, source_end: int, *, identity: bool) -> None:
        """Append a segment; adjacent identity segments are merged."""
        if (
            identity
            and self._identity
            and self._identity[-1]
            and self._source_ends[-1] == source_start
            and target_start - self._target_starts[-1] == source_start - self._source_starts[-1]
        ):
            self._source_ends[-1] = source_end
            return
        self._target_starts.append(target_start)
        self._source_starts.append(source_start)
        self._source_ends.append(source_end)
        self._identity.append(identity)

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """The source span covering the derived span `[start, end)`; clusters map whole."""
        if not self._target_starts:
            return start, end
        if end <= start:
            point = self._source_point(start)
            return point, point
        first = max(bisect_right(self._target_starts, start) - 1, 0)
        last = max(bisect_right(self._target_starts, end - 1) - 1, 0)
        if self._identity[first]:
            source_start = self._source_starts[first] + (start - self._target_starts[first])
        else:
            source_start = self._source_starts[first]
        if self._identity[last]:
            source_end = self._source_starts[last] + (end - self._target_starts[last])
        else:
            source_end = self._source_ends[last]
        return source_start, source_end

    def _source_point(self, position: int) -> int:
        index = max(bisect_right(self._target_starts, position) - 1, 0)
        if self._identity[index]:
            return min(
                self._source_starts[index] + (position - self._target_starts[index]),
                self._source_ends[index],
            )
        return self._source_starts[index]


class TextView:
    """A derived text plus the way back to the original input."""

    __slots__ = ("_map", "_parent", "text")

    def __init__(self, text: str, offset_map: OffsetMap | None, parent: TextView | None = None) -> None:
        self.text = text
        self._map = offset_map
        self._parent = parent

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original input that `[start, end)` of this view came from."""
        if self._map is not None:
            start, end = self._map.source_span(start, end)
        if self._parent is not None:
            return self._parent.original_span(start, end)
        return start, end


class NormalisedText(TextView):
    """The normalised view of an input, with a lazily built folded view."""

    __slots__ = ("_folded", "original")

    def __init__(self, original: str, text: str, offset_map: OffsetMap | None) -> None:
        super().__init__(text, offset_map)
        self.original = original
        self._folded: TextView | None = None

    def folded(self) -> TextView:
        """Look-alike letters folded to Latin and case folded (deny terms, canary)."""
        if self._folded is None:
            folded_text, folded_map = _fold(self.text)
            self._folded = TextView(folded_text, folded_map, parent=self)
        return self._folded


def normalise(text: str) -> NormalisedText:
    """Normalise `text` once: NFKC, invisibles removed, ASCII digits, surrogates replaced."""
    if text.isascii():
        return NormalisedText(text, text, None)
    if unicodedata.is_normalized("NFKC", text) and _SPECIAL.search(text) is None:
        return NormalisedText(text, text, None)
    pieces: list[str] = []
    offset_map = OffsetMap()
    written = 0  # length of the normalised text so far
    copied_until = 0  # original offset up to which segments exist
    for run in _NON_ASCII_RUN.finditer(text):
        # The ASCII character before a run can compose with a combining mark that opens it.
        run_start = max(run.start() - 1, copied_until)
        run_end = run.end()
        if run_start > copied_until:
            pieces.append(text[copied_until:run_start])
            offset_map.add(written, copied_until, run_start, identity=True)
            written += run_start - copied_until
        chunk = text[run_start:run_end]
        if unicodedata.is_normalized("NFKC", chunk) and _SPECIAL.search(chunk) is None:
            pieces.append(chunk)
            offset_map.add(written, run_start, run_end, identity=True)
            written += len(chunk)
        else:
            written = _normalise_run(
                text, run_start, run_end, pieces=pieces, offset_map=offset_map, written=written
            )
        copied_until = run_end
    if copied_until < len(text):
        pieces.append(text[copied_until:])
        offset_map.add(written, copied_until, len(text), identity=True)
    return NormalisedText(text, "".join(pieces), offset_map)


def _normalise_run(
    text: str, start: int, end: int, *, pieces: list[str], offset_map: OffsetMap, written: int
) -> int:
    """Normalise `text[start:end]` cluster by cluster; returns the new output length."""
    cluster_start = start
    cluster: list[str] = []
    for index in range(start, end):
        char = text[index]
        kind = _char_kind(char)
        if kind == _INVISIBLE_KIND:
            continue
        if kind == _STARTER_KIND and cluster:
            written = _emit_cluster(
                cluster, cluster_start, index, pieces=pieces, offset_map=offset_map, written=written
            )
            cluster = []
            cluster_start = index
        cluster.append(char)
    if cluster:
        written = _emit_cluster(
            cluster, cluster_start, end, pieces=pieces, offset_map=offset_map, written=written
        )
    return written


def _emit_cluster(
    chars: list[str], start: int, end: int, *, pieces: list[str], offset_map: OffsetMap, written: int
) -> int:
    source = "".join(chars)
    # Never empty: a cluster holds at least one visible character, and no character has an
    # empty NFKC form.
    output = unicodedata.normalize("NFKC", source.translate(_SURROGATES)).translate(_DIGITS)
    pieces.append(output)
    identity = output == source and len(output) == end - start
    offset_map.add(written, start, end, identity=identity)
    return written + len(output)


_STARTER_KIND = 0
_COMBINING_KIND = 1
_INVISIBLE_KIND = 2


@lru_cache(maxsize=4096)
def _char_kind(char: str) -> int:
    if _INVISIBLE.match(char):
        return _INVISIBLE_KIND
    if unicodedata.combining(char):
        return _COMBINING_KIND
    return _STARTER_KIND


class _SurrogateTable(dict[int, str]):
    """str.translate table replacing lone surrogates with U+FFFD (one for one)."""

    def __missing__(self, key: int) -> str:
        if 0xD800 <= key <= 0xDFFF:
            return "\ufffd"
        raise LookupError(key)


class _DigitTable(dict[int, str]):
    """str.translate table mapping every Unicode decimal digit to its ASCII digit."""

    def __missing__(self, key: int) -> str:
        char = chr(key)
        # Remember the answer: a text repeats few distinct characters.
        self[key] = str(unicodedata.decimal(char)) if key > 0x7F and char.isdecimal() else char
        return self[key]


_SURROGATES = _SurrogateTable()
_DIGITS = _DigitTable()


def _fold(text: str) -> tuple[str, OffsetMap | None]:
    """Fold look-alikes and case; the map is needed only where case folding expands."""
    if text.isascii():
        return text.lower(), None
    latin = _fold_look_alikes(text)
    folded = latin.casefold()
    if len(folded) == len(latin):
        # Case folding never shrinks a character, so equal length means one for one.
        return _fold_look_alikes(folded), None
    expanding = {char for char in set(latin) if len(char.casefold()) != 1}
    pattern = re.compile("[" + "".join(re.escape(char) for char in sorted(expanding)) + "]")
    pieces: list[str] = []
    offset_map = OffsetMap()
    written = 0
    copied_until = 0
    for match in pattern.finditer(latin):
        index = match.start()
        if index > copied_until:
            pieces.append(latin[copied_until:index].casefold())
            offset_map.add(written, copied_until, index, identity=True)
            written += index - copied_until
        expanded = latin[index].casefold()
        pieces.append(expanded)
        offset_map.add(written, index, index + 1, identity=False)
        written += len(expanded)
        copied_until = index + 1
    if copied_until < len(latin):
        pieces.append(latin[copied_until:].casefold())
        offset_map.add(written, copied_until, len(latin), identity=True)
    return _fold_look_alikes("".join(pieces)), offset_map


def _fold_look_alikes(text: str) -> str:
    """`text` with look-alikes folded; only non-ASCII runs are translated (str.translate with a
    dict costs ~150 ns a character, which would dominate on long mostly-ASCII text)."""
    return _NON_ASCII_RUN.sub(lambda run: run.group().translate(_HOMOGLYPHS), text)


def fold_for_matching(value: str) -> str:
    """The folded form of a policy value (deny term, canary), as the folded view spells it."""
    return normalise(value).folded().text
