"""Streaming benchmark: time to first released byte, and what the hold-back window costs.

Run: .venv/bin/python bench/bench_streaming.py [--runs N] [--chunk-delay-ms D]   (about 20 s)

One run, against the local stub model (secure_ai_local.stub_model, over HTTP on 127.0.0.1, streaming
as OpenAI does, cut into the stub's split pieces, each after `--chunk-delay-ms`, as a model's token
cadence). The same request goes through `StreamingCompletionService` (what the streaming function
calls: admit, reserve, the real model adapter's streamed call, the stream screen, AES-GCM sealing of
each event), once per subject per round, interleaved:

- incremental: the production stream screen (screening/streaming.py) on a policy whose
  `stream_modes` checks moderation on sentence windows: text leaves as soon as it is past the
  hold-back, screened, and its sentence is moderated;
- default policy: the same screen on the built-in default policy, which buffers for moderation (the
  safe default: moderation judges the whole answer, so nothing leaves before the model ended);
- pass-through: a screen that releases every delta as it arrives (unscreened), the same chunks.

Reported, as medians over the rounds: time to the first released byte (the first event carrying
text, sealed and ready to send), time to the final event, and each screened subject's ratios to
pass-through; the hold-back overhead is (screened total - pass-through total) / pass-through total.
Envelope opening, client records and the ledger are in memory, and moderation answers at once (they
cost all subjects alike, or would only add the moderation service's latency per released window).
"""

from __future__ import annotations

import argparse
import base64
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
from secure_ai_gateway.screening.streaming import StreamScreen, StreamStep, stream_hold_back
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


INCREMENTAL_POLICY = Policy.model_validate(
    {**DEFAULT_POLICY.model_dump(), "stream_modes": {"moderation": "incremental"}}
)


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


def service(model: ChatModel, screens: StreamScreens, policy: Policy) -> StreamingCompletionService:
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
        policies=PolicyCatalog({"default": policy}),
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
    with StubModelServer(chunk_delay_seconds=arguments.chunk_delay_ms / 1000) as stub:
        model = ChatModel(
            openai_client(api_key="bench", base_url=stub.base_url, timeout_seconds=20, max_retries=0)
        )
        subjects: dict[str, Callable[[str], Timing]] = {
            "incremental": lambda req_id: one(service(model, StreamScreen, INCREMENTAL_POLICY), req_id),
            "default_policy": lambda req_id: one(service(model, StreamScreen, DEFAULT_POLICY), req_id),
            "pass_through": lambda req_id: one(service(model, PassThroughScreen, DEFAULT_POLICY), req_id),
        }
        for label, run in subjects.items():  # warm-up: imports, parsers, connections
            run(f"warm-{label}")
        timings: dict[str, list[Timing]] = {label: [] for label in subjects}
        for round_number in range(arguments.runs):
            for label, run in subjects.items():
                timings[label].append(run(f"{label}-{round_number}"))
    texts = {timing[0].text for timing in timings.values()}
    assert len(texts) == 1, "every subject releases the same text for this clean answer"

    def median(label: str, attribute: str) -> float:
        return float(statistics.median(getattr(timing, attribute) for timing in timings[label]))

    baseline_first, baseline_total = (
        median("pass_through", "first_byte_ms"),
        median("pass_through", "total_ms"),
    )
    report: dict[str, Any] = {
        "runs": arguments.runs,
        "chunk_delay_ms": arguments.chunk_delay_ms,
        "answer_chars": len(texts.pop()),
        "hold_back_chars": stream_hold_back(DEFAULT_POLICY, None),
    }
    for label in subjects:
        report[label] = {
            "events": timings[label][0].events,
            "first_byte_ms": median(label, "first_byte_ms"),
            "total_ms": median(label, "total_ms"),
        }
    for label in ("incremental", "default_policy"):
        first_ratio = report[label]["first_byte_ms"] / baseline_first
        total_ratio = report[label]["total_ms"] / baseline_total
        report[label] |= {
            "first_byte_ratio": first_ratio,
            # Where in the model's answer the first byte left: the ratio above divides by one chunk.
            "first_byte_share_of_answer": report[label]["first_byte_ms"] / baseline_total,
            "total_ratio": total_ratio,
            "hold_back_overhead": total_ratio - 1,
        }
    print(json.dumps(report, indent=2, default=lambda value: round(value, 3)))
    for label in ("incremental", "default_policy"):
        figures = report[label]
        print(
            f"{label}: first byte {figures['first_byte_ratio']:.2f}x pass-through "
            f"({figures['first_byte_share_of_answer']:.0%} into the answer), "
            f"total {figures['total_ratio']:.2f}x, hold-back overhead {figures['hold_back_overhead']:+.1%}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
