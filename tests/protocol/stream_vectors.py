"""Cross-language vectors of the streamed answer: fixed inputs, and the exact events a gateway sends.

`tools/make-stream-vectors` writes `render()` to docs/vectors/stream-vectors.json. The events are
sealed by the protocol's own `StreamSealer` (secure_ai_protocol.stream); every intermediate value
(HKDF salt and info, key, base nonce, each nonce and additional data) is written out so that another
implementation can find where it differs. tests/protocol/test_stream_vectors.py recomputes them
from `cryptography` primitives and checks that each stream opens, or is refused, as stated.
Deterministic: AES-GCM with a fixed key, nonce and input has one output.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Final

from secure_ai_protocol.routes import STREAM_ROUTE
from secure_ai_protocol.stream import (
    CHUNK_EVENT,
    DIRECTION_LABEL,
    FINAL_EVENT,
    KEEPALIVE_COMMENT,
    SALT_PREFIX,
    STREAM_CONTENT_TYPE,
    StreamEvent,
    StreamSealer,
    chunk_aad,
    chunk_nonce,
    stream_keys,
)

# ----------------------------------------------------------------------------- the fixed inputs
RESP_KEY: Final = bytes(range(0xA0, 0xC0))
REQ_ID: Final = "c3RyZWFtLXZlY3RvcnMtMDE"  # a 22/23-character nonce, as the SDKs draw them
BLOCKED_REQ_ID: Final = "c3RyZWFtLXZlY3RvcnMtMDI"
OTHER_REQ_ID: Final = "b3RoZXItcmVxdWVzdC0wMDE"
# Deltas split mid-word, with a multi-byte character, as a model's stream does.
DELTAS: Final = ["The refund pol", "icy: 30 days, ", "no questions — ", "ever."]
BLOCKED_DELTAS: Final = ["Your key is "]
USAGE: Final = {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}
ALLOW_VERDICT: Final[dict[str, Any]] = {
    "decision": "allow",
    "findings": [],
    "findings_total": 0,
    "policy_id": "default",
    "policy_version": 3,
    "latency_ms": {"pii": 0.4, "secrets": 0.2},
    "unavailable": {},
    "failed_open": [],
    "content_digest": "hmac-sha256=:q1m3rJ4bM4Vh0pKk8o5y6Q0o0dXb4aVZ8QeT1lZx3dE=:",
}
BLOCK_VERDICT: Final[dict[str, Any]] = {
    "decision": "block",
    "findings": [
        {
            "type": "aws_access_key",
            "detector": "secrets",
            "span": [12, 32],
            "confidence": 0.99,
            "sample": "AKIA…[redacted]",
            "label": None,
            "action": "block",
        }
    ],
    "findings_total": 1,
    "policy_id": "default",
    "policy_version": 3,
    "latency_ms": {"secrets": 0.3},
    "unavailable": {},
    "failed_open": [],
    "content_digest": None,
}

DESCRIPTION: Final = (
    "Cross-language vectors for streamed answers (text/event-stream on POST "
    f'{STREAM_ROUTE}, request plaintext with "stream": true). Written by tools/make-stream-vectors '
    "from secure_ai_protocol.stream; do not edit by hand. `wire_format` states the format; `streams` "
    "are intact streams with every intermediate value; `rejections` are streams a client must refuse, "
    "with the reason it gives."
)
WIRE_FORMAT: Final[dict[str, Any]] = {
    "keys": (
        "okm = HKDF-SHA256(ikm = resp_key (the request's 32-byte response key), salt = UTF-8(salt_prefix "
        "+ req_id), info = UTF-8(direction_label), length = 44); key = okm[0:32] (AES-256-GCM); "
        "base_nonce = okm[32:44]"
    ),
    "salt_prefix": SALT_PREFIX,
    "direction_label": DIRECTION_LABEL.decode("ascii"),
    "nonce": "chunk seq (0, 1, 2, ...; at most 2^32-1): base_nonce XOR (seq as 12 bytes, big-endian)",
    "aad": (
        "u16be(byte length of UTF-8 req_id) || UTF-8 req_id || u64be(seq) || u8(1 for the final event, "
        "0 otherwise)"
    ),
    "ciphertext": "AES-256-GCM(key, nonce, plaintext, aad): ciphertext || 16-byte tag",
    "event": (
        "three lines, each ended by LF: 'id: <seq>', 'event: chunk' (or 'event: final'), 'data: "
        "<base64url(ciphertext || tag), without padding>'; then an empty line. ASCII. id is canonical "
        "decimal. Exactly these three fields, once each (the gateway sends them in this order; a client "
        "accepts any order); any other field is refused; lines starting with ':' are comments, skipped. "
        "The gateway ends lines with LF; a client may accept CRLF"
    ),
    "content_type": STREAM_CONTENT_TYPE,
    "plaintexts": (
        'UTF-8 JSON. chunk: {"delta": text} and nothing else. final (exactly one, the last event): '
        '{"delta": text (may be empty), "req_id": the request\'s req_id, "verdict": the verdict of the '
        'whole answer, "usage": {prompt_tokens, completion_tokens, total_tokens} or null, '
        '"finish_reason": "stop" | "length" | "content_filter" (blocked)}'
    ),
    "client_rules": [
        "open events strictly in order: the next event must have id = previous id + 1, starting at 0 "
        "(else stream_order: a gap, a reordering, a duplicate)",
        "an event that does not decrypt with this request's key at its position with its finality is "
        "stream_tampered (this covers a flipped byte, an event of another request, and event: "
        "final/chunk swapped)",
        "a malformed event (unknown field, missing field, repeated field, non-canonical id, data not "
        "unpadded base64url or shorter than a tag) is stream_event",
        "the body ending before the final event, or mid-event, is stream_truncated",
        "any byte after the final event is stream_after_final",
        "the final plaintext's req_id must equal the request's req_id (else req_id_mismatch)",
        "yield each chunk's delta only after it opened; the answer is complete, and its verdict valid, "
        "only once the final event opened and the body ended",
        "a blocked answer is a normal end: the final verdict says block, finish_reason content_filter; "
        "deltas already released were screened",
    ],
}


def _json(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _final(req_id: str, verdict: dict[str, Any], finish_reason: str, delta: str = "") -> bytes:
    return _json(
        {"delta": delta, "req_id": req_id, "verdict": verdict, "usage": USAGE, "finish_reason": finish_reason}
    )


def sealed(req_id: str, plaintexts: list[bytes], *, resp_key: bytes = RESP_KEY) -> list[StreamEvent]:
    """Seal `plaintexts` in order, the last one as the final event."""
    sealer = StreamSealer(resp_key, req_id)
    last = len(plaintexts) - 1
    return [sealer.seal(plaintext, final=index == last) for index, plaintext in enumerate(plaintexts)]


def _wire(events: list[StreamEvent], *, keep_alive: bool = False) -> str:
    comment = KEEPALIVE_COMMENT.decode("ascii") if keep_alive else ""
    return "".join(comment + event.encode().decode("ascii") for event in events)


def _stream_section(name: str, req_id: str, plaintexts: list[bytes], deltas: list[str]) -> dict[str, Any]:
    keys = stream_keys(RESP_KEY, req_id)
    events = sealed(req_id, plaintexts)
    return {
        "name": name,
        "req_id": req_id,
        "salt_hex": (SALT_PREFIX + req_id).encode("utf-8").hex(),
        "info_hex": DIRECTION_LABEL.hex(),
        "key_hex": keys.key.hex(),
        "base_nonce_hex": keys.base_nonce.hex(),
        "events": [
            {
                "seq": event.seq,
                "event": FINAL_EVENT if event.final else CHUNK_EVENT,
                "plaintext": plaintext.decode("utf-8"),
                "plaintext_hex": plaintext.hex(),
                "nonce_hex": chunk_nonce(keys.base_nonce, event.seq).hex(),
                "aad_hex": chunk_aad(req_id, event.seq, final=event.final).hex(),
                "ciphertext_hex": event.ciphertext.hex(),
                "data": base64.urlsafe_b64encode(event.ciphertext).rstrip(b"=").decode("ascii"),
                "sse": event.encode().decode("ascii"),
            }
            for event, plaintext in zip(events, plaintexts, strict=True)
        ],
        "body": _wire(events),
        # The same events, each after a keep-alive comment (the gateway sends one while it holds
        # text back): a client skips comment lines and opens the same deltas.
        "body_with_keep_alives": _wire(events, keep_alive=True),
        "expected_deltas": [delta for delta in deltas if delta],
        "expected_text": "".join(deltas),
    }


def _allowed_plaintexts() -> list[bytes]:
    return [*(_json({"delta": delta}) for delta in DELTAS), _final(REQ_ID, ALLOW_VERDICT, "stop")]


def _flip(event: StreamEvent, at: int) -> str:
    """The event's wire form with one character of its data changed (mid-way: every bit there counts)."""
    text = event.encode().decode("ascii")
    position = text.index("data: ") + len("data: ") + at
    replacement = "A" if text[position] != "A" else "B"
    return text[:position] + replacement + text[position + 1 :]


def _rejections() -> list[dict[str, Any]]:
    events = sealed(REQ_ID, _allowed_plaintexts())
    body = _wire(events)
    chunk, final = events[1], events[-1]
    foreign = sealed(OTHER_REQ_ID, _allowed_plaintexts())
    misaddressed = sealed(REQ_ID, [_json({"delta": DELTAS[0]}), _final(OTHER_REQ_ID, ALLOW_VERDICT, "stop")])

    def case(name: str, why: str, sse: str, reason: str, delivered: int) -> dict[str, Any]:
        return {
            "name": name,
            "description": why,
            "req_id": REQ_ID,
            "body": sse,
            "expected_error": reason,
            "expected_deltas_before_error": DELTAS[:delivered],
        }

    return [
        case(
            "reordered",
            "events 0 and 1 swapped",
            _wire([events[1], events[0], *events[2:]]),
            "stream_order",
            0,
        ),
        case("dropped", "event 1 left out", _wire([events[0], *events[2:]]), "stream_order", 1),
        case("duplicated", "event 0 sent twice", _wire([events[0], *events]), "stream_order", 1),
        case("truncated", "the body ends before the final event", _wire(events[:-1]), "stream_truncated", 4),
        case(
            "truncated_mid_event",
            "the body ends inside the final event's data line",
            body[:-40],
            "stream_truncated",
            4,
        ),
        case(
            "tampered",
            "one character of event 1's data changed",
            _wire([events[0]]) + _flip(chunk, 10) + _wire(events[2:]),
            "stream_tampered",
            1,
        ),
        case(
            "final_demoted",
            "the final event relabelled `event: chunk` (a cut stream passed off as going on)",
            _wire(events[:-1]) + final.encode().decode("ascii").replace("event: final", "event: chunk"),
            "stream_tampered",
            4,
        ),
        case(
            "chunk_promoted",
            "event 1 relabelled `event: final` (a cut stream passed off as complete)",
            _wire([events[0]]) + chunk.encode().decode("ascii").replace("event: chunk", "event: final"),
            "stream_tampered",
            1,
        ),
        case(
            "another_request",
            "event 2 taken from another request's stream (same resp_key, req_id " + OTHER_REQ_ID + ")",
            _wire([*events[:2], foreign[2], *events[3:]]),
            "stream_tampered",
            2,
        ),
        case(
            "after_final",
            "event 0 sent again after the final event",
            body + _wire([events[0]]),
            "stream_after_final",
            4,
        ),
        case(
            "final_names_another_request",
            "correctly sealed, but the final plaintext's req_id is another request's",
            _wire(misaddressed),
            "req_id_mismatch",
            1,
        ),
    ]


def build_vectors() -> dict[str, Any]:
    """The whole vector document."""
    return {
        "description": DESCRIPTION,
        "wire_format": WIRE_FORMAT,
        "resp_key_hex": RESP_KEY.hex(),
        "streams": [
            _stream_section("allowed", REQ_ID, _allowed_plaintexts(), [*DELTAS, ""]),
            _stream_section(
                "blocked_mid_stream",
                BLOCKED_REQ_ID,
                [
                    *(_json({"delta": delta}) for delta in BLOCKED_DELTAS),
                    _final(BLOCKED_REQ_ID, BLOCK_VERDICT, "content_filter"),
                ],
                [*BLOCKED_DELTAS, ""],
            ),
        ],
        "rejections": _rejections(),
    }


def render() -> str:
    """docs/vectors/stream-vectors.json's exact text."""
    return json.dumps(build_vectors(), indent=2, ensure_ascii=False) + "\n"
