"""JSON-schema conformance of a structured answer, with the schema treated as untrusted input.

A client supplies the schema, so it is checked before use (`check_schema`): size, depth and
node count are capped, every `$ref` must point inside the schema (no retrieval, ever), and
regexes must compile under RE2. Validation itself replaces the keywords that would run a
client regex on Python's backtracking `re` (`pattern`), refuses `patternProperties` (whose
jsonschema implementation does), replaces `uniqueItems` (quadratic for objects) with a
hash-based check, and counts keyword evaluations so an exponential `$ref`/`anyOf` tree stops.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Final

import re2
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.exceptions import SchemaError
from jsonschema.validators import extend
from referencing import Registry, Resource

from secure_ai_gateway.screening.errors import UnsafeSchema, ValidationBudgetExceeded
from secure_ai_gateway.screening.findings import Detection
from secure_ai_gateway.screening.matching import Pattern
from secure_ai_gateway.screening.normalise import NormalisedText

MAX_SCHEMA_BYTES: Final = 64 * 1024
MAX_SCHEMA_DEPTH: Final = 32
MAX_SCHEMA_NODES: Final = 5_000
MAX_PATTERN_LENGTH: Final = 1_000
MAX_VALIDATION_STEPS: Final = 200_000
MAX_ERRORS: Final = 10

_REF_KEYWORDS: Final = ("$ref", "$dynamicRef", "$recursiveRef")
_SCHEMA_MAPS: Final = ("properties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS: Final = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_VALUES: Final = (
    "not", "if", "then", "else", "contains", "items", "additionalItems", "additionalProperties",
    "unevaluatedItems", "unevaluatedProperties", "propertyNames",
)  # fmt: skip


class _Budget:
    """Keyword evaluations left and the deadline, for the validation running in this context."""

    __slots__ = ("clock", "deadline", "steps")

    def __init__(self, steps: int, deadline: float, clock: Callable[[], float]) -> None:
        self.steps = steps
        self.deadline = deadline
        self.clock = clock


_budget: ContextVar[_Budget] = ContextVar("schema_validation_budget")


def check_schema(schema: object) -> None:
    """Refuse a schema that is too big, too deep, self-inconsistent or refers outside itself."""
    if not isinstance(schema, dict):
        raise UnsafeSchema("schema_not_object")
    try:
        size = len(json.dumps(schema, allow_nan=False).encode())
    except (TypeError, ValueError, RecursionError) as exc:
        raise UnsafeSchema("schema_not_json") from exc
    if size > MAX_SCHEMA_BYTES:
        raise UnsafeSchema("schema_too_large")
    _walk(schema)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise UnsafeSchema("schema_invalid") from exc


def detect_schema_violations(
    view: NormalisedText,
    schema: dict[str, Any],
    *,
    budget_seconds: float = 1.0,
    clock: Callable[[], float] = time.perf_counter,
) -> list[Detection]:
    """Findings for an answer that is not JSON or does not conform to `schema`.

    Validation stops with `ValidationBudgetExceeded` after `budget_seconds` (checked every
    few keyword evaluations) or `MAX_VALIDATION_STEPS` evaluations, whichever comes first.
    """
    check_schema(schema)
    whole = (0, len(view.original))
    try:
        instance = json.loads(_without_code_fence(view.original), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return [_violation("invalid_json", whole)]
    validator = _Validator(schema, registry=_NO_RETRIEVAL)
    token = _budget.set(_Budget(MAX_VALIDATION_STEPS, clock() + budget_seconds, clock))
    try:
        found: list[Detection] = []
        for error in validator.iter_errors(instance):
            # The schema path names schema keywords only; the instance path would leak data.
            location = "/".join(str(part) for part in error.absolute_schema_path)
            found.append(_violation(f"{error.validator}@{location}", whole))
            if len(found) == MAX_ERRORS:
                break
        return found
    finally:
        _budget.reset(token)


def _violation(label: str, span: tuple[int, int]) -> Detection:
    return Detection(
        type="schema_violation",
        detector="schema",
        start=span[0],
        end=span[1],
        confidence=1.0,
        value="",
        label=label[:200],
    )


def _walk(schema: dict[str, Any]) -> None:
    """Depth, node count, references and regexes of every subschema (iterative)."""
    pending: list[tuple[object, int]] = [(schema, 1)]
    nodes = 0
    while pending:
        node, depth = pending.pop()
        nodes += 1
        if nodes > MAX_SCHEMA_NODES:
            raise UnsafeSchema("schema_too_many_nodes")
        if depth > MAX_SCHEMA_DEPTH:
            raise UnsafeSchema("schema_too_deep")
        if not isinstance(node, dict):
            continue  # boolean schemas; anything else is refused by the meta-schema
        for keyword in _REF_KEYWORDS:
            reference = node.get(keyword)
            if reference is not None and (not isinstance(reference, str) or not reference.startswith("#")):
                raise UnsafeSchema("schema_remote_ref")
        if "patternProperties" in node:
            raise UnsafeSchema("schema_pattern_properties_unsupported")
        pattern = node.get("pattern")
        if pattern is not None:
            _check_pattern(pattern)
        for keyword in _SCHEMA_MAPS:
            children = node.get(keyword)
            if isinstance(children, dict):
                pending.extend((child, depth + 1) for child in children.values())
        for keyword in _SCHEMA_LISTS:
            children = node.get(keyword)
            if isinstance(children, list):
                pending.extend((child, depth + 1) for child in children)
        for keyword in _SCHEMA_VALUES:
            if keyword in node:
                pending.append((node[keyword], depth + 1))


def _check_pattern(pattern: object) -> None:
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN_LENGTH:
        raise UnsafeSchema("schema_pattern_invalid")
    try:
        Pattern(pattern)
    except re2.error as exc:
        raise UnsafeSchema("schema_pattern_unsupported") from exc


def _without_code_fence(text: str) -> str:
    """Models often wrap JSON in a ```json fence; the fence is not part of the document."""
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```") and "\n" in stripped:
        return stripped[stripped.index("\n") + 1 : -3]
    return text


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _refuse_retrieval(uri: str) -> Resource[Any]:
    # `check_schema` already refused references outside the schema; this is the backstop.
    raise UnsafeSchema("schema_remote_ref")


_NO_RETRIEVAL: Registry[Any] = Registry(retrieve=_refuse_retrieval)  # type: ignore[call-arg]

_Keyword = Callable[[Any, Any, Any, Any], Iterator[ValidationError] | None]


def _counted(keyword: _Keyword) -> _Keyword:
    def evaluate(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[ValidationError] | None:
        budget = _budget.get()
        budget.steps -= 1
        # Reading the clock costs more than a keyword; look at it every 64 evaluations.
        if budget.steps < 0 or (budget.steps % 64 == 0 and budget.clock() > budget.deadline):
            raise ValidationBudgetExceeded("schema_validation_budget")
        return keyword(validator, value, instance, schema)

    return evaluate


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    # RE2 instead of `re`: the pattern comes from the client. Lone surrogates cannot be UTF-8
    # encoded by the re2 wrapper, so match on bytes that keep them.
    if (
        validator.is_type(instance, "string")
        and Pattern(pattern).search(instance.encode("utf-8", "surrogatepass")) is None
    ):
        yield ValidationError("does not match pattern")


def _unique_items(validator: Any, unique: bool, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if unique and validator.is_type(instance, "array"):
        seen: set[str] = set()
        for item in instance:
            key = json.dumps(_canonical(item), sort_keys=True)
            if key in seen:
                yield ValidationError("has non-unique elements")
                return
            seen.add(key)


def _canonical(value: Any) -> Any:
    """JSON Schema equality: 1 == 1.0, but true != 1; key order does not matter."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    return value


_KEYWORDS: Mapping[str, _Keyword] = {
    **Draft202012Validator.VALIDATORS,
    "pattern": _pattern,
    "uniqueItems": _unique_items,
}
# types-jsonschema leaves `extend` unannotated.
_Validator = extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    validators={name: _counted(keyword) for name, keyword in _KEYWORDS.items()},
)
