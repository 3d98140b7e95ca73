"""The streaming function under the leak sentinel.

The sentinel registers what a streamed answer's request decrypts to (its resp_key and prompt: the
streaming service admits a call through `CompletionSteps.admit`, which opens it with
`completion.parse_plaintext`, the function the sentinel observes), what the stream screen reads
(the model's answer) and each piece it releases (an event's text). Proved here: those values are
registered by the sentinel itself, not only by a harness that planted them, and a log line of the
streaming app carrying any of them would be reported; and the real app's log lines and metrics
carry none of them when a stream is allowed, blocked mid-stream, cut by the model, or abandoned by
its client.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final

import httpx2
import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from gateway_streaming import app as streaming_app
from secure_ai_gateway.services.streaming_completion import AnswerStream, StreamingCompletionService
from secure_ai_protocol.stream import StreamSealer
from secure_ai_protocol.wire.stream import StreamDelta
from tests.conftest import TEST_MODEL
from tests.fake_provider import USAGE, FakeProvider, streamed
from tests.leak_sentinel import LeakRegistry, find_leaks
from tests.security.faults import ProviderFaults
from tests.security.harness import CLIENT_MAX_TOKENS, Gateway, SignedProxyCall

# Moderation on sentence windows: the stream releases text while the model writes.
INCREMENTAL: Final = {"stream_modes": {"moderation": "incremental"}}
PROSE: Final = "".join(f"Paragraph {n} of the reply describes the harbour at dawn. " for n in range(80))
PIECE: Final = 40
# The stub model's fake AWS access key id (secure_ai_local/stub_model.py), assembled as it assembles it.
BLOCKED_SECRET: Final = "AKIA" + "STUBDEMOKEY7Q4XP"
GONE_AFTER: Final = 30
WAIT_SECONDS: Final = 30.0


def unplanted_call(gateway: Gateway, prompt: str) -> tuple[SignedProxyCall, bytes]:
    """A streamed call whose resp_key and prompt no harness planted: only the sentinel can know them."""
    resp_key = secrets.token_bytes(32)
    request = {"model": TEST_MODEL, "messages": [{"role": "user", "content": prompt}], "stream": True}
    plaintext = json.dumps({"resp_key": base64.b64encode(resp_key).decode(), "request": request}).encode()
    return gateway.stream_call(plaintext=plaintext, resp_key=resp_key), resp_key


def kinds(registry: LeakRegistry) -> set[str]:
    return {kind for kind, _ in registry.planted()}


def planted(registry: LeakRegistry) -> set[str | bytes]:
    return {value for _, value in registry.planted()}


def test_the_sentinel_registers_what_a_stream_decrypts_and_releases_and_would_catch_it_in_a_log(
    gateway: Gateway, provider: FakeProvider, leak_registry: LeakRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a streamed call whose resp_key and prompt were planted by nobody, and an answer released in pieces
    gateway.use_policy("stream-incremental", INCREMENTAL)
    provider.answer, provider.stream_piece_chars = PROSE, PIECE
    prompt = "Describe the harbour at dawn for the Hallam account, reference 7Q-PLUM-42."
    call, resp_key = unplanted_call(gateway, prompt)
    assert not {resp_key, prompt} & planted(leak_registry)

    # ... and a streaming app that (deliberately, here) logs them: the resp_key and prompt when it
    # opens the stream, each delta when it seals it, through the app's logger (its JSON format, kept
    # in memory: the real channels stay clean, so this test passes only if the check reports them)
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setFormatter(LambdaPowertoolsFormatter())
    leaky_logger = logging.Logger("streaming-leak-probe")  # no parent: nothing reaches the root logger
    leaky_logger.addHandler(handler)
    monkeypatch.setattr(streaming_app, "logger", leaky_logger)
    open_stream, seal = StreamingCompletionService.open, AnswerStream._seal

    def leaky_open(self: StreamingCompletionService, call: Any) -> AnswerStream:
        stream = open_stream(self, call)
        plaintext = stream.admitted.plaintext
        streaming_app.logger.info(
            "opened",
            extra={
                "resp_key": base64.b64encode(plaintext.resp_key).decode(),
                "prompt": plaintext.request.messages[-1].text(),
            },
        )
        return stream

    def leaky_seal(self: AnswerStream, sealer: StreamSealer, event: StreamDelta) -> bytes:
        streaming_app.logger.info("sealing", extra={"delta": event.delta})
        return seal(self, sealer, event)

    monkeypatch.setattr(StreamingCompletionService, "open", leaky_open)
    monkeypatch.setattr(AnswerStream, "_seal", leaky_seal)

    # When the streaming function streams the answer
    events = gateway.stream(call).events(call)

    # Then the sentinel registered the resp_key, the prompt and every piece an event carried
    chunks = [event["delta"] for event in events[:-1]]
    assert len(chunks) >= 2, "the answer was not released in pieces"
    assert {resp_key, prompt, *chunks} <= planted(leak_registry)
    # ... and the check reports each of them in the app's log
    leaks = find_leaks(leak_registry.planted(), {"the streaming app's log": [log.getvalue()]})
    assert {"resp_key", "prompt", "released answer"} <= {leak.kind for leak in leaks}
    # ... even one event's text alone, in a log line of its own
    one = find_leaks(leak_registry.planted(), {"a log line": [json.dumps({"delta": chunks[1]})]})
    assert [leak.kind for leak in one] == ["released answer"]


class GatedProvider:
    """Streams `GONE_AFTER` pieces, then waits until the client is gone before streaming the rest."""

    def __init__(self, provider: FakeProvider) -> None:
        self.gone = threading.Event()
        self._provider = provider
        answer = FakeProvider.handle

        def handle(request: httpx2.Request) -> httpx2.Response:
            body = json.loads(request.content)
            if body.get("stream") is not True:
                return answer(provider, request)
            provider.chat_requests.append(body)
            return streamed(self._pieces(body))

        provider.handle = handle  # type: ignore[method-assign]

    def _pieces(self, request: dict[str, Any]) -> Iterator[bytes]:
        pieces = self._provider.delta_events(request)
        yield from pieces[:GONE_AFTER]
        assert self.gone.wait(WAIT_SECONDS), "the client never went away"
        yield from pieces[GONE_AFTER:]
        yield from self._provider.end_events(request)


SCENARIOS: Final = ("allowed", "blocked mid-stream", "model failed mid-stream", "client gone")


@pytest.fixture
def app_output(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """What the streaming app wrote since the last call: its log lines, as its Powertools handler
    writes them (to stdout in Lambda; the handler keeps the stream it was built with, which capsys
    does not replace, so it is pointed at a buffer here), then the EMF metrics it printed."""
    handler = streaming_app.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    log = io.StringIO()
    monkeypatch.setattr(handler, "stream", log)

    def read() -> str:
        lines = log.getvalue()
        log.seek(0)
        log.truncate()
        return lines + capsys.readouterr().out

    return read


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_streaming_app_s_logs_and_metrics_carry_no_plaintext(
    gateway: Gateway,
    provider: FakeProvider,
    leak_registry: LeakRegistry,
    app_output: Callable[[], str],
    scenario: str,
) -> None:
    # Given a streamed call whose answer is released while the model writes, in the scenario's way
    gateway.use_policy("stream-incremental", INCREMENTAL)
    provider.answer, provider.stream_piece_chars = PROSE, PIECE
    gate: GatedProvider | None = None
    if scenario == "blocked mid-stream":
        provider.answer = PROSE[:1600] + " " + BLOCKED_SECRET + " " + PROSE
    elif scenario == "model failed mid-stream":
        ProviderFaults(provider).inject_mid_stream("error", after=GONE_AFTER)
    elif scenario == "client gone":
        gate = GatedProvider(provider)
    call, resp_key = unplanted_call(gateway, "Describe the harbour at dawn, for account 7Q-PLUM-42 only.")
    before = gateway.usage()
    app_output()

    # When the streaming function streams it (to a client that reads it whole, or goes away at once)
    if gate is None:
        events = gateway.stream(call).events(call)
    else:
        gateway.stream(call, read=0, gone=gate.gone.set)
        events = []
    output = app_output()
    spent = gateway.usage() - before

    # Then the app logged and counted the stream, as the scenario ended it
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    (answered,) = [line for line in lines if line.get("message") == "stream answered"]
    if scenario == "client gone":
        assert (answered["went_away"], answered.get("failure")) == (True, None)
    else:
        decision, failure = {
            "allowed": ("allow", None),
            "blocked mid-stream": ("block", None),
            "model failed mid-stream": ("block", "model_failed"),
        }[scenario]
        assert (answered["decision"], answered.get("failure"), answered["went_away"]) == (
            decision,
            failure,
            False,
        )
    assert any("_aws" in line for line in lines), "no metrics were published"
    if scenario == "blocked mid-stream":
        assert [finding["type"] for finding in events[-1]["verdict"]["findings"]] == ["aws_access_key"]
        assert BLOCKED_SECRET[:4] not in "".join(event["delta"] for event in events)
    assert events == [] or len(events) >= 2, "nothing was released before the stream ended"
    # ... and what the sentinel registered (the resp_key, the prompt, the answer, each released
    # piece) is in none of it
    assert {"resp_key", "prompt", "model answer"} <= kinds(leak_registry)
    assert resp_key in planted(leak_registry)
    if events:
        assert "released answer" in kinds(leak_registry)
    assert find_leaks(leak_registry.planted(), {"the streaming app's output": [output]}) == []
    # ... and the budget was settled: at the provider's usage, or at the whole reservation
    assert spent.requests == 1
    assert spent.settled == spent.counted
    if scenario == "allowed":
        assert spent.counted == USAGE["total_tokens"]
    else:
        assert spent.counted >= CLIENT_MAX_TOKENS, "a stream cut short counts its whole reservation"
