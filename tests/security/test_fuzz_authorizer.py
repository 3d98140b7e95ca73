"""Fuzzing the REQUEST authorizer: the only Allow is for an unmodified, validly signed, fresh request."""

from __future__ import annotations

from typing import Any

from hypothesis import given, note
from hypothesis import strategies as st

from tests.security import scenarios
from tests.security.fuzzing import AUTHORIZER_TEMPLATE, fuzz_settings, random_authorizer_events
from tests.security.harness import Gateway
from tests.security.mutations import (
    Mutation,
    header_mutations,
    path_mutations,
    query_mutations,
    resign_mutations,
)
from tests.security.tally import count_case

MUTATIONS = st.lists(
    st.one_of(path_mutations(AUTHORIZER_TEMPLATE), header_mutations(), query_mutations(), resign_mutations()),
    max_size=3,
)


@fuzz_settings(max_examples=300)
@given(mutations=MUTATIONS, query=st.booleans())
def test_a_signed_request_is_allowed_only_while_its_signed_parts_are_unchanged(
    gateway: Gateway, mutations: list[Mutation], query: bool
) -> None:
    # Given a request (with or without a query) the client signed just now, then changed (or not)
    note(f"query: {query} mutations: {mutations!r}")

    # When the authorizer sees it, Then it refuses, or allows exactly the signed request, once
    outcome = scenarios.authorizer_mutated_signed(gateway, mutations, query=query)
    count_case("authorizer: mutated signed events", outcome)


@fuzz_settings(max_examples=300)
@given(event=random_authorizer_events())
def test_an_event_no_client_signed_is_refused(gateway: Gateway, event: Any) -> None:
    # Given an event drawn at random (authorizer-shaped, or not an event at all)
    note(f"event: {event!r}")

    # When the authorizer sees it, Then it is the one refusal, never an Allow or another exception
    count_case("authorizer: random events", scenarios.authorizer_random_event(gateway, event))
