"""Fuzzing the completion function: no input is a 5xx, and no changed body or binding is a 200."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given, note
from hypothesis import strategies as st

from secure_ai_protocol.routes import CHAT_ROUTE
from tests.security import scenarios
from tests.security.fuzzing import PROXY_TEMPLATE, fuzz_settings, random_proxy_events
from tests.security.harness import Gateway
from tests.security.mutations import (
    Mutation,
    body_mutations,
    header_mutations,
    json_values,
    path_mutations,
)
from tests.security.tally import count_case

PLAINTEXT_TEMPLATE = {
    "resp_key": "",
    "request": {
        "model": "gpt-test",
        "messages": [{"role": "user", "content": scenarios.CHAT_PROMPT}],
        "max_tokens": 10,
        "temperature": 0.5,
    },
}


@fuzz_settings(max_examples=300)
@given(
    mutations=st.lists(
        st.one_of(path_mutations(PROXY_TEMPLATE), header_mutations(), body_mutations()), max_size=3
    )
)
def test_a_signed_chat_request_changed_after_signing_is_never_answered(
    gateway: Gateway, mutations: list[Mutation]
) -> None:
    # Given a sealed chat request as the authorizer allowed it, then changed in transit (or not)
    note(f"mutations: {mutations!r}")

    # When the completion function handles it, Then no 5xx, and only what was signed is answered
    count_case(
        "completion: mutated signed chat events", scenarios.completion_mutated_signed(gateway, mutations)
    )


@fuzz_settings(max_examples=200)
@given(
    plaintext=st.one_of(
        st.fixed_dictionaries(
            {"mutations": st.lists(path_mutations(PLAINTEXT_TEMPLATE), min_size=1, max_size=3)}
        ),
        st.fixed_dictionaries({"document": json_values()}),
        st.fixed_dictionaries(
            {"raw_base64": st.binary(max_size=64).map(lambda data: base64.b64encode(data).decode())}
        ),
    )
)
def test_a_validly_sealed_request_of_any_content_is_never_a_server_error(
    gateway: Gateway, plaintext: dict[str, Any]
) -> None:
    # Given a correctly sealed and signed envelope whose plaintext is anything at all
    note(f"plaintext: {plaintext!r}")

    # When the completion function opens it, Then the answer is a 200 or a 4xx, never a 5xx
    count_case("completion: sealed plaintexts", scenarios.completion_sealed_plaintext(gateway, **plaintext))


@fuzz_settings(max_examples=300)
@given(event=random_proxy_events(CHAT_ROUTE))
def test_an_arbitrary_event_is_never_a_server_error_or_an_answer(gateway: Gateway, event: Any) -> None:
    # Given an event drawn at random (a proxy event, one with type-confused fields, or not an event)
    note(f"event: {event!r}")

    # When the completion function handles it, Then it is refused, never a 5xx or an exception
    count_case("completion: random events", scenarios.completion_random_event(gateway, event))


@fuzz_settings(max_examples=150)
@given(mutations=st.lists(st.one_of(path_mutations(PROXY_TEMPLATE), header_mutations()), max_size=3))
def test_the_public_key_route_answers_any_variation_without_a_server_error(
    gateway: Gateway, mutations: list[Mutation]
) -> None:
    # Given GET /v1/keys/public, changed at random (or not)
    note(f"mutations: {mutations!r}")

    # When the completion function handles it, Then never a 5xx, and the key only for GET on its path
    count_case("completion: public key route", scenarios.completion_public_key(gateway, mutations))
