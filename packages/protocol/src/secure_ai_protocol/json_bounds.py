"""Nesting depth of JSON, bounded before anything recursive reads it.

`json.loads`, pydantic and jsonschema recurse once per level of nesting: a body of 100,000 `[`
would raise `RecursionError` (a 500) or exhaust the stack. Every entry point that parses JSON a
caller, a queue or a provider controls checks its depth first, in one linear pass that recurses
nowhere, and refuses with `BadRequest("json_too_deep")`. Pure: no I/O, no SDK.
"""

from __future__ import annotations

import json
import re
from typing import Final

from pydantic import BaseModel, ValidationError

from secure_ai_protocol.errors import BadRequest

# Deep enough for a chat request carrying a schema at screening.schema.MAX_SCHEMA_DEPTH through
# `properties` (two levels per subschema, five of envelope around it); far below the nesting at
# which pydantic's parser (200), json and Python (1,000) fail.
MAX_JSON_DEPTH: Final = 128

# A string token runs to its closing quote, or to the end of an unterminated document: either way
# the scan resumes after it, so no character is looked at twice. Brackets inside strings are text.
_TOKENS_STR: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
_TOKENS_BYTES: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
_OPENERS: Final = frozenset(("[", "{", ord("["), ord("{")))
_CLOSERS: Final = frozenset(("]", "}", ord("]"), ord("}")))


def json_depth_within(document: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether no array or object in `document` is nested deeper than `max_depth`.

    The document need not be valid JSON: an invalid one is judged on the brackets outside its
    strings, which bounds how deep any parser can get before it refuses the document. Bytes that
    do not decode in the encoding JSON detects in them cannot be judged, and are not within.
    """
    text = _scannable(document)
    if text is None:
        return False
    tokens = _TOKENS_BYTES.finditer(text) if isinstance(text, bytes) else _TOKENS_STR.finditer(text)
    depth = 0
    for token in tokens:
        first = text[token.start()]  # not token.group(): that would copy every string token
        if first in _OPENERS:
            depth += 1
            if depth > max_depth:
                return False
        elif first in _CLOSERS:
            # A closer with nothing open ends any parse; never let it pay for later openers.
            depth = max(depth - 1, 0)
    return True


def check_json_depth(document: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise `BadRequest("json_too_deep")` unless `document` nests at most `max_depth` levels."""
    if not json_depth_within(document, max_depth):
        raise BadRequest("json_too_deep")


def parse_json_model[ModelT: BaseModel](
    model: type[ModelT], document: str | bytes, *, reason: str = "request_invalid"
) -> ModelT:
    """`document` as `model`, strictly: depth bounded before parsing (BadRequest("json_too_deep")),
    then validated; any failure is `BadRequest(reason)`, whose message names no value."""
    check_json_depth(document)
    try:
        return model.model_validate_json(document)
    except ValidationError:
        raise BadRequest(reason) from None


def value_depth_within(value: object, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether no list or dict in an already parsed `value` is nested deeper than `max_depth`.

    Iterative, and stops at the first level too deep: safe on any object a caller built.
    """
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children: list[object] = list(node.values())
        elif isinstance(node, list | tuple):
            children = list(node)
        else:
            continue
        if depth + 1 > max_depth:
            return False
        pending.extend((child, depth + 1) for child in children)
    return True


def _scannable(document: str | bytes) -> str | bytes | None:
    """`document` as the parsers read it: UTF-8 bytes as they are, other encodings decoded."""
    if isinstance(document, str):
        return document
    encoding = json.detect_encoding(document)
    if encoding in ("utf-8", "utf-8-sig"):
        # Quotes, backslashes and brackets are single bytes that never occur inside a multi-byte
        # UTF-8 sequence, so the bytes scan exactly like the text (even if invalid elsewhere).
        return document
    try:
        return document.decode(encoding, "surrogatepass")
    except UnicodeDecodeError:
        # json.loads fails on the same decoding; there is no depth to guess.
        return None
