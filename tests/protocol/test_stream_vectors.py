"""docs/vectors/stream-vectors.json against the implementation, and against the primitives themselves.

Every intermediate value is recomputed here from `cryptography`'s HKDF and AES-GCM and the wire format
as the file states it (not from secure_ai_protocol.stream), and every stream is read with the
protocol's `parse_events` and `StreamOpener`: intact ones open to their deltas, the others are
refused with the stated reason, after the stated deltas. The SDK's reader is checked against the same
file in tests/client/test_streaming.py.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Final

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from secure_ai_protocol import stream
from secure_ai_protocol.stream import StreamOpener, StreamRejected, parse_events
from secure_ai_protocol.wire.stream import StreamDelta, StreamFinal
from tests.protocol import stream_vectors

REPOSITORY: Final = Path(__file__).resolve().parents[2]
VECTOR_FILE: Final = REPOSITORY / "docs/vectors/stream-vectors.json"
VECTORS: Final[dict[str, Any]] = json.loads(VECTOR_FILE.read_text(encoding="utf-8"))
RESP_KEY: Final = bytes.fromhex(VECTORS["resp_key_hex"])
STREAMS: Final[list[dict[str, Any]]] = VECTORS["streams"]
REJECTIONS: Final[list[dict[str, Any]]] = VECTORS["rejections"]


def read(body: str, req_id: str) -> tuple[list[str], str | None]:
    """A reference reader: the deltas a client yields, and the reason it refuses the stream (or None)."""
    opener = StreamOpener(RESP_KEY, req_id)
    deltas: list[str] = []
    try:
        for event in parse_events(body.split("\n")):
            plaintext = opener.open(event)
            if event.final:
                final = StreamFinal.model_validate_json(plaintext)
                if final.req_id != req_id:
                    return deltas, "req_id_mismatch"
                delta = final.delta
            else:
                delta = StreamDelta.model_validate_json(plaintext).delta
            if delta:
                deltas.append(delta)
        opener.finish()
    except StreamRejected as refused:
        return deltas, refused.reason
    return deltas, None


def test_regenerating_the_vectors_reproduces_the_file_byte_for_byte() -> None:
    assert stream_vectors.render() == VECTOR_FILE.read_text(encoding="utf-8")


def test_the_stated_format_names_the_implementations_constants() -> None:
    stated = VECTORS["wire_format"]
    assert stated["salt_prefix"] == stream.SALT_PREFIX
    assert stated["direction_label"].encode() == stream.DIRECTION_LABEL
    assert stated["content_type"] == stream.STREAM_CONTENT_TYPE


@pytest.mark.parametrize("vector", STREAMS, ids=[vector["name"] for vector in STREAMS])
def test_every_value_follows_from_the_inputs_by_the_stated_format(vector: dict[str, Any]) -> None:
    req_id = vector["req_id"]
    salt, info = (stream.SALT_PREFIX + req_id).encode(), stream.DIRECTION_LABEL
    okm = HKDF(algorithm=hashes.SHA256(), length=44, salt=salt, info=info).derive(RESP_KEY)
    assert (vector["salt_hex"], vector["info_hex"]) == (salt.hex(), info.hex())
    assert (vector["key_hex"], vector["base_nonce_hex"]) == (okm[:32].hex(), okm[32:].hex())
    aead, base_nonce = AESGCM(okm[:32]), okm[32:]
    events = vector["events"]
    for seq, event in enumerate(events):
        final = seq == len(events) - 1
        assert (event["seq"], event["event"]) == (seq, "final" if final else "chunk")
        nonce = bytes(a ^ b for a, b in zip(base_nonce, seq.to_bytes(12, "big"), strict=True))
        encoded_id = req_id.encode()
        aad = len(encoded_id).to_bytes(2, "big") + encoded_id + seq.to_bytes(8, "big") + bytes([final])
        plaintext = bytes.fromhex(event["plaintext_hex"])
        ciphertext = aead.encrypt(nonce, plaintext, aad)
        assert plaintext.decode("utf-8") == event["plaintext"]
        assert (event["nonce_hex"], event["aad_hex"], event["ciphertext_hex"]) == (
            nonce.hex(),
            aad.hex(),
            ciphertext.hex(),
        )
        data = base64.urlsafe_b64encode(ciphertext).rstrip(b"=").decode("ascii")
        assert event["data"] == data
        assert event["sse"] == f"id: {seq}\nevent: {event['event']}\ndata: {data}\n\n"
    assert vector["body"] == "".join(event["sse"] for event in events)


@pytest.mark.parametrize("vector", STREAMS, ids=[vector["name"] for vector in STREAMS])
def test_every_intact_stream_opens_to_its_deltas_and_verdict(vector: dict[str, Any]) -> None:
    assert read(vector["body"], vector["req_id"]) == (vector["expected_deltas"], None)
    assert vector["body_with_keep_alives"].count(": keep-alive\n\n") == len(vector["events"])
    assert read(vector["body_with_keep_alives"], vector["req_id"]) == (vector["expected_deltas"], None)
    assert "".join(vector["expected_deltas"]) == vector["expected_text"]
    final = StreamFinal.model_validate_json(vector["events"][-1]["plaintext"])
    assert final.req_id == vector["req_id"]
    blocked = vector["name"] == "blocked_mid_stream"
    assert (final.verdict.decision, final.finish_reason) == (
        ("block", "content_filter") if blocked else ("allow", "stop")
    )


def test_an_intact_stream_does_not_open_for_another_request_or_key() -> None:
    body = STREAMS[0]["body"]
    assert read(body, STREAMS[1]["req_id"]) == ([], "stream_tampered")
    opener = StreamOpener(bytes(32), STREAMS[0]["req_id"])
    with pytest.raises(StreamRejected, match="stream_tampered"):
        opener.open(next(parse_events(body.split("\n"))))


def test_the_rejections_cover_every_way_the_issue_names() -> None:
    reasons = {vector["expected_error"] for vector in REJECTIONS}
    assert reasons == {
        "stream_order",
        "stream_truncated",
        "stream_tampered",
        "stream_after_final",
        "req_id_mismatch",
    }


@pytest.mark.parametrize("vector", REJECTIONS, ids=[vector["name"] for vector in REJECTIONS])
def test_every_rejection_is_refused_with_its_reason_after_its_deltas(vector: dict[str, Any]) -> None:
    assert read(vector["body"], vector["req_id"]) == (
        vector["expected_deltas_before_error"],
        vector["expected_error"],
    )
