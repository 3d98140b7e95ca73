"""Every detector the screen runs, in order. Adding a detector is one module and one entry here.

Each entry is a `DetectorSpec` (screening/detector.py): the function, its finding types, the
built-in action and time budget, and how it reads the text. Policies (screening/policy.py) and the
screen (screening/screen.py) derive everything they know about detectors from this tuple.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from secure_ai_gateway.screening.bidi_controls import detect_bidi_controls
from secure_ai_gateway.screening.canary import canary_reach, detect_canary
from secure_ai_gateway.screening.deny_terms import deny_terms_reach, detect_deny_terms
from secure_ai_gateway.screening.detector import DetectorSpec, NotConfigured, ScreeningContext, fixed_reach
from secure_ai_gateway.screening.exfiltration import detect_exfiltration
from secure_ai_gateway.screening.findings import (
    INTERNAL_ADDRESS_TYPES,
    PII_TYPES,
    SECRET_TYPES,
    Action,
    Detection,
    DetectorName,
)
from secure_ai_gateway.screening.moderation import detect_moderation
from secure_ai_gateway.screening.normalise import normalise
from secure_ai_gateway.screening.pii import detect_pii
from secure_ai_gateway.screening.redaction import redact
from secure_ai_gateway.screening.secrets import detect_secrets


def _pii(context: ScreeningContext) -> list[Detection]:
    return detect_pii(context.view, context.target, phone_regions=context.policy.phone_regions)


def _secrets(context: ScreeningContext) -> list[Detection]:
    return detect_secrets(context.view, context.target)


def _bidi(context: ScreeningContext) -> list[Detection]:
    return detect_bidi_controls(context.view)


def _exfiltration(context: ScreeningContext) -> list[Detection]:
    return detect_exfiltration(
        context.view,
        context.policy.allowed_hosts,
        budget_seconds=context.policy.timeout_for("exfiltration") / 1000,
        clock=context.clock,
    )


def _deny_terms(context: ScreeningContext) -> list[Detection]:
    return detect_deny_terms(context.view, context.policy.deny_terms)


def _canary(context: ScreeningContext) -> list[Detection]:
    if context.canary is None:
        raise NotConfigured("canary")
    return detect_canary(context.view, context.canary)


def _schema(context: ScreeningContext) -> list[Detection]:
    # jsonschema costs tens of milliseconds to import and only structured-output requests need it.
    from secure_ai_gateway.screening.schema import detect_schema_violations  # noqa: PLC0415

    if context.schema is None:
        raise NotConfigured("schema")
    budget = context.policy.timeout_for("schema") / 1000
    return detect_schema_violations(context.view, context.schema, budget_seconds=budget, clock=context.clock)


def _moderation(context: ScreeningContext) -> list[Detection]:
    if context.moderation is None:
        raise NotConfigured("moderation")
    policy = context.policy
    view = context.view
    if context.restored:
        # The moderation service is a third party: it sees the answer as the model wrote it, with
        # the caller's restored values masked, never the values themselves.
        masked = redact(view.original, [(start, end, "[PII]") for start, end in context.restored])
        view = normalise(masked)
    found = detect_moderation(
        view, context.moderation, policy.moderation_thresholds, policy.moderation_default_threshold
    )
    return [finding._replace(end=len(context.view.original)) for finding in found]


# Stream reaches (DetectorSpec.stream_reach), in characters of the normalised view.
_PII_REACH: Final = 8 * 17 + 7 * 3 + 8
_SECRETS_REACH: Final = 72 + 4 * (4 + 16) + 8
_EXFILTRATION_REACH: Final = 64
_BIDI_REACH: Final = 16

DETECTOR_SPECS: Final[tuple[DetectorSpec, ...]] = (
    DetectorSpec(
        name="pii",
        finding_types=PII_TYPES + INTERNAL_ADDRESS_TYPES,
        run=_pii,
        default_action="redact",
        type_actions=MappingProxyType(dict.fromkeys(INTERNAL_ADDRESS_TYPES, "allow")),
        reads_visual_order=True,
        # A phone number: up to eight digit groups of up to 17 digits with gaps of up to three
        # characters (159), and the few characters around it the validators read. Addresses are
        # single tokens.
        stream_reach=fixed_reach(_PII_REACH),
    ),
    DetectorSpec(
        name="secrets",
        finding_types=SECRET_TYPES,
        run=_secrets,
        default_action="block",
        reads_visual_order=True,
        # A truncated key block: its header (at most 72 characters) and the lines, of 16 or more
        # base64 characters each after up to 4 spaces, holding the 64 that make it a key (136 up
        # to the last line). Every other format is one token, or reported from a token after its
        # name (`password = …`, `Bearer …`); an encrypted block's header is held as an open
        # construct until its END line.
        stream_reach=fixed_reach(_SECRETS_REACH),
    ),
    DetectorSpec(
        name="exfiltration",
        finding_types=("exfiltration_resource", "exfiltration_link"),
        run=_exfiltration,
        default_action="block",
        # URLs are tokens; links, images, tags, fences and definitions are held by the stream as
        # constructs from their first character until they close (screening/streaming.py). This
        # is the margin for what a renderer reads before it: `![`, `<img`, `https://`, `www.`.
        stream_reach=fixed_reach(_EXFILTRATION_REACH),
    ),
    DetectorSpec(
        name="bidi",
        finding_types=("bidi_control",),
        run=_bidi,
        default_action="block",
        # One character of the view, however it is spelt (an escape decodes to one).
        stream_reach=fixed_reach(_BIDI_REACH),
    ),
    DetectorSpec(
        name="deny_terms",
        finding_types=("deny_term",),
        run=_deny_terms,
        default_action="block",
        reads_visual_order=True,
        applies=lambda context: bool(context.policy.deny_terms),
        stream_reach=lambda policy, _canary: deny_terms_reach(policy.deny_terms),
    ),
    DetectorSpec(
        name="canary",
        finding_types=("canary",),
        run=_canary,
        default_action="block",
        reads_visual_order=True,
        applies=lambda context: context.canary is not None,
        stream_reach=lambda _policy, canary: canary_reach(canary),
    ),
    DetectorSpec(
        name="schema",
        finding_types=("schema_violation",),
        run=_schema,
        default_action="block",
        whole_text=True,
        applies=lambda context: context.schema is not None,
    ),
    DetectorSpec(
        name="moderation",
        finding_types=("moderation",),
        run=_moderation,
        default_action="block",
        timeout_ms=2500.0,
        whole_text=True,
        incremental=True,
    ),
)

DETECTORS: Final[tuple[DetectorName, ...]] = tuple(spec.name for spec in DETECTOR_SPECS)
FINDING_TYPES: Final[Mapping[str, DetectorName]] = MappingProxyType(
    {finding_type: spec.name for spec in DETECTOR_SPECS for finding_type in spec.finding_types}
)
WHOLE_TEXT_DETECTORS: Final = frozenset(spec.name for spec in DETECTOR_SPECS if spec.whole_text)
DEFAULT_ACTIONS: Final[Mapping[str, Action]] = MappingProxyType(
    {
        **{spec.name: spec.default_action for spec in DETECTOR_SPECS},
        **{key: action for spec in DETECTOR_SPECS for key, action in spec.type_actions.items()},
    }
)
DEFAULT_TIMEOUTS_MS: Final[Mapping[DetectorName, float]] = MappingProxyType(
    {spec.name: spec.timeout_ms for spec in DETECTOR_SPECS}
)
INCREMENTAL_DETECTORS: Final = frozenset(spec.name for spec in DETECTOR_SPECS if spec.incremental)
