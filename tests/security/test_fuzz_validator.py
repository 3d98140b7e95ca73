"""Fuzzing the validator: its signed API route, its SQS batches, and EventBridge events on the queue."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import given, note
from hypothesis import strategies as st

from secure_ai_protocol.routes import VALIDATE_ROUTE
from tests.security import scenarios
from tests.security.fuzzing import PROXY_TEMPLATE, fuzz_settings, random_proxy_events
from tests.security.harness import Gateway, eventbridge_event
from tests.security.mutations import (
    Mutation,
    apply_mutations,
    body_mutations,
    header_mutations,
    hostile_text,
    json_values,
    path_mutations,
)
from tests.security.properties import request_kind
from tests.security.tally import count_case, note_outcome

SAMPLE_DOCUMENT = {
    "text": "Contact jane.doe@example.com",
    "id": "doc-1",
    "policy_id": "default",
    "schema": {},
}
SEALED_TEMPLATE = {"resp_key": base64.b64encode(bytes(32)).decode(), "request": SAMPLE_DOCUMENT}
RECORD_FIELDS = ["messageId", "body", "receiptHandle", "attributes", "eventSource", "md5OfBody"]


def valid_documents() -> st.SearchStrategy[dict[str, Any]]:
    """Screening requests the validator must accept."""
    return st.fixed_dictionaries(
        {"text": st.text(max_size=200)},
        optional={
            "id": st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9._:-]{1,40}", fullmatch=True)),
            "policy_id": st.just("default"),
        },
    )


def documents() -> st.SearchStrategy[Any]:
    """Valid requests, a full request changed at random, and any JSON value."""
    changed = st.lists(path_mutations(SAMPLE_DOCUMENT), min_size=1, max_size=2).map(
        lambda mutations: apply_mutations(SAMPLE_DOCUMENT, mutations)
    )
    return st.one_of(valid_documents(), valid_documents(), changed, json_values())


def queue_bodies() -> st.SearchStrategy[str]:
    """Message bodies: screening requests, EventBridge events carrying them (or not), and any text."""
    sample_event = eventbridge_event(SAMPLE_DOCUMENT)
    eventbridge = st.one_of(
        documents().map(lambda document: json.dumps(eventbridge_event(document))),
        st.builds(
            lambda document, detail_type: json.dumps(eventbridge_event(document, detail_type)),
            documents(),
            st.sampled_from(["OutputScreened", "validateoutput", "", "ValidateOutput ", "ValidateOutput"]),
        ),
        st.lists(path_mutations(sample_event), min_size=1, max_size=2).map(
            lambda mutations: json.dumps(apply_mutations(sample_event, mutations))
        ),
    )
    return st.one_of(documents().map(json.dumps), eventbridge, eventbridge, hostile_text())


@fuzz_settings(max_examples=300)
@given(document=documents())
def test_any_signed_json_document_is_screened_or_refused_never_a_server_error(
    gateway: Gateway, document: Any
) -> None:
    # Given any JSON document, correctly signed and allowed by the authorizer
    note(f"document: {document!r}")

    # When the validator's API route handles it, Then a valid request gets a verdict, another a 4xx
    count_case("validator API: signed JSON documents", scenarios.validator_signed_document(gateway, document))


@fuzz_settings(max_examples=250)
@given(
    envelope=st.booleans(),
    mutations=st.lists(
        st.one_of(path_mutations(PROXY_TEMPLATE), header_mutations(), body_mutations()), max_size=3
    ),
)
def test_a_signed_validate_request_changed_after_signing_is_never_answered(
    gateway: Gateway, envelope: bool, mutations: list[Mutation]
) -> None:
    # Given a signed validate request (JSON or sealed) as the authorizer allowed it, then changed (or not)
    note(f"envelope: {envelope} mutations: {mutations!r}")

    # When the validator handles it, Then never a 5xx, and a verdict only for what was signed
    outcome = scenarios.validator_mutated_signed(gateway, mutations, envelope=envelope)
    count_case("validator API: mutated signed events", outcome)


@fuzz_settings(max_examples=200)
@given(
    plaintext=st.one_of(
        st.fixed_dictionaries({"resp_key": json_values(max_leaves=2), "request": documents()}),
        st.lists(path_mutations(SEALED_TEMPLATE), min_size=1, max_size=2).map(
            lambda mutations: apply_mutations(SEALED_TEMPLATE, mutations)
        ),
        json_values(),
    )
)
def test_a_validly_sealed_validate_request_of_any_content_is_never_a_server_error(
    gateway: Gateway, plaintext: Any
) -> None:
    # Given a correctly sealed and signed validate envelope whose plaintext is any JSON
    note(f"plaintext: {plaintext!r}")

    # When the validator opens it, Then the answer is a sealed verdict or a 4xx, never a 5xx
    count_case("validator API: sealed plaintexts", scenarios.validator_sealed_plaintext(gateway, plaintext))


@fuzz_settings(max_examples=250)
@given(event=random_proxy_events(VALIDATE_ROUTE))
def test_an_arbitrary_event_on_the_api_path_is_refused_never_a_server_error(
    gateway: Gateway, event: Any
) -> None:
    # Given an event drawn at random (a proxy event, one with type-confused fields, or not an event)
    note(f"event: {event!r}")

    # When the validator handles it, Then it is refused, never a 5xx or an exception
    count_case("validator API: random events", scenarios.validator_random_event(gateway, event))


@fuzz_settings(max_examples=300)
@given(bodies=st.lists(queue_bodies(), min_size=1, max_size=5))
def test_every_bad_message_in_a_batch_is_reported_for_a_retry_and_no_good_one(
    gateway: Gateway, bodies: list[str]
) -> None:
    # Given a batch as SQS delivers it: unique message ids, any bodies (EventBridge events among them)
    note(f"bodies: {bodies!r} kinds: {[request_kind(body) for body in bodies]!r}")

    # When the validator processes it, Then the bad records (only they) are in batchItemFailures
    count_case("validator SQS: batches", scenarios.validator_batch(gateway, bodies))
    for body in bodies:
        note_outcome("validator SQS: records in those batches", request_kind(body))


@fuzz_settings(max_examples=200)
@given(
    records=st.lists(
        st.one_of(json_values(), st.dictionaries(st.sampled_from(RECORD_FIELDS), json_values())),
        min_size=1,
        max_size=3,
    )
)
def test_a_batch_outside_the_sqs_contract_never_acknowledges_a_bad_record(
    gateway: Gateway, records: list[Any]
) -> None:
    # Given records SQS would never deliver (ids and bodies of any type or missing, not even records)
    note(f"records: {records!r}")

    # When the validator processes them, Then it fails (all retried) or acknowledges no bad record
    count_case("validator SQS: malformed batches", scenarios.validator_malformed_batch(gateway, records))


@fuzz_settings(max_examples=200)
@given(
    event=st.one_of(
        documents().map(eventbridge_event),
        st.builds(eventbridge_event, json_values(), hostile_text()),
        json_values(),
    )
)
def test_an_event_from_another_trigger_is_refused_without_an_exception(gateway: Gateway, event: Any) -> None:
    # Given an EventBridge event (or anything else) invoking the validator directly, not via its queue
    note(f"event: {event!r}")

    # When the validator handles it, Then it is refused as malformed: no exception, no verdict
    count_case("validator: direct EventBridge events", scenarios.validator_other_trigger(gateway, event))
