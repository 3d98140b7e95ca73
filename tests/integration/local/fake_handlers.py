"""Handlers of tests/integration/local/data/fake-template.yaml, scripted by what the test sends.

They run in the local Lambda runtime's worker processes, never in the test process.
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

BINARY_PAYLOAD = bytes(range(256))
REFUSED = "Unauthorized"


def authorize(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """REQUEST authorizer: the X-Fake-Token header says what to decide."""
    if event.get("report") == "environment":
        return {"environ": dict(os.environ), "pid": os.getpid()}
    token = next(value for name, value in event["headers"].items() if name.lower() == "x-fake-token")
    method_arn = event["methodArn"]
    if token == "unauthorized":
        raise PermissionError(REFUSED)
    if token == "crash":
        raise RuntimeError("the authorizer has a bug")
    if token == "malformed":
        return {"principalId": "alice", "policyDocument": "not a policy"}
    if token == "nested-context":
        return _policy("Allow", method_arn, context={"nested": {"not": "allowed"}})
    if token == "deny":
        return _policy("Deny", method_arn)
    if token == "elsewhere":
        return _policy("Allow", method_arn.rsplit("/", 3)[0] + "/GET/v1/other")
    if token == "wildcard":
        return _policy("Allow", "arn:aws:execute-api:*:*:*/test/*/v1/*")
    return _policy("Allow", method_arn, context={"user": "alice", "plan": 7, "beta": True})


def _policy(effect: str, resource: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "principalId": "alice",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        "context": context or {},
    }


def serve(event: dict[str, Any], context: Any) -> Any:
    """API integration, SQS consumer, or (invoked directly) a probe of its environment."""
    if "Records" in event:
        return _consume(event["Records"])
    if "report" in event:
        return _report(event, context)
    action = next(
        (v for k, v in (event.get("headers") or {}).items() if k.lower() == "x-fake-action"), "echo"
    )
    if action == "sleep":
        time.sleep(float(event["queryStringParameters"]["seconds"]))
    if action == "crash":
        raise RuntimeError("the backend has a bug")
    if action == "malformed":
        return {"statusCode": 200, "body": {"not": "a string"}}
    if action == "binary":
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/octet-stream"},
            "body": base64.b64encode(BINARY_PAYLOAD).decode(),
            "isBase64Encoded": True,
        }
    if action == "headers":
        return {
            "statusCode": 201,
            "headers": {"X-Single": "one", "Content-Length": "999"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": "created",
        }
    return {"statusCode": 200, "body": json.dumps({"event": event})}


def _consume(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Each record's body is {"outcome": "ok" | "fail" | "crash"}; a crash fails the whole batch."""
    outcomes = {record["messageId"]: json.loads(record["body"]).get("outcome", "ok") for record in records}
    if "crash" in outcomes.values():
        raise RuntimeError("poison message")
    return {
        "batchItemFailures": [
            {"itemIdentifier": mid} for mid, outcome in outcomes.items() if outcome == "fail"
        ]
    }


def _report(event: dict[str, Any], context: Any) -> Any:
    report = event["report"]
    if report == "environment":
        return {"environ": dict(os.environ), "pid": os.getpid()}
    if report == "context":
        return {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        }
    if report == "sleep":
        time.sleep(float(event["seconds"]))
        return {"pid": os.getpid()}
    if report == "raise":
        raise ValueError("scripted failure")
    if report == "unserialisable":
        return {"values": {1, 2}}
    return {"pid": os.getpid()}
