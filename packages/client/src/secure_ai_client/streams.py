"""Streamed chat answers: `ChatStream` and `AsyncChatStream`, iterators of released text.

    with client.chat_completions(model="default", messages=messages, stream=True) as stream:
        for delta in stream:
            print(delta, end="", flush=True)
    print(stream.verdict.decision, stream.usage)

The gateway answers a streamed request (routes.STREAM_ROUTE) with `text/event-stream`: one
AES-256-GCM chunk per server-sent event, then one final event carrying the verdict
(secure_ai_protocol.stream defines the format; `StreamOpener` checks it). The body is read as it
arrives; every event is opened, in order, before its text is yielded, so each delta is authentic
and in place. Whether the answer is *complete* is known only at the end: a gap, a reordering, a
duplicate, a tampered or foreign event, a body that ends without the final event, or anything after
it raises `StreamBroken` (a `ResponseRejected`) at the point it is seen, and the stream then has no
verdict. A caller that shows deltas as they come must be ready to retract them on that error.

A blocked stream is not an error: it ends normally with a final event whose verdict is `block`
(finish reason `content_filter`), like a buffered answer, whose `text` is None when blocked. Here
too `text` is None; `released_text` holds the deltas that were yielded before the block (the
gateway screened them before releasing them; the block concerns what came after).

The response is bounded (`StreamLimits`): at most `max_events` events and `max_bytes` bytes of
body (`StreamBroken("stream_too_large")`), and `timeout_seconds` for the whole body
(`NetworkError("stream_timeout")`; each read also has the client's own timeout). The client asks
for an uncompressed body, so `max_bytes` bounds what is held in memory.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Final, Self

import anyio
import httpx
from pydantic import ValidationError

from secure_ai_client.errors import NetworkError, StreamBroken
from secure_ai_client.results import Usage, VerdictResult
from secure_ai_protocol.stream import (
    MAX_EVENT_CIPHERTEXT_BYTES,
    TAG_BYTES,
    StreamOpener,
    StreamRejected,
    parse_events,
)
from secure_ai_protocol.wire.stream import StreamDelta, StreamFinal

# The longest line a valid event has: "data: " and the largest ciphertext parse_events accepts.
MAX_LINE_BYTES: Final = len("data: ") + (MAX_EVENT_CIPHERTEXT_BYTES + TAG_BYTES) * 4 // 3 + 4
DEFAULT_STREAM_TIMEOUT_SECONDS: Final = 300.0
_clock = time.monotonic  # the overall timeout's clock (a test replaces it)


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """How much of a streamed answer the client reads before it gives up on it.

    The defaults are far above a chat answer (a chunk is a few hundred bytes) and far below what
    would hurt a client: 20,000 events, 8 MiB of body, 5 minutes in all.
    """

    max_events: int = 20_000
    max_bytes: int = 8 * 1024 * 1024
    timeout_seconds: float = DEFAULT_STREAM_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if self.max_events < 1 or self.max_bytes < 1 or not self.timeout_seconds > 0:
            raise ValueError("stream limits must be positive")


class StreamJudge:
    """The client's side of one answer stream, without I/O: bytes in, released deltas out.

    `feed` takes the body as it arrives (any split), `end` says the transport ended. Both raise
    StreamBroken for anything the protocol refuses, and for a body over the limits.
    """

    def __init__(self, resp_key: bytes, req_id: str, limits: StreamLimits) -> None:
        self._opener = StreamOpener(resp_key, req_id)
        self._req_id = req_id
        self._limits = limits
        self._buffer = bytearray()  # the current line, not yet ended
        self._lines: list[str] = []  # the current event's lines, not yet closed by a blank line
        self._received = 0
        self._events = 0
        self._refusal: StreamBroken | None = None
        self.final: StreamFinal | None = None
        self.ended = False

    def feed(self, data: bytes) -> list[str]:
        """The deltas these bytes complete (the final event's own delta is held until `end`).

        Deltas of events that opened before a refusal in the same bytes are returned first; the
        refusal is raised by the next call (`check`, `feed` or `end`).
        """
        self.check()
        deltas: list[str] = []
        try:
            self._feed(data, deltas)
        except StreamBroken as refused:
            if not deltas:
                raise
            self._refusal = refused
        return deltas

    def check(self) -> None:
        """Raise the refusal held back by `feed`, if any."""
        if self._refusal is not None:
            raise self._refusal

    def _feed(self, data: bytes, deltas: list[str]) -> None:
        self._received += len(data)
        if self._received > self._limits.max_bytes:
            raise StreamBroken("stream_too_large")
        self._buffer += data
        while (end := self._buffer.find(b"\n")) >= 0:
            if self.final is not None:
                raise StreamBroken("stream_after_final")
            line = _line(bytes(self._buffer[:end]))
            del self._buffer[: end + 1]
            if line:
                self._lines.append(line)
            else:
                deltas.extend(self._close_event())
        if self._buffer and self.final is not None:
            raise StreamBroken("stream_after_final")
        if len(self._buffer) > MAX_LINE_BYTES:
            raise StreamBroken("stream_event")

    def end(self) -> list[str]:
        """The transport ended: the final event's delta, unless the stream is incomplete."""
        self.check()
        if self._buffer:
            raise StreamBroken("stream_truncated")  # cut off mid-line
        try:
            list(parse_events(self._lines))  # comments only, or an event cut off before its blank line
            self._opener.finish()
        except StreamRejected as exc:
            raise StreamBroken(exc.reason) from None
        if self.final is None:  # pragma: no cover - finish() refuses a stream without its final event
            raise StreamBroken("stream_truncated")
        self.ended = True
        return [self.final.delta] if self.final.delta else []

    def _close_event(self) -> list[str]:
        lines, self._lines = self._lines, []
        try:
            events = list(parse_events([*lines, ""]))
        except StreamRejected as exc:
            raise StreamBroken(exc.reason) from None
        deltas: list[str] = []
        for event in events:  # at most one: the lines of one event
            self._events += 1
            if self._events > self._limits.max_events:
                raise StreamBroken("stream_too_large")
            try:
                plaintext = self._opener.open(event)
            except StreamRejected as exc:
                raise StreamBroken(exc.reason) from None
            try:
                if not event.final:
                    deltas.append(StreamDelta.model_validate_json(plaintext).delta)
                    continue
                final = StreamFinal.model_validate_json(plaintext)
            except ValidationError:
                raise StreamBroken("malformed_payload") from None
            if final.req_id != self._req_id:
                # Already bound by the additional data; the payload must agree with it.
                raise StreamBroken("req_id_mismatch")
            self.final = final
        return [delta for delta in deltas if delta]


def _line(raw: bytes) -> str:
    # Events are ASCII; "\r\n" line ends are accepted as well as "\n".
    try:
        return raw.removesuffix(b"\r").decode("ascii")
    except UnicodeDecodeError:
        raise StreamBroken("stream_event") from None


class _StreamView:
    """What both streams show once they have ended: the verdict, usage, and text."""

    req_id: str
    _judge: StreamJudge
    _released: list[str]

    @property
    def finished(self) -> bool:
        """True once the final event arrived and the body ended after it: the answer is complete."""
        return self._judge.ended

    @property
    def verdict(self) -> VerdictResult:
        """The verdict on the whole answer (RuntimeError until the stream has ended)."""
        return self._final().verdict

    @property
    def usage(self) -> Usage | None:
        """Token usage, when the gateway reports it."""
        return self._final().usage

    @property
    def finish_reason(self) -> str | None:
        """`stop`, `length`, or `content_filter` when blocked."""
        return self._final().finish_reason

    @property
    def blocked(self) -> bool:
        """True when screening withheld (the rest of) the answer."""
        return self.verdict.decision == "block"

    @property
    def text(self) -> str | None:
        """The whole released answer, or None when blocked (as `ChatResult.text`)."""
        return None if self.blocked else self.released_text

    @property
    def released_text(self) -> str:
        """Every delta yielded so far, joined (screened and released, even in a blocked stream)."""
        return "".join(self._released)

    def _final(self) -> StreamFinal:
        final = self._judge.final
        if final is None or not self._judge.ended:
            raise RuntimeError("the stream has not ended: iterate it to the end first (or it failed)")
        return final


class ChatStream(_StreamView):
    """A streamed answer: iterate it for the text deltas; then read `verdict`, `usage`, `text`.

    Iterate it once. Use it as a context manager (or call `close()`) to release the connection
    when you stop early; it closes itself at the end of the stream and on any error.
    """

    def __init__(
        self, response: httpx.Response, *, resp_key: bytes, req_id: str, limits: StreamLimits
    ) -> None:
        self.req_id = req_id
        self._response = response
        self._judge = StreamJudge(resp_key, req_id, limits)
        self._chunks = response.iter_bytes()
        self._deadline = _clock() + limits.timeout_seconds
        self._pending: collections.deque[str] = collections.deque()
        self._released = []
        self._closed = False

    def __repr__(self) -> str:
        return f"ChatStream(req_id={self.req_id!r}, finished={self.finished})"

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> str:
        while not self._pending:
            if self._closed:
                raise StopIteration
            try:
                self._read()
            except httpx.TransportError as exc:
                self.close()
                raise NetworkError(type(exc).__name__) from exc
            except BaseException:
                self.close()
                raise
        delta = self._pending.popleft()
        self._released.append(delta)
        return delta

    def _read(self) -> None:
        # A blocking read cannot be interrupted: each read has the client's timeout, and the
        # overall one is checked between reads.
        self._judge.check()
        chunk = next(self._chunks, None)
        if _clock() > self._deadline:
            raise NetworkError("stream_timeout")
        if chunk is None:
            self._pending.extend(self._judge.end())
            self.close()
        else:
            self._pending.extend(self._judge.feed(chunk))

    def close(self) -> None:
        """Stop reading and release the connection (nothing more is yielded)."""
        self._closed = True
        self._response.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncChatStream(_StreamView):
    """`ChatStream` for `AsyncSecureAIClient`: `async for delta in stream`, `async with`, `aclose()`."""

    def __init__(
        self, response: httpx.Response, *, resp_key: bytes, req_id: str, limits: StreamLimits
    ) -> None:
        self.req_id = req_id
        self._response = response
        self._judge = StreamJudge(resp_key, req_id, limits)
        self._chunks = response.aiter_bytes()
        self._deadline = _clock() + limits.timeout_seconds
        self._pending: collections.deque[str] = collections.deque()
        self._released = []
        self._closed = False

    def __repr__(self) -> str:
        return f"AsyncChatStream(req_id={self.req_id!r}, finished={self.finished})"

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> str:
        while not self._pending:
            if self._closed:
                raise StopAsyncIteration
            try:
                await self._read()
            except httpx.TransportError as exc:
                await self.aclose()
                raise NetworkError(type(exc).__name__) from exc
            except BaseException:
                await self.aclose()
                raise
        delta = self._pending.popleft()
        self._released.append(delta)
        return delta

    async def _read(self) -> None:
        self._judge.check()
        remaining = self._deadline - _clock()
        if remaining <= 0:
            raise NetworkError("stream_timeout")
        try:
            with anyio.fail_after(remaining):
                chunk = await anext(self._chunks, None)
        except TimeoutError:
            raise NetworkError("stream_timeout") from None
        if chunk is None:
            self._pending.extend(self._judge.end())
            await self.aclose()
        else:
            self._pending.extend(self._judge.feed(chunk))

    async def aclose(self) -> None:
        """Stop reading and release the connection (nothing more is yielded)."""
        self._closed = True
        await self._response.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
