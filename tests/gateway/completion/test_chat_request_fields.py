"""Which strings of a chat request reach the model, and how they are rewritten."""

from __future__ import annotations

from typing import Any

import pytest

from secure_ai_protocol.errors import BadRequest
from secure_ai_protocol.wire.chat import ChatCompletionRequest


def request(**fields: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hello"}]} | fields
    )


FULL = request(
    messages=[
        {"role": "system", "content": "be brief", "name": "ops"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "part one"}, {"type": "text", "text": "part two"}],
        },
    ],
    stop=["STOP"],
    user="user-7",
    response_format={
        "type": "json_schema",
        "json_schema": {
            "name": "answer",
            "description": "the answer",
            "schema": {"type": "object", "properties": {"to": {"enum": ["a", 3]}}},
        },
    },
)


def test_every_free_text_field_is_listed_in_a_fixed_order() -> None:
    assert FULL.caller_texts() == [
        "be brief",
        "part one",
        "part two",
        "STOP",
        "user-7",
        "type",
        "object",
        "properties",
        "to",
        "enum",
        "a",
        "the answer",
    ]


def test_rewriting_the_free_texts_changes_exactly_those_fields() -> None:
    # When every free text is upper-cased
    rewritten = FULL.with_caller_texts([text.upper() for text in FULL.caller_texts()])
    # Then each lands back where it came from, parts stay parts, names and numbers are untouched
    assert rewritten.model_dump(by_alias=True, exclude_none=True) == {
        "model": "m",
        "messages": [
            {"role": "system", "content": "BE BRIEF", "name": "ops"},
            {
                "role": "user",
                "content": [{"type": "text", "text": "PART ONE"}, {"type": "text", "text": "PART TWO"}],
            },
        ],
        "stop": ["STOP"],
        "user": "USER-7",
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "answer",
                "description": "THE ANSWER",
                "schema": {"TYPE": "OBJECT", "PROPERTIES": {"TO": {"ENUM": ["A", 3]}}},
            },
        },
    }


def test_fields_forwarded_as_written_are_listed_apart() -> None:
    assert FULL.verbatim_texts() == ["ops", "answer", "3"]


def test_a_single_stop_sequence_is_rewritten_too() -> None:
    single = request(stop="END")
    assert single.with_caller_texts(["hi", "FIN"]).stop == "FIN"


def test_two_property_names_that_become_one_are_refused() -> None:
    # Given two property names that the rewrite makes equal (one value spelled two ways)
    schema_request = request(
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"A@x.example": {}, "a@x.example": {}}},
        }
    )
    # When the texts are rewritten
    # Then the request is refused rather than one property silently dropped
    with pytest.raises(BadRequest) as refused:
        schema_request.with_caller_texts([text.lower() for text in schema_request.caller_texts()])
    assert refused.value.reason == "schema_property_names_collide"
