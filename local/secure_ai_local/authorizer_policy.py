"""The REQUEST authorizer's answer as API Gateway reads it: the principal, the context passed to the
integration, and the IAM evaluation of its policy for execute-api:Invoke on the methodArn.

See "What is emulated" in docs/local-stack.md for the rules (explicit Deny wins, `*` and `?` within
each ARN segment, conditions never allow).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any, Final, Literal

_INVOKE_ACTION: Final = "execute-api:Invoke"

PolicyDecision = Literal["allow", "explicit_deny", "implicit_deny"]


class MalformedAuthorizerResponse(ValueError):
    """The authorizer's output is not a policy API Gateway accepts."""


def read_authorizer_output(payload: Any, method_arn: str) -> tuple[str, PolicyDecision, dict[str, str]]:
    """(principalId, decision, context with string values) from the authorizer's result."""
    if not isinstance(payload, Mapping):
        raise MalformedAuthorizerResponse("not an object")
    principal_id = payload.get("principalId")
    if not isinstance(principal_id, str):
        raise MalformedAuthorizerResponse("principalId")
    decision = evaluate_policy(payload.get("policyDocument"), method_arn)
    context = payload.get("context") or {}
    if not isinstance(context, Mapping):
        raise MalformedAuthorizerResponse("context")
    strings: dict[str, str] = {}
    for key, value in context.items():
        # Only strings, numbers and booleans may be returned; the integration sees them as strings.
        if isinstance(value, bool):
            strings[str(key)] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            strings[str(key)] = str(value)
        else:
            raise MalformedAuthorizerResponse(f"context value of {key} is not a string, number or boolean")
    return principal_id, decision, strings


def evaluate_policy(policy: Any, method_arn: str) -> PolicyDecision:
    """IAM evaluation of an authorizer's policy document for execute-api:Invoke on `method_arn`.

    An explicit Deny wins; otherwise an Allow is needed. `*` and `?` wildcards match within one ARN
    segment (the parts between the first five colons; the resource part may contain `/`).
    Conditions are not evaluated: an Allow with one never allows, a Deny with one always denies.
    """
    if not isinstance(policy, Mapping) or "Statement" not in policy:
        raise MalformedAuthorizerResponse("policyDocument")
    statements = policy["Statement"]
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        raise MalformedAuthorizerResponse("Statement")
    allowed = False
    for statement in statements:
        if not isinstance(statement, Mapping) or statement.get("Effect") not in ("Allow", "Deny"):
            raise MalformedAuthorizerResponse("Statement.Effect")
        applies = _matches_any(statement, "Action", _INVOKE_ACTION, _action_matches) and _matches_any(
            statement, "Resource", method_arn, _arn_matches
        )
        if statement["Effect"] == "Deny":
            if applies:  # a Condition is taken to hold: fail closed
                return "explicit_deny"
        elif applies and "Condition" not in statement:
            allowed = True
    return "allow" if allowed else "implicit_deny"


def _matches_any(statement: Mapping[str, Any], element: str, value: str, matches: Any) -> bool:
    """Action/Resource (any pattern matches) or NotAction/NotResource (no pattern matches)."""
    negated = f"Not{element}"
    if (element in statement) == (negated in statement):
        raise MalformedAuthorizerResponse(element)
    patterns = statement.get(element, statement.get(negated))
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise MalformedAuthorizerResponse(element)
    hit = any(matches(pattern, value) for pattern in patterns)
    return hit if element in statement else not hit


def _action_matches(pattern: str, action: str) -> bool:
    return _glob(pattern.lower(), action.lower())


def _arn_matches(pattern: str, arn: str) -> bool:
    if pattern == "*":
        return True
    pattern_parts, arn_parts = pattern.split(":", 5), arn.split(":", 5)
    return len(pattern_parts) == len(arn_parts) and all(
        _glob(p, a) for p, a in zip(pattern_parts, arn_parts, strict=True)
    )


def _glob(pattern: str, value: str) -> bool:
    # fnmatch's [...] classes are not IAM syntax: escape them so only * and ? are wildcards.
    escaped = pattern.replace("[", "[[]")
    return fnmatch.fnmatchcase(value, escaped)
