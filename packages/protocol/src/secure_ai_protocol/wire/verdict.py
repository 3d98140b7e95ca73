"""The screening verdict as it travels: what was found, what the policy decided, nothing sensitive.

Defined once for both ends: the gateway's screen builds it (secure_ai_gateway.screening.screen),
the completion answer and the validator return it, docs/openapi.yaml documents it, and the SDK reads
it. A finding never carries a matched value, only a masked sample (`sk-p…[redacted]`); the text
appears only when the decision is `redact`, already redacted (and never inside a chat answer, where
the released text is the completion's content). Readers ignore fields they do not know, so an older
SDK reads a newer gateway's verdicts; the vocabulary of finding types and detectors is open for the
same reason (docs/screening.md lists it).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Decision = Literal["allow", "redact", "block"]


class Finding(BaseModel):
    """One finding as reported: its type and span in the original text, never its value."""

    model_config = ConfigDict(frozen=True, extra="ignore", json_schema_serialization_defaults_required=True)

    type: str
    detector: str
    span: tuple[int, int]
    confidence: float = Field(ge=0.0, le=1.0)
    sample: str | None = None
    label: str | None = None
    action: Decision


class Verdict(BaseModel):
    """The decision on one text, with the evidence a reviewer may see."""

    model_config = ConfigDict(frozen=True, extra="ignore", json_schema_serialization_defaults_required=True)

    decision: Decision
    findings: tuple[Finding, ...] = ()
    findings_total: int = 0
    policy_id: str | None = None
    policy_version: int | None = None
    latency_ms: dict[str, float] = Field(default_factory=dict)
    # Detectors that could not run, and why: `error`, `timeout` or `not_configured`.
    unavailable: dict[str, str] = Field(default_factory=dict)
    failed_open: tuple[str, ...] = ()
    # HMAC of exactly the released text under the deployment's key; none when nothing is released.
    content_digest: str | None = None
    redacted_text: str | None = None

    @property
    def finding_types(self) -> tuple[str, ...]:
        """The distinct finding types, sorted (`("email", "phone")`)."""
        return tuple(sorted({finding.type for finding in self.findings}))
