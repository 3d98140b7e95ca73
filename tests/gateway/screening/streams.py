"""Helpers for screened streams: an answer through StreamScreen in given chunks, and its buffered release."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Final

from secure_ai_gateway.screening.moderation import ModerationPort
from secure_ai_gateway.screening.policy import Policy
from secure_ai_gateway.screening.pseudonymise import Pseudonymiser
from secure_ai_gateway.screening.release import Release, release
from secure_ai_gateway.screening.streaming import StreamScreen
from secure_ai_protocol.wire.verdict import Verdict
from tests.gateway.screening.fakes import CARD, EMAIL

DIGEST_KEY: Final = b"stream-test-digest-key-32-bytes!"
PSEUDONYMS: Final = Pseudonymiser([f"I am {EMAIL}, card {CARD}."])


@dataclass(frozen=True)
class Streamed:
    """What a stream released, step by step, and how it ended."""

    releases: tuple[str, ...]
    verdict: Verdict
    ended_mid_stream: bool
    # What had been released when the stream ended (before the final step's release).
    released_before_end: str

    @property
    def text(self) -> str:
        return "".join(self.releases)


def chunks_at(text: str, *positions: int) -> list[str]:
    """`text` cut at `positions` (sorted, deduplicated; empty chunks kept out)."""
    cuts = [0, *sorted(set(positions)), len(text)]
    return [text[start:end] for start, end in pairwise(cuts) if end > start]


def deltas(text: str, size: int, offset: int = 0) -> list[str]:
    """`text` in deltas of `size`, the first one `offset` characters long (if not zero)."""
    positions = list(range(offset or size, len(text), size))
    return chunks_at(text, *positions)


def stream(
    chunks: Sequence[str],
    policy: Policy,
    *,
    canary: str | None = None,
    schema: dict[str, Any] | None = None,
    moderation: ModerationPort | None = None,
    pseudonyms: Pseudonymiser = PSEUDONYMS,
) -> Streamed:
    screen = StreamScreen(
        policy,
        pseudonyms=pseudonyms,
        canary=canary,
        schema=schema,
        moderation=moderation,
        digest_key=DIGEST_KEY,
    )
    releases: list[str] = []
    for chunk in chunks:
        step = screen.feed(chunk)
        if step.verdict is not None:
            return Streamed(tuple(releases), step.verdict, True, "".join(releases))
        releases.append(step.released)
    before = "".join(releases)
    step = screen.finish()
    assert step.verdict is not None
    releases.append(step.released)
    return Streamed(tuple(releases), step.verdict, False, before)


def buffered(
    answer: str,
    policy: Policy,
    *,
    canary: str | None = None,
    schema: dict[str, Any] | None = None,
    moderation: ModerationPort | None = None,
    pseudonyms: Pseudonymiser = PSEUDONYMS,
) -> Release:
    return release(
        answer, pseudonyms, policy, canary=canary, schema=schema, moderation=moderation, digest_key=DIGEST_KEY
    )
