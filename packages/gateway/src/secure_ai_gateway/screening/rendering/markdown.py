"""The markdown parser: markdown-it-py's CommonMark + GFM, instrumented to say where tokens came from.

markdown-it-py gives block tokens a line map but inline tokens no position. The inline state is
instrumented so that every token notes where it was pushed (`PUSHED_AT`: each rule pushes
before it moves past what it consumed) and every text token where its text starts
(`TEXT_START`). The link and image rules are wrapped to note the span of the whole construct
(`SPAN`) and, when written inline, of its destination (`DESTINATION`). Reference definitions
record the span of their destination in the document, so `![a][r]` can point at `[r]: …`.

Configuration choices, all for the screen rather than for display:
- every link is kept: markdown-it drops `javascript:` and most `data:` links, which some
  renderers do not, so the screen judges every URL itself (`validateLink`);
- destinations are kept as written (`normalizeLink`): ada-url serialises them later;
- linkify is off here: bare URLs are found in the decoded text by the renderer (document.py),
  which also sees `https&#58;//…` and URLs split by escapes;
- emphasis, strikethrough and typography are off: they change how text looks, not where a
  link points, and keeping text tokens whole keeps their positions exact;
- nesting is capped at `MAX_NESTING` (the CommonMark preset's); deeper block nesting would be
  skipped silently by markdown-it, so it stops the render instead (`RenderBudgetExceeded`).
Block rules, the link and image rules, destination parsing, every token pushed and every run of
pending text spend from the render's budget.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from secure_ai_gateway.screening.errors import RenderBudgetExceeded
from secure_ai_gateway.screening.rendering.budget import RenderBudget

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML
    from markdown_it.token import Token

MAX_NESTING: Final = 20
SPAN: Final = "secure_ai_span"  # (start, end) of a whole link or image
PUSHED_AT: Final = "secure_ai_pushed_at"  # state.pos when the token was pushed
TEXT_START: Final = "secure_ai_text_start"  # where a text token's content starts in the source
DESTINATION: Final = "secure_ai_destination"  # (start, end) of an inline link's destination
_DISABLED_RULES: Final = (
    "linkify",
    "emphasis",
    "strikethrough",
    "replacements",
    "smartquotes",
    "text_join",
    "fragments_join",
)

type Span = tuple[int, int]


class ParseRecord:
    """What the instrumented parser saw during one parse, beyond markdown-it's tokens."""

    __slots__ = ("budget", "definitions", "destinations", "last_close")

    def __init__(self, budget: RenderBudget) -> None:
        self.budget = budget
        # Per inline source (by identity): where its last "]" is. No link or image can start after
        # it, and asking markdown-it's rules anyway costs ~12 µs for every "[" of a bracket flood.
        self.last_close: dict[int, int] = {}
        # Every destination parsed: (the string parsed, start, end). Kept by reference.
        self.destinations: list[tuple[str, int, int]] = []
        # Normalised label -> span of the destination of its (first) definition in the document.
        self.definitions: dict[str, Span] = {}


_record: ContextVar[ParseRecord] = ContextVar("markdown_parse_record")


def parse(text: str, budget: RenderBudget) -> tuple[list[Token], ParseRecord]:
    """Block and inline tokens of `text` (newlines already "\\n", no NUL), and the parse record."""
    record = ParseRecord(budget)
    token = _record.set(record)
    try:
        return markdown_parser().parse(text, {}), record
    finally:
        _record.reset(token)


def render_html(tokens: list[Token]) -> str:
    """The HTML a client's markdown-it would produce for `tokens`."""
    md = markdown_parser()
    return str(md.renderer.render(tokens, md.options, {}))


def render_inline_html(tokens: list[Token]) -> str:
    """The HTML of a run of inline tokens."""
    md = markdown_parser()
    renderer = cast("RendererHTML", md.renderer)
    return renderer.renderInline(tokens, md.options, {})


@cache
def markdown_parser() -> MarkdownIt:
    # markdown-it-py costs ~100 ms to import: only a render pays for it, once per process.
    from markdown_it import MarkdownIt, helpers  # noqa: PLC0415
    from markdown_it.parser_block import ParserBlock  # noqa: PLC0415
    from markdown_it.parser_inline import ParserInline  # noqa: PLC0415
    from markdown_it.renderer import RendererHTML  # noqa: PLC0415
    from markdown_it.rules_block import StateBlock  # noqa: PLC0415
    from markdown_it.rules_inline import StateInline  # noqa: PLC0415

    class PositionedState(StateInline):
        """Notes where each token was pushed and where pending text began, and spends from the
        budget as it goes (every token, every run of text)."""

        def __init__(self, src: str, md: MarkdownIt, env: Any, out_tokens: list[Token]) -> None:
            self.pending_start = 0
            self.pending_open = False
            self.budget = _record.get().budget
            super().__init__(src, md, env, out_tokens)

        @property
        def pending(self) -> str:
            return str(StateInline.pending.fget(self))  # type: ignore[attr-defined]

        @pending.setter
        def pending(self, value: str) -> None:
            StateInline.pending.fset(self, value)  # type: ignore[attr-defined]
            if not value:
                self.pending_open = False

        def append_pending(self, text: str) -> None:
            self.budget.spend()
            if not self.pending_open:
                self.pending_open = True
                self.pending_start = self.pos
            super().append_pending(text)

        def pushPending(self) -> Token:  # noqa: N802 - markdown-it's name
            token = super().pushPending()
            token.meta[TEXT_START] = self.pending_start
            return token

        def push(self, ttype: str, tag: str, nesting: Literal[-1, 0, 1]) -> Token:
            self.budget.spend()
            token = super().push(ttype, tag, nesting)
            # Every rule but link pushes before it moves past what it consumed.
            token.meta[PUSHED_AT] = self.pos
            return token

    class InlineParser(ParserInline):
        def parse(self, src: str, md: MarkdownIt, env: Any, tokens: list[Token]) -> list[Token]:
            state = PositionedState(src, md, env, tokens)
            self.tokenize(state)
            for rule in self.ruler2.getRules(""):
                rule(state)
            return state.tokens

    class BlockParser(ParserBlock):
        def tokenize(self, state: StateBlock, startLine: int, endLine: int) -> None:  # noqa: N803
            if state.level >= MAX_NESTING:
                raise RenderBudgetExceeded("render_nesting_limit")
            super().tokenize(state, startLine, endLine)

    class ScreeningMarkdown(MarkdownIt):
        def validateLink(self, url: str) -> bool:  # noqa: N802 - markdown-it's name
            return True

        def normalizeLink(self, url: str) -> str:  # noqa: N802 - markdown-it's name
            return url

        def normalizeLinkText(self, link: str) -> str:  # noqa: N802 - markdown-it's name
            return link  # an autolink's text stays its source spelling, so its length is its span

    options = {"maxNesting": MAX_NESTING, "store_labels": True, "inline_definitions": True, "linkify": False}
    md = ScreeningMarkdown("gfm-like", options)
    md.inline = InlineParser()
    md.block = BlockParser()
    md.configure("gfm-like", options)
    md.disable(list(_DISABLED_RULES))
    for inline_rule in md.inline.ruler.__rules__:
        if inline_rule.name in ("link", "image"):
            md.inline.ruler.at(inline_rule.name, _positioned(inline_rule.fn), {"alt": inline_rule.alt})
    for block_rule in md.block.ruler.__rules__:
        wrapped = _definition(block_rule.fn) if block_rule.name == "reference" else _budgeted(block_rule.fn)
        md.block.ruler.at(block_rule.name, wrapped, {"alt": block_rule.alt})
    # Rules call `state.md.helpers.parseLinkDestination`: a module of our own records each call.
    recording = ModuleType(f"{__name__}.helpers")
    functions = {
        "parseLinkLabel": helpers.parseLinkLabel,
        "parseLinkDestination": _recorded(helpers.parseLinkDestination),
        "parseLinkTitle": helpers.parseLinkTitle,
    }
    for name, function in functions.items():
        setattr(recording, name, function)
    md.helpers = recording
    # Without text_join, escapes and entities stay text_special tokens: render them as text.
    # Definition tokens render to nothing, as definitions do.
    md.add_render_rule("text_special", RendererHTML.text)
    md.add_render_rule("definition", _nothing)
    return md


def _nothing(renderer: Any, tokens: list[Token], index: int, options: Any, env: Any) -> str:
    return ""


def _positioned(rule: Callable[[Any, bool], bool]) -> Callable[[Any, bool], bool]:
    """The link or image rule, marking its token with the span of the whole construct."""

    def run(state: Any, silent: bool) -> bool:
        record = _record.get()
        record.budget.spend()
        source = state.src
        last_close = record.last_close.get(id(source))
        if last_close is None:
            last_close = record.last_close[id(source)] = source.rfind("]")
        if state.pos > last_close:
            return False
        if silent:
            return rule(state, silent)
        before = state.pos
        first_token = len(state.tokens)
        first_destination = len(record.destinations)
        if not rule(state, silent):
            return False
        after = state.pos
        for token in state.tokens[first_token:]:
            if token.type in ("link_open", "image") and SPAN not in token.meta:
                token.meta[SPAN] = (before, after)
                if state.src[after - 1] == ")":
                    _mark_destination(token, state.src, record.destinations[first_destination:])
                break
        return True

    return run


def _mark_destination(token: Token, src: str, destinations: list[tuple[str, int, int]]) -> None:
    # Destinations parsed inside the label (nested links, lookahead) start before the link's own,
    # which follows the label: the own one is the last to start, in this source.
    own = [(start, end) for string, start, end in destinations if string is src]
    if own:
        token.meta[DESTINATION] = max(own)


def _budgeted(rule: Callable[[Any, int, int, bool], bool]) -> Callable[[Any, int, int, bool], bool]:
    def run(state: Any, start_line: int, end_line: int, silent: bool) -> bool:
        _record.get().budget.spend()
        return rule(state, start_line, end_line, silent)

    return run


def _definition(rule: Callable[[Any, int, int, bool], bool]) -> Callable[[Any, int, int, bool], bool]:
    """The reference rule, recording where in the document each new definition's URL is."""

    def run(state: Any, start_line: int, end_line: int, silent: bool) -> bool:
        record = _record.get()
        record.budget.spend()
        known = len(state.env.get("references", {}))
        first_destination = len(record.destinations)
        matched = rule(state, start_line, end_line, silent)
        if not matched or silent:
            return matched
        references: dict[str, Any] = state.env.get("references", {})
        if len(references) > known and len(record.destinations) > first_destination:
            label = next(reversed(references))  # definitions are kept in the order they came
            _, start, end = record.destinations[first_destination]
            record.definitions[label] = (
                _definition_offset(state, start_line, start),
                _definition_offset(state, start_line, max(start, end - 1)) + 1,
            )
        return True

    return run


def _definition_offset(state: Any, start_line: int, offset: int) -> int:
    # The reference rule parses a string made of each line from its first non-space character
    # through its newline: walk those pieces to find the document offset.
    line = start_line
    while line < state.lineMax:
        piece_start = state.bMarks[line] + state.tShift[line]
        piece_length = state.eMarks[line] + 1 - piece_start
        if offset < piece_length:
            return int(piece_start + offset)
        offset -= piece_length
        line += 1
    return int(state.eMarks[state.lineMax - 1]) if state.lineMax else 0


def _recorded(parse_destination: Callable[[str, int, int], Any]) -> Callable[[str, int, int], Any]:
    def run(string: str, pos: int, maximum: int) -> Any:
        record = _record.get()
        record.budget.spend()
        result = parse_destination(string, pos, maximum)
        if result.ok:
            record.destinations.append((string, pos, result.pos))
        return result

    return run
