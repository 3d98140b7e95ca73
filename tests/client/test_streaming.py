"""Streamed answers: deltas in order, then the verdict; anything out of place refused, sync and async.

The fake gateway seals each answer with the protocol's own `StreamSealer` and sends it piece by
piece through httpx.MockTransport; `stream_mangle` drops, reorders, cuts or alters what goes out.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from secure_ai_client.client import AsyncSecureAIClient, SecureAIClient
from secure_ai_client.errors import (
    NetworkError,
    RateLimited,
    ResponseRejected,
    StreamBroken,
    Unauthorized,
    Unavailable,
)
from secure_ai_client.results import ChatResult
from secure_ai_client.streams import MAX_LINE_BYTES, AsyncChatStream, ChatStream, StreamJudge, StreamLimits
from secure_ai_protocol.routes import STREAM_ROUTE
from secure_ai_protocol.stream import StreamSealer
from tests.client.fake_gateway import BLOCK_VERDICT, FakeGateway, StreamMangle, json_response, stream_events

MakeClient = Callable[..., SecureAIClient]
MakeAsyncClient = Callable[..., AsyncSecureAIClient]
HELLO = [{"role": "user", "content": "Hello"}]
REQUEST_ID = "7446362f-a60a-4c7f-a71f-0132c5466c8e"
CODES = {401: "unauthorized", 429: "too_many_requests", 503: "service_unavailable"}
ANSWER = ["Hel", "lo from the ", "fake", " model."]


def collect(stream: ChatStream) -> list[str]:
    with stream:
        return list(stream)


async def acollect(stream: AsyncChatStream) -> list[str]:
    async with stream:
        return [delta async for delta in stream]


# ----------------------------------------------------------------------------- how to spoil a stream


def flip_data_byte(event: bytes) -> bytes:
    """The event with one character of its ciphertext changed (mid-way: every bit there counts)."""
    at = event.index(b"data: ") + len(b"data: ") + 10
    replacement = b"A" if event[at : at + 1] != b"A" else b"B"
    return event[:at] + replacement + event[at + 1 :]


def foreign(index: int, *, req_id: str | None = None, resp_key: bytes | None = None) -> StreamMangle:
    """Event `index` replaced by the same position of another request's (or another key's) stream."""

    def mangle(events: list[bytes], key: bytes, rid: str) -> list[bytes]:
        other = stream_events(
            resp_key or key,
            req_id or rid,
            ANSWER,
            final_payload={"delta": "", "req_id": rid, "verdict": BLOCK_VERDICT},
        )
        return [*events[:index], other[index], *events[index + 1 :]]

    return mangle


def resealed(*payloads: bytes) -> StreamMangle:
    """A stream of the given plaintexts (the last one final), correctly sealed for this request."""

    def mangle(events: list[bytes], key: bytes, rid: str) -> list[bytes]:
        sealer = StreamSealer(key, rid)
        last = len(payloads) - 1
        return [sealer.seal(payload, final=at == last).encode() for at, payload in enumerate(payloads)]

    return mangle


def joined(cut: Callable[[bytes], bytes]) -> StreamMangle:
    return lambda events, key, rid: [cut(b"".join(events))]


TAMPERING: list[tuple[str, StreamMangle, str]] = [
    ("dropped", lambda e, k, r: [e[0], *e[2:]], "stream_order"),
    ("reordered", lambda e, k, r: [e[1], e[0], *e[2:]], "stream_order"),
    ("duplicated", lambda e, k, r: [e[0], e[0], *e[1:]], "stream_order"),
    ("renumbered", lambda e, k, r: [e[0], e[1].replace(b"id: 1\n", b"id: 2\n"), *e[2:]], "stream_order"),
    ("cut-mid-line", joined(lambda body: body[:-30]), "stream_truncated"),
    ("cut-mid-chunk", lambda e, k, r: [e[0], e[1][:25]], "stream_truncated"),
    ("cut-before-blank-line", joined(lambda body: body[:-1]), "stream_truncated"),
    ("cut-before-final", lambda e, k, r: e[:-1], "stream_truncated"),
    ("empty-body", lambda e, k, r: [], "stream_truncated"),
    ("event-after-final", lambda e, k, r: [*e, e[0]], "stream_after_final"),
    ("comment-after-final", lambda e, k, r: [*e, b": keep-alive\n\n"], "stream_after_final"),
    ("byte-after-final", lambda e, k, r: [*e, b"\n"], "stream_after_final"),
    ("flipped-byte", lambda e, k, r: [e[0], flip_data_byte(e[1]), *e[2:]], "stream_tampered"),
    ("another-requests-event", foreign(1, req_id="another-request-nonce-00"), "stream_tampered"),
    ("another-keys-event", foreign(2, resp_key=bytes(32)), "stream_tampered"),
    (
        "final-demoted",
        lambda e, k, r: [*e[:-1], e[-1].replace(b"event: final", b"event: chunk")],
        "stream_tampered",
    ),
    (
        "chunk-promoted",
        lambda e, k, r: [e[0], e[1].replace(b"event: chunk", b"event: final")],
        "stream_tampered",
    ),
    ("unknown-field", lambda e, k, r: [e[0], b"retry: 10\n\n", *e[1:]], "stream_event"),
    ("not-ascii", lambda e, k, r: [e[0], b"data: \xc3\xa9\n\n", *e[1:]], "stream_event"),
    ("overlong-line", lambda e, k, r: [b"data: " + b"A" * MAX_LINE_BYTES], "stream_event"),
    ("chunk-not-json", resealed(b"not json", b'{"delta": ""}'), "malformed_payload"),
    (
        "chunk-with-a-verdict",
        resealed(json.dumps({"delta": "x", "verdict": BLOCK_VERDICT}).encode(), b"{}"),
        "malformed_payload",
    ),
    (
        "final-without-verdict",
        resealed(b'{"delta": "Hel"}', b'{"delta": "", "req_id": "x"}'),
        "malformed_payload",
    ),
]
TAMPERING_IDS = [name for name, _, _ in TAMPERING]
TAMPERING_CASES = [(mangle, reason) for _, mangle, reason in TAMPERING]


# ----------------------------------------------------------------------------- an intact stream


@pytest.mark.parametrize("mode", ["server", "mobile"])
def test_a_stream_yields_its_deltas_in_order_then_the_verdict_and_usage(
    make_client: MakeClient, gateway: FakeGateway, mode: str
) -> None:
    stream = make_client(mode).chat_completions(model="gpt-4o-mini", messages=HELLO, stream=True)

    assert collect(stream) == ANSWER
    assert stream.finished
    assert stream.text == stream.released_text == "Hello from the fake model."
    assert (stream.verdict.decision, stream.finish_reason, stream.blocked) == ("allow", "stop", False)
    assert stream.usage is not None
    assert stream.usage.total_tokens == 18
    assert stream.req_id == gateway.signatures[0].nonce == gateway.opened[0].nonce
    assert gateway.bodies[0].closed


def test_a_streamed_request_is_sealed_for_the_stream_route_with_stream_true(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    collect(make_client().chat_completions(model="gpt-4o-mini", messages=HELLO, stream=True, max_tokens=20))

    opened = gateway.opened[0]
    assert opened.route == STREAM_ROUTE
    assert opened.plaintext["request"] | {} == {
        "model": "gpt-4o-mini",
        "messages": HELLO,
        "max_tokens": 20,
        "stream": True,
    }
    headers = gateway.requests[0].headers
    assert (headers["accept"], headers["accept-encoding"]) == ("text/event-stream", "identity")


def test_a_buffered_call_still_goes_to_the_buffered_route_without_a_stream_flag(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    result: ChatResult = make_client().chat_completions(model="gpt-4o-mini", messages=HELLO, stream=False)

    assert result.text == "Hello from the fake model."
    assert "stream" not in gateway.opened[0].plaintext["request"]


def test_deltas_are_yielded_as_the_body_arrives_not_after_it(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    gateway.stream_piece_bytes = 9
    with make_client().chat_completions(model="gpt-4o-mini", messages=HELLO, stream=True) as stream:
        assert next(stream) == "Hel"
        body = gateway.bodies[0]
        assert body.sent < len(body.pieces) / 2
        assert stream.released_text == "Hel"
        with pytest.raises(RuntimeError, match="has not ended"):
            _ = stream.verdict
        assert list(stream) == ANSWER[1:]


@pytest.mark.parametrize("piece_bytes", [1, 2, 7, 64, 100_000])
def test_any_split_of_the_body_gives_the_same_deltas(
    make_client: MakeClient, gateway: FakeGateway, piece_bytes: int
) -> None:
    gateway.stream_piece_bytes = piece_bytes
    assert collect(make_client().chat_completions(model="m", messages=HELLO, stream=True)) == ANSWER


def test_keep_alive_comments_crlf_line_ends_and_empty_deltas_are_accepted(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    gateway.stream_deltas = ["a", "", "b"]
    gateway.stream_final_delta = "c"
    gateway.stream_mangle = lambda e, k, r: [
        b": keep-alive\n\n",
        e[0].replace(b"\n", b"\r\n"),
        b"\n",
        *e[1:],
    ]

    stream = make_client().chat_completions(model="m", messages=HELLO, stream=True)

    assert collect(stream) == ["a", "b", "c"]
    assert stream.text == "abc"


def test_a_blocked_stream_ends_normally_with_text_none_and_what_was_released(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    gateway.stream_deltas = ["Here is the key: "]
    gateway.verdict = BLOCK_VERDICT

    stream = make_client().chat_completions(model="m", messages=HELLO, stream=True)

    assert collect(stream) == ["Here is the key: "]
    assert stream.blocked
    assert stream.text is None
    assert stream.released_text == "Here is the key: "
    assert (stream.finish_reason, stream.verdict.finding_types) == ("content_filter", ("aws_access_key",))


def test_stopping_early_closes_the_connection_and_yields_nothing_more(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    with make_client().chat_completions(model="m", messages=HELLO, stream=True) as stream:
        assert next(stream) == "Hel"
    assert gateway.bodies[0].closed
    assert list(stream) == []
    assert not stream.finished
    with pytest.raises(RuntimeError):
        _ = stream.text


def test_a_device_client_renews_its_key_before_streaming(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client()
    renewals: list[str] = []
    monkeypatch.setattr(client, "_renew_if_due", lambda: renewals.append("checked"))

    collect(client.chat_completions(model="m", messages=HELLO, stream=True))

    assert renewals == ["checked"]


# ----------------------------------------------------------------------------- refused streams


@pytest.mark.parametrize("piece_bytes", [None, 5])
@pytest.mark.parametrize(("mangle", "reason"), TAMPERING_CASES, ids=TAMPERING_IDS)
def test_a_tampered_dropped_reordered_or_truncated_stream_is_refused(
    make_client: MakeClient, gateway: FakeGateway, mangle: StreamMangle, reason: str, piece_bytes: int | None
) -> None:
    gateway.stream_mangle, gateway.stream_piece_bytes = mangle, piece_bytes
    stream = make_client().chat_completions(model="m", messages=HELLO, stream=True)
    yielded: list[str] = []

    with pytest.raises(StreamBroken) as refused:
        yielded.extend(stream)

    assert refused.value.reason == reason
    assert isinstance(refused.value, ResponseRejected)
    assert ANSWER[: len(yielded)] == yielded  # what came out before the refusal was authentic and in order
    assert gateway.bodies[0].closed
    assert not stream.finished
    with pytest.raises(RuntimeError):
        _ = stream.verdict
    assert list(stream) == []


@pytest.mark.parametrize(
    ("knob", "reason"),
    [("payload_req_id", "req_id_mismatch"), ("seal_for_req_id", "stream_tampered")],
)
def test_a_stream_for_another_request_is_refused(
    make_client: MakeClient, gateway: FakeGateway, knob: str, reason: str
) -> None:
    setattr(gateway, knob, "another-request-nonce-00")

    with pytest.raises(StreamBroken) as refused:
        collect(make_client().chat_completions(model="m", messages=HELLO, stream=True))

    assert refused.value.reason == reason


@pytest.mark.parametrize(
    "limits", [StreamLimits(max_events=2), StreamLimits(max_bytes=200)], ids=["events", "bytes"]
)
def test_a_stream_over_the_clients_limits_is_refused(
    make_client: MakeClient, gateway: FakeGateway, limits: StreamLimits
) -> None:
    gateway.stream_piece_bytes = 50
    with pytest.raises(StreamBroken, match="stream_too_large"):
        collect(make_client(stream_limits=limits).chat_completions(model="m", messages=HELLO, stream=True))
    assert gateway.bodies[0].closed
    assert gateway.bodies[0].sent < len(gateway.bodies[0].pieces)


def test_a_stream_slower_than_its_overall_timeout_is_a_network_error(
    make_client: MakeClient, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = itertools.count(0, 40)
    monkeypatch.setattr("secure_ai_client.streams._clock", lambda: next(clock))

    client = make_client(stream_limits=StreamLimits(timeout_seconds=100))
    with pytest.raises(NetworkError) as failed:
        collect(client.chat_completions(model="m", messages=HELLO, stream=True))

    assert failed.value.kind == "stream_timeout"
    assert gateway.bodies[0].closed


def test_a_connection_dropped_mid_stream_is_a_network_error(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    gateway.stream_fail_after = 2
    stream = make_client().chat_completions(model="m", messages=HELLO, stream=True)

    with pytest.raises(NetworkError, match="ReadError"):
        collect(stream)
    assert stream.released_text == "Hello from the "


@pytest.mark.parametrize("limits", [{"max_events": 0}, {"max_bytes": -1}, {"timeout_seconds": 0}])
def test_limits_must_be_positive(limits: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="positive"):
        StreamLimits(**limits)


# ----------------------------------------------------------------------------- refused before the stream


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [(401, {}, Unauthorized), (429, {"Retry-After": "7"}, RateLimited), (503, {}, Unavailable)],
)
def test_an_error_status_before_the_stream_raises_its_usual_exception(
    make_client: MakeClient,
    gateway: FakeGateway,
    status: int,
    headers: dict[str, str],
    expected: type[Exception],
) -> None:
    code = CODES[status]
    gateway.canned = json_response(
        status, {"error": code, "message": "generic"}, **{"x-amzn-RequestId": REQUEST_ID, **headers}
    )

    with pytest.raises(expected) as raised:
        make_client().chat_completions(model="m", messages=HELLO, stream=True)

    assert str(raised.value) == f"{status} {code} (request id {REQUEST_ID})"
    if isinstance(raised.value, RateLimited):
        assert raised.value.retry_after == 7


def test_an_oversized_error_body_is_read_only_in_part(make_client: MakeClient, gateway: FakeGateway) -> None:
    gateway.canned = httpx.Response(503, content=b"x" * 1_000_000, headers={"Content-Type": "text/plain"})

    with pytest.raises(Unavailable) as raised:
        make_client().chat_completions(model="m", messages=HELLO, stream=True)

    assert raised.value.code is None


@pytest.mark.parametrize(
    ("status", "content_type", "reason"),
    [
        (200, "application/json", "not_an_event_stream"),
        (200, "application/vnd.secure-ai.envelope", "not_an_event_stream"),
        (203, "text/event-stream", "unexpected_status"),
    ],
)
def test_a_success_that_is_not_an_event_stream_is_refused(
    make_client: MakeClient, gateway: FakeGateway, status: int, content_type: str, reason: str
) -> None:
    gateway.canned = httpx.Response(status, content=b"{}", headers={"Content-Type": content_type})

    with pytest.raises(ResponseRejected) as refused:
        make_client().chat_completions(model="m", messages=HELLO, stream=True)

    assert refused.value.reason == reason
    assert not isinstance(refused.value, StreamBroken)


def test_event_stream_parameters_in_the_content_type_are_accepted(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    gateway.stream_content_type = "Text/Event-Stream; charset=utf-8"
    assert collect(make_client().chat_completions(model="m", messages=HELLO, stream=True)) == ANSWER


# ----------------------------------------------------------------------------- the async client


@pytest.mark.parametrize("mode", ["server", "mobile"])
def test_an_async_stream_yields_its_deltas_then_the_verdict(
    make_async_client: MakeAsyncClient, gateway: FakeGateway, mode: str
) -> None:
    gateway.stream_piece_bytes = 11

    async def scenario() -> tuple[list[str], AsyncChatStream]:
        async with make_async_client(mode) as client:
            stream = await client.chat_completions(model="gpt-4o-mini", messages=HELLO, stream=True)
            return await acollect(stream), stream

    deltas, stream = asyncio.run(scenario())
    assert deltas == ANSWER
    assert (stream.text, stream.verdict.decision, stream.req_id) == (
        "Hello from the fake model.",
        "allow",
        gateway.signatures[0].nonce,
    )
    assert gateway.opened[0].route == STREAM_ROUTE
    assert gateway.opened[0].plaintext["request"]["stream"] is True
    assert gateway.bodies[0].closed


@pytest.mark.parametrize(("mangle", "reason"), TAMPERING_CASES, ids=TAMPERING_IDS)
def test_an_async_stream_refuses_the_same_tampering(
    make_async_client: MakeAsyncClient, gateway: FakeGateway, mangle: StreamMangle, reason: str
) -> None:
    gateway.stream_mangle, gateway.stream_piece_bytes = mangle, 6

    async def scenario() -> AsyncChatStream:
        async with make_async_client() as client:
            stream = await client.chat_completions(model="m", messages=HELLO, stream=True)
            with pytest.raises(StreamBroken) as refused:
                await acollect(stream)
            assert refused.value.reason == reason
            return stream

    stream = asyncio.run(scenario())
    assert gateway.bodies[0].closed
    assert not stream.finished


def test_an_async_blocked_stream_ends_normally(
    make_async_client: MakeAsyncClient, gateway: FakeGateway
) -> None:
    gateway.verdict = BLOCK_VERDICT
    gateway.stream_deltas = ["partial"]

    async def scenario() -> AsyncChatStream:
        async with make_async_client() as client:
            stream = await client.chat_completions(model="m", messages=HELLO, stream=True)
            assert await acollect(stream) == ["partial"]
            return stream

    stream = asyncio.run(scenario())
    assert (stream.blocked, stream.text, stream.released_text) == (True, None, "partial")


@pytest.mark.parametrize(
    ("status", "headers", "expected"), [(401, {}, Unauthorized), (429, {"Retry-After": "7"}, RateLimited)]
)
def test_an_async_error_status_before_the_stream_raises_its_usual_exception(
    make_async_client: MakeAsyncClient,
    gateway: FakeGateway,
    status: int,
    headers: dict[str, str],
    expected: type[Exception],
) -> None:
    code = CODES[status]
    gateway.canned = json_response(status, {"error": code, "message": "generic"}, **headers)

    async def scenario() -> None:
        async with make_async_client() as client:
            await client.chat_completions(model="m", messages=HELLO, stream=True)

    with pytest.raises(expected) as raised:
        asyncio.run(scenario())
    if isinstance(raised.value, RateLimited):
        assert raised.value.retry_after == 7


def test_an_async_stream_slower_than_its_overall_timeout_is_a_network_error(
    make_async_client: MakeAsyncClient, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = itertools.count(0, 40)
    monkeypatch.setattr("secure_ai_client.streams._clock", lambda: next(clock))

    async def scenario() -> None:
        async with make_async_client(stream_limits=StreamLimits(timeout_seconds=100)) as client:
            await acollect(await client.chat_completions(model="m", messages=HELLO, stream=True))

    with pytest.raises(NetworkError, match="stream_timeout"):
        asyncio.run(scenario())
    assert gateway.bodies[0].closed


def test_an_async_connection_dropped_mid_stream_is_a_network_error(
    make_async_client: MakeAsyncClient, gateway: FakeGateway
) -> None:
    gateway.stream_fail_after = 1

    async def scenario() -> None:
        async with make_async_client() as client:
            await acollect(await client.chat_completions(model="m", messages=HELLO, stream=True))

    with pytest.raises(NetworkError, match="ReadError"):
        asyncio.run(scenario())


# ----------------------------------------------------------------------------- the cross-language vectors

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "docs/vectors/stream-vectors.json").read_text(encoding="utf-8")
)


def judged(vector: dict[str, Any], piece_bytes: int) -> tuple[list[str], str | None, StreamJudge]:
    """The SDK's reading of a vector body fed in pieces: deltas yielded, and the refusal (or None)."""
    judge = StreamJudge(bytes.fromhex(VECTORS["resp_key_hex"]), vector["req_id"], StreamLimits())
    body = vector["body"].encode("ascii")
    deltas: list[str] = []
    try:
        for start in range(0, len(body), piece_bytes):
            deltas.extend(judge.feed(body[start : start + piece_bytes]))
        deltas.extend(judge.end())
    except StreamBroken as refused:
        return deltas, refused.reason, judge
    return deltas, None, judge


@pytest.mark.parametrize("piece_bytes", [1, 13, 1_000_000])
@pytest.mark.parametrize("vector", VECTORS["streams"], ids=[vector["name"] for vector in VECTORS["streams"]])
def test_the_sdk_reads_every_intact_vector_stream(vector: dict[str, Any], piece_bytes: int) -> None:
    deltas, refusal, judge = judged(vector, piece_bytes)

    assert (deltas, refusal) == (vector["expected_deltas"], None)
    assert judge.final is not None
    assert judge.ended


@pytest.mark.parametrize("piece_bytes", [1, 13, 1_000_000])
@pytest.mark.parametrize(
    "vector", VECTORS["rejections"], ids=[vector["name"] for vector in VECTORS["rejections"]]
)
def test_the_sdk_refuses_every_vector_rejection_with_its_reason(
    vector: dict[str, Any], piece_bytes: int
) -> None:
    deltas, refusal, judge = judged(vector, piece_bytes)

    assert (deltas, refusal) == (vector["expected_deltas_before_error"], vector["expected_error"])
    assert not judge.ended
    if vector["expected_error"] == "req_id_mismatch":
        assert judge.final is None  # another request's verdict is never kept
