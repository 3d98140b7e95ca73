"""The one entry point: screen a text under a policy and return a verdict.

The screen runs every detector of the registry (screening/registry.py) that the policy enables,
decides allow, redact or block, and, when it redacts, screens the redacted text once more: what is
released is always text that was screened in its final form. docs/screening.md explains the rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, Final, NamedTuple

from secure_ai_gateway.screening.detector import NotConfigured, ScreeningContext
from secure_ai_gateway.screening.findings import (
    ACTION_RANK,
    Action,
    Detection,
    DetectorName,
    mask_sample,
    placeholder,
)
from secure_ai_gateway.screening.moderation import ModerationPort
from secure_ai_gateway.screening.normalise import normalise
from secure_ai_gateway.screening.policy import Policy
from secure_ai_gateway.screening.redaction import redact_tracking
from secure_ai_gateway.screening.registry import DETECTOR_SPECS, WHOLE_TEXT_DETECTORS
from secure_ai_gateway.screening.verdict import MAX_VERDICT_FINDINGS, UnavailableReason, keyed_digest
from secure_ai_protocol.errors import PayloadTooLarge
from secure_ai_protocol.wire.verdict import Finding, Verdict

MAX_INPUT_BYTES: Final = 1 << 20  # 1 MiB of UTF-8
# Findings that put data into a URL: where one touches a restored value, the gateway wrote it there.
_URL_DETECTORS: Final = frozenset({"exfiltration"})
RESTORED_LABEL: Final = "restored"
AFTER_REDACTION_LABEL: Final = "after_redaction"
# Not asked again of the redacted text: the moderation service already judged the fuller text, and
# each call is a paid request to a third party.
_NOT_REPEATED: Final = frozenset({"moderation"})

type Span = tuple[int, int]


def screen_text(
    text: str,
    policy: Policy,
    *,
    canary: str | None = None,
    schema: dict[str, Any] | None = None,
    moderation: ModerationPort | None = None,
    restored: Sequence[Span] = (),
    digest_key: bytes | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Verdict:
    """Run the policy's detectors over `text` and decide allow, redact or block.

    `restored` are the spans where the gateway wrote the caller's own values back (pseudonym
    restoration): PII exactly there is the caller's and is allowed; any URL finding touching one
    blocks. `digest_key` keys the verdict's digest of the released text (none when blocked).

    Raises `PayloadTooLarge` for more than 1 MiB of UTF-8, before any other work; every
    other failure of a detector makes it `unavailable` (blocking unless the policy fails open).
    """
    _encode_within_cap(text)
    context_for = partial(
        ScreeningContext, policy=policy, canary=canary, schema=schema, moderation=moderation, clock=clock
    )
    first = _screen_once(text, context_for, restored)
    released: str | None = text if first.decision == "allow" else None
    redacted: str | None = None
    decision, findings = first.decision, first.findings
    if first.decision == "redact":
        redacted, still_restored = redact_tracking(text, first.to_redact, restored)
        # Redaction changes the text: the released form is screened again, and anything but a clean
        # pass blocks (a placeholder could complete a construct the first pass saw unfinished).
        second = _screen_once(redacted, context_for, still_restored, skip=_NOT_REPEATED)
        if second.decision == "allow":
            released = redacted
        else:
            decision, released, redacted = "block", None, None
            extra = [
                finding.model_copy(update={"label": AFTER_REDACTION_LABEL}) for finding in second.findings
            ]
            findings = (findings + extra)[:MAX_VERDICT_FINDINGS]
            first.latency.update({f"{name}_after_redaction": ms for name, ms in second.latency.items()})
            first.unavailable.update(second.unavailable)
    digest = None
    if released is not None and digest_key is not None:
        digest = keyed_digest(digest_key, released.encode("utf-8", "surrogatepass"))
    return Verdict(
        decision=decision,
        findings=tuple(findings),
        findings_total=first.findings_total,
        policy_id=policy.policy_id,
        policy_version=policy.version,
        latency_ms=first.latency,
        unavailable=dict(first.unavailable),
        failed_open=tuple(name for name in first.unavailable if name in policy.fail_open),
        content_digest=digest,
        redacted_text=redacted,
    )


class Judged(NamedTuple):
    """One detection with the action the policy (and the restored spans) give it."""

    detection: Detection
    action: Action
    label: str | None

    def finding(self) -> Finding:
        """As a verdict reports it: the span and a masked sample, never the value."""
        return _finding(self.detection, self.action, self.label)


class ScreenPass(NamedTuple):
    """One pass of the detectors over a text, every detection judged, nothing decided or redacted."""

    judged: tuple[Judged, ...]
    unavailable: Mapping[DetectorName, UnavailableReason]
    latency: Mapping[str, float]


def screen_pass(
    text: str,
    policy: Policy,
    *,
    canary: str | None = None,
    schema: dict[str, Any] | None = None,
    moderation: ModerationPort | None = None,
    restored: Sequence[Span] = (),
    clock: Callable[[], float] = time.perf_counter,
) -> ScreenPass:
    """Run the policy's detectors over `text` once and judge each detection, for a caller that
    decides for itself which of them count yet (a stream: screening/streaming.py). Same cap and
    failure rules as `screen_text`; every detection is listed, not only the first 200."""
    _encode_within_cap(text)
    context_for = partial(
        ScreeningContext, policy=policy, canary=canary, schema=schema, moderation=moderation, clock=clock
    )
    result = _screen_once(text, context_for, restored)
    return ScreenPass(tuple(result.judged), dict(result.unavailable), dict(result.latency))


class _Pass:
    """One pass of the detectors over one text, decided under the policy."""

    __slots__ = ("decision", "findings", "findings_total", "judged", "latency", "to_redact", "unavailable")

    def __init__(self) -> None:
        self.decision: Action = "allow"
        self.findings: list[Finding] = []
        self.findings_total = 0
        self.latency: dict[str, float] = {}
        self.unavailable: dict[DetectorName, UnavailableReason] = {}
        self.to_redact: list[tuple[int, int, str]] = []
        self.judged: list[Judged] = []


def _encode_within_cap(text: str) -> bytes:
    # Every character is at least one byte: a long string is refused before it is encoded.
    if len(text) > MAX_INPUT_BYTES:
        raise PayloadTooLarge("screening_input_too_large")
    # surrogatepass: a lone surrogate (possible via JSON "\ud800") must not crash the digest.
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) > MAX_INPUT_BYTES:
        raise PayloadTooLarge("screening_input_too_large")
    return encoded


def _screen_once(
    text: str,
    context_for: partial[ScreeningContext],
    restored: Sequence[Span],
    *,
    skip: frozenset[str] = frozenset(),
) -> _Pass:
    """One pass of the registry's detectors over `text`; `context_for(view, restored=…)` builds the
    context each detector is given (the policy, canary, schema, moderation and clock bound)."""
    result = _Pass()
    policy: Policy = context_for.keywords["policy"]
    clock: Callable[[], float] = context_for.keywords["clock"]
    started = clock()
    try:
        view = normalise(text)
        visual = view.visual()
    except Exception:  # noqa: BLE001 - without a view no detector can run: all are unavailable
        result.unavailable = dict.fromkeys(sorted(policy.detectors), "error")
        blocking = any(name not in policy.fail_open for name in result.unavailable)
        result.decision = "block" if blocking else "allow"
        return result
    result.latency["normalise"] = _ms(clock() - started)
    context = context_for(view, restored=restored)
    visual_context = context.with_view(visual) if visual is not None else None
    detections: list[Detection] = []
    for spec in DETECTOR_SPECS:
        if spec.name not in policy.detectors or spec.name in skip or not spec.applies(context):
            continue
        started = clock()
        found: list[Detection] = []
        try:
            found = spec.run(context)
            if visual_context is not None and spec.reads_visual_order:
                seen = set(found)
                found += [item for item in spec.run(visual_context) if item not in seen]
        except NotConfigured:
            result.unavailable[spec.name] = "not_configured"
            continue
        except Exception:  # noqa: BLE001 - any detector failure must fail closed, not crash screening
            result.unavailable[spec.name] = "error"
        elapsed_ms = _ms(clock() - started)
        result.latency[spec.name] = elapsed_ms
        detections.extend(found)  # findings of a slow detector are still facts
        if spec.name not in result.unavailable and elapsed_ms > policy.timeout_for(spec.name):
            result.unavailable[spec.name] = "timeout"
    _decide(result, policy, detections, restored)
    return result


def _decide(result: _Pass, policy: Policy, detections: list[Detection], restored: Sequence[Span]) -> None:
    decision: Action = "allow"
    for detection in sorted(detections, key=lambda item: (item.start, item.end, item.type)):
        action, label = _action(detection, policy, restored)
        result.judged.append(Judged(detection, action, label))
        if ACTION_RANK[action] > ACTION_RANK[decision]:
            decision = action
        if action == "redact":
            result.to_redact.append((detection.start, detection.end, placeholder(detection.type)))
        if len(result.findings) < MAX_VERDICT_FINDINGS:
            result.findings.append(_finding(detection, action, label))
    result.findings_total = len(detections)
    if any(name not in policy.fail_open for name in result.unavailable):
        decision = "block"
    result.decision = decision


def _action(detection: Detection, policy: Policy, restored: Sequence[Span]) -> tuple[Action, str | None]:
    """The policy's action, except where the finding meets a value the gateway restored."""
    if restored:
        if detection.detector in _URL_DETECTORS and any(
            detection.start < end and start < detection.end for start, end in restored
        ):
            return "block", RESTORED_LABEL
        if detection.detector == "pii" and any(
            start <= detection.start and detection.end <= end for start, end in restored
        ):
            # The caller's own value, returned to them in plain text where they wrote it.
            return "allow", RESTORED_LABEL
    return policy.action_for(detection.type, detection.detector), detection.label


def _finding(detection: Detection, action: Action, label: str | None) -> Finding:
    whole_text = detection.detector in WHOLE_TEXT_DETECTORS
    return Finding(
        type=detection.type,
        detector=detection.detector,
        span=(detection.start, detection.end),
        confidence=detection.confidence,
        sample=None if whole_text else mask_sample(detection.value),
        label=label,
        action=action,
    )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)
