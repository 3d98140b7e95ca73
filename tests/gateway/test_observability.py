"""The metric helpers: what each publishes, under which dimension sets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools import Metrics

from secure_ai_gateway.observability import (
    AUTHORIZATION_REFUSED,
    COMPLETION_PREFIX,
    METRICS,
    SCREEN_DETECTOR_UNAVAILABLE,
    SCREEN_FAILED_OPEN,
    USER_REQUESTS,
    USER_TOKENS,
    VALIDATION_PREFIX,
    count,
    count_refusal,
    count_screen,
    count_user_call,
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


@dataclass(frozen=True)
class Call:
    device_id: str
    app_id: str = "app-1"
    user_ref: str = "u" * 43

    @property
    def is_device(self) -> bool:
        return bool(self.device_id)


def user_points(captured: str) -> list[dict[str, Any]]:
    """The per-user EMF documents printed (single_metric prints each at once)."""
    documents = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    return [document for document in documents if "user" in document]


def test_a_device_s_call_is_counted_for_its_user_by_app_and_keyed_ref(
    metrics: Metrics, capsys: pytest.CaptureFixture[str]
) -> None:
    count_user_call(metrics, Call(device_id="dev-1"), tokens=42)
    points = user_points(capsys.readouterr().out)
    assert [(point.get(USER_REQUESTS), point.get(USER_TOKENS)) for point in points] == [
        ([1.0], None),
        (None, [42.0]),
    ]
    for point in points:
        (directive,) = point["_aws"]["CloudWatchMetrics"]
        assert directive["Dimensions"] == [["service", "app", "user"]]
        assert (point["service"], point["app"], point["user"]) == ("completion", "app-1", "u" * 43)


def test_a_call_without_tokens_counts_one_request_and_a_server_client_s_call_nothing(
    metrics: Metrics, capsys: pytest.CaptureFixture[str]
) -> None:
    count_user_call(metrics, Call(device_id="dev-1"))
    assert [point.get(USER_REQUESTS) for point in user_points(capsys.readouterr().out)] == [[1.0]]
    count_user_call(metrics, Call(device_id=""), tokens=42)
    assert user_points(capsys.readouterr().out) == []
