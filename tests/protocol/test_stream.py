"""The stream protocol: sealed in order, opened in order, and anything out of place refused."""

from __future__ import annotations

import dataclasses

import pytest

from secure_ai_protocol.stream import (
    StreamEvent,
    StreamOpener,
    StreamRejected,
    StreamSealer,
    chunk_aad,
    chunk_nonce,
    parse_events,
    stream_keys,
)

RESP_KEY = bytes(range(32))
REQ_ID = "bm9uY2UtMTIzNDU2Nzg5MDEyMzQ1Ng"


def sealed(*payloads: bytes) -> list[StreamEvent]:
    sealer = StreamSealer(RESP_KEY, REQ_ID)
    return [sealer.seal(payload, final=index == len(payloads) - 1) for index, payload in enumerate(payloads)]


def opened(events: list[StreamEvent]) -> list[bytes]:
    opener = StreamOpener(RESP_KEY, REQ_ID)
    plaintexts = [opener.open(event) for event in events]
    opener.finish()
    return plaintexts


def test_a_stream_opens_in_order_and_round_trips_through_its_wire_form() -> None:
    events = sealed(b'{"delta":"Hel"}', b'{"delta":"lo"}', b'{"delta":"","verdict":{}}')
    wire = b"".join(event.encode() for event in events).decode("ascii")
    parsed = list(parse_events(wire.split("\n")))
    assert parsed == events
    assert opened(parsed) == [b'{"delta":"Hel"}', b'{"delta":"lo"}', b'{"delta":"","verdict":{}}']


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda e: [e[0], e[2]], "stream_order"),  # a gap
        (lambda e: [e[1], e[0], e[2]], "stream_order"),  # reordered
        (lambda e: [e[0], e[0], e[1], e[2]], "stream_order"),  # a duplicate
        (lambda e: [*e, e[2]], "stream_after_final"),  # anything after the final event
        (lambda e: [e[0], dataclasses.replace(e[1], final=True)], "stream_tampered"),  # a cut passed as final
        (lambda e: [e[0], e[1], dataclasses.replace(e[2], final=False)], "stream_tampered"),
        (
            lambda e: [
                e[0],
                dataclasses.replace(e[1], ciphertext=bytes([e[1].ciphertext[0] ^ 1]) + e[1].ciphertext[1:]),
            ],
            "stream_tampered",
        ),
    ],
    ids=["gap", "reordered", "duplicate", "after-final", "early-final", "final-demoted", "flipped-bit"],
)
def test_anything_out_of_place_is_refused(mangle: object, reason: str) -> None:
    events = sealed(b"a", b"b", b"c")
    with pytest.raises(StreamRejected) as refused:
        opened(mangle(events))  # type: ignore[operator]
    assert refused.value.reason == reason


def test_a_stream_without_its_final_event_is_truncated() -> None:
    events = sealed(b"a", b"b", b"c")
    opener = StreamOpener(RESP_KEY, REQ_ID)
    opener.open(events[0])
    opener.open(events[1])
    with pytest.raises(StreamRejected, match="stream_truncated"):
        opener.finish()


def test_a_chunk_of_another_request_or_under_another_key_does_not_open() -> None:
    event = sealed(b"a")[0]
    for opener in (StreamOpener(RESP_KEY, REQ_ID + "x"), StreamOpener(bytes(32), REQ_ID)):
        with pytest.raises(StreamRejected, match="stream_tampered"):
            opener.open(event)


def test_keys_nonces_and_additional_data_are_bound_to_request_and_position() -> None:
    keys = stream_keys(RESP_KEY, REQ_ID)
    assert keys != stream_keys(RESP_KEY, REQ_ID + "x")
    assert len(keys.key) == 32
    assert len(keys.base_nonce) == 12
    assert chunk_nonce(keys.base_nonce, 0) == keys.base_nonce
    assert chunk_nonce(keys.base_nonce, 1) != chunk_nonce(keys.base_nonce, 2)
    assert chunk_aad("r", 1, final=True) == b"\x00\x01r" + (1).to_bytes(8, "big") + b"\x01"
    with pytest.raises(ValueError, match="out of range"):
        chunk_nonce(keys.base_nonce, -1)


@pytest.mark.parametrize(
    "wire",
    [
        "id: 0\nevent: chunk\n\n",  # no data
        "id: 00\nevent: chunk\ndata: AAAAAAAAAAAAAAAAAAAAAA\n\n",  # not canonical
        "id: 0\nevent: other\ndata: AAAAAAAAAAAAAAAAAAAAAA\n\n",
        "id: 0\nid: 1\nevent: chunk\ndata: AAAAAAAAAAAAAAAAAAAAAA\n\n",
        "id: 0\nevent: chunk\ndata: AAAA+/AAAAAAAAAAAAAAAA\n\n",  # not base64url
        "id: 0\nevent: chunk\ndata: AAAA\n\n",  # shorter than a tag
        "retry: 10\nid: 0\nevent: chunk\ndata: AAAAAAAAAAAAAAAAAAAAAA\n\n",
    ],
)
def test_malformed_events_are_refused(wire: str) -> None:
    with pytest.raises(StreamRejected, match="stream_event"):
        list(parse_events(wire.split("\n")))


def test_an_event_cut_off_mid_way_is_truncated_and_comments_are_skipped() -> None:
    event = sealed(b"a")[0].encode().decode()
    assert list(parse_events((": keep-alive\n\n" + event).split("\n"))) == sealed(b"a")
    with pytest.raises(StreamRejected, match="stream_truncated"):
        list(parse_events(event.rstrip("\n").split("\n")))


def test_the_sealer_refuses_to_seal_after_the_final_event() -> None:
    sealer = StreamSealer(RESP_KEY, REQ_ID)
    sealer.seal(b"end", final=True)
    with pytest.raises(RuntimeError):
        sealer.seal(b"more")
