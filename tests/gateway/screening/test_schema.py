"""JSON-schema conformance, with the schema itself treated as untrusted."""

from __future__ import annotations

import json
from typing import Any

import pytest
from referencing.exceptions import Unretrievable

from secure_ai_gateway.screening import schema as schema_module
from secure_ai_gateway.screening.errors import UnsafeSchema, ValidationBudgetExceeded
from secure_ai_gateway.screening.normalise import normalise
from secure_ai_gateway.screening.schema import (
    _NO_RETRIEVAL,
    MAX_SCHEMA_DEPTH,
    check_schema,
    detect_schema_violations,
)
from tests.gateway.screening.fakes import FakeClock, TickingClock

PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Z][a-z]+$"},
        "tags": {"type": "array", "items": {"type": "object"}, "uniqueItems": True},
    },
    "required": ["name"],
    "additionalProperties": False,
}


def labels(text: str, schema: dict[str, Any] = PERSON) -> list[str | None]:
    return [hit.label for hit in detect_schema_violations(normalise(text), schema)]


def test_a_conforming_answer_has_no_violations() -> None:
    assert labels('{"name": "Alice", "tags": [{"a": 1}, {"a": 2}]}') == []


def test_an_answer_in_a_code_fence_is_read_as_its_json() -> None:
    assert labels('```json\n{"name": "Alice"}\n```') == []


def test_an_answer_that_is_not_json_is_one_violation() -> None:
    assert labels("Sure! Here is the JSON you asked for.") == ["invalid_json"]


def test_nan_is_not_json() -> None:
    assert labels('{"name": NaN}') == ["invalid_json"]


def test_each_violation_names_the_schema_keyword_and_path_but_never_the_value() -> None:
    # Given an answer with a bad pattern, an extra property and a missing nothing
    result = labels('{"name": "alice.smith@example.com", "secret": 1}')
    # Then the violations name keywords and schema paths only
    assert result == ["pattern@properties/name/pattern", "additionalProperties@additionalProperties"]
    assert all("alice" not in label for label in result if label)


def test_unique_items_compares_objects_by_json_equality() -> None:
    # Given two equal objects (1 == 1.0 in JSON Schema)
    assert labels('{"name": "Alice", "tags": [{"a": 1}, {"a": 1.0}]}') == [
        "uniqueItems@properties/tags/uniqueItems"
    ]


def test_a_reference_inside_the_schema_resolves() -> None:
    schema = {
        "$defs": {"name": {"type": "string"}},
        "type": "object",
        "properties": {"n": {"$ref": "#/$defs/name"}},
    }
    assert labels('{"n": 3}', schema) == ["type@properties/n/type"]


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"$ref": "https://schemas.evil.example/x.json"}, "schema_remote_ref"),
        ({"properties": {"a": {"$ref": "other.json#/a"}}}, "schema_remote_ref"),
        ({"$dynamicRef": "https://evil.example/s"}, "schema_remote_ref"),
        ({"patternProperties": {"^a": {}}}, "schema_pattern_properties_unsupported"),
        ({"type": "string", "pattern": "(?<=a)b"}, "schema_pattern_unsupported"),
        ({"type": "string", "pattern": "a" * 1001}, "schema_pattern_invalid"),
        ({"type": "nope"}, "schema_invalid"),
        ({"enum": ["x" * 70_000]}, "schema_too_large"),
        ({"enum": [float("nan")]}, "schema_not_json"),
        (["not", "an", "object"], "schema_not_object"),
    ],
)
def test_an_unsafe_schema_is_refused_before_use(schema: Any, reason: str) -> None:
    with pytest.raises(UnsafeSchema) as refused:
        check_schema(schema)
    assert refused.value.reason == reason


def test_a_deep_schema_is_refused() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(MAX_SCHEMA_DEPTH + 1):
        schema = {"type": "array", "items": schema}
    with pytest.raises(UnsafeSchema, match="schema_too_deep"):
        check_schema(schema)


def test_a_schema_with_too_many_nodes_is_refused() -> None:
    schema: dict[str, Any] = {"anyOf": [{}] * 6000}
    with pytest.raises(UnsafeSchema, match="schema_too_many_nodes"):
        check_schema(schema)


def test_a_property_named_like_a_keyword_is_just_a_name() -> None:
    # Given a property literally called "patternProperties"
    schema = {"type": "object", "properties": {"patternProperties": {"type": "integer"}}}
    # Then the schema is accepted and validates
    assert labels('{"patternProperties": 3}', schema) == []


def test_a_client_regex_runs_on_re2_not_on_backtracking_re() -> None:
    # Given a pattern that backtracks catastrophically on Python's re
    schema = {"type": "string", "pattern": "^(a+)+$"}
    # When the answer is the classic attack string
    result = labels(json.dumps("a" * 5000 + "!"), schema)
    # Then it is simply a violation (RE2 answers in linear time)
    assert result == ["pattern@pattern"]


def test_an_exponential_reference_tree_stops_at_the_time_budget() -> None:
    # Given a schema whose anyOf/$ref tree doubles at every level
    defs: dict[str, Any] = {f"x{i}": {"anyOf": [{"$ref": f"#/$defs/x{i + 1}"}] * 2} for i in range(30)}
    defs["x30"] = {"type": "string"}
    schema = {"$defs": defs, "$ref": "#/$defs/x0"}
    # When an answer that fails every branch is validated with a clock that passes the budget
    # Then validation stops instead of running 2^30 steps
    with pytest.raises(ValidationBudgetExceeded):
        detect_schema_violations(normalise("1"), schema, budget_seconds=0.5, clock=TickingClock(0.1))


def test_an_exponential_reference_tree_stops_at_the_step_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the same doubling tree, a clock that never moves, and a small step cap
    defs: dict[str, Any] = {f"x{i}": {"anyOf": [{"$ref": f"#/$defs/x{i + 1}"}] * 2} for i in range(30)}
    defs["x30"] = {"type": "string"}
    monkeypatch.setattr(schema_module, "MAX_VALIDATION_STEPS", 500)
    # Then validation stops after the cap
    with pytest.raises(ValidationBudgetExceeded):
        detect_schema_violations(normalise("1"), {"$defs": defs, "$ref": "#/$defs/x0"}, clock=FakeClock())


def test_a_pattern_applies_to_strings_only() -> None:
    assert labels("42", {"pattern": "^a"}) == []


def test_unique_items_compares_nested_arrays_by_json_equality() -> None:
    assert labels("[[1, 2], [1.0, 2]]", {"uniqueItems": True}) == ["uniqueItems@uniqueItems"]


def test_the_validation_registry_retrieves_nothing() -> None:
    # The walk refuses remote references first; the registry is the backstop behind it.
    with pytest.raises(Unretrievable):
        _NO_RETRIEVAL.get_or_retrieve("https://schemas.evil.example/x.json")


def test_validation_reports_at_most_ten_violations() -> None:
    schema = {"type": "array", "items": {"type": "string"}}
    assert len(labels(json.dumps(list(range(50))), schema)) == 10
