"""Screening policy: safe defaults, lookups, and the rules a client policy must follow."""

from __future__ import annotations

import pydantic
import pytest

from secure_ai_gateway.screening.findings import DetectorName
from secure_ai_gateway.screening.policy import DEFAULT_POLICY, Policy
from secure_ai_gateway.screening.registry import DETECTORS, FINDING_TYPES


def test_the_default_policy_blocks_everything_except_pii_which_it_redacts() -> None:
    expected = {
        "email": "redact",
        "card": "redact",
        "ipv6": "redact",
        "aws_access_key": "block",
        "generic_secret": "block",
        "canary": "block",
        "exfiltration_link": "block",
        "deny_term": "block",
        "moderation": "block",
        "schema_violation": "block",
    }
    actual = {kind: DEFAULT_POLICY.action_for(kind, _detector_of(kind)) for kind in expected}
    assert actual == expected


def test_the_default_policy_runs_every_detector_and_fails_open_for_none() -> None:
    assert DEFAULT_POLICY.detectors == frozenset(DETECTORS)
    assert DEFAULT_POLICY.fail_open == frozenset()
    assert DEFAULT_POLICY.allowed_hosts == frozenset()


def test_a_type_action_overrides_its_detector_action() -> None:
    policy = Policy(policy_id="p", version=2, actions={"pii": "redact", "ipv4": "allow"})
    assert policy.action_for("ipv4", "pii") == "allow"
    assert policy.action_for("email", "pii") == "redact"


def test_a_type_that_neither_names_is_blocked() -> None:
    policy = Policy(policy_id="p", version=1, actions={"email": "allow"})
    assert policy.action_for("card", "pii") == "block"


@pytest.mark.parametrize("key", ["moderation", "schema", "schema_violation"])
def test_whole_text_findings_cannot_be_redacted(key: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="allow or block"):
        Policy(policy_id="p", version=1, actions={key: "redact"})


def test_an_unknown_finding_type_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="unknown finding type"):
        Policy(policy_id="p", version=1, actions={"emial": "allow"})


def test_an_unknown_field_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        Policy.model_validate({"policy_id": "p", "version": 1, "fail_opne": ["moderation"]})


def test_failing_open_for_a_detector_that_is_not_enabled_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="fail_open"):
        Policy(policy_id="p", version=1, detectors=frozenset({"pii"}), fail_open=frozenset({"moderation"}))


@pytest.mark.parametrize("threshold", [-0.1, 1.1])
def test_a_threshold_outside_zero_to_one_is_refused(threshold: float) -> None:
    with pytest.raises(pydantic.ValidationError):
        Policy(policy_id="p", version=1, moderation_thresholds={"violence": threshold})


@pytest.mark.parametrize(
    "host", ["https://example.com", "example.com/path", "*.example.com", "user@example.com", ""]
)
def test_an_allowed_host_must_be_a_bare_host_name(host: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="bare host name"):
        Policy(policy_id="p", version=1, allowed_hosts=frozenset({host}))


def test_allowed_hosts_are_normalised() -> None:
    policy = Policy(
        policy_id="p", version=1, allowed_hosts=frozenset({" Docs.Example.COM. ", "\uff47\uff49\uff54.com"})
    )
    assert policy.allowed_hosts == frozenset({"docs.example.com", "git.com"})


def test_a_policy_and_its_mappings_cannot_be_changed() -> None:
    with pytest.raises(pydantic.ValidationError):
        DEFAULT_POLICY.version = 2
    with pytest.raises(TypeError):
        DEFAULT_POLICY.actions["secrets"] = "allow"  # type: ignore[index]


def test_a_policy_survives_a_json_round_trip() -> None:
    policy = Policy(
        policy_id="client-42",
        version=3,
        actions={"pii": "allow"},
        deny_terms=("quokkasoft",),
        allowed_hosts=frozenset({"example.com"}),
        fail_open=frozenset({"moderation"}),
    )
    assert Policy.model_validate_json(policy.model_dump_json()) == policy


def test_a_detector_without_its_own_timeout_gets_the_default() -> None:
    policy = Policy(policy_id="p", version=1, timeouts_ms={"moderation": 100.0})
    assert policy.timeout_for("moderation") == 100.0
    assert policy.timeout_for("pii") == DEFAULT_POLICY.timeout_for("pii")


def _detector_of(kind: str) -> DetectorName:
    return FINDING_TYPES[kind]
