"""One streamed chat completion (routes.STREAM_ROUTE), inside the streaming function.

Up to the model call it is the buffered completion (services/completion.py, `CompletionSteps`):
verified body → decrypt for this route → the request, which must ask for `stream: true` → client
policy → screening policy, output schema, digest key → input protected, canary planted → budget
reserved. Then the model streams: each delta goes through the stream screen (port `StreamScreen`),
each non-empty piece it releases is sealed as a `chunk` event (secure_ai_protocol.stream,
`StreamDelta`), and the answer ends with exactly one `final` event (`StreamFinal`: verdict, usage,
finish reason). The budget is settled with the provider's usage when the stream ends.

Two phases, because HTTP commits the status before the body:

- `open(call)` runs everything up to the model's first piece. Any refusal here, including the
  provider refusing or failing before its first delta, is a `ProtocolError`: the handler answers
  it as a plain JSON error with its status (api/statuses.py), and nothing was streamed.
- The `AnswerStream` it returns is iterated for the body. From its first byte on, the status line
  (200) is gone: whatever happens (a block by the screen, the provider failing mid-stream, a bug)
  ends the stream with a final event that says `block` and why, in categories only
  (`model_failed`, `gateway_failed`, or the screen's finding types), never the text or an error's
  message. Only text the screen released is ever sealed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from secure_ai_gateway.api.authorized_call import AuthorizedCall
from secure_ai_gateway.ports import (
    ClientRecords,
    Envelopes,
    Ledger,
    ModelDelta,
    ModelStreamEnd,
    Policies,
    Reservation,
    StreamingModel,
    StreamScreens,
)
from secure_ai_gateway.screening.moderation import ModerationPort
from secure_ai_gateway.screening.policy import Policy
from secure_ai_gateway.screening.verdict import keyed_digest
from secure_ai_gateway.services.completion import AdmittedCall, CompletionSteps
from secure_ai_protocol.errors import ProtocolError, UpstreamFailed
from secure_ai_protocol.routes import STREAM_ROUTE
from secure_ai_protocol.stream import KEEPALIVE_COMMENT, StreamSealer
from secure_ai_protocol.wire.responses import TokenUsage
from secure_ai_protocol.wire.stream import StreamDelta, StreamFinal
from secure_ai_protocol.wire.verdict import Finding, Verdict

# The categories a final event blocks with when the answer did not end by the screen's decision.
MODEL_FAILED: Final = "model_failed"
GATEWAY_FAILED: Final = "gateway_failed"
BLOCKED_FINISH_REASON: Final = "content_filter"
# Released text is sealed in pieces of at most this many characters: a piece's JSON stays far under
# the protocol's per-event ciphertext bound (4 UTF-8 bytes or a 6-byte escape per character), and a
# screen that releases much at once (the buffered one, on finish) still yields events of SSE size.
RELEASE_PIECE_CHARS: Final = 1024
# While the screen holds text back (all of it, when a policy buffers for moderation), the stream
# sends an SSE comment once this long has passed without a byte, at the model's next delta: a
# client's read timeout (the SDKs': 30 s) and API Gateway's idle timeout see the stream alive.
KEEPALIVE_SECONDS: Final = 10.0


@dataclass(slots=True)
class StreamOutcome:
    """What may be logged and counted about a stream once it ended (no content)."""

    decision: str | None = None
    total_tokens: int = 0
    unavailable: tuple[str, ...] = ()
    failed_open: tuple[str, ...] = ()
    # The category the stream was ended with when it was not the screen's decision.
    failure: str | None = None
    events: int = 0
    released_chars: int = 0


def failure_verdict(category: str, policy: Policy, released: str, digest_key: bytes | None) -> Verdict:
    """A `block` verdict that says only which component failed, at the position the stream stopped."""
    finding = Finding(
        type=category,
        detector=category.removesuffix("_failed"),
        span=(len(released), len(released)),
        confidence=1.0,
        action="block",
    )
    return Verdict(
        decision="block",
        findings=(finding,),
        findings_total=1,
        policy_id=policy.policy_id,
        policy_version=policy.version,
        # What the caller did receive, keyed like every verdict's digest of the released text.
        content_digest=keyed_digest(digest_key, released.encode()) if digest_key and released else None,
    )


def pieces_of(text: str) -> list[str]:
    """`text` cut into sealable pieces (none for the empty text)."""
    return [text[start : start + RELEASE_PIECE_CHARS] for start in range(0, len(text), RELEASE_PIECE_CHARS)]


@dataclass
class AnswerStream:
    """The body of a streamed answer whose status line may now be sent (200, text/event-stream).

    Iterate it once for the SSE bytes; it always ends with the final event, settles the budget and
    closes the provider's stream, also when the caller stops iterating early (a client that went
    away). `outcome` is complete once the iteration ended.
    """

    req_id: str
    admitted: AdmittedCall[StreamingModel]
    first: ModelDelta | ModelStreamEnd
    rest: Iterator[ModelDelta | ModelStreamEnd]
    screens: StreamScreens
    settle: Callable[[list[Reservation], int], None]
    reservations: list[Reservation]
    clock: Callable[[], float] = time.monotonic
    outcome: StreamOutcome = field(default_factory=StreamOutcome)
    _started: bool = False
    _last_sent: float = 0.0

    def __iter__(self) -> Iterator[bytes]:
        if self._started:
            raise RuntimeError("an answer stream is iterated once")
        self._started = True
        return self._events()

    def _events(self) -> Iterator[bytes]:
        admitted = self.admitted
        sealer = StreamSealer(admitted.plaintext.resp_key, self.req_id)
        released: list[str] = []
        end: ModelStreamEnd | None = None
        verdict: Verdict | None = None
        last = ""
        try:
            try:
                screen = self.screens(
                    admitted.policy,
                    pseudonyms=admitted.protected.pseudonyms,
                    canary=admitted.canary,
                    schema=admitted.schema,
                    moderation=admitted.moderation,
                    digest_key=admitted.digest_key,
                )
                piece = self.first
                self._last_sent = self.clock()
                while isinstance(piece, ModelDelta):
                    step = screen.feed(piece.text)
                    for text in pieces_of(step.released):
                        released.append(text)
                        yield self._seal(sealer, StreamDelta(delta=text))
                    if not step.released and self.clock() - self._last_sent >= KEEPALIVE_SECONDS:
                        self._last_sent = self.clock()
                        yield KEEPALIVE_COMMENT
                    if step.verdict is not None:
                        # Blocked mid-stream: nothing more is read from the model or released.
                        verdict = step.verdict
                        break
                    piece = next(self.rest)
                else:
                    end = piece if isinstance(piece, ModelStreamEnd) else None
                    step = screen.finish()
                    if step.verdict is None:
                        # A screen that decided nothing released nothing: end as the gateway's failure.
                        self.outcome.failure = GATEWAY_FAILED
                        verdict = self._failed(GATEWAY_FAILED, released)
                    else:
                        verdict = step.verdict
                        *whole, last = pieces_of(step.released) or [""]
                        for text in whole:
                            released.append(text)
                            yield self._seal(sealer, StreamDelta(delta=text))
            except ProtocolError:
                # The provider failed (or answered something unusable) after the stream started.
                self.outcome.failure = MODEL_FAILED
                verdict, end, last = self._failed(MODEL_FAILED, released), None, ""
            except StopIteration:
                # A model stream that ended without its end piece: the port's contract broken.
                self.outcome.failure = MODEL_FAILED
                verdict, end, last = self._failed(MODEL_FAILED, released), None, ""
            except Exception:  # noqa: BLE001 - after the status line, a final event is the only way to end
                self.outcome.failure = GATEWAY_FAILED
                verdict, end, last = self._failed(GATEWAY_FAILED, released), None, ""
            released.append(last)
            yield self._final(sealer, verdict, end, last)
        finally:
            self._close(end, "".join(released), verdict)

    def _failed(self, category: str, released: list[str]) -> Verdict:
        return failure_verdict(category, self.admitted.policy, "".join(released), self.admitted.digest_key)

    def _seal(self, sealer: StreamSealer, event: StreamDelta) -> bytes:
        self.outcome.events += 1
        self._last_sent = self.clock()
        return sealer.seal(event.model_dump_json().encode()).encode()

    def _final(self, sealer: StreamSealer, verdict: Verdict, end: ModelStreamEnd | None, last: str) -> bytes:
        blocked = verdict.decision == "block"
        usage = None
        if end is not None and end.prompt_tokens is not None and end.completion_tokens is not None:
            usage = TokenUsage(
                prompt_tokens=end.prompt_tokens,
                completion_tokens=end.completion_tokens,
                total_tokens=end.prompt_tokens + end.completion_tokens,
            )
        final = StreamFinal(
            delta="" if blocked else last,
            req_id=self.req_id,
            # The released text is the deltas; the verdict's copy would only repeat it.
            verdict=verdict.model_copy(update={"redacted_text": None}),
            usage=usage,
            finish_reason=BLOCKED_FINISH_REASON if blocked else (end.finish_reason if end else None),
        )
        self.outcome.events += 1
        return sealer.seal(final.model_dump_json(exclude_none=True).encode(), final=True).encode()

    def _close(self, end: ModelStreamEnd | None, released: str, verdict: Verdict | None) -> None:
        close = getattr(self.rest, "close", None)
        if close is not None:
            close()
        used = end.total_tokens if end is not None else None
        # Without the provider's usage (a stream cut short), what was reserved is what is counted.
        tokens = used if used is not None else self.admitted.reservation_tokens
        self.settle(self.reservations, tokens)
        self.outcome.total_tokens = tokens
        self.outcome.released_chars = len(released)
        if verdict is not None:
            self.outcome.decision = verdict.decision
            self.outcome.unavailable = tuple(verdict.unavailable)
            self.outcome.failed_open = verdict.failed_open


class StreamingCompletionService:
    """Opens streamed completions with injected collaborators (adapters in production, fakes in tests)."""

    def __init__(
        self,
        *,
        envelopes: Envelopes,
        clients: ClientRecords,
        ledger: Ledger,
        model: Callable[[], StreamingModel],
        moderation: Callable[[], ModerationPort],
        policies: Policies,
        screens: StreamScreens,
        digest_key: Callable[[], bytes],
        default_model: str,
        clock: Callable[[], float],
        on_settlement_failure: Callable[[ProtocolError], None] = lambda _: None,
    ) -> None:
        self._steps = CompletionSteps(
            envelopes=envelopes,
            clients=clients,
            ledger=ledger,
            moderation=moderation,
            policies=policies,
            digest_key=digest_key,
            default_model=default_model,
            clock=clock,
            on_settlement_failure=on_settlement_failure,
        )
        self._model = model
        self._screens = screens

    def open(self, call: AuthorizedCall) -> AnswerStream:
        """Everything before the first byte: admit `call`, reserve its budget, start the model and
        wait for its first piece. Raise a ProtocolError on any refusal (the budget is then settled
        at zero); return the stream to send after a 200."""
        admitted = self._steps.admit(call, route=STREAM_ROUTE, stream=True, model=self._model)
        reservations = self._steps.reserve(admitted)
        try:
            pieces = admitted.model.stream(admitted.protected.forwarded)
            first = next(pieces)
        except StopIteration:
            self._steps.settle(reservations, 0)
            raise UpstreamFailed("model_malformed_answer") from None
        except ProtocolError:
            self._steps.settle(reservations, 0)
            raise
        return AnswerStream(
            req_id=call.req_id,
            admitted=admitted,
            first=first,
            rest=pieces,
            screens=self._screens,
            settle=self._steps.settle,
            reservations=reservations,
        )


def describe(outcome: StreamOutcome) -> dict[str, Any]:
    """The outcome as log fields."""
    return {
        "decision": outcome.decision,
        "total_tokens": outcome.total_tokens,
        "failure": outcome.failure,
        "events": outcome.events,
    }
