"""The screening verdict: what was found, what the policy decided, and nothing sensitive.

A verdict never carries a matched value: each finding has a masked sample (`sk-p…[redacted]`),
and the text itself appears only when the decision is `redact`, already redacted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from secure_ai_gateway.screening.findings import Action, DetectorName

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
    # HMAC of exactly the released text under the deployment's key; none when nothing is released.
    content_digest: str | None
    redacted_text: str | None = None


def keyed_digest(key: bytes, data: bytes) -> str:
    """`hmac-sha256=:<base64>:` of `data` under `key`.

    Keyed, because a plain hash next to a redacted text lets anyone confirm a guess of what was
    redacted; without the deployment's key no one can compute one.
    """
    mac = hmac.new(key, data, hashlib.sha256).digest()
    return f"hmac-sha256=:{base64.b64encode(mac).decode()}:"
