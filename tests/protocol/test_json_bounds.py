"""JSON nesting is bounded in one linear pass, before any recursive parser sees the document."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secure_ai_gateway.screening.schema import MAX_SCHEMA_DEPTH
from secure_ai_protocol.errors import BadRequest
from secure_ai_protocol.json_bounds import (
    MAX_JSON_DEPTH,
    check_json_depth,
    json_depth_within,
    value_depth_within,
)

HOSTILE = 100_000

# Strings full of what a naive scan would count: brackets, quotes, backslashes, escapes.
TRICKY_TEXT = st.text(alphabet='[]{}"\\/u0é\x01\u2028', max_size=12)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TRICKY_TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TRICKY_TEXT, children, max_size=3),
    max_leaves=40,
)


def depth_of(value: Any) -> int:
    """The nesting depth by definition (recursive: only for the small values hypothesis makes)."""
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


def nested_arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


@given(JSON_VALUES, st.integers(min_value=0, max_value=8))
def test_the_scan_agrees_with_the_depth_of_any_serialised_value(value: Any, limit: int) -> None:
    expected = depth_of(value) <= limit
    for document in (json.dumps(value), json.dumps(value, ensure_ascii=False).encode()):
        assert json_depth_within(document, limit) is expected


@given(JSON_VALUES, st.integers(min_value=0, max_value=8))
def test_a_parsed_value_is_judged_like_its_text(value: Any, limit: int) -> None:
    assert value_depth_within(value, limit) is (depth_of(value) <= limit)


def test_nesting_at_the_limit_is_within_and_one_more_level_is_not() -> None:
    assert json_depth_within(nested_arrays(MAX_JSON_DEPTH))
    assert not json_depth_within(nested_arrays(MAX_JSON_DEPTH + 1))


@pytest.mark.parametrize("document", ["[" * HOSTILE, '{"a":' * HOSTILE, "[{" * (HOSTILE // 2)])
def test_a_hostile_unterminated_nesting_is_refused_as_a_bad_request(document: str) -> None:
    with pytest.raises(BadRequest) as refused:
        check_json_depth(document.encode())
    assert refused.value.reason == "json_too_deep"


def test_brackets_inside_strings_are_text_whatever_their_escapes() -> None:
    quoted = json.dumps("\\" + "[" * HOSTILE + '"' + "{" * HOSTILE)
    assert json_depth_within(f'{{"text": {quoted}}}', 1)


def test_an_escaped_quote_does_not_end_a_string() -> None:
    # The brackets after \" are still inside the string; the one after the closing quote is not.
    assert json_depth_within(r'["a\"[[[", []]', 2)
    assert not json_depth_within(r'["a\"[[[", [[]]]', 2)


def test_brackets_after_an_unterminated_string_are_inside_it() -> None:
    assert json_depth_within('["never closed ' + "[" * HOSTILE, 1)


def test_unmatched_closers_do_not_pay_for_the_openers_after_them() -> None:
    assert not json_depth_within("]]]]" + nested_arrays(3), 2)


def test_utf16_documents_are_scanned_as_json_loads_reads_them() -> None:
    assert json_depth_within(nested_arrays(3).encode("utf-16"), 3)
    assert not json_depth_within(nested_arrays(4).encode("utf-16-le"), 3)


def test_bytes_that_do_not_decode_cannot_be_shown_within_bounds() -> None:
    # UTF-16 detected (a NUL as the second byte), then an odd byte out: json.loads fails to decode it too.
    assert not json_depth_within(b"[\x00]\x00\x00")


def test_a_cycle_in_a_parsed_value_is_too_deep_not_endless() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    assert not value_depth_within(cycle)


def test_the_limit_admits_a_chat_request_with_the_deepest_schema_screening_accepts() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_SCHEMA_DEPTH - 1):
        schema = {"type": "object", "properties": {"a": schema}}
    plaintext = {
        "resp_key": "",
        "request": {"response_format": {"type": "json_schema", "json_schema": {"schema": schema}}},
    }
    assert json_depth_within(json.dumps(plaintext))
