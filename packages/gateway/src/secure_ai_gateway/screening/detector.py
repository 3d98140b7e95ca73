"""The detector contract: what every detector is given and what the registry records about it.

A detector is a pure function of a `ScreeningContext`. Its `DetectorSpec` says which finding
types it reports, what the built-in policy does with them, how long it may take, whether it needs
the whole text (whole-text findings can be allowed or blocked, not redacted) and whether it also
reads the visual order of bidi-reordered text. screening/registry.py lists the specs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from secure_ai_gateway.screening.findings import Action, Detection, DetectorName
from secure_ai_gateway.screening.matching import ScanTarget
from secure_ai_gateway.screening.normalise import NormalisedText

if TYPE_CHECKING:
    from secure_ai_gateway.screening.moderation import ModerationPort


class DetectorPolicy(Protocol):
    """What detectors read of the policy; screening/policy.py's `Policy` is the one implementation.

    Declared here rather than imported: the policy validates itself against the registry, which
    lists the detectors, which would then import the policy back.
    """

    @property
    def allowed_hosts(self) -> frozenset[str]: ...
    @property
    def deny_terms(self) -> tuple[str, ...]: ...
    @property
    def phone_regions(self) -> tuple[str, ...]: ...
    @property
    def moderation_thresholds(self) -> Mapping[str, float]: ...
    @property
    def moderation_default_threshold(self) -> float: ...
    def timeout_for(self, detector: DetectorName) -> float: ...


class NotConfigured(Exception):
    """An enabled detector lacks what it needs to run (a moderation port): it is unavailable."""


class ScreeningContext:
    """One text being screened, its views, and what the caller supplied for this screening."""

    __slots__ = ("__dict__", "canary", "clock", "moderation", "policy", "restored", "schema", "view")

    def __init__(
        self,
        view: NormalisedText,
        policy: DetectorPolicy,
        *,
        canary: str | None,
        schema: dict[str, Any] | None,
        moderation: ModerationPort | None,
        clock: Callable[[], float],
        restored: Sequence[tuple[int, int]] = (),
    ) -> None:
        self.view = view
        # Spans of the original text where the gateway wrote the caller's own values back.
        self.restored = restored
        self.policy = policy
        self.canary = canary
        self.schema = schema
        self.moderation = moderation
        self.clock = clock

    @cached_property
    def target(self) -> ScanTarget:
        """The normalised text prepared once for RE2, shared by the pattern detectors."""
        return ScanTarget(self.view.text)

    def with_view(self, view: NormalisedText) -> ScreeningContext:
        """The same screening over another view of the text (the visual order)."""
        return ScreeningContext(
            view,
            self.policy,
            canary=self.canary,
            schema=self.schema,
            moderation=self.moderation,
            clock=self.clock,
            restored=self.restored,
        )


def _always(_: ScreeningContext) -> bool:
    return True


def fixed_reach(chars: int) -> Callable[[DetectorPolicy, str | None], int]:
    """A stream reach that does not depend on the policy or the canary."""

    def reach(_policy: DetectorPolicy, _canary: str | None) -> int:
        return chars

    return reach


@dataclass(frozen=True, slots=True)
class DetectorSpec:
    """One detector as the registry knows it."""

    name: DetectorName
    finding_types: tuple[str, ...]
    run: Callable[[ScreeningContext], list[Detection]]
    default_action: Action
    timeout_ms: float = 1000.0
    # Per finding type, where the built-in action differs from the detector's.
    type_actions: Mapping[str, Action] = field(default_factory=lambda: MappingProxyType({}))
    # Findings span the whole text: they can be allowed or blocked, never redacted.
    whole_text: bool = False
    # Text detectors also read the visual order of bidi-reordered text.
    reads_visual_order: bool = False
    # Whether the detector has anything to do for this screening (a canary, a schema, terms).
    applies: Callable[[ScreeningContext], bool] = _always
    # How far, in characters of the normalised view, a finding with the context the detector reads
    # around it can reach across whitespace, given the policy and the canary. A stream holds back at
    # least this much before releasing text (screening/streaming.py); a run without ASCII whitespace
    # is never split and is held whole while it reaches into the hold-back, so a long token (a JWT,
    # a URL) counts for nothing here. None: the detector needs the whole text (schema, moderation).
    stream_reach: Callable[[DetectorPolicy, str | None], int] | None = None
    # A whole-text detector that can also judge a stream piece by piece (moderation on sentence
    # windows) when the policy asks for it; the default for every whole-text detector is to buffer.
    incremental: bool = False
