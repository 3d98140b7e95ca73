"""Test doubles for `StreamingCompletionService`: a streaming model, screens, and the events opened.

The pass-through and blocking screens are test doubles of the `StreamScreen` port only; the
harness uses the production screen (screening/streaming.py) unless a test names another.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Final

from secure_ai_gateway.client_registry.records import ClientRecord
from secure_ai_gateway.ports import ModelDelta, ModelStreamEnd, StreamScreens
from secure_ai_gateway.screening.catalog import PolicyCatalog
from secure_ai_gateway.screening.policy import Policy
from secure_ai_gateway.screening.streaming import StreamScreen, StreamStep
from secure_ai_gateway.services.streaming_completion import AnswerStream, StreamingCompletionService
from secure_ai_protocol.errors import ProtocolError
from secure_ai_protocol.stream import StreamOpener, parse_events
from secure_ai_protocol.wire.chat import ChatCompletionRequest
from secure_ai_protocol.wire.verdict import Finding, Verdict
from tests.gateway.completion.fakes import (
    CLIENT_ID,
    DIGEST_KEY,
    MODEL,
    FakeLedger,
    authorized_call,
    local_policy,
)

RESP_KEY: Final = b"r" * 32
REQ_ID: Final = "req-unit-1"  # fakes.authorized_call's nonce


@dataclass
class FakeStreamingModel:
    """Streams `deltas`, then the end with usage; or fails before its first piece or after `fail_after`."""

    deltas: list[str] = field(default_factory=lambda: ["Hel", "lo, wor", "ld."])
    usage: tuple[int, int] | None = (5, 3)
    finish_reason: str = "stop"
    fail_before: ProtocolError | None = None
    fail_after: int | None = None
    fail_with: BaseException | None = None
    # A model's cadence: the wait before each delta after the first (a caller can go away meanwhile).
    delay_seconds: float = 0.0
    requests: list[ChatCompletionRequest] = field(default_factory=list)
    served: int = 0
    closed: bool = False

    def stream(self, request: ChatCompletionRequest) -> Iterator[ModelDelta | ModelStreamEnd]:
        self.requests.append(request)
        if self.fail_before is not None:
            raise self.fail_before
        return self._pieces()

    def _pieces(self) -> Iterator[ModelDelta | ModelStreamEnd]:
        try:
            for index, delta in enumerate(self.deltas):
                if self.fail_after is not None and index == self.fail_after:
                    raise self.fail_with or RuntimeError("unreachable")
                if index and self.delay_seconds:
                    time.sleep(self.delay_seconds)
                self.served += 1
                yield ModelDelta(delta)
            prompt, completion = self.usage if self.usage is not None else (None, None)
            yield ModelStreamEnd(self.finish_reason, prompt, completion)
        finally:
            self.closed = True


class PassThroughScreen:
    """Releases every delta as it comes (a test double: no screening at all); allows on finish."""

    def __init__(self, policy: Policy, **_: Any) -> None:
        self._policy = policy

    def feed(self, delta: str) -> StreamStep:
        return StreamStep(released=delta, verdict=None)

    def finish(self) -> StreamStep:
        verdict = Verdict(
            decision="allow", policy_id=self._policy.policy_id, policy_version=self._policy.version
        )
        return StreamStep(released="", verdict=verdict)


class BlockOnWordScreen(PassThroughScreen):
    """Releases deltas until one contains `word`; then blocks with finding type `secret_word`."""

    word = "SECRET"

    def feed(self, delta: str) -> StreamStep:
        if self.word in delta:
            finding = Finding(
                type="secret_word", detector="test", span=(0, 6), confidence=1.0, action="block"
            )
            return StreamStep(
                released="", verdict=Verdict(decision="block", findings=(finding,), findings_total=1)
            )
        return StreamStep(released=delta, verdict=None)


class UndecidedScreen(PassThroughScreen):
    """A broken screen: it finishes without a verdict."""

    def finish(self) -> StreamStep:
        return StreamStep(released="late text", verdict=None)


class HoldAllScreen(PassThroughScreen):
    """Holds every delta back and releases the whole answer at the end (as a stream that buffers
    for moderation does)."""

    def __init__(self, policy: Policy, **kwargs: Any) -> None:
        super().__init__(policy, **kwargs)
        self._held: list[str] = []

    def feed(self, delta: str) -> StreamStep:
        self._held.append(delta)
        return StreamStep(released="", verdict=None)

    def finish(self) -> StreamStep:
        return StreamStep(released="".join(self._held), verdict=super().finish().verdict)


class ExplodingScreen(PassThroughScreen):
    """A screen with a bug: it raises on the second delta."""

    def __init__(self, policy: Policy, **kwargs: Any) -> None:
        super().__init__(policy, **kwargs)
        self._seen = 0

    def feed(self, delta: str) -> StreamStep:
        self._seen += 1
        if self._seen == 2:
            raise KeyError("internal detail that must not travel")
        return super().feed(delta)


@dataclass
class Opened:
    """A stream's events, opened as a client opens them."""

    events: list[dict[str, Any]]

    @property
    def chunks(self) -> list[str]:
        return [event["delta"] for event in self.events[:-1]]

    @property
    def final(self) -> dict[str, Any]:
        return self.events[-1]

    @property
    def text(self) -> str:
        return "".join(event["delta"] for event in self.events)


def open_events(body: bytes) -> Opened:
    """Parse and open every event of `body` with the request's resp_key; the stream must be complete."""
    opener = StreamOpener(RESP_KEY, REQ_ID)
    events = [json.loads(opener.open(event)) for event in parse_events(body.decode().split("\n"))]
    opener.finish()
    return Opened(events)


@dataclass
class StreamingHarness:
    """A `StreamingCompletionService` on fakes."""

    model: FakeStreamingModel = field(default_factory=FakeStreamingModel)
    ledger: FakeLedger = field(default_factory=FakeLedger)
    policy: Policy = field(default_factory=local_policy)
    screens: StreamScreens = StreamScreen
    routes: list[str] = field(default_factory=list)

    def service(self) -> StreamingCompletionService:
        record = ClientRecord(
            client_id=CLIENT_ID,
            status="active",
            scopes=("chat:complete",),
            allowed_models=(MODEL,),
            max_tokens=256,
            token_budget=100_000,
            request_budget=1_000,
            created_at=0,
        )
        return StreamingCompletionService(
            envelopes=SimpleNamespace(open=self._open),
            clients=SimpleNamespace(get=lambda client_id: record if client_id == CLIENT_ID else None),
            ledger=self.ledger,
            model=lambda: self.model,
            moderation=lambda: SimpleNamespace(moderate=lambda text: {"violence": 0.0}),
            policies=PolicyCatalog({self.policy.policy_id: self.policy}),
            screens=self.screens,
            digest_key=lambda: DIGEST_KEY,
            default_model=MODEL,
            clock=lambda: 1_700_000_000.0,
        )

    def open(self, request: dict[str, Any]) -> AnswerStream:
        plaintext = json.dumps({"resp_key": base64.b64encode(RESP_KEY).decode(), "request": request})
        return self.service().open(authorized_call(plaintext.encode()))

    def stream(self, request: dict[str, Any]) -> Opened:
        """The whole stream for `request`, opened."""
        return open_events(b"".join(self.open(request)))

    def _open(self, ciphertext: bytes, *, client_id: str, req_id: str, route: str) -> Any:
        self.routes.append(route)
        return SimpleNamespace(plaintext=ciphertext)


def streamed(text: str, **extra: Any) -> dict[str, Any]:
    """A one-message chat request asking for a stream."""
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], "stream": True, **extra}
