"""The screening verdict: what was found, what the policy decided, and nothing sensitive.

A verdict never carries a matched value: each finding has a masked sample (`sk-p…[redacted]`),
and the text itself appears only when the decision is `redact`, already redacted.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from secure_ai.screening.findings import DetectorName
from secure_ai.screening.policy import Action

UnavailableReason = Literal["error", "timeout", "not_configured"]
MAX_VERDICT_FINDINGS: Final = 200


class Finding(BaseModel):
    """One finding as reported: its type and span in the original text, never its value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    detector: DetectorName
    span: tuple[int, int]
    confidence: float = Field(ge=0.0, le=1.0)
    sample: str | None = None
    label: str | None = None
    action: Action


class Verdict(BaseModel):
    """The decision on one text, with the evidence a reviewer may see."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decision: Action
    findings: tuple[Finding, ...]
    findings_total: int
    policy_id: str
    policy_version: int
    latency_ms: dict[str, float]
    unavailable: dict[DetectorName, UnavailableReason]
    failed_open: tuple[DetectorName, ...]
    content_digest: str
    redacted_text: str | None = None


def content_digest(data: bytes) -> str:
    """The RFC 9530 `sha-256=:<base64>:` digest of `data`."""
    return f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"
