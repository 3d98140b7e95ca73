"""Streaming benchmark: time to first released byte, and what the hold-back window costs.

Run: .venv/bin/python bench/bench_streaming.py [--runs N] [--chunk-delay-ms D]   (about 20 s)

One run, against the local stub model (secure_ai_local.stub_model, over HTTP on 127.0.0.1, streaming
as OpenAI does, cut into the stub's split pieces, each after `--chunk-delay-ms`, as a model's token
cadence). The same request goes through `StreamingCompletionService` (what the streaming function
calls: admit, reserve, the real model adapter's streamed call, the stream screen, AES-GCM sealing of
each event) twice per round, interleaved:

- screened: the production stream screen: the incremental one (screening/streaming.py) when it is
  importable, else the buffered one (screening/streaming_buffered.py), which holds the whole answer;
- pass-through: a screen that releases every delta as it arrives (unscreened), the same chunks.

Reported, as medians over the rounds: time to the first released byte (the first event carrying
text, sealed and ready to send), time to the final event, and the ratios screened / pass-through of
both; the hold-back overhead is (screened total - pass-through total) / pass-through total. Envelope
opening, client records and the ledger are in memory (they cost both sides alike, before the model).
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from secure_ai_gateway.adapters.openai.chat import ChatModel, openai_client
from secure_ai_gateway.api.authorized_call import AuthorizedCall
from secure_ai_gateway.client_registry.records import ClientRecord
from secure_ai_gateway.ports import Budget, Reservation, StreamScreens
from secure_ai_gateway.screening.catalog import PolicyCatalog
from secure_ai_gateway.screening.policy import DEFAULT_POLICY, Policy
from secure_ai_gateway.screening.streaming_buffered import BufferedStreamScreen, StreamStep
from secure_ai_gateway.services.streaming_completion import StreamingCompletionService
from secure_ai_local.stub_model import StubModelServer
from secure_ai_protocol.signing.content_digest import compute_content_digest
from secure_ai_protocol.stream import StreamOpener, parse_events
from secure_ai_protocol.wire.verdict import Verdict

MODEL = "gpt-4o-mini"
CLIENT_ID = "bench"
RESP_KEY = bytes(range(32))
PROMPT = (
    "Summarise our deployment notes: the service at https://docs.example.com/guide/streaming?ref=bench "
    "answers in pieces, each screened before release. " * 4
)


def production_screen() -> tuple[str, StreamScreens]:
    """The stream screen the streaming function uses, and its name."""
    try:
        incremental = importlib.import_module("secure_ai_gateway.screening.streaming")
    except ImportError:
        return "buffered (screening/streaming_buffered.py)", BufferedStreamScreen
    screens: StreamScreens = incremental.StreamScreen
    return "incremental (screening/streaming.py)", screens


class PassThroughScreen:
    """Unscreened: every delta released as it arrives."""

    def __init__(self, policy: Policy, **_: Any) -> None:
        self._policy = policy

    def feed(self, delta: str) -> StreamStep:
        return StreamStep(released=delta, verdict=None)

    def finish(self) -> StreamStep:
        return StreamStep(released="", verdict=Verdict(decision="allow", policy_id=self._policy.policy_id))


class Ledger:
    def reserve(self, client_id: str, tokens: int, budget: Budget, now: float) -> Reservation:
        return Reservation(client_id=client_id, period="bench", tokens=tokens)

    def cancel(self, reservation: Reservation) -> None:
        """Nothing held."""

    def settle(self, reservation: Reservation, used_tokens: int) -> None:
        """Nothing held."""


def service(model: ChatModel, screens: StreamScreens) -> StreamingCompletionService:
    record = ClientRecord(
        client_id=CLIENT_ID,
        status="active",
        scopes=("chat:complete",),
        allowed_models=(MODEL,),
        max_tokens=1024,
        token_budget=10**9,
        request_budget=10**9,
        created_at=0,
    )
    return StreamingCompletionService(
        envelopes=SimpleNamespace(open=lambda ciphertext, **_: SimpleNamespace(plaintext=ciphertext)),
        clients=SimpleNamespace(get=lambda client_id: record),
        ledger=Ledger(),
        model=lambda: model,
        moderation=lambda: SimpleNamespace(moderate=lambda text: {"violence": 0.0}),
        policies=PolicyCatalog({"default": DEFAULT_POLICY}),
        screens=screens,
        digest_key=lambda: b"bench-verdict-digest-key-32-bytes",
        default_model=MODEL,
        clock=time.time,
    )


def call(req_id: str) -> AuthorizedCall:
    request = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], "stream": True}
    body = json.dumps({"resp_key": base64.b64encode(RESP_KEY).decode(), "request": request}).encode()
    return AuthorizedCall(
        client_id=CLIENT_ID,
        key_id=f"{CLIENT_ID}.1",
        req_id=req_id,
        content_digest=compute_content_digest(body),
        scopes=frozenset({"chat:complete"}),
        body=base64.b64encode(body).decode(),
        is_base64_encoded=True,
    )


@dataclass
class Timing:
    first_byte_ms: float
    total_ms: float
    events: int
    text: str


def one(streaming: StreamingCompletionService, req_id: str) -> Timing:
    """One streamed answer: when its first text event was ready, when its final event was."""
    started = time.perf_counter()
    first: float | None = None
    body: list[bytes] = []
    for event in streaming.open(call(req_id)):
        body.append(event)
        if first is None and b"event: chunk" in event:
            first = time.perf_counter()
    ended = time.perf_counter()
    opener = StreamOpener(RESP_KEY, req_id)
    opened = [json.loads(opener.open(e)) for e in parse_events(b"".join(body).decode().split("\n"))]
    opener.finish()
    text = "".join(event["delta"] for event in opened)
    # A stream released whole in its final event has its first byte there.
    first_ms = ((first if first is not None else ended) - started) * 1000
    return Timing(first_ms, (ended - started) * 1000, len(opened), text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--chunk-delay-ms", type=float, default=5.0)
    arguments = parser.parse_args()
    name, screens = production_screen()
    with StubModelServer(chunk_delay_seconds=arguments.chunk_delay_ms / 1000) as stub:
        model = ChatModel(
            openai_client(api_key="bench", base_url=stub.base_url, timeout_seconds=20, max_retries=0)
        )
        subjects: dict[str, Callable[[str], Timing]] = {
            "screened": lambda req_id: one(service(model, screens), req_id),
            "pass-through": lambda req_id: one(service(model, PassThroughScreen), req_id),
        }
        for label, run in subjects.items():  # warm-up: imports, parsers, connections
            run(f"warm-{label}")
        timings: dict[str, list[Timing]] = {label: [] for label in subjects}
        for round_number in range(arguments.runs):
            for label, run in subjects.items():
                timings[label].append(run(f"{label}-{round_number}"))
    screened, passthrough = timings["screened"], timings["pass-through"]
    assert screened[0].text == passthrough[0].text, "both release the same text for this clean answer"

    def median(values: list[Timing], attribute: str) -> float:
        return float(statistics.median(getattr(timing, attribute) for timing in values))

    report = {
        "screen": name,
        "runs": arguments.runs,
        "chunk_delay_ms": arguments.chunk_delay_ms,
        "answer_chars": len(screened[0].text),
        "events": {"screened": screened[0].events, "pass_through": passthrough[0].events},
        "first_byte_ms": {
            "screened": median(screened, "first_byte_ms"),
            "pass_through": median(passthrough, "first_byte_ms"),
        },
        "total_ms": {
            "screened": median(screened, "total_ms"),
            "pass_through": median(passthrough, "total_ms"),
        },
    }
    report["first_byte_ratio"] = report["first_byte_ms"]["screened"] / report["first_byte_ms"]["pass_through"]
    report["total_ratio"] = report["total_ms"]["screened"] / report["total_ms"]["pass_through"]
    report["hold_back_overhead"] = report["total_ratio"] - 1
    print(json.dumps(report, indent=2, default=lambda value: round(value, 3)))
    for key in ("first_byte_ratio", "total_ratio", "hold_back_overhead"):
        print(f"{key}: {report[key]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
