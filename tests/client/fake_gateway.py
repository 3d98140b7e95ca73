"""The gateway, played in-process behind httpx.MockTransport: verify, open, answer, seal.

It verifies each signature with the gateway's own profile code, refuses a replayed nonce, opens
request envelopes with `RequestEnvelopes` (moto's KMS, in-process) under the signature's nonce as
req_id, and seals its answer to the request's resp_key. Knobs let a test make it misbehave.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from secure_ai_gateway.api.statuses import public_body, status_for
from secure_ai_protocol.envelope.requests import RequestEnvelopes
from secure_ai_protocol.envelope.responses import seal_response
from secure_ai_protocol.errors import ProtocolError, SignatureRejected
from secure_ai_protocol.key_ids import parse_key_id
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE, JSON_CONTENT_TYPE
from secure_ai_protocol.routes import CHAT_ROUTE, STREAM_ROUTE
from secure_ai_protocol.signing.content_digest import body_matches_digest
from secure_ai_protocol.signing.profile import (
    PROFILE_TAG,
    ParsedSignature,
    SignedRequest,
    check_window,
    parse_signature_headers,
    verify_signature,
)
from secure_ai_protocol.stream import STREAM_CONTENT_TYPE, StreamSealer

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


# A streamed answer's events (each encoded, blank line included), the resp_key and the req_id → the
# pieces of body to send, in order: a test's way to drop, reorder, cut or alter what goes out.
StreamMangle = Callable[[list[bytes], bytes, str], list[bytes]]


class Pieces(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body sent piece by piece (sync or async), recording whether it was closed."""

    def __init__(self, pieces: list[bytes], *, fail_after: int | None = None) -> None:
        self.pieces = pieces
        self.fail_after = fail_after
        self.sent = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            yield self._next(piece)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield self._next(piece)

    def _next(self, piece: bytes) -> bytes:
        if self.sent == self.fail_after:
            raise httpx.ReadError("connection reset")
        self.sent += 1
        return piece

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


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
    # Streamed answers (routes.STREAM_ROUTE): the chunks' deltas, then a final event with `verdict`.
    stream_deltas: list[str] = field(default_factory=lambda: ["Hel", "lo from the ", "fake", " model."])
    stream_final_delta: str = ""
    stream_mangle: StreamMangle | None = None
    stream_piece_bytes: int | None = None  # re-cut the body into pieces of this size
    stream_content_type: str = STREAM_CONTENT_TYPE
    stream_fail_after: int | None = None  # the connection drops after this many pieces
    bodies: list[Pieces] = field(default_factory=list)
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
        if route == STREAM_ROUTE:
            return self._streamed_answer(parsed.nonce, plaintext)
        if route == CHAT_ROUTE:
            payload = self._completion(parsed.nonce, plaintext["request"])
        else:
            payload = self._verdict_document(plaintext["request"])
        sealed = seal_response(
            json.dumps(payload).encode(),
            resp_key=self.seal_with_key or base64.b64decode(plaintext["resp_key"]),
            req_id=self.seal_for_req_id or parsed.nonce,
        )
        return httpx.Response(200, content=sealed, headers={"Content-Type": ENVELOPE_CONTENT_TYPE})

    def _streamed_answer(self, nonce: str, plaintext: dict[str, Any]) -> httpx.Response:
        if plaintext["request"].get("stream") is not True:
            return httpx.Response(400, json={"error": "bad_request", "message": "bad request"})
        resp_key = self.seal_with_key or base64.b64decode(plaintext["resp_key"])
        req_id = self.seal_for_req_id or nonce
        pieces = stream_events(
            resp_key,
            req_id,
            self.stream_deltas,
            final_payload=self._stream_final(self.payload_req_id or nonce),
        )
        if self.stream_mangle is not None:
            pieces = self.stream_mangle(pieces, resp_key, req_id)
        if self.stream_piece_bytes is not None:
            body, size = b"".join(pieces), self.stream_piece_bytes
            pieces = [body[start : start + size] for start in range(0, len(body), size)]
        stream = Pieces(pieces, fail_after=self.stream_fail_after)
        self.bodies.append(stream)
        return httpx.Response(200, headers={"Content-Type": self.stream_content_type}, stream=stream)

    def _stream_final(self, req_id: str) -> dict[str, Any]:
        return {
            "delta": self.stream_final_delta,
            "req_id": req_id,
            "verdict": self.verdict,
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
            "finish_reason": "content_filter" if self.verdict["decision"] == "block" else "stop",
        }

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


def stream_events(
    resp_key: bytes, req_id: str, deltas: list[str], *, final_payload: dict[str, Any]
) -> list[bytes]:
    """A streamed answer's events, encoded: one chunk per delta, then the final event."""
    sealer = StreamSealer(resp_key, req_id)
    events = [sealer.seal(json.dumps({"delta": delta}).encode()).encode() for delta in deltas]
    events.append(sealer.seal(json.dumps(final_payload).encode(), final=True).encode())
    return events
