"""The stack's WAF rules that a request's path and headers alone decide, applied in front of the emulator.

A deployed stage sits behind the web ACL template.yaml declares (`WafEnabled`, default on). Its
body-size rule answers a request declaring a body beyond its route's cap with 413 and the
functions' own body before API Gateway sees it; without it, a body between Lambda's 6 MB event
limit and API Gateway's 10 MB would reach API Gateway's 500. So the local stack reads the web ACL
and blocks as it does, for every rule WAF decides from the path and headers:

- statements: `ByteMatchStatement` and `RegexMatchStatement` on `UriPath` or `SingleHeader`, with
  no text transformation, combined by `AndStatement`, `OrStatement` and `NotStatement`;
- actions: `Block` with a `CustomResponse` (its status and body from `CustomResponseBodies`).

The rate-based rule (requests per source IP over 5 minutes) and the managed IP-reputation group are
not emulated: every local request comes from 127.0.0.1, on no reputation list. A rule the reader
does not know raises NotImplementedError at start, rather than being ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from secure_ai_local.stack_template import StackTemplate, resolve

# Rules WAF decides from more than one request (rate), or from AWS's lists: not emulated here.
_NOT_EMULATED: Final = ("RateBasedStatement", "ManagedRuleGroupStatement")
_CONTENT_TYPES: Final = {
    "APPLICATION_JSON": "application/json",
    "TEXT_PLAIN": "text/plain",
    "TEXT_HTML": "text/html",
}


@dataclass(frozen=True)
class WafBlock:
    """One blocking rule: when its statement matches, the answer is `status` with `body`."""

    name: str
    priority: int
    statement: Mapping[str, Any]
    status: int
    body: bytes
    content_type: str

    def matches(self, path: str, headers: Sequence[tuple[str, str]]) -> bool:
        """Whether the rule's statement matches a request with this path (stage included) and headers."""
        return _matches(self.statement, path, headers)


def waf_blocks(template: StackTemplate, references: Mapping[str, str]) -> tuple[WafBlock, ...]:
    """The blocking rules of every web ACL the template creates under these references, in priority order."""
    blocks: list[WafBlock] = []
    for logical_id, properties in template.resources_of_type("AWS::WAFv2::WebACL"):
        condition = template.resources[logical_id].get("Condition")
        if condition is not None and references.get(f"Condition::{condition}") != "true":
            continue
        bodies = resolve(properties.get("CustomResponseBodies", {}), references)
        for written in properties.get("Rules", ()):
            if any(kind in written["Statement"] for kind in _NOT_EMULATED):
                continue
            rule = resolve(written, references)
            statement = rule["Statement"]
            _check(statement, rule["Name"])
            response = rule.get("Action", {}).get("Block", {}).get("CustomResponse")
            if response is None:
                raise NotImplementedError(f"WAF rule {rule['Name']}: only Block with a CustomResponse")
            body = bodies[response["CustomResponseBodyKey"]]
            blocks.append(
                WafBlock(
                    name=rule["Name"],
                    priority=int(rule["Priority"]),
                    statement=statement,
                    status=int(response["ResponseCode"]),
                    body=str(body["Content"]).encode(),
                    content_type=_CONTENT_TYPES[body["ContentType"]],
                )
            )
    return tuple(sorted(blocks, key=lambda block: block.priority))


def _check(statement: Mapping[str, Any], rule: str) -> None:
    """Refuse, at start, any statement `_matches` would not read exactly as WAF does."""
    ((kind, body),) = statement.items()
    if kind in ("AndStatement", "OrStatement"):
        for inner in body["Statements"]:
            _check(inner, rule)
    elif kind == "NotStatement":
        _check(body["Statement"], rule)
    elif kind in ("ByteMatchStatement", "RegexMatchStatement"):
        field = body["FieldToMatch"]
        if set(field) - {"UriPath", "SingleHeader"} or len(field) != 1:
            raise NotImplementedError(f"WAF rule {rule}: only UriPath and SingleHeader are emulated")
        if any(step.get("Type") != "NONE" for step in body.get("TextTransformations", ())):
            raise NotImplementedError(f"WAF rule {rule}: text transformations are not emulated")
        if kind == "ByteMatchStatement" and body["PositionalConstraint"] not in _POSITIONS:
            raise NotImplementedError(f"WAF rule {rule}: {body['PositionalConstraint']} is not emulated")
    else:
        raise NotImplementedError(f"WAF rule {rule}: {kind} is not emulated")


_POSITIONS: Final[Mapping[str, Callable[[str, str], bool]]] = {
    "EXACTLY": lambda value, search: value == search,
    "STARTS_WITH": lambda value, search: value.startswith(search),
    "ENDS_WITH": lambda value, search: value.endswith(search),
    "CONTAINS": lambda value, search: search in value,
}


def _field(field: Mapping[str, Any], path: str, headers: Sequence[tuple[str, str]]) -> str | None:
    if "UriPath" in field:
        return path
    name = str(field["SingleHeader"]["Name"]).lower()
    return next((value for key, value in headers if key.lower() == name), None)


def _matches(statement: Mapping[str, Any], path: str, headers: Sequence[tuple[str, str]]) -> bool:
    ((kind, body),) = statement.items()
    if kind == "AndStatement":
        return all(_matches(inner, path, headers) for inner in body["Statements"])
    if kind == "OrStatement":
        return any(_matches(inner, path, headers) for inner in body["Statements"])
    if kind == "NotStatement":
        return not _matches(body["Statement"], path, headers)
    value = _field(body["FieldToMatch"], path, headers)
    if value is None:
        return False  # a header the request lacks matches nothing (WAF's default for a missing field)
    if kind == "ByteMatchStatement":
        return _POSITIONS[body["PositionalConstraint"]](value, str(body["SearchString"]))
    return re.search(str(body["RegexString"]), value) is not None
