"""css_urls(): what a stylesheet or a style attribute makes a browser fetch."""

from __future__ import annotations

import pytest

from secure_ai_gateway.screening.rendering.css import css_urls


def urls(css: str) -> list[tuple[str, str, str]]:
    """(url as the browser reads it, construct, spelling at its span) of each URL in `css`."""
    return [(url.raw, url.construct, css[url.start : url.end]) for url in css_urls(css)]


@pytest.mark.parametrize(
    ("css", "raw", "spelling"),
    [
        ("a{background:url(//e.example/x)}", "//e.example/x", "url(//e.example/x)"),
        ("background: URL( //e.example/x )", "//e.example/x", "URL( //e.example/x )"),
        ('background:url("//e.example/x")', "//e.example/x", 'url("//e.example/x")'),
        ("background:\\75 rl(//e.example/x)", "//e.example/x", "\\75 rl(//e.example/x)"),
        ("background:u\\rl(//e.example/x)", "//e.example/x", "u\\rl(//e.example/x)"),
        ("background:url(https:\\/\\/e.example/x)", "https://e.example/x", "url(https:\\/\\/e.example/x)"),
        ("src: src('//e.example/f.woff')", "//e.example/f.woff", "src('//e.example/f.woff')"),
    ],
)
def test_a_url_function_is_read_in_any_spelling_the_tokenizer_accepts(
    css: str, raw: str, spelling: str
) -> None:
    assert urls(css) == [(raw, "css_url", spelling)]


def test_the_strings_of_an_image_set_are_urls() -> None:
    assert urls('b: image-set("//e.example/a.png" 1x, url(//e.example/b.png) 2x)') == [
        ("//e.example/a.png", "css_url", '"//e.example/a.png"'),
        ("//e.example/b.png", "css_url", "url(//e.example/b.png)"),
    ]


@pytest.mark.parametrize(
    ("css", "spelling"),
    [
        ('@import "//e.example/s.css";', '"//e.example/s.css"'),
        ("@import url(//e.example/s.css);", "url(//e.example/s.css)"),
    ],
)
def test_an_import_is_fetched(css: str, spelling: str) -> None:
    assert urls(css) == [("//e.example/s.css", "css_import", spelling)]


def test_a_url_in_a_comment_is_not_fetched() -> None:
    assert urls("/* background:url(//e.example/x) */ color: red") == []


def test_spans_count_crlf_and_form_feed_as_the_tokenizer_does() -> None:
    css = "a {\r\n  color: red;\f  background: url(//e.example/x);\r\n}"
    assert urls(css) == [("//e.example/x", "css_url", "url(//e.example/x)")]


def test_deeply_nested_blocks_are_walked_without_recursion() -> None:
    css = "(" * 5000 + "url(//e.example/x)" + ")" * 5000
    assert [url.raw for url in css_urls(css)] == ["//e.example/x"]


def test_css_without_a_parenthesis_or_at_sign_holds_no_url() -> None:
    assert urls("color: red; font-weight: bold") == []
