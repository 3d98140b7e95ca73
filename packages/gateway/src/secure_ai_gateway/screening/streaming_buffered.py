"""A stream screen that holds the whole answer back and releases it once, screened, on `finish`.

The interface is the incremental screen's (`screening/streaming.py`: `feed`, `finish`, a
`StreamStep` of released text and verdict); the behaviour is the buffered path's: `release()` runs
on the complete text, so every detector sees every character in context and the released text is
exactly the buffered answer's. It is correct and safe, not incremental: the first released byte
comes when the model's last one has arrived. The streaming function uses it until the incremental
screen (hold-back window) lands; the service depends only on the `StreamScreen` port.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from secure_ai_gateway.screening.moderation import ModerationPort
from secure_ai_gateway.screening.policy import Policy
from secure_ai_gateway.screening.pseudonymise import Pseudonymiser
from secure_ai_gateway.screening.release import release
from secure_ai_protocol.wire.verdict import Verdict


@dataclass(frozen=True, slots=True)
class StreamStep:
    """Text released by one step (possibly empty), and the verdict once the answer is decided."""

    released: str
    verdict: Verdict | None


class BufferedStreamScreen:
    """Feed deltas, then finish: nothing is released before `finish`, which releases what
    `release()` allows of the whole answer (the text, the redacted text, or nothing)."""

    def __init__(
        self,
        policy: Policy,
        *,
        pseudonyms: Pseudonymiser,
        canary: str | None,
        schema: dict[str, Any] | None,
        moderation: ModerationPort | None,
        digest_key: bytes | None,
        hold_back_chars: int | None = None,  # the incremental screen's; the whole answer is held here
    ) -> None:
        del hold_back_chars
        self._policy = policy
        self._pseudonyms = pseudonyms
        self._canary = canary
        self._schema = schema
        self._moderation = moderation
        self._digest_key = digest_key
        self._parts: list[str] = []
        self._finished = False

    def feed(self, delta: str) -> StreamStep:
        """Hold `delta` back; release nothing yet."""
        if self._finished:
            raise RuntimeError("the stream screen already finished")
        self._parts.append(delta)
        return StreamStep(released="", verdict=None)

    def finish(self) -> StreamStep:
        """Screen the whole answer and release what its verdict allows."""
        if self._finished:
            raise RuntimeError("the stream screen already finished")
        self._finished = True
        released = release(
            "".join(self._parts),
            self._pseudonyms,
            self._policy,
            canary=self._canary,
            schema=self._schema,
            moderation=self._moderation,
            digest_key=self._digest_key,
        )
        self._parts.clear()
        return StreamStep(released=released.text or "", verdict=released.verdict)
