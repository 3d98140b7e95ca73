"""URLs a stylesheet makes the browser fetch, read with tinycss2 (CSS Syntax Level 3).

`url(…)` in any spelling the tokenizer accepts (`URL( x )`, `\\75 rl(x)`, escapes inside the
URL), `url("…")` and `src("…")`, the strings of `image-set()`, and `@import "…"` / `@import url(…)`.
tinycss2 decodes CSS escapes and reports each token's line and column, from which the span of
the URL in the stylesheet is worked out. Comments are skipped, as a browser skips them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any, Final, Literal, NamedTuple, cast

type CssConstruct = Literal["css_url", "css_import"]

_URL_FUNCTIONS: Final = frozenset({"url", "src"})
_IMAGE_SET_FUNCTIONS: Final = frozenset({"image-set", "-webkit-image-set"})
_BLOCKS: Final = frozenset({"() block", "[] block", "{} block"})
_SKIPPED: Final = frozenset({"whitespace", "comment"})
# tinycss2 counts lines after CSS preprocessing, where "\r\n", "\r" and "\f" are each one newline.
_NEWLINE = re.compile("[\r\n\f]")


class CssUrl(NamedTuple):
    """A URL in a stylesheet: its (unescaped) text and its span in the stylesheet's source."""

    raw: str
    start: int
    end: int
    construct: CssConstruct


@cache
def css_tokenizer() -> Callable[..., list[Any]]:
    from tinycss2 import parse_component_value_list  # type: ignore[import-untyped]  # noqa: PLC0415

    return cast(Callable[..., list[Any]], parse_component_value_list)  # only text with CSS needs it


def css_urls(css: str) -> list[CssUrl]:
    """Every URL `css` (a stylesheet or a `style` attribute) makes a browser fetch."""
    if "(" not in css and "@" not in css:
        return []  # no url( and no @import: nothing to fetch, whatever the escapes
    values = css_tokenizer()(css, skip_comments=True)
    return _Walker(css).walk(values)


class _Walker:
    """Walks the component values iteratively: nesting depth is the attacker's to choose."""

    __slots__ = ("_css", "_found", "_line_starts")

    def __init__(self, css: str) -> None:
        self._css = css
        self._found: list[CssUrl] = []
        self._line_starts = _line_starts(css)

    def walk(self, values: list[Any]) -> list[CssUrl]:
        pending: list[tuple[list[Any], int]] = [(values, len(self._css))]
        while pending:
            siblings, container_end = pending.pop()
            after_import = False
            for index, token in enumerate(siblings):
                end = self._offset(siblings[index + 1]) if index + 1 < len(siblings) else container_end
                kind = token.type
                if kind == "url":
                    self._add(token.value, token, end, "css_import" if after_import else "css_url")
                elif kind == "string" and after_import:
                    self._add(token.value, token, end, "css_import")
                elif kind == "function":
                    self._function(token, end, "css_import" if after_import else "css_url")
                    pending.append((token.arguments, end - 1))
                elif kind in _BLOCKS:
                    pending.append((token.content, end - 1))
                if kind == "at-keyword":
                    after_import = token.lower_value == "import"
                elif kind not in _SKIPPED:
                    after_import = False
        self._found.sort(key=lambda url: url.start)
        return self._found

    def _function(self, token: Any, end: int, construct: CssConstruct) -> None:
        name = token.lower_name
        if name in _URL_FUNCTIONS:
            strings = [argument for argument in token.arguments if argument.type == "string"]
            if strings:
                self._add(strings[0].value, token, end, construct)
        elif name in _IMAGE_SET_FUNCTIONS:
            arguments = token.arguments
            for index, argument in enumerate(arguments):
                if argument.type == "string":
                    after = self._offset(arguments[index + 1]) if index + 1 < len(arguments) else end - 1
                    self._add(argument.value, argument, after, "css_url")

    def _add(self, raw: str, token: Any, end: int, construct: CssConstruct) -> None:
        start = self._offset(token)
        end = max(end, start + 1)
        while end > start + 1 and self._css[end - 1] in " \t\n\r\f;,":
            end -= 1
        self._found.append(CssUrl(raw, start, end, construct))

    def _offset(self, token: Any) -> int:
        return int(self._line_starts[token.source_line - 1] + token.source_column - 1)


def _line_starts(css: str) -> list[int]:
    starts = [0]
    for match in _NEWLINE.finditer(css):
        index = match.start()
        if css[index] == "\n" and index > 0 and css[index - 1] == "\r":
            starts[-1] = index + 1  # the "\n" of "\r\n" ends the line the "\r" began to end
        else:
            starts.append(index + 1)
    return starts
