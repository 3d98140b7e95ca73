"""Text normalisation for screening, with a map back to the original characters.

Detectors read views of a text built to show what its readers get: a browser decodes `&#64;`, a
JSON reader `\\u0041`, a language model reads tag characters as the ASCII they shadow, and
nobody sees a zero-width joiner. Redaction must still replace the characters the client sent,
so every view keeps a map back to the original text.

A view is built in two steps, each with its map:
1. escapes decoded, one level (screening/escapes.py): `\\u0041`, `\\/`, `&#64;`, `&colon;`…;
2. NFKC, invisible characters removed, tag characters (U+E0020 to U+E007E) read as the ASCII
   character they shadow, every decimal digit as ASCII, lone surrogates as U+FFFD.

Views of a `NormalisedText`:
- `text`: both steps. Case and script are kept (secrets are case-sensitive; a Cyrillic host
  name must stay Cyrillic so it cannot pass for an allow-listed Latin one).
- `latin()`: look-alike letters as the Latin letter they imitate, case kept, for formats that
  key on a literal (`AKIA…` spelled with a Cyrillic A is an AWS key).
- `folded()`: look-alikes folded to Latin and case folded, for deny terms and the canary.
- `visual()`: the text as a screen displays it, when that differs: bidi controls applied
  (screening/bidi.py) and tag characters invisible. None otherwise.
- `undecoded()`: step 2 without step 1, when the text has escapes: the reading of software
  that does not decode them (a browser following a raw link reads `\\` as `/`). None otherwise.
- `decoded`: step 1 only, where bidi controls are still present.

The patterns here use the standard library `re`, not RE2: they are single character classes
(linear by construction) and must match lone surrogates, which RE2 (UTF-8 only) cannot see.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from functools import lru_cache
from typing import Final, Protocol

from secure_ai_gateway.screening.bidi import Piece, display_pieces
from secure_ai_gateway.screening.escapes import escapes

# Invisible characters: every format character (Unicode category Cf, incl. zero-width
# space/joiners, bidi controls, word joiner, BOM, tag characters) plus the invisible marks and
# fillers outside Cf (combining grapheme joiner, Hangul fillers, Mongolian and standard
# variation selectors, Khmer inherent vowels). Tag characters are read as ASCII before this
# applies, except in the visual view, where they are what a screen shows: nothing.
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
# Tag characters that shadow printable ASCII; the language tag U+E0001 and the cancel tag
# U+E007F shadow nothing and stay invisible.
_TAG_RUN = re.compile("[\U000e0020-\U000e007e]+")
_TAG_TO_ASCII: Final[dict[int, int]] = {code: code - 0xE0000 for code in range(0xE0020, 0xE007F)}

# Latin look-alikes, mapped to the Latin letter they imitate in the same case (after Unicode's
# confusables). Written as escapes: the look-alikes themselves would be indistinguishable from
# Latin in review. Full-width and mathematical letters are handled by NFKC.
_LATIN_LOOK_ALIKES: Final[dict[int, int]] = {
    # Cyrillic small a, ve, ghe, ie, io, shha, i, yi, je, ka, em, en
    **str.maketrans(
        "\u0430\u0432\u0433\u0435\u0451\u04bb\u0456\u0457\u0458\u043a\u043c\u043d", "abreehiijkmh"
    ),
    # Cyrillic small o, pe, er, es, te, u, ha, dze, komi de, qa, we, palochka
    **str.maketrans(
        "\u043e\u043f\u0440\u0441\u0442\u0443\u0445\u0455\u0501\u051b\u051d\u04cf", "onpctyxsdqwl"
    ),
    # Cyrillic small izhitsa, straight u; capital a, ve, ie, io, ka, em, en, o, er, es
    **str.maketrans(
        "\u0475\u04af\u0410\u0412\u0415\u0401\u041a\u041c\u041d\u041e\u0420\u0421", "vyABEEKMHOPC"
    ),
    # Cyrillic capital te, u, ha, dze, i, yi, je, qa, we, palochka, shha, straight u, izhitsa
    **str.maketrans(
        "\u0422\u0423\u0425\u0405\u0406\u0407\u0408\u051a\u051c\u04c0\u04ba\u04ae\u0474", "TYXSIIJQWIHYV"
    ),
    # Greek small omicron, alpha, beta, gamma, epsilon, eta, iota, kappa, nu, rho, tau, upsilon
    **str.maketrans(
        "\u03bf\u03b1\u03b2\u03b3\u03b5\u03b7\u03b9\u03ba\u03bd\u03c1\u03c4\u03c5", "oabyenikvptu"
    ),
    # Greek small chi, lunate sigma, yot, omega; capital alpha, beta, epsilon, zeta, eta, iota,
    # kappa, mu
    **str.maketrans(
        "\u03c7\u03f2\u03f3\u03c9\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c", "xcjwABEZHIKM"
    ),
    # Greek capital nu, omicron, rho, tau, upsilon, chi, lunate sigma, yot
    **str.maketrans("\u039d\u039f\u03a1\u03a4\u03a5\u03a7\u03f9\u037f", "NOPTYXCJ"),
    # Armenian small oh, vo, seh, ho, co
    **str.maketrans("\u0585\u0578\u057d\u0570\u0581", "onuhg"),
    # Latin dotless i and j, script g, long s; small capitals, which read as capitals
    **str.maketrans(
        "\u0131\u0237\u0261\u017f\u1d00\u0299\u1d04\u1d05\u1d07\u0262\u029c\u026a", "ijgsABCDEGHI"
    ),
    **str.maketrans(
        "\u1d0a\u1d0b\u029f\u1d0d\u0274\u1d0f\u1d18\u0280\ua731\u1d1b\u1d1c\u1d20", "JKLMNOPRSTUV"
    ),
    **str.maketrans("\u1d21\u028f\u1d22", "WYZ"),
    # Cherokee letters a, e, i, v, gi, go, gu, gv, la, lu, mi, mu, nah, ni
    **str.maketrans(
        "\u13a0\u13a1\u13a2\u13a5\u13a9\u13aa\u13ab\u13ac\u13b3\u13b7\u13bb\u13bd\u13c0\u13c2",
        "DRTiYAJEWMHYGh",
    ),
    # Cherokee letters no, si, sv, ta, de, do, du, tle, tli, tlv, tso, tsu, yu, yv
    **str.maketrans(
        "\u13c3\u13cf\u13d2\u13d4\u13d5\u13d9\u13da\u13de\u13df\u13e2\u13e6\u13e7\u13f3\u13f4",
        "ZbRWSVSLCPKdGB",
    ),
    # Lisu letters ba, pa, pha, da, ta, ga, ka, ja, ca, dza, tsa, ma, na
    **str.maketrans(
        "\ua4d0\ua4d1\ua4d2\ua4d3\ua4d4\ua4d6\ua4d7\ua4d9\ua4da\ua4dc\ua4dd\ua4df\ua4e0", "BPdDTGKJCZFMN"
    ),
    # Lisu letters la, sa, zha, ha, xa, wa, sha, ya, a, e, i, o, u
    **str.maketrans(
        "\ua4e1\ua4e2\ua4e3\ua4e6\ua4e7\ua4ea\ua4eb\ua4ec\ua4ee\ua4f0\ua4f2\ua4f3\ua4f4", "LSRVHWXYAEIOU"
    ),
}
# Case folded, a capital I look-alike (palochka, Lisu I) reads as l as often as i ("kiII").
_HOMOGLYPHS: Final[dict[int, int]] = {
    **{code: ord(chr(latin).lower()) for code, latin in _LATIN_LOOK_ALIKES.items()},
    **str.maketrans("\u04c0\ua4f2", "ll"),
}
_LOOK_ALIKE = re.compile("[" + "".join(map(chr, _LATIN_LOOK_ALIKES)) + "]")


class SpanMap(Protocol):
    """The way from spans of a derived text back to the text it was derived from."""

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """The source span covering the derived span `[start, end)`."""
        ...


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


class ReorderMap:
    """Maps spans of a reordered text back: source pieces in display order, some reversed.

    A span of the reordered text maps to the smallest source span covering every character it
    shows, so a span across a reversal still covers what a reader saw in it.
    """

    __slots__ = ("_pieces", "_source_length", "_target_starts")

    def __init__(self, pieces: list[Piece], source_length: int) -> None:
        self._pieces = pieces
        self._source_length = source_length
        self._target_starts: list[int] = []
        written = 0
        for start, end, _ in pieces:
            self._target_starts.append(written)
            written += end - start

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """The source span covering the reordered span `[start, end)`."""
        if not self._pieces:
            return 0, 0
        if end <= start:
            point = self._source_of(start)
            return point, point
        first = max(bisect_right(self._target_starts, start) - 1, 0)
        last = max(bisect_right(self._target_starts, end - 1) - 1, 0)
        source_start, source_end = self._source_length, 0
        for index in range(first, last + 1):
            piece_start, piece_end, reversed_ = self._pieces[index]
            offset = self._target_starts[index]
            low = max(start, offset) - offset
            high = min(end, offset + piece_end - piece_start) - offset
            if reversed_:
                low, high = piece_end - piece_start - high, piece_end - piece_start - low
            source_start = min(source_start, piece_start + low)
            source_end = max(source_end, piece_start + high)
        return source_start, source_end

    def _source_of(self, position: int) -> int:
        index = max(bisect_right(self._target_starts, position) - 1, 0)
        piece_start, piece_end, reversed_ = self._pieces[index]
        offset = min(position - self._target_starts[index], piece_end - piece_start)
        return piece_end - offset if reversed_ else piece_start + offset


class TextView:
    """A derived text plus the way back to the original input."""

    __slots__ = ("_map", "_parent", "text")

    def __init__(self, text: str, offset_map: SpanMap | None, parent: TextView | None = None) -> None:
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
    """A normalised view of an input, with its other views built lazily."""

    __slots__ = (
        "_folded",
        "_latin",
        "_undecoded",
        "_views_built",
        "_visual",
        "decoded",
        "original",
    )

    def __init__(
        self,
        original: str,
        text: str,
        offset_map: SpanMap | None,
        *,
        parent: TextView | None = None,
        decoded: TextView | None = None,
        derived: bool = False,
    ) -> None:
        super().__init__(text, offset_map, parent)
        self.original = original
        self.decoded = decoded if decoded is not None else TextView(original, None)
        self._folded: TextView | None = None
        self._latin: NormalisedText | None = None
        self._visual: NormalisedText | None = None
        self._undecoded: NormalisedText | None = None
        # A derived view (latin, visual, undecoded) has no visual or undecoded view of its own:
        # those of the view it came from are the ones to read.
        self._views_built = derived

    def folded(self) -> TextView:
        """Look-alike letters folded to Latin and case folded (deny terms, canary)."""
        if self._folded is None:
            folded_text, folded_map = _fold(self.text)
            self._folded = TextView(folded_text, folded_map, parent=self)
        return self._folded

    def latin(self) -> NormalisedText:
        """Look-alike letters as the Latin letter they imitate, case kept (secret prefixes)."""
        if self._latin is not None:
            return self._latin
        if self.text.isascii() or _LOOK_ALIKE.search(self.text) is None:
            return self
        # One character for one: the map is the identity, the parent maps the rest of the way.
        latin_text = _NON_ASCII_RUN.sub(lambda run: run.group().translate(_LATIN_LOOK_ALIKES), self.text)
        self._latin = NormalisedText(
            self.original, latin_text, None, parent=self, decoded=self.decoded, derived=True
        )
        return self._latin

    def visual(self) -> NormalisedText | None:
        """The text as a screen displays it, normalised; None where that is `text` itself.

        It differs where bidi controls reverse characters (screening/bidi.py) and where tag
        characters are present, which a screen does not show. Spans map to the original text.
        """
        self._build_views()
        return self._visual

    def undecoded(self) -> NormalisedText | None:
        """The text normalised without decoding its escapes; None where it has none.

        A reader that does not decode sees this, and a URL reads differently there: a browser
        following a raw link takes `\\` for `/`, so `https://evil.example\\u002eallowed.example/`
        goes to evil.example although its decoded form names a subdomain of allowed.example.
        URL detectors read both views.
        """
        self._build_views()
        return self._undecoded

    def _build_views(self) -> None:
        if self._views_built:
            return
        self._views_built = True
        self._visual = _visual_view(self)
        if self.decoded.text is not self.original:
            text, offset_map = _normal_form(self.original, tags_as_ascii=True)
            self._undecoded = NormalisedText(self.original, text, offset_map, derived=True)


def normalise(text: str) -> NormalisedText:
    """Normalise `text` once: escapes decoded (one level), NFKC, invisibles removed, tag
    characters as ASCII, ASCII digits, surrogates replaced."""
    decoded = _decode_escapes(text)
    normal, offset_map = _normal_form(decoded.text, tags_as_ascii=True)
    parent = decoded if decoded.text is not text else None
    return NormalisedText(text, normal, offset_map, parent=parent, decoded=decoded)


def _decode_escapes(text: str) -> TextView:
    """`text` with its escapes decoded, each decoded character mapping to its whole escape."""
    pieces: list[str] = []
    offset_map = OffsetMap()
    # Segments appended directly: copies and escapes alternate, so nothing would merge, and a
    # text can hold half a million escapes.
    target_starts = offset_map._target_starts
    source_starts = offset_map._source_starts
    source_ends = offset_map._source_ends
    identity = offset_map._identity
    written = 0
    copied_until = 0
    for start, end, decoded in escapes(text):
        if start > copied_until:
            pieces.append(text[copied_until:start])
            target_starts.append(written)
            source_starts.append(copied_until)
            source_ends.append(start)
            identity.append(True)
            written += start - copied_until
        pieces.append(decoded)
        target_starts.append(written)
        source_starts.append(start)
        source_ends.append(end)
        identity.append(False)
        written += len(decoded)
        copied_until = end
    if not pieces:
        return TextView(text, None)
    if copied_until < len(text):
        pieces.append(text[copied_until:])
        offset_map.add(written, copied_until, len(text), identity=True)
    return TextView("".join(pieces), offset_map)


def _visual_view(view: NormalisedText) -> NormalisedText | None:
    decoded = view.decoded
    if decoded.text.isascii():
        return None  # bidi controls and tag characters are not ASCII
    pieces = display_pieces(decoded.text)
    if pieces is None and _TAG_RUN.search(decoded.text) is None:
        return None
    shown = decoded
    if pieces is not None:
        source = decoded.text
        reordered = "".join(
            source[start:end][::-1] if flip else source[start:end] for start, end, flip in pieces
        )
        shown = TextView(reordered, ReorderMap(pieces, len(source)), parent=decoded)
    normal, offset_map = _normal_form(shown.text, tags_as_ascii=False)
    return NormalisedText(view.original, normal, offset_map, parent=shown, decoded=decoded, derived=True)


def _normal_form(text: str, *, tags_as_ascii: bool) -> tuple[str, OffsetMap | None]:
    """NFKC, invisibles removed, ASCII digits, surrogates replaced; tag characters as ASCII
    when `tags_as_ascii`, else removed. The map is None where it is the identity."""
    if text.isascii():
        return text, None
    if tags_as_ascii and _TAG_RUN.search(text) is not None:
        # One for one, so every offset stays valid: a text of tag characters stays on the fast path.
        text = _TAG_RUN.sub(lambda run: run.group().translate(_TAG_TO_ASCII), text)
        if text.isascii():
            return text, None
    if unicodedata.is_normalized("NFKC", text) and _SPECIAL.search(text) is None:
        return text, None
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
    return "".join(pieces), offset_map


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
