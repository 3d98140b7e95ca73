"""Streamed screening against the buffered screen of the same answer.

Run: .venv/bin/python bench/bench_stream_screen.py   (about a minute; no network)

For a markdown answer of 4 KB and 32 KB (prose, links to an allowed host, a code block, a restored
pseudonym), delivered in 5- and 40-character deltas: the CPU time of `StreamScreen` (every feed and
the finish, which runs the buffered release over the whole answer) against one buffered `release`,
as a ratio; the number of screens; where the first byte is released (characters of the answer
received by then); and the hold-back. Best of several rounds, CPU time of this process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from secure_ai_gateway.screening.policy import Policy
from secure_ai_gateway.screening.pseudonymise import Pseudonymiser
from secure_ai_gateway.screening.release import release
from secure_ai_gateway.screening.streaming import StreamScreen, stream_hold_back

POLICY = Policy(
    policy_id="bench",
    version=1,
    detectors=frozenset({"pii", "secrets", "exfiltration", "bidi", "canary"}),
    allowed_hosts=frozenset({"docs.example.com"}),
)
CANARY = "kavure-mosidu-tepoka-lunabi"
PSEUDONYMS = Pseudonymiser(["I am alice.smith@example.com."])
PARAGRAPH = (
    "Streaming answers arrive a few words at a time, and each piece is checked before it is shown. "
    "See [the guide](https://docs.example.com/guide) for the steps, or write to <EMAIL_1> if one fails. "
    "The rollout can go region by region, and each step can be undone on its own if metrics look wrong.\n\n"
    "```python\ndef total(items: list[int]) -> int:\n    return sum(items)\n```\n\n"
)
ROUNDS = 3


def answer(size: int) -> str:
    return (PARAGRAPH * (size // len(PARAGRAPH) + 1))[:size].rsplit(" ", 1)[0] + "."


def cpu(run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best


def buffered(text: str) -> None:
    release(text, PSEUDONYMS, POLICY, canary=CANARY, schema=None, moderation=None, digest_key=b"k" * 32)


def streamed(text: str, size: int) -> tuple[int, int]:
    """Stream `text` in deltas of `size`: how much had arrived when the first byte was released, and
    how many screens of the accumulated text ran."""
    screen = StreamScreen(
        POLICY, pseudonyms=PSEUDONYMS, canary=CANARY, schema=None, moderation=None, digest_key=b"k" * 32
    )
    first = -1
    received = 0
    for start in range(0, len(text), size):
        step = screen.feed(text[start : start + size])
        received += len(text[start : start + size])
        if step.released and first < 0:
            first = received
    screen.finish()
    return first, screen.screens


def main() -> None:
    print(f"hold-back: {stream_hold_back(POLICY, CANARY)} characters of the normalised view")
    header = ("answer", "delta", "buffered", "streamed", "ratio", "screens", "first byte at")
    print(" ".join(f"{name:>{width}}" for name, width in zip(header, (7, 6, 10, 10, 6, 8, 14), strict=True)))
    for size in (4 * 1024, 32 * 1024):
        text = answer(size)
        buffered_cpu = cpu(partial(buffered, text))
        for delta in (5, 40):
            streamed_cpu = cpu(partial(streamed, text, delta))
            first, screens = streamed(text, delta)
            print(
                f"{size // 1024:>5}KB {delta:>6} {buffered_cpu * 1000:>8.1f}ms {streamed_cpu * 1000:>8.1f}ms "
                f"{streamed_cpu / buffered_cpu:>6.1f} {screens:>8} {first:>10} chars"
            )


if __name__ == "__main__":
    main()
