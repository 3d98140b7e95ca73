"""The stream protocol at its exact limits: each bound at its value and one step past it.

Written from the mutation run over secure_ai_protocol/stream.py (`make mutate TARGET=stream`,
docs/protocol.md "Mutation testing"): the last sequence number, the largest event, the shortest
ciphertext, the byte order and length of every field of the additional data, the HKDF salt and info,
and the exact reason of every refusal (a reason is a fixed code: matching part of it is not enough).
"""

from __future__ import annotations

import re

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from secure_ai_protocol.stream import (
    MAX_EVENT_CIPHERTEXT_BYTES,
    PAYLOAD_TOO_LARGE,
    REQ_ID_TOO_LONG,
    StreamEvent,
    StreamOpener,
    StreamRejected,
    StreamSealer,
    chunk_aad,
    chunk_nonce,
    parse_events,
    stream_keys,
)


def exactly(message: str) -> str:
    """A `match` pattern for exactly `message` (not one that merely contains it)."""
    return f"^{re.escape(message)}$"


RESP_KEY = bytes(range(32))
REQ_ID = "Ym91bmRhcmllcy0wMDAwMDE"
LAST_SEQ = 4_294_967_295  # 2**32 - 1
# An event's ciphertext is at most 256 KiB plus the 16-byte tag: 262,160 bytes, whose unpadded
# base64url is 349,547 characters.
LARGEST_CIPHERTEXT = 262_160
LARGEST_DATA = 349_547
# parse_events refuses a longer `data` before decoding it; it allows 3 characters of slack past the
# largest legal encoding (the decoded ciphertext is then refused by StreamOpener.open).
LONGEST_PARSED_DATA = 349_550


def wire(seq: str, data: str, kind: str = "chunk") -> list[str]:
    return f"id: {seq}\nevent: {kind}\ndata: {data}\n\n".split("\n")


def refusal(lines: list[str]) -> str | None:
    with pytest.raises(StreamRejected) as refused:
        list(parse_events(lines))
    return refused.value.reason


# ----------------------------------------------------------------------------- keys and nonces


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_a_resp_key_of_any_length_but_32_bytes_is_refused(length: int) -> None:
    with pytest.raises(ValueError, match=r"^resp_key must be 32 bytes$"):
        stream_keys(bytes(length), REQ_ID)
    with pytest.raises(ValueError, match=r"^resp_key must be 32 bytes$"):
        StreamOpener(bytes(length), REQ_ID)


def test_the_keys_are_hkdf_sha256_with_the_stated_salt_and_info_over_utf8() -> None:
    req_id = "réq-ü"  # not ASCII: the salt is the UTF-8 bytes
    okm = HKDF(
        algorithm=hashes.SHA256(),
        length=44,
        salt=b"secure-ai-stream-v1:r\xc3\xa9q-\xc3\xbc",
        info=b"gateway-to-client",
    ).derive(RESP_KEY)
    keys = stream_keys(RESP_KEY, req_id)
    assert (keys.key, keys.base_nonce) == (okm[:32], okm[32:])


def test_the_nonce_is_the_base_nonce_xor_the_sequence_number_big_endian() -> None:
    base = bytes(range(0x10, 0x1C))
    assert chunk_nonce(base, 1) == base[:11] + bytes([base[11] ^ 0x01])
    assert chunk_nonce(base, 0x0102) == base[:10] + bytes([base[10] ^ 0x01, base[11] ^ 0x02])
    last = chunk_nonce(base, LAST_SEQ)
    assert last == base[:8] + bytes(b ^ 0xFF for b in base[8:])


@pytest.mark.parametrize("seq", [-1, LAST_SEQ + 1, 2**64])
def test_a_sequence_number_outside_0_to_2_32_minus_1_has_no_nonce(seq: int) -> None:
    with pytest.raises(ValueError, match=r"^sequence number out of range$"):
        chunk_nonce(bytes(12), seq)


@pytest.mark.parametrize("length", [11, 13])
def test_a_base_nonce_that_is_not_12_bytes_is_refused_not_truncated(length: int) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - zip(strict=True) says which argument ran out
        chunk_nonce(bytes(length), 0)


# ----------------------------------------------------------------------------- additional data


def test_the_additional_data_counts_the_request_id_in_utf8_bytes_big_endian() -> None:
    assert chunk_aad("é", 0, final=False) == b"\x00\x02\xc3\xa9" + bytes(8) + b"\x00"
    assert chunk_aad("a" * 256, 0, final=False)[:2] == b"\x01\x00"
    assert chunk_aad("a" * 65_535, 0, final=False)[:2] == b"\xff\xff"
    with pytest.raises(ValueError, match=exactly(REQ_ID_TOO_LONG)):
        chunk_aad("a" * 65_536, 0, final=False)


def test_a_request_id_the_additional_data_cannot_carry_is_refused_before_any_event() -> None:
    StreamSealer(bytes(32), "a" * 65_535)
    for side in (StreamSealer, StreamOpener):
        with pytest.raises(ValueError, match=exactly(REQ_ID_TOO_LONG)):
            side(bytes(32), "a" * 65_536)


def test_the_sealer_seals_the_largest_payload_an_opener_accepts_and_refuses_one_byte_more() -> None:
    sealer, opener = StreamSealer(bytes(32), "r"), StreamOpener(bytes(32), "r")
    largest = sealer.seal(b"x" * MAX_EVENT_CIPHERTEXT_BYTES)
    assert opener.open(largest) == b"x" * MAX_EVENT_CIPHERTEXT_BYTES
    with pytest.raises(ValueError, match=exactly(PAYLOAD_TOO_LARGE)):
        sealer.seal(b"x" * (MAX_EVENT_CIPHERTEXT_BYTES + 1))


def test_the_additional_data_carries_the_sequence_as_u64_big_endian_and_the_final_flag() -> None:
    assert chunk_aad("r", 1, final=False) == b"\x00\x01r" + b"\x00" * 7 + b"\x01" + b"\x00"
    assert chunk_aad("r", 1, final=True) == b"\x00\x01r" + b"\x00" * 7 + b"\x01" + b"\x01"
    assert chunk_aad("r", LAST_SEQ, final=True)[3:] == b"\x00\x00\x00\x00\xff\xff\xff\xff\x01"


# ----------------------------------------------------------------------------- sealer and opener


def test_the_sealer_seals_chunks_unless_told_final_and_nothing_after_the_final_one() -> None:
    sealer = StreamSealer(RESP_KEY, REQ_ID)
    first = sealer.seal(b"a")
    assert (first.seq, first.final) == (0, False)
    assert sealer.seal(b"b", final=True).final is True
    with pytest.raises(RuntimeError, match=r"^the stream already ended$"):
        sealer.seal(b"c")


def test_an_opener_is_unfinished_until_the_final_event_and_finished_after() -> None:
    events = [StreamSealer(RESP_KEY, REQ_ID).seal(b"only", final=True)]
    opener = StreamOpener(RESP_KEY, REQ_ID)
    assert opener.finished is False
    assert opener.open(events[0]) == b"only"
    assert opener.finished is True


def test_the_last_sequence_number_is_sealed_parsed_and_opened_and_the_next_is_not_sealed() -> None:
    sealer, opener = StreamSealer(RESP_KEY, REQ_ID), StreamOpener(RESP_KEY, REQ_ID)
    # No test seals four billion chunks: both ends are moved to the last position.
    sealer._next = opener._next = LAST_SEQ
    event = sealer.seal(b"last")
    assert event.seq == LAST_SEQ
    (parsed,) = parse_events(event.encode().decode("ascii").split("\n"))
    assert parsed == event
    assert opener.open(parsed) == b"last"
    with pytest.raises(ValueError, match=r"^sequence number out of range$"):
        sealer.seal(b"one more")


def test_the_largest_event_opens_and_one_byte_more_is_refused_before_decryption() -> None:
    largest = StreamSealer(RESP_KEY, REQ_ID).seal(bytes(LARGEST_CIPHERTEXT - 16))
    assert len(largest.ciphertext) == LARGEST_CIPHERTEXT
    data = largest.encode().decode("ascii").split("\n")[2].removeprefix("data: ")
    assert len(data) == LARGEST_DATA
    (parsed,) = parse_events(wire("0", data))
    assert StreamOpener(RESP_KEY, REQ_ID).open(parsed) == bytes(LARGEST_CIPHERTEXT - 16)
    # At the bound an event is decrypted (and these bytes fail their tag); past it, it is not.
    for length, reason in [(LARGEST_CIPHERTEXT, "stream_tampered"), (LARGEST_CIPHERTEXT + 1, "stream_event")]:
        with pytest.raises(StreamRejected) as refused:
            StreamOpener(RESP_KEY, REQ_ID).open(StreamEvent(seq=0, final=False, ciphertext=bytes(length)))
        assert refused.value.reason == reason


def test_the_longest_data_parses_and_one_character_more_is_refused_before_decoding() -> None:
    (longest,) = parse_events(wire("0", "A" * LONGEST_PARSED_DATA))
    assert len(longest.ciphertext) == 262_162
    with pytest.raises(StreamRejected) as refused:
        StreamOpener(RESP_KEY, REQ_ID).open(longest)
    assert refused.value.reason == "stream_event"
    assert refusal(wire("0", "A" * (LONGEST_PARSED_DATA + 1))) == "stream_event"


def test_a_ciphertext_of_just_a_tag_parses_and_one_byte_shorter_does_not() -> None:
    empty = StreamSealer(RESP_KEY, REQ_ID).seal(b"", final=True)
    assert len(empty.ciphertext) == 16
    (parsed,) = parse_events(empty.encode().decode("ascii").split("\n"))
    assert StreamOpener(RESP_KEY, REQ_ID).open(parsed) == b""
    assert refusal(wire("0", "A" * 20)) == "stream_event"  # 15 bytes


# ----------------------------------------------------------------------------- the event's fields


def test_the_largest_id_parses_and_the_next_is_refused() -> None:
    (event,) = parse_events(wire(str(LAST_SEQ), "A" * 22))
    assert event.seq == LAST_SEQ
    assert refusal(wire(str(LAST_SEQ + 1), "A" * 22)) == "stream_event"
    assert refusal(wire("9999999999", "A" * 22)) == "stream_event"
    assert refusal(wire("10000000000", "A" * 22)) == "stream_event"


def test_the_space_after_a_field_name_is_optional_as_sse_allows() -> None:
    (event,) = parse_events(["id:7", "event:final", "data:" + "A" * 22, ""])
    assert (event.seq, event.final, event.ciphertext) == (7, True, bytes(16))


@pytest.mark.parametrize(
    "lines",
    [
        ["id: 0", "event: chunk", "data: " + "A" * 22, "id: 1", ""],  # a field twice
        ["id: 0", "event: chunk", "data: " + "A" * 22, "retry: 1", ""],  # another field
        ["id: 0", "event: chunk", ""],  # a field missing
        ["id: 0", "event: Chunk", "data: " + "A" * 22, ""],  # another event type
        ["id: +1", "event: chunk", "data: " + "A" * 22, ""],  # not a canonical decimal
        ["id: 0", "event: chunk", "data: " + "A" * 21 + "=", ""],  # padded
        ["id: 0", "event: chunk", "data:  " + "A" * 22, ""],  # a second space is part of the value
        ["id 0", "event: chunk", "data: " + "A" * 22, ""],  # no colon
        ["id0", "event: chunk", "data: " + "A" * 22, ""],
        ["id: 0", "event: chunk", "data: " + "A" * 25, ""],  # 25 characters are no base64
        ["id: 0", "event: chunk", "data: " + "A" * 20, ""],  # shorter than a tag
    ],
    ids=[
        "duplicate",
        "unknown",
        "missing",
        "type",
        "id",
        "padded",
        "space",
        "no-colon",
        "no-colon-no-space",
        "not-base64",
        "short",
    ],
)
def test_each_malformed_event_is_refused_with_exactly_stream_event(lines: list[str]) -> None:
    assert refusal(lines) == "stream_event"


def test_an_event_not_closed_by_a_blank_line_is_refused_with_exactly_stream_truncated() -> None:
    assert refusal(["id: 0", "event: chunk", "data: " + "A" * 22]) == "stream_truncated"
