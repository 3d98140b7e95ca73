"""URLs in raw HTML, read with lexbor's HTML5 parser (selectolax) as a browser reads them.

The parser lower-cases tag and attribute names and decodes character references, so
`<IMG SRC = "https&#58;//…">` is an `img` with a `src`. A fragment is parsed inside a
`<template>`, where table parts (`<td background=…>`) are kept whatever surrounds them; when it
names `<body` or `<html`, it is parsed once more as a document, whose `body` and `html` take those
attributes. Each URL is located in the fragment by its spelling, after an `=` and an optional
quote, from where the previous one was found; a value whose spelling differs from its decoded
form (character references) gets the span of the whole fragment.

Not read: text content of HTML (it is shown, not linked), `<noscript>` is read as markup (what a
browser without scripts shows), and script bodies are not interpreted (they are resources in
themselves: `javascript:`).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Final, NamedTuple

from secure_ai_gateway.screening.rendering.budget import RenderBudget
from secure_ai_gateway.screening.rendering.css import css_urls
from secure_ai_gateway.screening.rendering.resources import ResourceKind
from secure_ai_gateway.screening.rendering.urls import refresh_url, srcset_candidates

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser, LexborNode

type Span = tuple[int, int]

SCRIPT_URL: Final = "javascript:"
_MAX_SRCDOC_DEPTH: Final = 2
_SEARCH_WINDOW: Final = 4096  # how far past the previous URL a value's spelling is looked for
_SEARCH_TRIES: Final = 8
_FETCH_ATTRIBUTES: Final = {
    "src": "html_src",
    "lowsrc": "html_src",
    "dynsrc": "html_src",
    "poster": "html_poster",
    "background": "html_background",
}
_SRCSET_ATTRIBUTES: Final = frozenset({"srcset", "imagesrcset"})
_HREF_ATTRIBUTES: Final = frozenset({"href", "xlink:href"})
# Elements whose href is loaded, not clicked: stylesheets, icons, preloads, SVG images and uses.
_FETCHED_HREF: Final = {
    "link": "html_link",
    "base": "html_base",
    "image": "svg_href",
    "img": "svg_href",
    "feimage": "svg_href",
    "use": "svg_href",
    "script": "svg_href",
}
_ACTION_ATTRIBUTES: Final = frozenset({"action", "formaction"})
# Presentation attributes that take a CSS url() (SVG paint servers, filters, masks, markers).
_CSS_ATTRIBUTES: Final = frozenset(
    {
        "style",
        "fill",
        "stroke",
        "filter",
        "mask",
        "clip-path",
        "marker",
        "marker-start",
        "marker-mid",
        "marker-end",
        "cursor",
    }
)
_QUOTES: Final = "'\""
_WHITESPACE: Final = " \t\n\r\f"


class HtmlUrl(NamedTuple):
    """A URL in a fragment: as the browser reads it, what loads it, and its span in the fragment."""

    raw: str
    kind: ResourceKind
    construct: str
    start: int
    end: int
    located: bool  # False: the spelling was not found, and the span is the whole fragment


@cache
def lexbor_parser_class() -> type[LexborHTMLParser]:
    from selectolax.lexbor import LexborHTMLParser  # noqa: PLC0415 - only raw HTML needs lexbor

    return LexborHTMLParser


def tag_name(tag: str) -> str:
    """The lower-case name of a start or end tag as markdown-it validated it (`<a href…>` → `a`)."""
    start = 2 if tag.startswith("</") else 1
    end = start
    while end < len(tag) and (tag[end].isascii() and (tag[end].isalnum() or tag[end] == "-")):
        end += 1
    return tag[start:end].lower()


def html_urls(fragment: str, budget: RenderBudget, *, depth: int = 0) -> list[HtmlUrl]:
    """Every URL the elements of `fragment` make a browser fetch or offer to open."""
    lowered = fragment.lower()
    if "=" not in fragment and "<style" not in lowered and "<script" not in lowered:
        return []  # no attribute value and no style or script content: nothing to load
    budget.check()  # before each parse: one parse of a long fragment is not interrupted
    reader = _FragmentReader(fragment, budget, depth)
    for element in _elements(fragment):
        budget.spend()
        reader.read(element)
    if "<body" in lowered or "<html" in lowered:
        document = lexbor_parser_class()(fragment)
        for node in (document.body, document.root):
            if node is not None:
                reader.read(node)
    return reader.found


def _elements(fragment: str) -> Iterator[LexborNode]:
    """The elements of `fragment` parsed in a template, nested templates' content in place."""
    parser = lexbor_parser_class()(f"<template>{fragment}</template>")
    root = parser.root
    if root is None:
        return
    pending = [root.traverse(include_text=False)]
    while pending:
        element = next(pending[-1], None)
        if element is None:
            pending.pop()
            continue
        if not element.is_element_node:
            continue
        yield element
        if element.tag == "template":
            contents = element.template_fragments()
            pending.extend(content.traverse(include_text=False) for content in reversed(contents))


class _FragmentReader:
    """Reads URLs out of elements, locating each in the fragment's source."""

    __slots__ = ("_budget", "_cursor", "_depth", "_fragment", "found")

    def __init__(self, fragment: str, budget: RenderBudget, depth: int) -> None:
        self._fragment = fragment
        self._budget = budget
        self._depth = depth
        self._cursor = 0
        self.found: list[HtmlUrl] = []

    def read(self, element: LexborNode) -> None:
        tag = (element.tag or "").lower()
        for name, value in element.attributes.items():
            self._budget.spend()
            if value:
                self._attribute(tag, name.lower(), value, element)
        if tag in ("style", "script"):
            content = element.text(deep=True)
            if content.strip():
                self._content(tag, content)

    def _attribute(self, tag: str, name: str, value: str, element: LexborNode) -> None:
        if name.startswith("on") and name != "open":  # event handlers; "open" is a boolean
            self._add(SCRIPT_URL, "fetch", "html_event_handler", self._span_of(value))
        elif name in _FETCH_ATTRIBUTES:
            self._add(value, "fetch", _FETCH_ATTRIBUTES[name], self._span_of(value))
        elif name in _SRCSET_ATTRIBUTES:
            self._parts(value, srcset_candidates(value), "fetch", "html_srcset")
        elif name == "data" and tag == "object":
            self._add(value, "fetch", "html_data", self._span_of(value))
        elif name == "manifest" and tag == "html":
            self._add(value, "fetch", "html_manifest", self._span_of(value))
        elif name in _HREF_ATTRIBUTES:
            construct = _FETCHED_HREF.get(tag)
            kind: ResourceKind = "navigate" if construct is None else "fetch"
            self._add(value, kind, construct or "html_href", self._span_of(value))
        elif name in _ACTION_ATTRIBUTES:
            self._add(value, "navigate", "html_action", self._span_of(value))
        elif name == "ping":
            self._parts(value, _words(value), "navigate", "html_ping")
        elif name == "content" and tag == "meta":
            refresh = refresh_url(value)
            if refresh is not None and "refresh" in (element.attributes.get("http-equiv") or "").lower():
                self._parts(value, [refresh], "fetch", "html_meta_refresh")
        elif name == "srcdoc":
            self._srcdoc(value)
        elif name in _CSS_ATTRIBUTES:
            self._css(value, self._span_of(value))

    def _content(self, tag: str, content: str) -> None:
        span = self._span_of(content, after_equals=False)
        if tag == "script":
            self._add(SCRIPT_URL, "fetch", "html_script", span)
        else:
            self._css(content, span)

    def _css(self, css: str, span: Span | None) -> None:
        self._budget.check()
        for url in css_urls(css):
            self._budget.spend()
            self._add(url.raw, "fetch", url.construct, _within(span, url.start, url.end))

    def _srcdoc(self, value: str) -> None:
        if self._depth >= _MAX_SRCDOC_DEPTH:
            return
        span = self._span_of(value)
        for inner in html_urls(value, self._budget, depth=self._depth + 1):
            inner_span = _within(span, inner.start, inner.end) if inner.located else span
            self._add(inner.raw, inner.kind, inner.construct, inner_span)

    def _parts(self, value: str, parts: list[Span], kind: ResourceKind, construct: str) -> None:
        span = self._span_of(value)
        for start, end in parts:
            self._add(value[start:end], kind, construct, _within(span, start, end))

    def _add(self, raw: str, kind: ResourceKind, construct: str, span: Span | None) -> None:
        start, end = span if span is not None else (0, len(self._fragment))
        self.found.append(HtmlUrl(raw, kind, construct, start, end, located=span is not None))

    def _span_of(self, value: str, *, after_equals: bool = True) -> Span | None:
        """Where `value` is spelt as-is in the fragment, from the cursor on (an attribute value
        after its `=` and optional quote); None when its spelling is not its decoded form."""
        fragment = self._fragment
        limit = min(len(fragment), self._cursor + _SEARCH_WINDOW + len(value))
        position = fragment.find(value, self._cursor, limit)
        for _ in range(_SEARCH_TRIES):
            if position < 0:
                return None
            if not after_equals or _follows_equals(fragment, position):
                self._cursor = position + len(value)
                return position, position + len(value)
            position = fragment.find(value, position + 1, limit)
        return None


def _within(span: Span | None, start: int, end: int) -> Span | None:
    """The span of `[start, end)` of a value whose own span is `span` (None if unknown)."""
    if span is None:
        return None
    return span[0] + start, span[0] + max(end, start + 1)


def _follows_equals(source: str, position: int) -> bool:
    index = position - 1
    if index >= 0 and source[index] in _QUOTES:
        index -= 1
    while index >= 0 and position - index < 16 and source[index] in _WHITESPACE:
        index -= 1
    return index >= 0 and source[index] == "="


def _words(value: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = -1
    for index, char in enumerate(value):
        if char in _WHITESPACE:
            if start >= 0:
                spans.append((start, index))
                start = -1
        elif start < 0:
            start = index
    if start >= 0:
        spans.append((start, len(value)))
    return spans
