"""Typed results of the client SDK, parsed from what the gateway returns.

Lenient about fields the gateway may add later (ignored), strict about the ones a caller relies on.
Nothing here holds a key: the response key and the signing secret never reach a result.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Decision = Literal["allow", "redact", "block"]


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Finding(_Result):
    """One screening finding: its type and where it was, never the matched value."""

    type: str
    detector: str
    action: str
    span: tuple[int, int] | None = None
    confidence: float | None = None
    sample: str | None = None
    label: str | None = None


class VerdictResult(_Result):
    """The screening decision on one text, with the findings a reviewer may see."""

    decision: Decision
    findings: tuple[Finding, ...] = ()
    findings_total: int = 0
    policy_id: str | None = None
    policy_version: int | None = None
    unavailable: dict[str, str] = Field(default_factory=dict)
    failed_open: tuple[str, ...] = ()
    content_digest: str | None = None
    latency_ms: dict[str, float] = Field(default_factory=dict)
    redacted_text: str | None = None

    @property
    def finding_types(self) -> tuple[str, ...]:
        """The distinct finding types, sorted (`("email", "phone")`)."""
        return tuple(sorted({finding.type for finding in self.findings}))


class Usage(_Result):
    """Tokens the request used, as the model reported them."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatResult(_Result):
    """One decrypted, verified chat completion.

    `text` is the released answer: redacted when the verdict is `redact`, None when it is `block`
    (nothing of a blocked answer leaves the gateway). `completion` is the OpenAI-format document.
    """

    req_id: str
    text: str | None
    finish_reason: str | None
    completion: dict[str, Any]
    verdict: VerdictResult
    usage: Usage

    @property
    def blocked(self) -> bool:
        """True when screening withheld the answer."""
        return self.verdict.decision == "block"


class PublicKeyInfo(_Result):
    """What `GET /v1/keys/public` serves: the RSA key mobile/web clients encrypt to."""

    key_arn: str
    key_spec: str
    encryption_algorithm: str
    public_key_pem: str
    envelope_version: str
