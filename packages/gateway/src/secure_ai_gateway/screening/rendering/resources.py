"""What a render finds: the resources a client would load or open, and where markup is."""

from __future__ import annotations

from typing import Literal, NamedTuple

from secure_ai_gateway.screening.rendering.urls import BASE_HOST

# "fetch": loaded without a click (images, frames, stylesheets, scripts, meta refresh…);
# "navigate": opened when the reader clicks (links, form actions, bare URLs).
type ResourceKind = Literal["fetch", "navigate"]
type Span = tuple[int, int]


class Resource(NamedTuple):
    """One URL the client's renderer would fetch or navigate to.

    `url` is the WHATWG serialisation (ada-url) resolved against the placeholder base, `host` its
    IDNA host ("" for `data:`, `javascript:`, `mailto:`…), `construct` the markup it came from
    (`md_image`, `html_srcset`, `css_url`, `bare_url`…), `span` where it is in the original text:
    the URL itself where its spelling could be found, else the smallest enclosing markup (the
    tag, the block).
    """

    url: str
    host: str
    kind: ResourceKind
    construct: str
    span: Span

    @property
    def same_origin(self) -> bool:
        """True for a relative URL: it stays on the client's own origin."""
        return self.host == BASE_HOST


class RenderedText(NamedTuple):
    """Everything a render found in one text.

    `markup_spans` are the spans of the original text that are not plain text: link and image
    destinations, reference definitions, autolinks, bare URLs, HTML tags and blocks, style and
    script content. A value written inside one would become part of a URL or of markup. They
    are sorted and do not overlap.
    """

    resources: tuple[Resource, ...]
    markup_spans: tuple[Span, ...]
