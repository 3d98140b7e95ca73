"""The labelled corpus holds every pattern detector at precision and recall of at least 0.95."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from secure_ai_gateway.screening.findings import DetectorName
from secure_ai_gateway.screening.policy import Policy
from secure_ai_gateway.screening.registry import FINDING_TYPES
from secure_ai_gateway.screening.screen import screen_text

DATA = Path(__file__).resolve().parents[2] / "data"
PATTERN_DETECTORS: tuple[DetectorName, ...] = ("pii", "secrets", "canary", "exfiltration", "deny_terms")
FLOOR = 0.95


@cache
def corpus() -> tuple[dict[str, Any], ...]:
    lines = (DATA / "screening_corpus.jsonl").read_text(encoding="utf-8").splitlines()
    return tuple(json.loads(line) for line in lines if line.strip())


@cache
def counts() -> dict[str, Counter[str]]:
    """True positives, false positives and false negatives per detector over the corpus."""
    config = json.loads((DATA / "screening_corpus_policy.json").read_text(encoding="utf-8"))
    policy = Policy(
        policy_id="corpus",
        version=1,
        detectors=frozenset(PATTERN_DETECTORS),
        actions=dict.fromkeys(PATTERN_DETECTORS, "allow"),
        allowed_hosts=frozenset(config["allowed_hosts"]),
        deny_terms=tuple(config["deny_terms"]),
    )
    tally: dict[str, Counter[str]] = {name: Counter() for name in ("tp", "fp", "fn")}
    for sample in corpus():
        text = sample["text"]
        verdict = screen_text(text, policy, canary=sample.get("canary"))
        assert verdict.findings_total == len(verdict.findings), sample["id"]
        got = Counter((finding.type, text[finding.span[0] : finding.span[1]]) for finding in verdict.findings)
        expected = Counter((item["type"], item["value"]) for item in sample["expected"])
        for key in got | expected:
            detector = FINDING_TYPES[key[0]]
            tally["tp"][detector] += min(got[key], expected[key])
            tally["fp"][detector] += max(got[key] - expected[key], 0)
            tally["fn"][detector] += max(expected[key] - got[key], 0)
    return tally


def test_the_corpus_has_at_least_400_samples_with_unique_ids() -> None:
    ids = [sample["id"] for sample in corpus()]
    assert len(ids) >= 400
    assert len(set(ids)) == len(ids)


def test_every_expected_value_is_an_exact_substring_of_its_text() -> None:
    missing = [
        (sample["id"], item["value"])
        for sample in corpus()
        for item in sample["expected"]
        if item["value"] not in sample["text"]
    ]
    assert missing == []


@pytest.mark.parametrize("detector", PATTERN_DETECTORS)
def test_each_pattern_detector_has_positives_and_hard_negatives(detector: str) -> None:
    positives = sum(
        1
        for sample in corpus()
        if any(FINDING_TYPES[item["type"]] == detector for item in sample["expected"])
    )
    negatives = sum(1 for sample in corpus() if "-neg" in sample["id"] and _family(sample["id"]) == detector)
    assert positives >= 20
    assert negatives >= 10


@pytest.mark.parametrize("detector", PATTERN_DETECTORS)
def test_precision_holds_the_floor(detector: str) -> None:
    tally = counts()
    true_positives, false_positives = tally["tp"][detector], tally["fp"][detector]
    assert true_positives / (true_positives + false_positives) >= FLOOR


@pytest.mark.parametrize("detector", PATTERN_DETECTORS)
def test_recall_holds_the_floor(detector: str) -> None:
    tally = counts()
    true_positives, false_negatives = tally["tp"][detector], tally["fn"][detector]
    assert true_positives / (true_positives + false_negatives) >= FLOOR


def _family(sample_id: str) -> str:
    prefix = sample_id.split("-", 1)[0]
    return {"pii": "pii", "sec": "secrets", "can": "canary", "exf": "exfiltration", "deny": "deny_terms"}.get(
        prefix, ""
    )
