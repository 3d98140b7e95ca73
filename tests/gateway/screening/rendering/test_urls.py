"""URLs as a browser reads them: ada-url resolution, srcset lists, meta refresh."""

from __future__ import annotations

import pytest

from secure_ai_gateway.screening.rendering.urls import parse_url, refresh_url, srcset_candidates, url_parts


@pytest.mark.parametrize(
    ("raw", "href"),
    [
        ("HTTPS://EVIL.EXAMPLE/A?B=c", "https://evil.example/A?B=c"),
        ("//evil.example/x", "https://evil.example/x"),
        ("\\\\evil.example\\x", "https://evil.example/x"),
        ("https:\\\\evil.example/x", "https://evil.example/x"),
        ("https:/\\evil.example/x", "https://evil.example/x"),
        ("https:evil.example/x", "https://evil.example/x"),
        (" https://evil.example/a b\n", "https://evil.example/a%20b"),
        ("https://0x7f.1/", "https://127.0.0.1/"),
        ("https://\u0430pple.com/", "https://xn--pple-43d.com/"),
        ("/path?q=1", "https://client.invalid/path?q=1"),
        ("javascript:alert(1)", "javascript:alert(1)"),
    ],
)
def test_a_url_is_serialised_as_a_browser_reads_it(raw: str, href: str) -> None:
    parsed = parse_url(raw)
    assert parsed is not None
    assert parsed.href == href


@pytest.mark.parametrize("raw", ["https://evil.example:99999/", "https://[::1/", "http://exa mple.com/"])
def test_an_invalid_url_is_none(raw: str) -> None:
    # A browser loads nothing from a URL that does not parse
    assert parse_url(raw) is None


def test_the_parts_of_a_url_are_read_by_ada() -> None:
    parts = url_parts("https://user:pw@[2001:db8::1]:8443/a/b?q=1#frag")
    assert parts == ("https", "[2001:db8::1]", True, "user", "pw", "/a/b", "q=1", "frag")


@pytest.mark.parametrize(
    ("value", "urls"),
    [
        ("a.png 1x, b.png 2x", ["a.png", "b.png"]),
        ("a.png,b.png", ["a.png,b.png"]),  # a comma inside a URL is part of it
        ("  ,, a.png 100w  ,b.png", ["a.png", "b.png"]),
        ("data:image/png;base64,AAA= 1x, b.png", ["data:image/png;base64,AAA=", "b.png"]),
        ("a.png (x, y) 1x, b.png", ["a.png", "b.png"]),
    ],
)
def test_srcset_candidates_follow_the_html_standard(value: str, urls: list[str]) -> None:
    assert [value[start:end] for start, end in srcset_candidates(value)] == urls


@pytest.mark.parametrize(
    ("content", "url"),
    [
        ("0;url=https://e.example/x", "https://e.example/x"),
        ("5; URL = 'https://e.example/x'", "https://e.example/x"),
        ('0, url="https://e.example/x" ', "https://e.example/x"),
        ("1.5 https://e.example/x", "https://e.example/x"),
        ("0;https://e.example/x", "https://e.example/x"),
    ],
)
def test_a_meta_refresh_url_is_found(content: str, url: str) -> None:
    span = refresh_url(content)
    assert span is not None
    assert content[span[0] : span[1]] == url


@pytest.mark.parametrize("content", ["5", "x;url=https://e.example/", "0;", ""])
def test_a_meta_refresh_without_url_has_none(content: str) -> None:
    assert refresh_url(content) is None
