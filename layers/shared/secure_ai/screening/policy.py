"""Screening policy: per client and versioned, it decides what each finding leads to.

Actions are looked up by finding type first (`email`, `aws_access_key`), then by detector
(`pii`, `secrets`); a type that neither names is blocked. Moderation and schema findings cover
the whole text, so they can be allowed or blocked but not redacted.

A detector that fails or overruns its time budget is `unavailable`, which blocks unless the
detector is listed in `fail_open`; the verdict then names it in `failed_open`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from secure_ai.screening.findings import DETECTORS, FINDING_TYPES, DetectorName

Action = Literal["allow", "redact", "block"]
ACTION_RANK: Final[dict[Action, int]] = {"allow": 0, "redact": 1, "block": 2}


def _read_only[K, V](value: Mapping[K, V]) -> Mapping[K, V]:
    # A frozen model with a plain dict inside could still be mutated through it.
    return MappingProxyType(dict(value))


ActionMap = Annotated[
    Mapping[str, Action], AfterValidator(_read_only), PlainSerializer(dict, return_type=dict[str, Action])
]
Thresholds = Annotated[
    Mapping[str, Annotated[float, Field(ge=0.0, le=1.0)]],
    AfterValidator(_read_only),
    PlainSerializer(dict, return_type=dict[str, float]),
]
TimeoutMap = Annotated[
    Mapping[DetectorName, Annotated[float, Field(gt=0.0, le=30_000.0)]],
    AfterValidator(_read_only),
    PlainSerializer(dict, return_type=dict[str, float]),
]

# Sets serialise sorted, so one policy always dumps to the same JSON.
DetectorSet = Annotated[frozenset[DetectorName], PlainSerializer(sorted, return_type=list[DetectorName])]

DEFAULT_ACTIONS: Final[Mapping[str, Action]] = MappingProxyType(
    {
        "pii": "redact",
        "secrets": "block",
        "canary": "block",
        "exfiltration": "block",
        "deny_terms": "block",
        "moderation": "block",
        "schema": "block",
    }
)
# Starting points for omni-moderation-latest; lower where a miss costs more.
DEFAULT_MODERATION_THRESHOLDS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "harassment": 0.5,
        "harassment/threatening": 0.3,
        "hate": 0.4,
        "hate/threatening": 0.2,
        "illicit": 0.5,
        "illicit/violent": 0.3,
        "self-harm": 0.3,
        "self-harm/intent": 0.2,
        "self-harm/instructions": 0.2,
        "sexual": 0.5,
        "sexual/minors": 0.05,
        "violence": 0.5,
        "violence/graphic": 0.4,
    }
)
DEFAULT_TIMEOUTS_MS: Final[Mapping[DetectorName, float]] = MappingProxyType(
    {
        "moderation": 2500.0,
        "pii": 1000.0,
        "secrets": 1000.0,
        "canary": 1000.0,
        "exfiltration": 1000.0,
        "deny_terms": 1000.0,
        "schema": 1000.0,
    }
)
_WHOLE_TEXT_DETECTORS: Final = frozenset({"moderation", "schema"})
MAX_DENY_TERMS: Final = 500


class Policy(BaseModel):
    """What each finding type leads to, and how detectors may fail."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
    version: int = Field(ge=1)
    detectors: DetectorSet = frozenset(DETECTORS)
    actions: ActionMap = Field(default_factory=lambda: DEFAULT_ACTIONS)
    moderation_thresholds: Thresholds = Field(default_factory=lambda: DEFAULT_MODERATION_THRESHOLDS)
    moderation_default_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    allowed_hosts: Annotated[frozenset[str], PlainSerializer(sorted, return_type=list[str])] = frozenset()
    deny_terms: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] = Field(
        default=(), max_length=MAX_DENY_TERMS
    )
    timeouts_ms: TimeoutMap = Field(default_factory=lambda: DEFAULT_TIMEOUTS_MS)
    fail_open: DetectorSet = frozenset()

    @field_validator("actions")
    @classmethod
    def _known_keys_and_actions(cls, actions: Mapping[str, Action]) -> Mapping[str, Action]:
        for key, action in actions.items():
            if key not in FINDING_TYPES and key not in DETECTORS:
                raise ValueError(f"unknown finding type or detector: {key}")
            detector = FINDING_TYPES.get(key, key)
            if action == "redact" and detector in _WHOLE_TEXT_DETECTORS:
                raise ValueError(f"{key} findings cover the whole text: allow or block, not redact")
        return actions

    @field_validator("allowed_hosts")
    @classmethod
    def _bare_host_names(cls, hosts: frozenset[str]) -> frozenset[str]:
        cleaned = set()
        for host in hosts:
            name = unicodedata.normalize("NFKC", host).strip().casefold().rstrip(".")
            if not name or any(char in name for char in "/:@?#*[] \\"):
                raise ValueError(f"allowed host must be a bare host name: {host!r}")
            cleaned.add(name)
        return frozenset(cleaned)

    @model_validator(mode="after")
    def _fail_open_names_enabled_detectors(self) -> Policy:
        if not self.fail_open <= self.detectors:
            raise ValueError("fail_open names a detector that is not enabled")
        return self

    def action_for(self, finding_type: str, detector: DetectorName) -> Action:
        """The action for a finding: by type, else by detector, else block."""
        return self.actions.get(finding_type) or self.actions.get(detector) or "block"

    def timeout_for(self, detector: DetectorName) -> float:
        """The time budget of `detector`, in milliseconds."""
        return self.timeouts_ms.get(detector, DEFAULT_TIMEOUTS_MS[detector])


DEFAULT_POLICY: Final = Policy(policy_id="default", version=1)
