"""The properties every input must keep, shared by the fuzz tests and the corpus replay.

The oracles here are written independently of the gateway's own parsers: what a signature covers,
which body bytes a function would read, and whether a queue message is a valid screening request.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from tests.security.harness import Allowed, Gateway, Refused, failed_ids, status_of
from tests.security.mutations import SIGNED_HEADERS

MAX_TEXT_CHARS: Final = 1024 * 1024
_CORRELATION_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
KNOWN_POLICIES: Final = frozenset({"default"})
RequestKind = Literal["good", "bad", "unknown"]


# -- the authorizer -----------------------------------------------------------------------------


def signed_view(event: Any) -> dict[str, Any]:
    """Everything of an authorizer event the signature covers (header names case-folded, OWS trimmed).

    Where API Gateway states a part twice (the method; the authority as Host and domainName; the
    headers in two maps), an absent copy carries nothing: the other one states it. A copy that is
    present must state exactly the signed value. Absent and empty query maps both mean "none".
    """
    if not isinstance(event, dict):
        return {"event": repr(event)}
    context = event.get("requestContext")
    fields = context if isinstance(context, dict) else {}
    return {
        "methods": sorted({_scalar(value) for value in (event.get("httpMethod"), fields.get("httpMethod"))}),
        "context.path": _scalar(fields.get("path")),
        "context.domainName": _authority(fields.get("domainName")),
        "context": None if isinstance(context, dict) else repr(context),
        "headers": _headers(event.get("headers")),
        "multiValueHeaders": _headers(event.get("multiValueHeaders")),
        "queryStringParameters": _query(event.get("queryStringParameters")),
        "multiValueQueryStringParameters": _query(event.get("multiValueQueryStringParameters")),
    }


_STATED_TWICE: Final = ("headers", "multiValueHeaders", "context.domainName")
_ABSENT: Final = (None, repr(None))


def presents_signed_request(event: Any, signed: Any) -> bool:
    """Whether `event` presents exactly the request `signed` carries, in every part the signature covers."""
    view, original = signed_view(event), signed_view(signed)
    if all(view.get(name) is None for name in ("headers", "multiValueHeaders")):
        return False
    methods = [method for method in view.get("methods", []) if method != repr(None)]
    if methods != [method for method in original["methods"] if method != repr(None)]:
        return False
    return all(
        view.get(name) == original[name]
        for name in original
        if name != "methods" and not (name in _STATED_TWICE and view.get(name) in _ABSENT)
    )


def _scalar(value: Any) -> str:
    return repr(value)


def _authority(value: Any) -> Any:
    """A host compares without regard to case (RFC 9421 signs @authority lower-cased)."""
    if isinstance(value, str):
        return value.strip(" \t").lower()
    if isinstance(value, list):
        return tuple(_authority(item) for item in value)
    return repr(value)


def _trimmed(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip(" \t")
    if isinstance(value, list):
        return tuple(_trimmed(item) for item in value)
    return repr(value)


def _headers(headers: Any) -> Any:
    if headers is None:
        return None
    if not isinstance(headers, dict):
        return ("not a map", repr(headers))
    entries = [
        (name.lower(), _authority(value) if name.lower() == "host" else _trimmed(value))
        if isinstance(name, str)
        else (repr(name), repr(value))
        for name, value in headers.items()
        if not isinstance(name, str) or name.lower() in SIGNED_HEADERS
    ]
    return tuple(sorted(entries, key=repr))


def _query(params: Any) -> Any:
    if params is None or params == {}:
        return ()
    if not isinstance(params, dict):
        return ("not a map", repr(params))
    return tuple(sorted(((repr(name), _trimmed(value)) for name, value in params.items()), key=repr))


def check_authorizer(gateway: Gateway, event: Any, signed: dict[str, Any] | None) -> Allowed | Refused:
    """Only the one refusal, or an Allow for exactly the signed request and its own methodArn, once."""
    outcome = gateway.authorize(event)
    if isinstance(outcome, Allowed):
        assert signed is not None, "an Allow for an event no client signed"
        assert presents_signed_request(event, signed), "an Allow for a request whose signed parts changed"
        assert outcome.resource == event["methodArn"], "an Allow for anything but the event's methodArn"
        assert outcome.policy["context"]["client_id"] == gateway.client.client_id
        assert isinstance(gateway.authorize(event), Refused), "a replayed request allowed twice"
    return outcome


# -- the functions behind the authorizer --------------------------------------------------------


def body_bytes(event: Any) -> bytes | None:
    """The body bytes a function behind API Gateway reads from `event` (None: it cannot read one)."""
    if not isinstance(event, dict):
        return None
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        return None
    if event.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return None
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:
        return None


AUTHORIZER_BINDINGS: Final = ("client_id", "nonce", "content_digest")


def bindings_of(event: Any) -> Any:
    """The authorizer context values an envelope and the body digest are bound to."""
    if not isinstance(event, dict) or not isinstance(event.get("requestContext"), dict):
        return None
    authorizer = event["requestContext"].get("authorizer")
    if not isinstance(authorizer, dict):
        return None
    return tuple(repr(authorizer.get(name)) for name in AUTHORIZER_BINDINGS)


def check_proxy(response: Mapping[str, Any], *, tampered: bool) -> int:
    """A proxy response, never a 5xx for an input; never a 200 for a body or binding that changed."""
    status = status_of(response)
    assert status < 500, f"a {status} for a client's input"
    if tampered:
        assert status != 200, "a 200 for a body that is not the one the signature covered"
    return status


def tampered(event: Any, signed: Any, *, bound_context: bool) -> bool:
    """Whether `event` reads another body than `signed`, or (envelopes) carries other bindings."""
    if body_bytes(event) != body_bytes(signed):
        return True
    bindings, signed_bindings = bindings_of(event), bindings_of(signed)
    if bound_context:
        return bool(bindings != signed_bindings)
    # Only the digest binds a JSON body: the authorizer context must still carry the signed one.
    return bindings is None or bool(bindings[2] != signed_bindings[2])


# -- the queue ----------------------------------------------------------------------------------


def request_kind(body: Any) -> RequestKind:
    """Whether a queue message body is a valid screening request (or a ValidateOutput event of one)."""
    if not isinstance(body, str):
        return "bad"
    try:
        document = json.loads(body)
    except ValueError:
        return "bad"
    if isinstance(document, dict) and "detail-type" in document:
        if document["detail-type"] != "ValidateOutput" or not isinstance(document.get("detail"), dict):
            return "bad"
        document = document["detail"]
    return document_kind(document)


def document_kind(document: Any) -> RequestKind:
    """Whether `document` is a valid screening request: known fields, right types, a known policy."""
    if not isinstance(document, dict) or set(document) - {"text", "id", "policy_id", "schema"}:
        return "bad"
    text = document.get("text")
    if not isinstance(text, str) or len(text) > MAX_TEXT_CHARS:
        return "bad"
    correlation = document.get("id")
    if correlation is not None and not (
        isinstance(correlation, str) and _CORRELATION_ID.fullmatch(correlation)
    ):
        return "bad"
    policy_id = document.get("policy_id", "default")
    if not isinstance(policy_id, str) or policy_id not in KNOWN_POLICIES:
        return "bad"
    schema = document.get("schema")
    if schema is not None:
        return "bad" if not isinstance(schema, dict) else "unknown"
    return "good"


def deleted_by_sqs(response: Any, records: Sequence[Any]) -> list[Any]:
    """The records Lambda's event source mapping deletes after `response` (ReportBatchItemFailures).

    A response Lambda cannot read as batch item failures (not a map, an itemIdentifier that is not a
    non-empty string of the batch) fails the whole batch: nothing is deleted, everything is retried.
    """
    ids = [record.get("messageId") if isinstance(record, dict) else None for record in records]
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not isinstance(failures, list):
        return []
    named = [failure.get("itemIdentifier") if isinstance(failure, dict) else None for failure in failures]
    if not all(isinstance(item, str) and item and item in ids for item in named):
        return []
    return [record for record, record_id in zip(records, ids, strict=True) if record_id not in named]


def check_acknowledged(response: Any, records: Sequence[Any]) -> None:
    """No record that cannot be screened is deleted from the queue: it is retried, then dead-lettered."""
    for record in deleted_by_sqs(response, records):
        body = record.get("body") if isinstance(record, dict) else None
        assert request_kind(body) != "bad", "a bad record acknowledged: deleted from the queue, lost"


def check_batch(response: Mapping[str, Any], records: Sequence[dict[str, Any]]) -> list[str]:
    """Lambda's response shape; every bad record reported for a retry, and no good one."""
    reported = failed_ids(response)
    assert set(reported) <= {record["messageId"] for record in records}, "a failure named outside the batch"
    check_acknowledged(response, records)
    for record in records:
        if request_kind(record["body"]) == "good":
            assert record["messageId"] not in reported, "a valid record reported as failed"
    return reported
