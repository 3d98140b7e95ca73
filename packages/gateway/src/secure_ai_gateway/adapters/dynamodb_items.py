"""Reading DynamoDB items strictly: one typed accessor per attribute type, and condition failures.

The stores (client_store, device_store) write items of a fixed shape and read them back through
these: an attribute of the wrong type, or a number that is not a plain integer, raises
`MalformedItem` (naming the attribute, never its value) instead of being coerced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from botocore.exceptions import ClientError

CONDITION_FAILED: Final = "ConditionalCheckFailedException"
TRANSACTION_CANCELED: Final = "TransactionCanceledException"


class MalformedItem(ValueError):
    """An item does not have the shape its store writes."""


def typed(attributes: Mapping[str, Any], name: str, kind: str) -> Any:
    value = attributes[name]
    if not isinstance(value, Mapping) or set(value) != {kind}:
        raise MalformedItem(f"attribute {name} is not of type {kind}")
    return value[kind]


def string(attributes: Mapping[str, Any], name: str) -> str:
    value = typed(attributes, name, "S")
    if not isinstance(value, str):
        raise MalformedItem(f"attribute {name}")
    return value


def number(attributes: Mapping[str, Any], name: str) -> int:
    value = typed(attributes, name, "N")
    # int() of a DynamoDB number string: "1.5" or "1e3" is malformed here, never rounded.
    if not isinstance(value, str) or not re.fullmatch(r"-?[0-9]{1,20}", value):
        raise MalformedItem(f"attribute {name}")
    return int(value)


def binary(attributes: Mapping[str, Any], name: str) -> bytes:
    value = typed(attributes, name, "B")
    if not isinstance(value, bytes):
        raise MalformedItem(f"attribute {name}")
    return value


def strings(attributes: Mapping[str, Any], name: str) -> tuple[str, ...]:
    entries = typed(attributes, name, "L")
    if not isinstance(entries, list):
        raise MalformedItem(f"attribute {name}")
    return tuple(string({name: entry}, name) for entry in entries)


def mapping(attributes: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = typed(attributes, name, "M")
    if not isinstance(value, Mapping):
        raise MalformedItem(f"attribute {name}")
    return value


def old_item(exc: ClientError) -> Mapping[str, Any] | None:
    """The item as it was when a condition failed (ReturnValuesOnConditionCheckFailure=ALL_OLD)."""
    response: Mapping[str, Any] = exc.response
    item = response.get("Item")
    return item if isinstance(item, Mapping) else None


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
