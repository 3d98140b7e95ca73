"""The metric helpers: what each publishes, under which dimension sets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from secure_ai_gateway.observability import (
    AUTHORIZATION_REFUSED,
    COMPLETION_PREFIX,
    METRICS,
    SCREEN_DETECTOR_UNAVAILABLE,
    SCREEN_FAILED_OPEN,
    VALIDATION_PREFIX,
    count,
    count_refusal,
    count_screen,
)


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    # Powertools keeps metric sets at class level: start and end empty.
    publisher = Metrics(namespace="ObservabilityTests", service="completion")
    publisher.clear_metrics()
    yield publisher
    publisher.clear_metrics()


def published(metrics: Metrics) -> tuple[set[str], list[set[str]], dict[str, Any]]:
    """Metric names, dimension sets and the whole EMF document the next flush would print."""
    document: dict[str, Any] = dict(metrics.serialize_metric_set())
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    names = {metric["Name"] for metric in directive["Metrics"]}
    return names, [set(keys) for keys in directive["Dimensions"]], document


def test_a_refusal_is_published_by_reason_and_as_a_total_under_service_alone(metrics: Metrics) -> None:
    count_refusal(metrics, AUTHORIZATION_REFUSED, "mac_mismatch")
    names, dimension_sets, document = published(metrics)
    assert names == {AUTHORIZATION_REFUSED}
    assert dimension_sets == [{"service", "reason"}, {"service"}]
    assert (document["service"], document["reason"]) == ("completion", "mac_mismatch")
    assert [set(s) for s in METRICS[AUTHORIZATION_REFUSED].dimension_sets] == dimension_sets


def test_a_screen_with_a_detector_that_failed_open_counts_both_signals(metrics: Metrics) -> None:
    count_screen(
        metrics, COMPLETION_PREFIX, "allow", unavailable=("moderation",), failed_open=("moderation",)
    )
    names, dimension_sets, document = published(metrics)
    assert names == {"CompletionAllow", SCREEN_DETECTOR_UNAVAILABLE, SCREEN_FAILED_OPEN}
    assert dimension_sets == [{"service"}]
    assert document[SCREEN_FAILED_OPEN] == [1.0]


def test_a_detector_unavailable_and_failing_closed_is_not_counted_as_failed_open(metrics: Metrics) -> None:
    count_screen(metrics, VALIDATION_PREFIX, "block", unavailable=("moderation",), failed_open=())
    names, _, _ = published(metrics)
    assert names == {"ValidationBlock", SCREEN_DETECTOR_UNAVAILABLE}


def test_a_healthy_screen_counts_only_its_decision(metrics: Metrics) -> None:
    count_screen(metrics, VALIDATION_PREFIX, "redact", unavailable=(), failed_open=())
    names, _, _ = published(metrics)
    assert names == {"ValidationRedact"}


def test_every_decision_metric_the_helpers_can_publish_is_registered() -> None:
    for prefix in (COMPLETION_PREFIX, VALIDATION_PREFIX):
        for decision in ("allow", "redact", "block"):
            assert f"{prefix}{decision.capitalize()}" in METRICS


def test_an_unregistered_metric_is_refused_before_it_is_published(metrics: Metrics) -> None:
    with pytest.raises(ValueError, match="unregistered metric"):
        count(metrics, "CompletionMaybe")
