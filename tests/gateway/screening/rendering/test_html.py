"""html_urls(): every URL of raw HTML, read by lexbor as a browser reads it."""

from __future__ import annotations

import time

import pytest

from secure_ai_gateway.screening.rendering.budget import RenderBudget
from secure_ai_gateway.screening.rendering.html import html_urls, tag_name


def urls(fragment: str) -> list[tuple[str, str, str, str]]:
    """(kind, construct, url as read, spelling at its span) of each URL in `fragment`."""
    return [
        (url.kind, url.construct, url.raw, fragment[url.start : url.end])
        for url in html_urls(fragment, RenderBudget(60.0, time.perf_counter))
    ]


@pytest.mark.parametrize(
    ("fragment", "kind", "construct", "raw"),
    [
        ('<img src="//e.example/a">', "fetch", "html_src", "//e.example/a"),
        ('<img lowsrc="//e.example/a">', "fetch", "html_src", "//e.example/a"),
        ('<video poster="//e.example/a"></video>', "fetch", "html_poster", "//e.example/a"),
        ('<video src="//e.example/a"></video>', "fetch", "html_src", "//e.example/a"),
        ('<audio><source src="//e.example/a"></audio>', "fetch", "html_src", "//e.example/a"),
        ('<video><track src="//e.example/a"></video>', "fetch", "html_src", "//e.example/a"),
        ('<iframe src="//e.example/a"></iframe>', "fetch", "html_src", "//e.example/a"),
        ('<embed src="//e.example/a">', "fetch", "html_src", "//e.example/a"),
        ('<object data="//e.example/a"></object>', "fetch", "html_data", "//e.example/a"),
        ('<input type="image" src="//e.example/a">', "fetch", "html_src", "//e.example/a"),
        ('<script src="//e.example/a"></script>', "fetch", "html_src", "//e.example/a"),
        ('<link rel="icon" href="//e.example/a">', "fetch", "html_link", "//e.example/a"),
        ('<base href="//e.example/a">', "fetch", "html_base", "//e.example/a"),
        ('<svg><image href="//e.example/a"/></svg>', "fetch", "svg_href", "//e.example/a"),
        ('<svg><image xlink:href="//e.example/a"/></svg>', "fetch", "svg_href", "//e.example/a"),
        ('<svg><use href="//e.example/a#i"/></svg>', "fetch", "svg_href", "//e.example/a#i"),
        ('<table background="//e.example/a"></table>', "fetch", "html_background", "//e.example/a"),
        (
            '<meta http-equiv="Refresh" content="0; URL=\'//e.example/a\'">',
            "fetch",
            "html_meta_refresh",
            "//e.example/a",
        ),
        ('<a href="//e.example/a">x</a>', "navigate", "html_href", "//e.example/a"),
        ('<map><area href="//e.example/a"></map>', "navigate", "html_href", "//e.example/a"),
        (
            '<svg><a xlink:href="//e.example/a"><text>x</text></a></svg>',
            "navigate",
            "html_href",
            "//e.example/a",
        ),
        ('<form action="//e.example/a"></form>', "navigate", "html_action", "//e.example/a"),
        ('<button formaction="//e.example/a">x</button>', "navigate", "html_action", "//e.example/a"),
        ('<div style="background:url(//e.example/a)">x</div>', "fetch", "css_url", "//e.example/a"),
        ('<svg><rect fill="url(//e.example/a#g)"/></svg>', "fetch", "css_url", "//e.example/a#g"),
        ("<style>@import '//e.example/a';</style>", "fetch", "css_import", "//e.example/a"),
    ],
)
def test_each_url_attribute_is_read_with_what_loads_it(
    fragment: str, kind: str, construct: str, raw: str
) -> None:
    # Given an element with a URL in an attribute or a stylesheet
    # When its fragment is read
    # Then the URL is found, fetched or navigated to as a browser would
    assert [(found[0], found[1], found[2]) for found in urls(fragment)] == [(kind, construct, raw)]


def test_attribute_names_are_read_whatever_their_case_and_spacing() -> None:
    assert urls('<IMG SRC = "//e.example/a">') == [("fetch", "html_src", "//e.example/a", "//e.example/a")]


def test_a_srcset_yields_each_candidate_at_its_own_span() -> None:
    assert urls('<img srcset="a.png 1x, //e.example/b.png 2x">') == [
        ("fetch", "html_srcset", "a.png", "a.png"),
        ("fetch", "html_srcset", "//e.example/b.png", "//e.example/b.png"),
    ]


def test_ping_lists_each_url() -> None:
    assert [found[2] for found in urls('<a href="/x" ping="//p.example/1 //p.example/2">x</a>')] == [
        "/x",
        "//p.example/1",
        "//p.example/2",
    ]


def test_scripts_and_event_handlers_are_resources_that_run() -> None:
    fragment = '<img src="/a.png" onerror="fetch(1)"><script>go()</script>'
    assert urls(fragment) == [
        ("fetch", "html_src", "/a.png", "/a.png"),
        ("fetch", "html_event_handler", "javascript:", "fetch(1)"),
        ("fetch", "html_script", "javascript:", "go()"),
    ]


def test_a_srcdoc_document_is_read_too() -> None:
    assert urls("<iframe srcdoc='<img src=//e.example/a>'></iframe>") == [
        ("fetch", "html_src", "//e.example/a", "//e.example/a")
    ]


def test_table_cells_out_of_context_are_read() -> None:
    # Given a cell with a background, without its table (a previous block may have opened it)
    assert [found[2] for found in urls('<td background="//e.example/a">x</td>')] == ["//e.example/a"]


def test_a_body_tag_lends_its_attributes_to_the_page_body() -> None:
    assert [found[2] for found in urls('<body background="//e.example/a">')] == ["//e.example/a"]


def test_a_decoded_value_whose_spelling_differs_spans_the_whole_fragment() -> None:
    fragment = '<img src="https&#58;//e.example/a">'
    found = html_urls(fragment, RenderBudget(60.0, time.perf_counter))
    assert [(url.raw, url.start, url.end, url.located) for url in found] == [
        ("https://e.example/a", 0, len(fragment), False)
    ]


def test_a_value_repeated_elsewhere_is_located_after_its_equals_sign() -> None:
    # Given the URL's text in the prose before the attribute that holds it
    fragment = '<p>//e.example/a <img src="//e.example/a"></p>'
    # Then the span is the attribute value, not the prose
    (found,) = html_urls(fragment, RenderBudget(60.0, time.perf_counter))
    assert found.start == fragment.index('"') + 1


def test_an_open_details_element_runs_nothing() -> None:
    assert urls('<details open="open"><summary>x</summary></details>') == []


def test_elements_without_values_are_not_read() -> None:
    assert urls("<p><b>bold</b><br></p>") == []


@pytest.mark.parametrize(("tag", "name"), [("<IMG src=x>", "img"), ("</Style >", "style"), ("<x-y/>", "x-y")])
def test_tag_name_is_the_lower_case_name(tag: str, name: str) -> None:
    assert tag_name(tag) == name
