"""The one entry point: screen a text under a policy and return a verdict."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from secure_ai.errors import PayloadTooLarge
from secure_ai.screening.canary import detect_canary
from secure_ai.screening.credentials import detect_secrets
from secure_ai.screening.deny_terms import detect_deny_terms
from secure_ai.screening.exfiltration import detect_exfiltration
from secure_ai.screening.findings import Detection, DetectorName, mask_sample, placeholder
from secure_ai.screening.matching import ScanTarget
from secure_ai.screening.moderation import ModerationPort, detect_moderation
from secure_ai.screening.normalise import NormalisedText, normalise
from secure_ai.screening.pii import detect_pii
from secure_ai.screening.policy import ACTION_RANK, Action, Policy
from secure_ai.screening.redaction import redact
from secure_ai.screening.schema import detect_schema_violations
from secure_ai.screening.verdict import (
    MAX_VERDICT_FINDINGS,
    Finding,
    UnavailableReason,
    Verdict,
    content_digest,
)

MAX_INPUT_BYTES: Final = 1 << 20  # 1 MiB of UTF-8
_WHOLE_TEXT_DETECTORS: Final = frozenset({"moderation", "schema"})

_Run = Callable[[], list[Detection]]


def screen_text(
    text: str,
    policy: Policy,
    *,
    canary: str | None = None,
    schema: dict[str, Any] | None = None,
    moderation: ModerationPort | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Verdict:
    """Run the policy's detectors over `text` and decide allow, redact or block.

    Raises `PayloadTooLarge` for more than 1 MiB of UTF-8, before any other work; every
    other failure of a detector makes it `unavailable` (blocking unless the policy fails open).
    """
    encoded = _encode_within_cap(text)
    digest = content_digest(encoded)
    detections: list[Detection] = []
    unavailable: dict[DetectorName, UnavailableReason] = {}
    started = clock()
    try:
        view = normalise(text)
        target = ScanTarget(view.text)
    except Exception:  # noqa: BLE001 - without a view no detector can run: all are unavailable
        unavailable = dict.fromkeys(sorted(policy.detectors), "error")
        return _decide(text, policy, detections, unavailable=unavailable, latency={}, digest=digest)
    latency: dict[str, float] = {"normalise": _ms(clock() - started)}

    plan = _plan(view, target, policy, canary=canary, schema=schema, moderation=moderation, clock=clock)
    for name, run in plan:
        if run is None:
            unavailable[name] = "not_configured"
            continue
        started = clock()
        try:
            found = run()
        except Exception:  # noqa: BLE001 - any detector failure must fail closed, not crash screening
            unavailable[name] = "error"
            found = []
        elapsed_ms = _ms(clock() - started)
        latency[name] = elapsed_ms
        detections.extend(found)  # findings of a slow detector are still facts
        if name not in unavailable and elapsed_ms > policy.timeout_for(name):
            unavailable[name] = "timeout"

    return _decide(text, policy, detections, unavailable=unavailable, latency=latency, digest=digest)


def _encode_within_cap(text: str) -> bytes:
    # Every character is at least one byte: a long string is refused before it is encoded.
    if len(text) > MAX_INPUT_BYTES:
        raise PayloadTooLarge("screening_input_too_large")
    # surrogatepass: a lone surrogate (possible via JSON "\ud800") must not crash the digest.
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) > MAX_INPUT_BYTES:
        raise PayloadTooLarge("screening_input_too_large")
    return encoded


def _plan(
    view: NormalisedText,
    target: ScanTarget,
    policy: Policy,
    *,
    canary: str | None,
    schema: dict[str, Any] | None,
    moderation: ModerationPort | None,
    clock: Callable[[], float],
) -> list[tuple[DetectorName, _Run | None]]:
    """The detectors to run, in order; `None` for an enabled detector that cannot run."""
    enabled = policy.detectors
    plan: list[tuple[DetectorName, _Run | None]] = []
    if "pii" in enabled:
        plan.append(("pii", lambda: detect_pii(view, target)))
    if "secrets" in enabled:
        plan.append(("secrets", lambda: detect_secrets(view, target)))
    if "exfiltration" in enabled:
        plan.append(("exfiltration", lambda: detect_exfiltration(view, policy.allowed_hosts, target)))
    if "deny_terms" in enabled and policy.deny_terms:
        plan.append(("deny_terms", lambda: detect_deny_terms(view, policy.deny_terms)))
    if "canary" in enabled and canary is not None:
        plan.append(("canary", lambda: detect_canary(view, canary)))
    if "schema" in enabled and schema is not None:
        budget = policy.timeout_for("schema") / 1000
        plan.append(
            ("schema", lambda: detect_schema_violations(view, schema, budget_seconds=budget, clock=clock))
        )
    if "moderation" in enabled:
        if moderation is None:
            plan.append(("moderation", None))
        else:
            port = moderation
            plan.append(
                (
                    "moderation",
                    lambda: detect_moderation(
                        view, port, policy.moderation_thresholds, policy.moderation_default_threshold
                    ),
                )
            )
    return plan


def _decide(
    text: str,
    policy: Policy,
    detections: list[Detection],
    *,
    unavailable: dict[DetectorName, UnavailableReason],
    latency: dict[str, float],
    digest: str,
) -> Verdict:
    decision: Action = "allow"
    findings: list[Finding] = []
    to_redact: list[tuple[int, int, str]] = []
    for detection in sorted(detections, key=lambda item: (item.start, item.end, item.type)):
        action = policy.action_for(detection.type, detection.detector)
        if ACTION_RANK[action] > ACTION_RANK[decision]:
            decision = action
        if action == "redact":
            to_redact.append((detection.start, detection.end, placeholder(detection.type)))
        if len(findings) < MAX_VERDICT_FINDINGS:
            findings.append(_finding(detection, action))
    failed_open = tuple(name for name in unavailable if name in policy.fail_open)
    if any(name not in policy.fail_open for name in unavailable):
        decision = "block"
    return Verdict(
        decision=decision,
        findings=tuple(findings),
        findings_total=len(detections),
        policy_id=policy.policy_id,
        policy_version=policy.version,
        latency_ms=latency,
        unavailable=unavailable,
        failed_open=failed_open,
        content_digest=digest,
        redacted_text=redact(text, to_redact) if decision == "redact" else None,
    )


def _finding(detection: Detection, action: Action) -> Finding:
    whole_text = detection.detector in _WHOLE_TEXT_DETECTORS
    return Finding(
        type=detection.type,
        detector=detection.detector,
        span=(detection.start, detection.end),
        confidence=detection.confidence,
        sample=None if whole_text else mask_sample(detection.value),
        label=detection.label,
        action=action,
    )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)
