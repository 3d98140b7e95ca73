"""Moderation: a port for a category-score classifier and the threshold rule applied to it.

This module never imports the openai SDK; `openai_moderation.OpenAIModeration` is the adapter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol

from secure_ai_gateway.screening.errors import ModerationUnavailable
from secure_ai_gateway.screening.findings import Detection
from secure_ai_gateway.screening.normalise import NormalisedText


class ModerationPort(Protocol):
    """Scores `text` per category (e.g. `violence` → 0.93), each score in [0, 1]."""

    def moderate(self, text: str) -> dict[str, float]: ...


def detect_moderation(
    view: NormalisedText,
    port: ModerationPort,
    thresholds: Mapping[str, float],
    default_threshold: float,
) -> list[Detection]:
    """One finding per category whose score reaches its threshold; spans cover the whole text."""
    scores = port.moderate(view.text)
    if not isinstance(scores, Mapping):
        raise ModerationUnavailable("moderation_malformed")
    found: list[Detection] = []
    for category, score in sorted(scores.items()):
        if not isinstance(category, str) or not _is_score(score):
            raise ModerationUnavailable("moderation_malformed")
        if score >= thresholds.get(category, default_threshold):
            found.append(
                Detection(
                    type="moderation",
                    detector="moderation",
                    start=0,
                    end=len(view.original),
                    confidence=float(score),
                    value="",
                    label=category,
                )
            )
    return found


def _is_score(score: object) -> bool:
    if isinstance(score, bool) or not isinstance(score, int | float):
        return False
    return math.isfinite(score) and 0.0 <= score <= 1.0
