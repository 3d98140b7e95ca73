"""Screening policy: per client and versioned, it decides what each finding leads to.

Actions are looked up by finding type first (`email`, `aws_access_key`), then by the built-in
action of a type the registry sets apart (`ip_internal` is allowed), then by detector (`pii`,
`secrets`); a type that none of these names is blocked. Moderation and schema findings cover
the whole text, so they can be allowed or blocked but not redacted.

A detector that fails or overruns its time budget is `unavailable`, which blocks unless the
detector is listed in `fail_open`; the verdict then names it in `failed_open`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
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

from secure_ai_gateway.screening.findings import ACTION_RANK, Action, DetectorName
from secure_ai_gateway.screening.pii import DEFAULT_PHONE_REGIONS
from secure_ai_gateway.screening.registry import (
    DEFAULT_ACTIONS,
    DEFAULT_TIMEOUTS_MS,
    DETECTORS,
    FINDING_TYPES,
    INCREMENTAL_DETECTORS,
    WHOLE_TEXT_DETECTORS,
)

__all__ = ["ACTION_RANK", "DEFAULT_POLICY", "Action", "Policy", "StreamMode"]

# How a stream treats a whole-text detector (screening/streaming.py): `buffer` releases nothing
# until the answer is complete and judged whole; `incremental` releases text as it is judged piece
# by piece (moderation on sentence windows), and judges the whole text at the end as well.
StreamMode = Literal["buffer", "incremental"]


def _read_only[K, V](value: Mapping[K, V]) -> Mapping[K, V]:
    # A frozen model with a plain dict inside could still be mutated through it.
    return MappingProxyType(dict(value))


def _known_detectors[T: Iterable[str]](names: T) -> T:
    unknown = sorted(set(names) - set(DETECTORS))
    if unknown:
        raise ValueError(f"unknown detector: {unknown[0]}")
    return names


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
    AfterValidator(_known_detectors),
    AfterValidator(_read_only),
    PlainSerializer(dict, return_type=dict[str, float]),
]

StreamModeMap = Annotated[
    Mapping[DetectorName, StreamMode],
    AfterValidator(_known_detectors),
    AfterValidator(_read_only),
    PlainSerializer(dict, return_type=dict[str, StreamMode]),
]

# Sets serialise sorted, so one policy always dumps to the same JSON.
DetectorSet = Annotated[
    frozenset[DetectorName],
    AfterValidator(_known_detectors),
    PlainSerializer(sorted, return_type=list[DetectorName]),
]
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
MAX_DENY_TERMS: Final = 500
# Built-in actions for single finding types (not whole detectors): they hold unless a policy names the type.
_TYPE_DEFAULTS: Final = {key: action for key, action in DEFAULT_ACTIONS.items() if key in FINDING_TYPES}


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
    # What happens to a secret found in the caller's input before the model sees it.
    input_secrets: Literal["redact", "block"] = "redact"
    phone_regions: tuple[Annotated[str, Field(pattern=r"^[A-Z]{2}$")], ...] = Field(
        default=DEFAULT_PHONE_REGIONS, max_length=50
    )
    # Per whole-text detector, how a streamed answer waits for it; unnamed ones buffer.
    stream_modes: StreamModeMap = Field(default_factory=lambda: MappingProxyType({}))

    @field_validator("actions")
    @classmethod
    def _known_keys_and_actions(cls, actions: Mapping[str, Action]) -> Mapping[str, Action]:
        for key, action in actions.items():
            if key not in FINDING_TYPES and key not in DETECTORS:
                raise ValueError(f"unknown finding type or detector: {key}")
            detector = FINDING_TYPES.get(key, key)
            if action == "redact" and detector in WHOLE_TEXT_DETECTORS:
                raise ValueError(f"{key} findings cover the whole text: allow or block, not redact")
        return actions

    @field_validator("stream_modes")
    @classmethod
    def _modes_of_whole_text_detectors(
        cls, modes: Mapping[DetectorName, StreamMode]
    ) -> Mapping[DetectorName, StreamMode]:
        for detector, mode in modes.items():
            if detector not in WHOLE_TEXT_DETECTORS:
                raise ValueError(f"{detector} reads a stream through its hold-back: it has no stream mode")
            if mode == "incremental" and detector not in INCREMENTAL_DETECTORS:
                raise ValueError(f"{detector} needs the whole text: a stream can only buffer for it")
        return modes

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

    @field_validator("phone_regions")
    @classmethod
    def _regions_libphonenumber_knows(cls, regions: tuple[str, ...]) -> tuple[str, ...]:
        # Checked on load, so a typo is refused when the policy is written, not at screening time
        # (where the PII detector would fail closed on every text). Imported only for custom regions.
        from phonenumbers import SUPPORTED_REGIONS  # noqa: PLC0415 - ~50 ms, rarely needed

        unknown = sorted(set(regions) - SUPPORTED_REGIONS)
        if unknown:
            raise ValueError(f"unknown phone region: {unknown[0]}")
        return regions

    @model_validator(mode="after")
    def _fail_open_names_enabled_detectors(self) -> Policy:
        if not self.fail_open <= self.detectors:
            raise ValueError("fail_open names a detector that is not enabled")
        return self

    def action_for(self, finding_type: str, detector: DetectorName) -> Action:
        """The action for a finding: by type, else the built-in action for a type the registry sets
        apart (`ip_internal`), else by detector, else block."""
        return (
            self.actions.get(finding_type)
            or _TYPE_DEFAULTS.get(finding_type)
            or self.actions.get(detector)
            or "block"
        )

    def stream_mode_for(self, detector: DetectorName) -> StreamMode:
        """How a stream waits for whole-text `detector`: `buffer` unless the policy says otherwise."""
        return self.stream_modes.get(detector, "buffer")

    def timeout_for(self, detector: DetectorName) -> float:
        """The time budget of `detector`, in milliseconds."""
        return self.timeouts_ms.get(detector, DEFAULT_TIMEOUTS_MS[detector])


DEFAULT_POLICY: Final = Policy(policy_id="default", version=1)
