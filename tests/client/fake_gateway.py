"""The gateway, played in-process behind httpx.MockTransport: verify, open, answer, seal.

It verifies each signature with the gateway's own profile code, refuses a replayed nonce, opens
request envelopes with `RequestEnvelopes` (moto's KMS, in-process) under the signature's nonce as
req_id, and seals its answer to the request's resp_key. Knobs let a test make it misbehave.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from secure_ai_gateway.api.statuses import public_body, status_for
from secure_ai_protocol.envelope.requests import RequestEnvelopes
from secure_ai_protocol.envelope.responses import seal_response
from secure_ai_protocol.errors import ProtocolError, SignatureRejected
from secure_ai_protocol.key_ids import parse_key_id
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE, JSON_CONTENT_TYPE
from secure_ai_protocol.signing.content_digest import body_matches_digest
from secure_ai_protocol.signing.profile import (
    PROFILE_TAG,
    ParsedSignature,
    SignedRequest,
    check_window,
    parse_signature_headers,
    verify_signature,
)

STAGE = "/prod"
BASE_URL = f"https://abc123.execute-api.us-east-1.amazonaws.com{STAGE}"

ALLOW_VERDICT: dict[str, Any] = {
    "decision": "allow",
    "findings": [],
    "findings_total": 0,
    "policy_id": "default",
    "policy_version": 1,
    "latency_ms": {"pii": 0.1},
    "unavailable": {},
    "failed_open": [],
    "content_digest": "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
}
BLOCK_VERDICT: dict[str, Any] = ALLOW_VERDICT | {
    "decision": "block",
    "findings": [
        {
            "type": "aws_access_key",
            "detector": "secrets",
            "span": [10, 30],
            "confidence": 0.99,
            "sample": "AKIA…[redacted]",
            "label": None,
            "action": "block",
        }
    ],
    "findings_total": 1,
}


@dataclass
class Opened:
    """A request the fake gateway decrypted: the signature nonce, the route and the plaintext."""

    nonce: str
    route: str
    plaintext: dict[str, Any]


@dataclass
class FakeGateway:
    """A MockTransport handler; `requests` is every request it received, in order."""

    envelopes: RequestEnvelopes
    secret: bytes
    public_key: dict[str, str]
    answer: str | None = "Hello from the fake model."
    verdict: dict[str, Any] = field(default_factory=lambda: dict(ALLOW_VERDICT))
    canned: httpx.Response | None = None
    seal_for_req_id: str | None = None
    seal_with_key: bytes | None = None
    payload_req_id: str | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    signatures: list[ParsedSignature] = field(default_factory=list)
    opened: list[Opened] = field(default_factory=list)
    _nonces: set[str] = field(default_factory=set)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "GET" and path == f"{STAGE}/v1/keys/public":
            return httpx.Response(200, json=self.public_key)
        if self.canned is not None:
            return self.canned
        try:
            parsed = self._authorize(request)
        except SignatureRejected:
            return httpx.Response(401, json={"error": "unauthorized", "message": "unauthorized"})
        route = path.removeprefix(STAGE)
        media_type = request.headers["content-type"]
        try:
            if media_type == ENVELOPE_CONTENT_TYPE:
                return self._sealed_answer(request, parsed, route)
            return httpx.Response(200, json=self._verdict_document(json.loads(request.content)))
        except ProtocolError as error:
            return httpx.Response(int(status_for(error)), json=public_body(error))

    def _authorize(self, request: httpx.Request) -> ParsedSignature:
        parsed = parse_signature_headers(
            request.headers["signature-input"], request.headers["signature"], expected_tag=PROFILE_TAG
        )
        check_window(parsed, int(time.time()))
        signed = SignedRequest(
            method=request.method,
            authority=request.headers["host"],
            path=request.url.raw_path.partition(b"?")[0].decode("ascii"),
            query=request.url.query.decode("ascii"),
            content_type=request.headers["content-type"],
            content_digest=request.headers["content-digest"],
        )
        verify_signature(parsed, signed, self.secret)
        if not body_matches_digest(request.content, signed.content_digest):
            raise SignatureRejected("digest")
        if parsed.nonce in self._nonces:
            raise SignatureRejected("replay")
        self._nonces.add(parsed.nonce)
        self.signatures.append(parsed)
        return parsed

    def _sealed_answer(self, request: httpx.Request, parsed: ParsedSignature, route: str) -> httpx.Response:
        client_id = parse_key_id(parsed.key_id).client_id
        opened = self.envelopes.open(request.content, client_id=client_id, req_id=parsed.nonce, route=route)
        plaintext = json.loads(opened.plaintext)
        self.opened.append(Opened(parsed.nonce, route, plaintext))
        if route == "/v1/chat/completions":
            payload = self._completion(parsed.nonce, plaintext["request"])
        else:
            payload = self._verdict_document(plaintext["request"])
        sealed = seal_response(
            json.dumps(payload).encode(),
            resp_key=self.seal_with_key or base64.b64decode(plaintext["resp_key"]),
            req_id=self.seal_for_req_id or parsed.nonce,
        )
        return httpx.Response(200, content=sealed, headers={"Content-Type": ENVELOPE_CONTENT_TYPE})

    def _completion(self, nonce: str, request: dict[str, Any]) -> dict[str, Any]:
        return {
            "req_id": self.payload_req_id or nonce,
            "completion": {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "model": request["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.answer},
                        "finish_reason": "stop" if self.answer is not None else "content_filter",
                    }
                ],
            },
            "verdict": self.verdict,
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        }

    def _verdict_document(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.verdict | {"redacted_text": None, "policy_id": request.get("policy_id", "default")}


def json_response(status: int, body: dict[str, Any], **headers: str) -> httpx.Response:
    """A canned JSON answer, as the gateway's error handler or API Gateway would send it."""
    return httpx.Response(status, json=body, headers={"Content-Type": JSON_CONTENT_TYPE, **headers})
