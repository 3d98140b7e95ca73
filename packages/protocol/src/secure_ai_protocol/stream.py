"""Streamed answers: one AES-256-GCM chunk per server-sent event, in order, ending in one final event.

A chat request with `"stream": true` (inside its envelope) is answered with `text/event-stream`.
Both ends derive, from the request's `resp_key` and `req_id` (HKDF-SHA256, RFC 5869):

    salt = UTF-8("secure-ai-stream-v1:" + req_id)
    info = UTF-8("gateway-to-client")                    (the direction label)
    okm  = HKDF-SHA256(ikm = resp_key, salt, info, length = 44)
    key  = okm[0:32]          base_nonce = okm[32:44]

Chunk `seq` (0, 1, 2, …) is sealed with

    nonce = base_nonce XOR seq as 12 bytes big-endian
    aad   = u16be(len(req_id_utf8)) ‖ req_id_utf8 ‖ u64be(seq) ‖ u8(final: 1 or 0)
    event = "id: <seq>\\nevent: <chunk|final>\\ndata: <base64url(ciphertext ‖ tag), unpadded>\\n\\n"

The plaintext of a chunk is UTF-8 JSON (secure_ai_protocol.wire.stream): `{"delta": text}` for
`chunk` events, and for the one `final` event also the verdict, usage and finish reason. The
additional data binds each chunk to its request, its position and whether it ends the stream, so a
client (`StreamOpener`) detects a chunk from another request, a gap, a reordering, a duplicate, a
missing final event or anything after it, and an event whose `id` or type was changed.
docs/protocol.md ("Streamed answers") states it for other languages; docs/vectors/ holds vectors.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from secure_ai_protocol.errors import ProtocolError

STREAM_CONTENT_TYPE: Final = "text/event-stream"
SALT_PREFIX: Final = "secure-ai-stream-v1:"
DIRECTION_LABEL: Final = b"gateway-to-client"
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
CHUNK_EVENT: Final = "chunk"
FINAL_EVENT: Final = "final"
# A comment line and its blank line: what the gateway sends to keep a quiet stream alive. Parsers
# skip every comment line (`parse_events`).
KEEPALIVE_COMMENT: Final = b": keep-alive\n\n"
MAX_SEQUENCE: Final = 2**32 - 1
# One event's decoded ciphertext at most (a chunk's text is a few hundred bytes; the final event
# carries the verdict): anything larger is refused before it is decrypted.
MAX_EVENT_CIPHERTEXT_BYTES: Final = 256 * 1024
# A request id's UTF-8 length is 2 bytes of the additional data.
MAX_REQ_ID_BYTES: Final = 0xFFFF
# What the sealing side raises (ValueError) for input no opener would accept.
REQ_ID_TOO_LONG: Final = "request id longer than 65,535 UTF-8 bytes"
PAYLOAD_TOO_LARGE: Final = "event payload larger than MAX_EVENT_CIPHERTEXT_BYTES"
_EVENT_LINE: Final = re.compile(r"(id|event|data): ?(.*)")


class StreamRejected(ProtocolError):
    """A streamed answer the client must not trust: tampered, reordered, incomplete or overlong."""


@dataclass(frozen=True, slots=True)
class StreamKeys:
    """The AES-256-GCM key and base nonce of one request's answer stream."""

    key: bytes = field(repr=False)
    base_nonce: bytes = field(repr=False)


def stream_keys(resp_key: bytes, req_id: str) -> StreamKeys:
    """Derive the stream's key and base nonce from the request's `resp_key` and `req_id`."""
    if len(resp_key) != KEY_BYTES:
        raise ValueError("resp_key must be 32 bytes")
    okm = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES + NONCE_BYTES,
        salt=(SALT_PREFIX + req_id).encode("utf-8"),
        info=DIRECTION_LABEL,
    ).derive(resp_key)
    return StreamKeys(key=okm[:KEY_BYTES], base_nonce=okm[KEY_BYTES:])


def chunk_nonce(base_nonce: bytes, seq: int) -> bytes:
    """The nonce of chunk `seq`: the base nonce XOR the sequence number (12 bytes, big-endian)."""
    if not 0 <= seq <= MAX_SEQUENCE:
        raise ValueError("sequence number out of range")
    counter = seq.to_bytes(NONCE_BYTES, "big")
    return bytes(a ^ b for a, b in zip(base_nonce, counter, strict=True))


def chunk_aad(req_id: str, seq: int, *, final: bool) -> bytes:
    """The additional data of chunk `seq`: request id, position, and whether it ends the stream."""
    encoded = _encoded_req_id(req_id)
    return len(encoded).to_bytes(2, "big") + encoded + seq.to_bytes(8, "big") + bytes([1 if final else 0])


def _encoded_req_id(req_id: str) -> bytes:
    """`req_id` in UTF-8; ValueError if its length does not fit the additional data's 2 bytes."""
    encoded = req_id.encode("utf-8")
    if len(encoded) > MAX_REQ_ID_BYTES:
        raise ValueError(REQ_ID_TOO_LONG)
    return encoded


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One server-sent event of an answer stream, as sent."""

    seq: int
    final: bool
    ciphertext: bytes = field(repr=False)

    def encode(self) -> bytes:
        """The event on the wire (UTF-8), blank line included."""
        data = base64.urlsafe_b64encode(self.ciphertext).rstrip(b"=").decode("ascii")
        kind = FINAL_EVENT if self.final else CHUNK_EVENT
        return f"id: {self.seq}\nevent: {kind}\ndata: {data}\n\n".encode("ascii")


class _StreamCipher:
    """One request's stream key, and the position both ends keep."""

    def __init__(self, resp_key: bytes, req_id: str) -> None:
        _encoded_req_id(req_id)  # refuses, up front, a request id the additional data cannot carry
        keys = stream_keys(resp_key, req_id)
        self._aead = AESGCM(keys.key)
        self._base_nonce = keys.base_nonce
        self._req_id = req_id
        self._next = 0
        self._finished = False


class StreamSealer(_StreamCipher):
    """Seals an answer's chunks in order (gateway side); after the final one it seals nothing."""

    def seal(self, payload: bytes, *, final: bool = False) -> StreamEvent:
        """The next event, carrying `payload` (UTF-8 JSON). A payload larger than an opener accepts
        (MAX_EVENT_CIPHERTEXT_BYTES) raises ValueError: the gateway never sends an event a client
        must refuse."""
        if self._finished:
            raise RuntimeError("the stream already ended")
        if len(payload) > MAX_EVENT_CIPHERTEXT_BYTES:
            raise ValueError(PAYLOAD_TOO_LARGE)
        seq = self._next
        nonce = chunk_nonce(self._base_nonce, seq)
        ciphertext = self._aead.encrypt(nonce, payload, chunk_aad(self._req_id, seq, final=final))
        self._next += 1
        self._finished = final
        return StreamEvent(seq=seq, final=final, ciphertext=ciphertext)


class StreamOpener(_StreamCipher):
    """Opens an answer's events in order (client side), refusing anything out of place.

    `open(event)` returns each event's plaintext; `finish()` must be called when the transport ends
    and raises unless the final event arrived. Every refusal is `StreamRejected` with a reason:
    "stream_event" (malformed), "stream_order" (gap, reordering, duplicate), "stream_tampered"
    (does not decrypt as this request's chunk at this position with this finality),
    "stream_after_final", "stream_truncated".
    """

    @property
    def finished(self) -> bool:
        """Whether the final event was opened."""
        return self._finished

    def open(self, event: StreamEvent) -> bytes:
        """The plaintext of `event`, the next one of the stream."""
        if self._finished:
            raise StreamRejected("stream_after_final")
        if event.seq != self._next:
            raise StreamRejected("stream_order")
        if len(event.ciphertext) > MAX_EVENT_CIPHERTEXT_BYTES + TAG_BYTES:
            raise StreamRejected("stream_event")
        nonce = chunk_nonce(self._base_nonce, event.seq)
        try:
            plaintext = self._aead.decrypt(
                nonce, event.ciphertext, chunk_aad(self._req_id, event.seq, final=event.final)
            )
        except InvalidTag:
            raise StreamRejected("stream_tampered") from None
        self._next += 1
        self._finished = event.final
        return plaintext

    def finish(self) -> None:
        """The transport ended: refuse a stream whose final event never came."""
        if not self._finished:
            raise StreamRejected("stream_truncated")


def parse_events(lines: Iterable[str]) -> Iterator[StreamEvent]:
    """The events in an SSE body, line by line (each line without its end of line).

    Strict: only `id`, `event` and `data` fields, each once per event, in any order; `event` is
    `chunk` or `final`; `id` a canonical decimal; `data` unpadded base64url. Anything else raises
    StreamRejected("stream_event"). Comment lines (`:…`) are skipped, as SSE allows.
    """
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if fields:
                yield _event(fields)
                fields = {}
            continue
        if line.startswith(":"):
            continue
        match = _EVENT_LINE.fullmatch(line)
        if match is None or match[1] in fields:
            raise StreamRejected("stream_event")
        fields[match[1]] = match[2]
    if fields:
        # An event not closed by a blank line was cut off in transit.
        raise StreamRejected("stream_truncated")


def _event(fields: dict[str, str]) -> StreamEvent:
    if set(fields) != {"id", "event", "data"} or fields["event"] not in (CHUNK_EVENT, FINAL_EVENT):
        raise StreamRejected("stream_event")
    seq_text, data = fields["id"], fields["data"]
    if not re.fullmatch(r"0|[1-9][0-9]{0,9}", seq_text) or int(seq_text) > MAX_SEQUENCE:
        raise StreamRejected("stream_event")
    if len(data) > (MAX_EVENT_CIPHERTEXT_BYTES + TAG_BYTES) * 4 // 3 + 4 or not re.fullmatch(
        r"[A-Za-z0-9_-]*", data
    ):
        raise StreamRejected("stream_event")
    try:
        ciphertext = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        raise StreamRejected("stream_event") from None
    if len(ciphertext) < TAG_BYTES:
        raise StreamRejected("stream_event")
    return StreamEvent(seq=int(seq_text), final=fields["event"] == FINAL_EVENT, ciphertext=ciphertext)
