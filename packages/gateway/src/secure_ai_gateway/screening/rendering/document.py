"""`render()`: what a client's renderer would load or link from a text, and where the markup is.

The text is read the way a chat client renders it: markdown-it-py as CommonMark + GFM with raw
HTML (markdown.py), each raw HTML fragment with lexbor (html.py), CSS with tinycss2 (css.py),
each URL with ada-url against a placeholder base (urls.py), and the decoded text of every
paragraph searched for bare URLs (plain_text.py). When the text holds JSON string escapes, the
JSON-decoded text is rendered too, for a client that decodes before it renders. Code spans and
code blocks are not rendered and yield nothing.

Spans point into the original text: at the URL's own spelling where it could be found, else at
the smallest enclosing construct markdown-it located (the tag, the link, the line, the block).
When raw HTML is present, the whole rendered document is also parsed once, as a browser would
parse it; a URL that appears only there (an attribute left open across markdown blocks, a
stylesheet spanning blocks) is reported with the span of its first line's spelling, or of the
whole text.

The work is bounded by a time budget on an injected clock (budget.py): past it, or past the
nesting limit, the render raises `RenderBudgetExceeded` instead of answering.
"""

from __future__ import annotations

import re
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from secure_ai_gateway.screening.findings import PLACEHOLDER_TAGS
from secure_ai_gateway.screening.normalise import OffsetMap
from secure_ai_gateway.screening.rendering import css, html, markdown, plain_text
from secure_ai_gateway.screening.rendering.budget import RenderBudget
from secure_ai_gateway.screening.rendering.css import css_urls
from secure_ai_gateway.screening.rendering.html import SCRIPT_URL, html_urls, tag_name
from secure_ai_gateway.screening.rendering.json_text import json_unescaped
from secure_ai_gateway.screening.rendering.markdown import (
    DESTINATION,
    PUSHED_AT,
    SPAN,
    TEXT_START,
    parse,
    render_html,
    render_inline_html,
)
from secure_ai_gateway.screening.rendering.plain_text import bare_urls
from secure_ai_gateway.screening.rendering.resources import RenderedText, Resource, ResourceKind, Span
from secure_ai_gateway.screening.rendering.urls import parse_url

if TYPE_CHECKING:
    from markdown_it.token import Token

DEFAULT_BUDGET_SECONDS: Final = 1.0
# Without one of these a text has no URL, link, tag, reference or escape to render.
_LINK_CHARACTERS: Final = ".:/\\<[&"
_RAW_TEXT_ELEMENTS: Final = frozenset({"style", "script"})
_CELL_OPENERS: Final = frozenset({"th_open", "td_open"})
_MARKDOWN_NEWLINES = re.compile("[\r\x00]")
_NEWLINE = re.compile("\n")
_SPELLING_PREFIX: Final = 64
_TAG_OPEN = re.compile("<[A-Za-z]")
# A pseudonym placeholder as written or percent-encoded: `<CARD_1>`, `%3CCARD_1%3E`.
_PLACEHOLDER = re.compile(r"(?i)(?:<|%3C)(" + PLACEHOLDER_TAGS + r")_([1-9][0-9]{0,5})(?:>|%3E)")
PLACEHOLDER_LABEL_PREFIX: Final = "pseudonym-"


def _placeholder_label(match: re.Match[str]) -> str:
    return f"{PLACEHOLDER_LABEL_PREFIX}{match.group(1).lower()}-{match.group(2)}"


def render(
    text: str,
    *,
    budget_seconds: float = DEFAULT_BUDGET_SECONDS,
    clock: Callable[[], float] = time.perf_counter,
) -> RenderedText:
    """Every resource a client would fetch or navigate to from `text`, and its markup spans.

    Raises `RenderBudgetExceeded` when the render takes longer than `budget_seconds` on
    `clock`, or nests deeper than markdown-it is allowed to follow.
    """
    if not any(char in text for char in _LINK_CHARACTERS):
        return RenderedText((), ())
    load_parsers()
    budget = RenderBudget(budget_seconds, clock)
    found = _Found(len(text))
    _View(text, None, found, budget).render()
    unescaped = json_unescaped(text)
    if unescaped is not None:
        decoded, offsets = unescaped
        _View(decoded, offsets, found, budget).render()
    return found.result()


def load_parsers() -> None:
    """Import and build every parser a render may use; after the first call, this costs nothing.

    They load on a process's first render rather than at import, which every cold start would pay
    for. And before the render's budget starts: the budget bounds the work a text causes, not a
    one-time load, which on a cold or busy machine could exhaust it and, in `release`, keep the
    caller's own values from being restored (tests/gateway/screening/rendering/test_budget.py).
    """
    markdown.markdown_parser()
    plain_text.linkifier()
    plain_text.bare_url_pattern()
    html.lexbor_parser_class()
    css.css_tokenizer()


class _Found:
    """Resources and markup spans from every view of one text, in the original's offsets."""

    __slots__ = ("length", "markup", "resources")

    def __init__(self, length: int) -> None:
        self.length = length
        self.resources: dict[tuple[str, str, str, Span], Resource] = {}
        self.markup: list[Span] = []

    def add(self, resource: Resource) -> None:
        key = (resource.url, resource.kind, resource.construct, resource.span)
        self.resources.setdefault(key, resource)

    def result(self) -> RenderedText:
        resources = sorted(self.resources.values(), key=lambda resource: resource.span)
        return RenderedText(tuple(resources), tuple(_merged(self.markup)))


class _Lines:
    """Line starts of the text markdown-it parsed, for its line maps."""

    __slots__ = ("_length", "_starts")

    def __init__(self, text: str) -> None:
        self._length = len(text)
        self._starts = [0, *(match.end() for match in _NEWLINE.finditer(text))]

    def span(self, first: int, last: int | None = None) -> Span:
        """From the start of line `first` to the end of line `last` (newline excluded)."""
        last = first if last is None else last
        start = self._starts[min(first, len(self._starts) - 1)]
        end = self._starts[last + 1] - 1 if last + 1 < len(self._starts) else self._length
        return start, max(start, end)


class _ContentMap:
    """Offsets in a token's content (lines joined, container markers and indents removed) back
    to the parsed text: each content line is found at the end of its source line (or, in a
    table row, from where the previous cell ended); a line not found maps as a whole."""

    __slots__ = ("_found", "_line_spans", "_starts")

    def __init__(
        self, content: str, first_line: int, parsed: str, lines: _Lines, row: dict[int, int] | None
    ) -> None:
        self._starts: list[int] = []
        self._found: list[int] = []
        self._line_spans: list[Span] = []
        offset = 0
        for index, piece in enumerate(content.split("\n")):
            line = first_line + index
            line_start, line_end = lines.span(line)
            if row is None:
                found = parsed.rfind(piece, line_start, line_end)
            else:
                found = parsed.find(piece, row.get(line, line_start), line_end)
                if found >= 0:
                    row[line] = found + len(piece)
            self._starts.append(offset)
            self._found.append(found)
            self._line_spans.append((line_start, line_end))
            offset += len(piece) + 1

    def span(self, start: int, end: int) -> Span:
        """The parsed-text span of content `[start, end)`."""
        return self._point(start, at_end=False), self._point(max(start, end - 1), at_end=True)

    def _point(self, offset: int, *, at_end: bool) -> int:
        index = max(bisect_right(self._starts, offset) - 1, 0)
        found = self._found[index]
        if found < 0:
            line_start, line_end = self._line_spans[index]
            return line_end if at_end else line_start
        return found + offset - self._starts[index] + (1 if at_end else 0)


class _Display:
    """The text a reader sees in one paragraph, mapped back to the paragraph's content."""

    __slots__ = ("_map", "_pieces", "_written")

    def __init__(self) -> None:
        self._pieces: list[str] = []
        self._map = OffsetMap()
        self._written = 0

    def text(self, content: str, start: int) -> None:
        self._append(content, start, start + len(content), identity=True)

    def decoded(self, content: str, span: Span) -> None:
        self._append(content, span[0], span[1], identity=False)

    def gap(self, separator: str, span: Span) -> None:
        # Markup between two runs of text (a tag, an image, a code span) ends a URL, as it ends
        # a text node for a linkifier.
        self._append(separator, span[0], span[1], identity=False)

    def _append(self, piece: str, start: int, end: int, *, identity: bool) -> None:
        if not piece:
            return
        self._pieces.append(piece)
        self._map.add(self._written, start, end, identity=identity)
        self._written += len(piece)

    def urls(self) -> list[tuple[Span, str]]:
        """Content spans and spellings of the URLs in the displayed text."""
        text = "".join(self._pieces)
        return [(self._map.source_span(start, end), url) for start, end, url in bare_urls(text)]


class _View:
    """One reading of the text (as written, or JSON-decoded), rendered into `found`."""

    def __init__(self, source: str, offsets: OffsetMap | None, found: _Found, budget: RenderBudget) -> None:
        self._offsets = offsets
        self._found = found
        self._budget = budget
        self._parsed, self._newlines = _markdown_input(source)
        self._lines = _Lines(self._parsed)
        self._definitions: dict[str, Span] = {}  # reference label -> URL span, set by render()
        self._rows: dict[int, int] = {}
        self._has_html = False
        self._seen: Counter[tuple[ResourceKind, str]] = Counter()
        self._code: list[Span] = []  # code spans and blocks, in the parsed text: shown, never loaded

    def render(self) -> None:
        tokens, record = parse(self._parsed, self._budget)
        self._definitions = record.definitions
        in_cell = False
        for token in tokens:
            self._budget.spend()
            if token.type == "inline" and token.map is not None:
                self._inline(token, token.map[0], in_cell)
            elif token.type == "html_block" and token.map is not None:
                self._html_block(token, token.map[0], token.map[1])
            elif token.type == "definition" and token.map is not None:
                self._markup(self._lines.span(token.map[0], token.map[1] - 1))
            elif token.type in ("fence", "code_block") and token.map is not None:
                self._code.append(self._lines.span(token.map[0], token.map[1] - 1))
            in_cell = token.type in _CELL_OPENERS
        if self._has_html:
            self._rendered_document(render_html(tokens))
        if _TAG_OPEN.search(self._parsed) is not None:
            # A client that shows the answer as HTML, not markdown, parses it as it stands: a tag
            # that markdown reads as text (`<img` on a line of its own, `>` opening a quote) loads.
            # Code stays code: a tag spelled inside a code span or block is not a resource.
            self._rendered_document(self._parsed, outside_code=True)

    # Blocks.

    def _inline(self, token: Token, first_line: int, in_cell: bool) -> None:
        content = token.content
        mapping = _ContentMap(content, first_line, self._parsed, self._lines, self._rows if in_cell else None)
        display = _Display()
        children = token.children or []
        raw_text_until = -1  # the children up to this index are inside a <style> or <script>
        for index, child in enumerate(children):
            self._budget.spend()
            kind = child.type
            at: int = child.meta.get(PUSHED_AT, 0)
            shown = index > raw_text_until
            if kind == "text":
                if shown and TEXT_START in child.meta:  # an autolink's own text is the link
                    display.text(child.content, child.meta[TEXT_START])
            elif kind == "text_special":
                if shown:
                    display.decoded(child.content, (at, at + len(child.markup)))
            elif kind in ("softbreak", "hardbreak"):
                display.gap("\n", (at, at + 1))
            elif kind == "link_open" and child.markup == "autolink":
                url_text = children[index + 1].content if index + 1 < len(children) else ""
                self._autolink(child, (at, at + len(url_text) + 2), mapping)
                display.gap(" ", (at, at + 1))
            elif kind == "link_open":
                self._link(child, content, mapping)
            elif kind == "image":
                self._image(child, mapping)
                display.gap(" ", child.meta[SPAN])
            elif kind == "code_inline":
                display.gap(" ", (at, at + 1))
                following = children[index + 1].meta.get(PUSHED_AT) if index + 1 < len(children) else None
                self._code.append(mapping.span(at, following if following is not None else len(content)))
            elif kind == "html_inline":
                tag = (at, at + len(child.content))
                display.gap(" ", tag)
                if shown:
                    raw_text_until = self._html_inline(children, index, tag, content, mapping)
                else:
                    self._html_inline(children, index, tag, content, mapping, raw_text=False)
        self._budget.check()
        for (start, end), url in display.urls():
            self._add(url, "navigate", "bare_url", mapping.span(start, end), markup=True)

    def _html_block(self, token: Token, first_line: int, end_line: int) -> None:
        self._has_html = True
        block = self._lines.span(first_line, end_line - 1)
        self._markup(block)
        content = token.content
        mapping = _ContentMap(content, first_line, self._parsed, self._lines, None)
        for url in html_urls(content, self._budget):
            self._add(
                url.raw, url.kind, url.construct, mapping.span(url.start, url.end) if url.located else block
            )

    # Markdown constructs.

    def _autolink(self, token: Token, span: Span, mapping: _ContentMap) -> None:
        start, end = span
        self._add(str(token.attrs.get("href", "")), "navigate", "autolink", mapping.span(start + 1, end - 1))
        self._markup(mapping.span(start, end))

    def _link(self, token: Token, content: str, mapping: _ContentMap) -> None:
        href = str(token.attrs.get("href", ""))
        start, end = token.meta[SPAN]
        destination = token.meta.get(DESTINATION)
        if destination is not None:
            self._add(href, "navigate", "md_link", mapping.span(*destination))
            self._markup(mapping.span(destination[0], end))
            return
        self._add(href, "navigate", "md_reference_link", self._definition(token, mapping))
        # In "[text][label]" only the label is markup; in "[label]" and "[label][]" all of it is.
        label_start = content.rfind("[", start, end)
        if label_start > start and content[label_start - 1] == "]" and end - label_start > 2:
            start = label_start
        self._markup(mapping.span(start, end))

    def _image(self, token: Token, mapping: _ContentMap) -> None:
        src = str(token.attrs.get("src", ""))
        start, end = token.meta[SPAN]
        self._markup(mapping.span(start, end))  # the alt text is an attribute too
        destination = token.meta.get(DESTINATION)
        if destination is not None:
            self._add(src, "fetch", "md_image", mapping.span(*destination))
        else:
            self._add(src, "fetch", "md_reference_image", self._definition(token, mapping))

    def _definition(self, token: Token, mapping: _ContentMap) -> Span:
        """The span of the URL of the definition a reference link uses, else of the link."""
        span = self._definitions.get(str(token.meta.get("label", "")))
        return span if span is not None else mapping.span(*token.meta[SPAN])

    # Raw HTML inside paragraphs.

    def _html_inline(
        self,
        children: list[Token],
        index: int,
        span: Span,
        content: str,
        mapping: _ContentMap,
        *,
        raw_text: bool = True,
    ) -> int:
        """Read one inline tag; a `<style>` or `<script>` also reads up to its end tag.

        Returns the index of the last child inside the raw-text element it opened, else `index`.
        """
        self._has_html = True
        tag = children[index].content
        start, end = span
        self._markup(mapping.span(start, end))
        if tag.startswith(("</", "<!", "<?")):
            return index
        for url in html_urls(tag, self._budget):
            self._add(url.raw, url.kind, url.construct, mapping.span(start + url.start, start + url.end))
        name = tag_name(tag)
        if not raw_text or name not in _RAW_TEXT_ELEMENTS:
            return index
        closing = _closing_tag(children, index, name)
        inner_end = element_end = len(content)
        if closing is not None:
            inner_end = children[closing].meta[PUSHED_AT]
            element_end = inner_end + len(children[closing].content)
        element = mapping.span(start, element_end)
        self._markup(element)
        inner = children[index + 1 : closing if closing is not None else len(children)]
        if name == "script":
            if content[end:inner_end].strip():
                self._add(SCRIPT_URL, "fetch", "html_script", element)
        else:
            self._inline_stylesheet(content[end:inner_end], end, inner, element, mapping)
        return closing if closing is not None else len(children)

    def _inline_stylesheet(
        self, source: str, offset: int, inner: list[Token], element: Span, mapping: _ContentMap
    ) -> None:
        # The browser reads the markdown between the tags as rendered (escapes decoded, links
        # turned into tags): read the source for exact spans, and the rendered form for what
        # only it holds.
        spelled = set()
        self._budget.check()
        for url in css_urls(source):
            spelled.add(url.raw)
            self._add(url.raw, "fetch", url.construct, mapping.span(offset + url.start, offset + url.end))
        for url in css_urls(render_inline_html(inner)):
            if url.raw not in spelled:
                self._add(url.raw, "fetch", url.construct, element)

    # The document as a browser parses it.

    def _rendered_document(self, document: str, *, outside_code: bool = False) -> None:
        """URLs an HTML document (the rendered markdown, or the text itself) holds that no single
        token did; with `outside_code`, only those spelled outside code spans and blocks."""
        seen = Counter(self._seen)
        code = sorted(self._code) if outside_code else None
        self._budget.check()
        for url in html_urls(document, self._budget):
            parsed = parse_url(url.raw)
            if parsed is None:
                continue
            key = (url.kind, parsed.href)
            if seen[key] > 0:
                seen[key] -= 1
                continue
            span = self._spelling(url.raw, code)
            if span is not None:
                self._add(url.raw, url.kind, url.construct, span)

    def _spelling(self, raw: str, code: list[Span] | None = None) -> Span | None:
        first_line = raw.split("\n", 1)[0][:_SPELLING_PREFIX]
        position = self._parsed.find(first_line) if first_line else -1
        if position < 0:
            return 0, len(self._parsed)
        if code is not None:
            # The first spelling outside code; none (in code only) means nothing is loaded.
            while position >= 0 and _inside(code, position, position + len(first_line)):
                position = self._parsed.find(first_line, position + 1)
            if position < 0:
                return None
        return position, position + len(first_line)

    # Results.

    def _add(self, raw: str, kind: ResourceKind, construct: str, span: Span, *, markup: bool = False) -> None:
        original = self._original(span)
        if markup:
            self._found.markup.append(original)
        parsed = parse_url(raw)
        if parsed is None and _PLACEHOLDER.search(raw) is not None:
            # `https://<CARD_1>.evil.example/p.png` is no URL while the placeholder stands, and a
            # value written in its place would make it one: judge it as it would be.
            parsed = parse_url(_PLACEHOLDER.sub(_placeholder_label, raw))
        if parsed is None:
            return  # not a URL a browser would load or open
        if construct != "bare_url":
            self._seen[kind, parsed.href] += 1
        self._found.add(Resource(parsed.href, parsed.host, kind, construct, original))

    def _markup(self, span: Span) -> None:
        self._found.markup.append(self._original(span))

    def _original(self, span: Span) -> Span:
        start, end = span
        if self._newlines is not None:
            start, end = self._newlines.source_span(start, end)
        if self._offsets is not None:
            start, end = self._offsets.source_span(start, end)
        # Never empty, never past the text: a span must cover what it stands for.
        length = self._found.length
        start = min(max(start, 0), max(length - 1, 0))
        return start, max(min(end, length), start + 1)


def _markdown_input(source: str) -> tuple[str, OffsetMap | None]:
    """`source` as markdown-it normalises it ("\\r\\n" and "\\r" to "\\n", NUL to U+FFFD),
    done here so that offsets can be mapped back."""
    if "\r" not in source and "\x00" not in source:
        return source, None
    pieces: list[str] = []
    offsets = OffsetMap()
    written = copied = 0
    for match in _MARKDOWN_NEWLINES.finditer(source):
        index = match.start()
        if index > copied:
            pieces.append(source[copied:index])
            offsets.add(written, copied, index, identity=True)
            written += index - copied
        replaced_end = index + 2 if source.startswith("\r\n", index) else index + 1
        pieces.append("\ufffd" if source[index] == "\x00" else "\n")
        offsets.add(written, index, replaced_end, identity=replaced_end == index + 1)
        written += 1
        copied = replaced_end
    if copied < len(source):
        pieces.append(source[copied:])
        offsets.add(written, copied, len(source), identity=True)
    return "".join(pieces), offsets


def _closing_tag(children: list[Token], index: int, name: str) -> int | None:
    closing = f"</{name}"
    for later in range(index + 1, len(children)):
        child = children[later]
        if child.type == "html_inline" and child.content[: len(closing)].lower() == closing:
            return later
    return None


def _inside(spans: list[Span], start: int, end: int) -> bool:
    """Whether `[start, end)` lies within one of `spans` (sorted)."""
    index = bisect_right(spans, (start, 1 << 62)) - 1  # the last span starting at or before `start`
    return any(spans[at][0] <= start and end <= spans[at][1] for at in range(max(index - 1, 0), index + 1))


def _merged(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged
