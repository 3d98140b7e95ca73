"""Alarms and the dashboard against the code: every custom metric they name is one the code emits,
with the dimensions it sets, and every alarm pages through the alarm topic."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from secure_ai_gateway import observability
from secure_ai_gateway.observability import DECISIONS, METRICS
from secure_ai_local.stack_template import REPOSITORY_ROOT, StackTemplate
from secure_ai_protocol import errors

SOURCE_ROOTS = (REPOSITORY_ROOT / "functions", REPOSITORY_ROOT / "packages" / "gateway" / "src")
REASON_SOURCE_ROOTS = (*SOURCE_ROOTS, REPOSITORY_ROOT / "packages" / "protocol" / "src")
OBSERVABILITY = Path(observability.__file__).resolve()
# The chat model's adapter and its key: their failures refuse the request. Moderation's do not: they
# make a detector unavailable, which the screen alarms count.
MODEL_ADAPTER = REPOSITORY_ROOT / "packages" / "gateway" / "src" / "secure_ai_gateway" / "adapters" / "openai"
# access.py turns a failed read of the model key (adapters/secrets_provider.py) into its own reason.
MODEL_CALL = (MODEL_ADAPTER / "chat.py", MODEL_ADAPTER / "access.py")
FUNCTIONS = (
    "AuthorizerFunction",
    "CompletionFunction",
    "ValidatorFunction",
    "DevicesFunction",
    "StreamingFunction",
)
# What issue 12 asks to be paged about; each must exist, whatever else is added.
REQUIRED_ALARMS = {
    "DeadLetterQueueAlarm",
    "ScreenFailedOpenAlarm",
    "DetectorUnavailableRateAlarm",
    "AuthorizationRefusalsAlarm",
    "ModelTimeoutAlarm",
    "ModelErrorAlarm",
    "Api5xxAlarm",
    *(
        f"{function.removesuffix('Function')}{kind}Alarm"
        for function in FUNCTIONS
        for kind in ("Errors", "Throttles", "Duration")
    ),
}
DURATION_ALARM_FRACTION = 0.8
MATH_FUNCTIONS = {"FILL", "ANOMALY_DETECTION_BAND", "SUM", "METRICS", "IF", "AVG", "MAX", "MIN"}


# ---------------------------------------------------------------- what the code emits


def source_trees() -> Iterator[tuple[Path, ast.Module]]:
    for root in SOURCE_ROOTS:
        for path in sorted(root.rglob("*.py")):
            yield path.resolve(), ast.parse(path.read_text(), filename=str(path))


def observability_calls(tree: ast.Module, names: set[str]) -> Iterator[ast.Call]:
    """Calls of `names` as imported from secure_ai_gateway.observability (not `str.count`)."""
    imported = {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module == "secure_ai_gateway.observability"
        for alias in node.names
    }
    for call in calls_to(tree, names & imported):
        if isinstance(call.func, ast.Name):
            yield call


def calls_to(tree: ast.AST, names: set[str]) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in names:
                yield node


def registry_value(node: ast.expr) -> str:
    """The string a metric-name argument stands for: a literal, or a constant of observability."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)
    value = getattr(observability, str(name), None)
    assert isinstance(value, str), f"metric name {ast.unparse(node)} is not a constant of observability"
    return value


def emitted_metric_names() -> set[str]:
    """Every name the functions can publish, read off the source: count(), count_refusal() and
    count_for_user() name one; count_screen() names its prefix's decisions and the two screen-health
    counts; count_user_call() the two per-user counts."""
    names: set[str] = set()
    for path, tree in source_trees():
        if path == OBSERVABILITY:
            continue
        for call in observability_calls(tree, {"count", "count_refusal", "count_for_user"}):
            names.add(registry_value(call.args[1]))
        for call in observability_calls(tree, {"count_screen"}):
            prefix = registry_value(call.args[1])
            names |= {observability.decision_metric(prefix, decision) for decision in DECISIONS}
            names |= {observability.SCREEN_DETECTOR_UNAVAILABLE, observability.SCREEN_FAILED_OPEN}
        if any(observability_calls(tree, {"count_user_call"})):
            names |= {observability.USER_REQUESTS, observability.USER_TOKENS}
    return names


def protocol_error_kinds() -> set[str]:
    kinds: set[str] = set()
    pending: list[type[BaseException]] = [errors.ProtocolError]
    while pending:
        kind = pending.pop()
        kinds.add(kind.__name__)
        pending.extend(kind.__subclasses__())
    return kinds


def raised_reasons(roots: tuple[Path, ...] = REASON_SOURCE_ROOTS) -> set[str]:
    """Every literal reason a ProtocolError is raised with (the values of the `reason` dimension)."""
    kinds = protocol_error_kinds()
    reasons: set[str] = set()
    for root in roots:
        for path in [root] if root.is_file() else root.rglob("*.py"):
            for call in calls_to(ast.parse(path.read_text()), kinds):
                if (
                    call.args
                    and isinstance(call.args[0], ast.Constant)
                    and isinstance(call.args[0].value, str)
                ):
                    reasons.add(call.args[0].value)
    return reasons


def test_metrics_are_published_only_through_the_registry() -> None:
    publishers = [path for path, tree in source_trees() if any(calls_to(tree, {"add_metric"}))]
    assert publishers == [OBSERVABILITY]


def test_the_registry_holds_exactly_the_metrics_the_code_emits() -> None:
    assert emitted_metric_names() == set(METRICS)


def test_the_reasons_read_off_the_source_include_the_model_failures() -> None:
    # Guards the scan itself: if it found nothing, every reason check below would pass vacuously.
    assert {"model_timeout", "model_failed", "mac_mismatch"} <= raised_reasons()


# ---------------------------------------------------------------- what the template watches


def namespace(template: StackTemplate) -> str:
    value = template.document["Globals"]["Function"]["Environment"]["Variables"][
        "POWERTOOLS_METRICS_NAMESPACE"
    ]
    return str(value)


def service_names(template: StackTemplate) -> dict[str, str]:
    """Function logical id → its POWERTOOLS_SERVICE_NAME (the `service` dimension's value)."""
    return {fn: str(template.function_environment(fn)["POWERTOOLS_SERVICE_NAME"]) for fn in FUNCTIONS}


def alarms(template: StackTemplate) -> dict[str, Mapping[str, Any]]:
    return dict(template.resources_of_type("AWS::CloudWatch::Alarm"))


def alarm_metrics(alarm: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric name, dimensions) of every metric an alarm reads."""
    if "MetricName" in alarm:
        dimensions = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
        return [(alarm["Namespace"], alarm["MetricName"], dimensions)]
    found = []
    for query in alarm["Metrics"]:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            found.append((metric["Namespace"], metric["MetricName"], dimensions))
    return found


def dashboard_metrics(template: StackTemplate) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric name, dimensions) of every metric row in the dashboard's widgets."""
    ((_, dashboard),) = template.resources_of_type("AWS::CloudWatch::Dashboard")
    body = dashboard["DashboardBody"]["Fn::Sub"]
    # Placeholders become the name they reference, so a dimension value can be checked after parsing.
    document = json.loads(re.sub(r"\$\{([^}]+)\}", r"<\1>", body))
    found = []
    for widget in document["widgets"]:
        for row in widget["properties"].get("metrics", []):
            fields = [item for item in row if not isinstance(item, dict)]
            assert "." not in fields, "write dashboard rows out in full: the shorthand hides the metric"
            dimensions = dict(zip(fields[2::2], fields[3::2], strict=True))
            found.append((fields[0], fields[1], dimensions))
    return found


def check_custom_metric(template: StackTemplate, name: str, dimensions: Mapping[str, Any]) -> None:
    spec = METRICS.get(name)
    assert spec is not None, f"{name} is not a metric the code emits"
    assert frozenset(dimensions) in spec.dimension_sets, (
        f"{name} is never published with {sorted(dimensions)}"
    )
    assert dimensions["service"] in spec.services, f"{name} is not emitted by {dimensions['service']}"
    assert spec.services <= set(service_names(template).values())
    if "reason" in dimensions:
        assert dimensions["reason"] in raised_reasons(), (
            f"no error is raised with reason {dimensions['reason']}"
        )


def test_alarms_on_custom_metrics_name_emitted_metrics_with_their_dimensions(
    stack_template: StackTemplate,
) -> None:
    custom = [
        (name, dimensions)
        for alarm in alarms(stack_template).values()
        for metric_namespace, name, dimensions in alarm_metrics(alarm)
        if not metric_namespace.startswith("AWS/")
    ]
    assert len(custom) >= 10
    for name, dimensions in custom:
        check_custom_metric(stack_template, name, dimensions)


def test_every_metric_namespace_is_aws_or_the_functions_own(stack_template: StackTemplate) -> None:
    watched = [m for a in alarms(stack_template).values() for m in alarm_metrics(a)] + dashboard_metrics(
        stack_template
    )
    assert {ns for ns, _, _ in watched if not ns.startswith("AWS/")} == {namespace(stack_template)}


def test_the_dashboard_shows_only_emitted_metrics(stack_template: StackTemplate) -> None:
    for metric_namespace, name, dimensions in dashboard_metrics(stack_template):
        if metric_namespace == namespace(stack_template):
            check_custom_metric(stack_template, name, dimensions)


def test_the_dashboard_shows_requests_tokens_and_every_decision(stack_template: StackTemplate) -> None:
    shown = {name for _, name, _ in dashboard_metrics(stack_template)}
    decisions = {observability.decision_metric(p, d) for p in ("Completion", "Validation") for d in DECISIONS}
    assert {"Count", observability.COMPLETION_TOKENS, *decisions} <= shown
    alarmed = {name for a in alarms(stack_template).values() for _, name, _ in alarm_metrics(a)}
    assert alarmed <= shown, f"alarm signals missing from the dashboard: {sorted(alarmed - shown)}"


def test_the_dashboard_refers_to_this_stacks_functions(stack_template: StackTemplate) -> None:
    functions = {d["FunctionName"] for ns, _, d in dashboard_metrics(stack_template) if ns == "AWS/Lambda"}
    assert functions == {f"<{function}>" for function in FUNCTIONS}


# ---------------------------------------------------------------- who is paged, and when


def test_the_required_alarms_exist(stack_template: StackTemplate) -> None:
    assert set(alarms(stack_template)) >= REQUIRED_ALARMS


@pytest.mark.parametrize("actions", ["AlarmActions", "OKActions"])
def test_every_alarm_notifies_the_alarm_topic(stack_template: StackTemplate, actions: str) -> None:
    for logical_id, alarm in alarms(stack_template).items():
        assert alarm.get(actions) == [{"Ref": "AlarmTopic"}], logical_id


def test_every_alarm_is_named_under_the_stack_so_cloudwatch_may_use_the_topic_key(
    stack_template: StackTemplate,
) -> None:
    for logical_id, alarm in alarms(stack_template).items():
        assert alarm["AlarmName"]["Fn::Sub"].startswith("${AWS::StackName}-"), logical_id


def test_every_metric_math_expression_reads_only_queries_it_declares(stack_template: StackTemplate) -> None:
    for logical_id, alarm in alarms(stack_template).items():
        queries = alarm.get("Metrics", [])
        if not queries:
            continue
        declared = {query["Id"] for query in queries}
        for query in queries:
            if "Expression" in query:
                identifiers = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", query["Expression"])) - MATH_FUNCTIONS
                assert identifiers <= declared, f"{logical_id}: {identifiers - declared}"
        # CloudWatch alarms on one returned series; an anomaly alarm on the metric and its band.
        returned = [query["Id"] for query in queries if query.get("ReturnData", True)]
        assert len(returned) == (2 if "ThresholdMetricId" in alarm else 1), logical_id


def test_the_refusal_alarm_is_an_anomaly_band_on_the_refusal_total(stack_template: StackTemplate) -> None:
    alarm = alarms(stack_template)["AuthorizationRefusalsAlarm"]
    ((_, name, dimensions),) = alarm_metrics(alarm)
    assert (name, dimensions) == ("AuthorizationRefused", {"service": "authorizer"})
    assert alarm["ComparisonOperator"] == "GreaterThanUpperThreshold"
    (band,) = [query for query in alarm["Metrics"] if query["Id"] == alarm["ThresholdMetricId"]]
    assert band["Expression"].startswith("ANOMALY_DETECTION_BAND(")


def test_the_model_alarms_cover_every_reason_the_model_adapter_raises(stack_template: StackTemplate) -> None:
    watched = {
        dimensions["reason"]
        for logical_id in ("ModelTimeoutAlarm", "ModelErrorAlarm")
        for _, _, dimensions in alarm_metrics(alarms(stack_template)[logical_id])
    }
    assert watched == raised_reasons(MODEL_CALL)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_has_error_throttle_and_duration_alarms_on_itself(
    stack_template: StackTemplate, function: str
) -> None:
    prefix = function.removesuffix("Function")
    for kind, metric in (("Errors", "Errors"), ("Throttles", "Throttles"), ("Duration", "Duration")):
        alarm = alarms(stack_template)[f"{prefix}{kind}Alarm"]
        assert alarm_metrics(alarm) == [("AWS/Lambda", metric, {"FunctionName": {"Ref": function}})]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_duration_alarm_fires_at_eighty_percent_of_the_functions_timeout(
    stack_template: StackTemplate, function: str
) -> None:
    timeout_seconds = stack_template.resources[function]["Properties"].get(
        "Timeout", stack_template.document["Globals"]["Function"]["Timeout"]
    )
    alarm = alarms(stack_template)[f"{function.removesuffix('Function')}DurationAlarm"]
    assert alarm["Statistic"] == "Maximum"
    assert alarm["Threshold"] == round(DURATION_ALARM_FRACTION * timeout_seconds * 1000)


def test_the_dead_letter_alarm_fires_on_one_visible_message(stack_template: StackTemplate) -> None:
    alarm = alarms(stack_template)["DeadLetterQueueAlarm"]
    assert alarm_metrics(alarm) == [
        (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": {"Fn::GetAtt": ["ValidationDeadLetterQueue", "QueueName"]}},
        )
    ]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_the_5xx_alarm_watches_this_api_and_stage(stack_template: StackTemplate) -> None:
    ((_, api),) = stack_template.resources_of_type("AWS::Serverless::Api")
    ((metric_namespace, name, dimensions),) = alarm_metrics(alarms(stack_template)["Api5xxAlarm"])
    assert (metric_namespace, name) == ("AWS/ApiGateway", "5XXError")
    assert dimensions == {"ApiName": api["Name"], "Stage": {"Ref": "Stage"}}


def test_the_email_subscription_exists_only_when_an_address_is_given(stack_template: StackTemplate) -> None:
    subscription = stack_template.resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert stack_template.document["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }
    assert stack_template.parameter_defaults()["AlarmEmail"] == ""
    assert subscription["Properties"]["TopicArn"] == {"Ref": "AlarmTopic"}
