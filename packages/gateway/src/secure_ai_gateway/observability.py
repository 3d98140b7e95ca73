"""Powertools Logger, Metrics and Tracer, configured from the standard POWERTOOLS_* environment.

Handlers call these once at module level. The Tracer is a separate factory because importing it
costs ~300 ms (aws-xray-sdk): the authorizer, whose cold start is on every client's first request,
relies on Lambda's active tracing and does not create one.

Every metric the functions emit is named once, in `METRICS`, with the services that emit it and the
dimension sets it is published under; template.yaml's alarms and dashboard may name only these
(tests/infrastructure/test_alarms.py), and the code may emit only these.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Final, Protocol, get_args

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from secure_ai_protocol.wire.verdict import Decision

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer


# These libraries log whole request and response bodies at DEBUG: KMS plaintexts (client secrets),
# decrypted envelopes, prompts and answers. Whatever level an operator sets (AWS_LAMBDA_LOG_LEVEL,
# the root logger), they stay at WARNING.
BODY_LOGGING_LIBRARIES = (
    "botocore",
    "boto3",
    "urllib3",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "openai",
    "aws_encryption_sdk",
    # markdown-it traces every parser rule at DEBUG: no content, but a cost on every screened answer.
    "markdown_it",
)


def silence_body_logging() -> None:
    """Pin the loggers of libraries that dump bodies at DEBUG to WARNING."""
    for name in BODY_LOGGING_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


@cache
def service_logger() -> Logger:
    """The JSON structured logger (service name from POWERTOOLS_SERVICE_NAME)."""
    silence_body_logging()
    return Logger(utc=True)


@cache
def service_metrics() -> Metrics:
    """The EMF metrics publisher (namespace from POWERTOOLS_METRICS_NAMESPACE)."""
    return Metrics()


@cache
def service_tracer() -> Tracer:
    """The X-Ray tracer, imported only by the functions that can afford it."""
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - deferred: ~300 ms import

    # Only botocore: the functions call AWS through it, and patching every library X-Ray knows
    # (httpx among them, which no function uses) costs cold-start time for no subsegment.
    return Tracer(patch_modules=("botocore",))


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """A count the functions emit: its name, who emits it, and the dimension sets it is published under.

    Powertools adds `service` (POWERTOOLS_SERVICE_NAME) to every metric; an alarm must name one of
    the dimension sets exactly, or it watches a metric that never receives a data point.
    """

    name: str
    services: frozenset[str]
    dimension_sets: tuple[frozenset[str], ...] = (frozenset({"service"}),)


# A refusal is published per reason and, under `service` alone, as the total an alarm can read
# (alarms cannot sum over a dimension's values they do not name).
_BY_REASON_AND_TOTAL = (frozenset({"service", "reason"}), frozenset({"service"}))
DECISIONS: Final[tuple[str, ...]] = get_args(Decision)

AUTHORIZATION_ALLOWED: Final = "AuthorizationAllowed"
AUTHORIZATION_REFUSED: Final = "AuthorizationRefused"
REQUEST_REFUSED: Final = "RequestRefused"
INTERNAL_ERROR: Final = "InternalError"
USAGE_SETTLEMENT_FAILED: Final = "UsageSettlementFailed"
# Tokens the model reported for each answered completion (prompt and completion together).
COMPLETION_TOKENS: Final = "CompletionTokens"
# Screens whose policy let an unavailable detector pass (`failed_open` in the verdict), and screens
# with any detector unavailable (failing closed or open): each counted once per screened text.
SCREEN_FAILED_OPEN: Final = "ScreenFailedOpen"
SCREEN_DETECTOR_UNAVAILABLE: Final = "ScreenDetectorUnavailable"
# Devices enrolled and renewed (the devices function).
DEVICE_ENROLLED: Final = "DeviceEnrolled"
DEVICE_RENEWED: Final = "DeviceRenewed"
# Per user of an app: requests and tokens, under the user's keyed hash (`user`), never the OIDC `sub`.
USER_REQUESTS: Final = "UserRequests"
USER_TOKENS: Final = "UserTokens"
COMPLETION_PREFIX: Final = "Completion"
VALIDATION_PREFIX: Final = "Validation"


def decision_metric(prefix: str, decision: str) -> str:
    """`CompletionAllow`, `ValidationBlock`…: the count of one screen decision."""
    return f"{prefix}{decision.capitalize()}"


# The streaming function answers chat completions too: it counts under the completion's names, as
# `service` "streaming".
_COMPLETIONS = frozenset({"completion", "streaming"})
_SCREENING = _COMPLETIONS | {"validator"}
_API = _SCREENING | {"devices"}
_PER_USER = (frozenset({"service", "app", "user"}),)
METRICS: Final[dict[str, MetricSpec]] = {
    spec.name: spec
    for spec in (
        MetricSpec(AUTHORIZATION_ALLOWED, frozenset({"authorizer"})),
        MetricSpec(AUTHORIZATION_REFUSED, frozenset({"authorizer"}), _BY_REASON_AND_TOTAL),
        MetricSpec(REQUEST_REFUSED, _API, _BY_REASON_AND_TOTAL),
        MetricSpec(INTERNAL_ERROR, _API),
        MetricSpec(DEVICE_ENROLLED, frozenset({"devices"})),
        MetricSpec(DEVICE_RENEWED, frozenset({"devices"})),
        MetricSpec(USER_REQUESTS, _SCREENING, _PER_USER),
        MetricSpec(USER_TOKENS, _COMPLETIONS, _PER_USER),
        MetricSpec(USAGE_SETTLEMENT_FAILED, _COMPLETIONS),
        MetricSpec(COMPLETION_TOKENS, _COMPLETIONS),
        MetricSpec(SCREEN_FAILED_OPEN, _SCREENING),
        MetricSpec(SCREEN_DETECTOR_UNAVAILABLE, _SCREENING),
        *(MetricSpec(decision_metric(COMPLETION_PREFIX, d), _COMPLETIONS) for d in DECISIONS),
        *(MetricSpec(decision_metric(VALIDATION_PREFIX, d), frozenset({"validator"})) for d in DECISIONS),
    )
}


def count(metrics: Metrics, name: str, value: int = 1) -> None:
    """Add `value` to `name`, which must be in METRICS."""
    if name not in METRICS:
        raise ValueError(f"unregistered metric {name}")
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def count_for_user(metrics: Metrics, name: str, *, app_id: str, user_ref: str, value: int = 1) -> None:
    """Count `value` for one user of one app, as its own data point: the `user` dimension is the
    user's keyed hash (device_registry/user_refs.py), and it never joins the other metrics' dimensions."""
    if name not in METRICS or METRICS[name].dimension_sets != _PER_USER:
        raise ValueError(f"{name} is not a per-user metric")
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=value,
        namespace=metrics.namespace,
        default_dimensions={"service": metrics.service or "", "app": app_id},
    ) as metric:
        metric.add_dimension(name="user", value=user_ref)


class UserCall(Protocol):
    """What per-user counting reads of a call (api/authorized_call.py's AuthorizedCall)."""

    @property
    def is_device(self) -> bool: ...
    @property
    def app_id(self) -> str: ...
    @property
    def user_ref(self) -> str: ...


def count_user_call(metrics: Metrics, call: UserCall, *, tokens: int | None = None) -> None:
    """A device's call, counted for its user: one request, and the model's `tokens` when it used
    some. Per user under its keyed hash, never the OIDC `sub` (device_registry/user_refs.py); a
    server client's call counts nothing here."""
    if not call.is_device:
        return
    count_for_user(metrics, USER_REQUESTS, app_id=call.app_id, user_ref=call.user_ref)
    if tokens is not None:
        count_for_user(metrics, USER_TOKENS, app_id=call.app_id, user_ref=call.user_ref, value=tokens)


def count_refusal(metrics: Metrics, name: str, reason: str) -> None:
    """Count a refusal under its reason, and under `service` alone (the total)."""
    metrics.add_dimension(name="reason", value=reason)
    service = metrics.provider.service
    if service:
        metrics.add_dimensions(service=service)
    count(metrics, name)


def count_screen(
    metrics: Metrics,
    prefix: str,
    decision: str,
    *,
    unavailable: Collection[str],
    failed_open: Collection[str],
) -> None:
    """Count a screened text's decision, and whether any detector was unavailable or failed open."""
    count(metrics, decision_metric(prefix, decision))
    if unavailable:
        count(metrics, SCREEN_DETECTOR_UNAVAILABLE)
    if failed_open:
        count(metrics, SCREEN_FAILED_OPEN)
