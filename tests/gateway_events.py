"""Build API Gateway REST events for signed requests, as API Gateway would hand them to Lambda."""

from __future__ import annotations

import base64
import copy
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from secure_ai_protocol.signing.canonical_query import canonical_query
from secure_ai_protocol.signing.content_digest import compute_content_digest
from secure_ai_protocol.signing.profile import SignedRequest, sign_request

API_ID = "abc123defg"
REGION = "us-east-1"
ACCOUNT = "123456789012"
STAGE = "prod"
DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
TAG = "secure-ai-v1"


@dataclass
class SignedCall:
    """One signed HTTP request, before API Gateway turns it into events."""

    secret: bytes
    key_id: str
    created: int
    nonce: str = "bm9uY2UtMTIzNDU2Nzg5MDEyMzQ1Ng"
    method: str = "POST"
    resource: str = "/v1/chat/completions"
    stage: str = STAGE
    host: str = DOMAIN
    query: Sequence[tuple[str, str]] = ()
    body: bytes = b'{"hello": "world"}'
    content_type: str = "application/json"
    lifetime: int = 120
    tag: str = TAG
    extra_headers: Sequence[tuple[str, str]] = field(default_factory=tuple)
    # The Accept a client sends: None asks for the request's own media type (as the SDKs do; a sealed
    # answer needs the envelope type first), "" sends no Accept at all.
    accept: str | None = None

    @property
    def path(self) -> str:
        return f"/{self.stage}{self.resource}"

    def headers(self) -> list[tuple[str, str]]:
        """The request's headers, signed, in the order a client sends them."""
        digest = compute_content_digest(self.body)
        request = SignedRequest(
            method=self.method,
            authority=self.host,
            path=self.path,
            query=canonical_query(self.query),
            content_type=self.content_type,
            content_digest=digest,
        )
        signature_input, signature = sign_request(
            request,
            secret=self.secret,
            key_id=self.key_id,
            tag=self.tag,
            created=self.created,
            expires=self.created + self.lifetime,
            nonce=self.nonce,
        )
        return [
            ("Host", self.host),
            ("Content-Type", self.content_type),
            ("Content-Digest", digest),
            ("Signature-Input", signature_input),
            ("Signature", signature),
            *self.accept_header(),
            *self.extra_headers,
        ]

    def accept_header(self) -> list[tuple[str, str]]:
        """The Accept header, if any (not a signed component)."""
        accept = self.content_type if self.accept is None else self.accept
        return [("Accept", accept)] if accept else []


def method_arn(method: str, resource: str, stage: str = STAGE) -> str:
    """The execute-api ARN API Gateway puts in `methodArn`."""
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{stage}/{method}{resource}"


def _header_maps(headers: Sequence[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _query_maps(
    pairs: Sequence[tuple[str, str]],
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def request_context(call: SignedCall) -> dict[str, Any]:
    return {
        "resourceId": "r3s0urc3",
        "resourcePath": call.resource,
        "httpMethod": call.method,
        "extendedRequestId": "extended-id",
        "requestTime": "27/Nov/2026:01:00:00 +0000",
        "path": call.path,
        "accountId": ACCOUNT,
        "protocol": "HTTP/1.1",
        "stage": call.stage,
        "domainPrefix": API_ID,
        "requestTimeEpoch": call.created * 1000,
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "identity": {"sourceIp": "203.0.113.7", "userAgent": "tests"},
        "domainName": call.host,
        "apiId": API_ID,
    }


def authorizer_event(call: SignedCall, headers: Sequence[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The REQUEST authorizer event for `call` (API Gateway never gives the authorizer the body)."""
    single, multi = _header_maps(call.headers() if headers is None else headers)
    query, multi_query = _query_maps(call.query)
    return {
        "type": "REQUEST",
        "methodArn": method_arn(call.method, call.resource, call.stage),
        "resource": call.resource,
        "path": call.resource,
        "httpMethod": call.method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": {},
        "stageVariables": None,
        "requestContext": request_context(call),
    }


def proxy_event(
    call: SignedCall,
    authorizer_context: Mapping[str, str],
    *,
    binary: bool = False,
    body: bytes | None = None,
) -> dict[str, Any]:
    """The proxy integration event the function gets after the authorizer allowed `call`."""
    single, multi = _header_maps(call.headers())
    query, multi_query = _query_maps(call.query)
    raw = call.body if body is None else body
    context = request_context(call)
    context["authorizer"] = {**authorizer_context, "principalId": authorizer_context.get("client_id", "")}
    return {
        "resource": call.resource,
        "path": call.resource,
        "httpMethod": call.method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": context,
        "body": base64.b64encode(raw).decode() if binary else raw.decode(),
        "isBase64Encoded": binary,
    }


def with_changes(event: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of `event` with top-level keys replaced."""
    changed = copy.deepcopy(dict(event))
    changed.update(changes)
    return changed


def sqs_record(body: str, message_id: str | None = None) -> dict[str, Any]:
    """One record as Lambda's SQS event source mapping delivers it."""
    message_id = message_id or str(uuid.uuid4())
    return {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1795740000000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1795740000001",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:secure-ai-local-ValidationQueue",
        "awsRegion": "us-east-1",
    }


def sqs_batch(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """An SQS event holding `records`."""
    return {"Records": [dict(record) for record in records]}
