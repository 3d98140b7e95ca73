"""The detector registry is the one list the screen runs and the policy validates against."""

from __future__ import annotations

import pytest

import secure_ai_gateway.screening.policy as policy_module
from secure_ai_gateway.screening import registry, screen
from secure_ai_gateway.screening.detector import DetectorSpec, ScreeningContext
from secure_ai_gateway.screening.findings import Detection
from secure_ai_gateway.screening.policy import DEFAULT_POLICY, Policy
from secure_ai_gateway.screening.registry import DEFAULT_ACTIONS, DETECTOR_SPECS, DETECTORS, FINDING_TYPES
from secure_ai_gateway.screening.screen import screen_text


def test_every_finding_type_belongs_to_exactly_one_detector() -> None:
    declared = [finding_type for spec in DETECTOR_SPECS for finding_type in spec.finding_types]
    assert len(declared) == len(set(declared)) == len(FINDING_TYPES)


def test_the_default_policy_enables_every_registered_detector_with_its_built_in_action() -> None:
    assert DEFAULT_POLICY.detectors == frozenset(DETECTORS)
    assert all(DEFAULT_POLICY.actions[spec.name] == spec.default_action for spec in DETECTOR_SPECS)


def test_internal_addresses_are_allowed_even_where_a_policy_blocks_personal_data() -> None:
    policy = Policy(policy_id="strict", version=1, actions={"pii": "block"})
    assert DEFAULT_ACTIONS["ip_internal"] == "allow"
    assert policy.action_for("ip_internal", "pii") == "allow"
    assert policy.action_for("ipv4", "pii") == "block"


def test_a_policy_naming_an_unregistered_detector_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown detector"):
        Policy(policy_id="p", version=1, detectors=frozenset({"pii", "telepathy"}))


def test_a_policy_naming_an_unknown_phone_region_is_refused_when_it_is_written() -> None:
    with pytest.raises(ValueError, match="unknown phone region"):
        Policy(policy_id="p", version=1, phone_regions=("US", "ZZ"))


def test_adding_a_detector_is_one_registry_entry_and_the_screen_runs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a new detector registered with one entry (the derived tables patched as the registry
    # module would derive them at import)
    def shouting(context: ScreeningContext) -> list[Detection]:
        text = context.view.text
        start = text.find("HELLO")
        if start < 0:
            return []
        return [Detection("shout", "shouting", start, start + 5, 1.0, "HELLO")]

    spec = DetectorSpec(name="shouting", finding_types=("shout",), run=shouting, default_action="redact")
    monkeypatch.setattr(screen, "DETECTOR_SPECS", (*DETECTOR_SPECS, spec))
    monkeypatch.setattr(registry, "DETECTORS", (*DETECTORS, "shouting"))
    monkeypatch.setattr(policy_module, "DETECTORS", (*DETECTORS, "shouting"))
    monkeypatch.setattr(
        policy_module, "DEFAULT_TIMEOUTS_MS", {**registry.DEFAULT_TIMEOUTS_MS, "shouting": 1000.0}
    )
    policy = Policy(
        policy_id="p", version=1, detectors=frozenset({"shouting"}), actions={"shouting": "redact"}
    )
    # When a text is screened
    verdict = screen_text("well HELLO there", policy)
    # Then the screen ran it and the policy's action applied
    assert (verdict.decision, verdict.redacted_text) == ("redact", "well [REDACTED] there")
    assert "shouting" in verdict.latency_ms
