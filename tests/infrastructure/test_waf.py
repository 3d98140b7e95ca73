"""The WAF web ACL in front of the stage: its rules, what it must not inspect, and its off switch."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from secure_ai_gateway.api.statuses import public_body_of
from secure_ai_gateway.services.completion import MAX_REQUEST_BODY_BYTES
from secure_ai_gateway.services.validator import MAX_VALIDATE_BODY_BYTES
from secure_ai_local.stack_template import StackTemplate
from secure_ai_protocol.errors import Forbidden, PayloadTooLarge, QuotaExceeded
from secure_ai_protocol.routes import (
    CHAT_ROUTE,
    DEVICE_RENEWAL_ROUTE,
    DEVICES_ROUTE,
    PUBLIC_KEY_ROUTE,
    STREAM_ROUTE,
    VALIDATE_ROUTE,
)

# A body over its route's cap is refused by the function anyway; WAF's margin above the cap only
# keeps honest requests at the cap well clear of the rule.
MAX_MARGIN = 0.25
BODY_FIELDS = {"Body", "JsonBody"}
RULES = {"RateLimitPerSourceIp", "AmazonIpReputationList", "BodyLargerThanRouteCap"}


def web_acl(template: StackTemplate) -> Mapping[str, Any]:
    properties: Mapping[str, Any] = template.resources["WebAcl"]["Properties"]
    return properties


def rules(template: StackTemplate) -> dict[str, Mapping[str, Any]]:
    return {rule["Name"]: rule for rule in web_acl(template)["Rules"]}


def statements(node: Any) -> Iterator[Mapping[str, Any]]:
    """Every statement nested anywhere under `node`."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key.endswith("Statement") and isinstance(value, Mapping):
                yield {key: value}
            yield from statements(value)
    elif isinstance(node, list):
        for item in node:
            yield from statements(item)


def content_length_rules(template: StackTemplate) -> tuple[re.Pattern[str], str, re.Pattern[str]]:
    """(the chat route's Content-Length pattern, the path it is scoped to, the stage-wide pattern)."""
    scoped, stage_wide = rules(template)["BodyLargerThanRouteCap"]["Statement"]["OrStatement"]["Statements"]
    path_match, length_match = scoped["AndStatement"]["Statements"]
    assert path_match["ByteMatchStatement"]["FieldToMatch"] == {"UriPath": {}}
    assert path_match["ByteMatchStatement"]["PositionalConstraint"] == "CONTAINS"
    for statement in (length_match, stage_wide):
        assert statement["RegexMatchStatement"]["FieldToMatch"] == {
            "SingleHeader": {"Name": "content-length"}
        }
    return (
        re.compile(length_match["RegexMatchStatement"]["RegexString"]),
        path_match["ByteMatchStatement"]["SearchString"],
        re.compile(stage_wide["RegexMatchStatement"]["RegexString"]),
    )


def smallest_blocked(pattern: re.Pattern[str]) -> int:
    """The least Content-Length `pattern` matches (it must match every larger one)."""
    low, high = 0, 10**10
    assert pattern.match(str(high))
    while low < high:
        middle = (low + high) // 2
        if pattern.match(str(middle)):
            high = middle
        else:
            low = middle + 1
    return low


def test_the_web_acl_is_regional_and_associated_with_this_apis_stage(stack_template: StackTemplate) -> None:
    assert web_acl(stack_template)["Scope"] == "REGIONAL"
    association = stack_template.resources["WebAclAssociation"]["Properties"]
    assert association["WebACLArn"] == {"Fn::GetAtt": ["WebAcl", "Arn"]}
    assert association["ResourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/${Api.Stage}"
    }


def test_the_web_acl_holds_exactly_the_rate_reputation_and_body_size_rules(
    stack_template: StackTemplate,
) -> None:
    assert set(rules(stack_template)) == RULES
    rate = rules(stack_template)["RateLimitPerSourceIp"]["Statement"]["RateBasedStatement"]
    assert (rate["AggregateKeyType"], rate["Limit"]) == ("IP", {"Ref": "WafRateLimitPerIp"})
    reputation = rules(stack_template)["AmazonIpReputationList"]["Statement"]["ManagedRuleGroupStatement"]
    assert (reputation["VendorName"], reputation["Name"]) == ("AWS", "AWSManagedRulesAmazonIpReputationList")


def test_no_rule_inspects_the_body_and_no_other_managed_group_is_used(stack_template: StackTemplate) -> None:
    # Bodies are ciphertext: a body rule (SQLi, XSS, Log4j) can only misfire on random bytes.
    found = list(statements(web_acl(stack_template)["Rules"]))
    managed = {s["ManagedRuleGroupStatement"]["Name"] for s in found if "ManagedRuleGroupStatement" in s}
    assert managed == {"AWSManagedRulesAmazonIpReputationList"}
    for statement in found:
        (body,) = statement.values()
        assert not BODY_FIELDS & set(body.get("FieldToMatch", {})), statement


@pytest.mark.parametrize(
    ("route_cap", "scoped"), [(MAX_REQUEST_BODY_BYTES, True), (MAX_VALIDATE_BODY_BYTES, False)]
)
def test_the_size_rule_passes_every_body_up_to_the_routes_cap_and_blocks_just_above_it(
    stack_template: StackTemplate, route_cap: int, scoped: bool
) -> None:
    chat_pattern, chat_path, stage_pattern = content_length_rules(stack_template)
    pattern = chat_pattern if scoped else stage_pattern
    threshold = smallest_blocked(pattern)
    assert route_cap < threshold <= route_cap * (1 + MAX_MARGIN)
    assert pattern.match(f"000{threshold}"), "leading zeros must not hide a length"
    for honest in (0, 1, 1024, route_cap):
        assert not pattern.match(str(honest))
    if scoped:
        # Both chat routes, buffered and streamed (under any stage), and no other route.
        every = (
            CHAT_ROUTE,
            STREAM_ROUTE,
            VALIDATE_ROUTE,
            PUBLIC_KEY_ROUTE,
            DEVICES_ROUTE,
            DEVICE_RENEWAL_ROUTE,
        )
        routed = {route for route in every if chat_path in f"/prod{route}"}
        assert routed == {CHAT_ROUTE, STREAM_ROUTE}


def test_the_size_and_rate_blocks_answer_with_the_functions_own_bodies(stack_template: StackTemplate) -> None:
    bodies = web_acl(stack_template)["CustomResponseBodies"]
    for rule_name, status, kind in (
        ("BodyLargerThanRouteCap", 413, PayloadTooLarge),
        ("RateLimitPerSourceIp", 429, QuotaExceeded),
    ):
        response = rules(stack_template)[rule_name]["Action"]["Block"]["CustomResponse"]
        assert response["ResponseCode"] == status
        body = bodies[response["CustomResponseBodyKey"]]
        assert body["ContentType"] == "APPLICATION_JSON"
        assert json.loads(body["Content"]) == public_body_of(kind)


def test_the_reputation_groups_blocking_rules_answer_with_the_functions_own_403_body(
    stack_template: StackTemplate,
) -> None:
    statement = rules(stack_template)["AmazonIpReputationList"]["Statement"]["ManagedRuleGroupStatement"]
    overrides = {override["Name"]: override["ActionToUse"] for override in statement["RuleActionOverrides"]}
    # The group's rules that block by default; the DDoS list only counts, and is left to count.
    assert set(overrides) == {"AWSManagedIPReputationList", "AWSManagedReconnaissanceList"}
    bodies = web_acl(stack_template)["CustomResponseBodies"]
    for action in overrides.values():
        response = action["Block"]["CustomResponse"]
        assert response["ResponseCode"] == 403
        body = bodies[response["CustomResponseBodyKey"]]
        assert json.loads(body["Content"]) == public_body_of(Forbidden)


def test_every_rule_and_the_acl_publish_metrics_and_samples(stack_template: StackTemplate) -> None:
    for config in [web_acl(stack_template)["VisibilityConfig"]] + [
        rule["VisibilityConfig"] for rule in rules(stack_template).values()
    ]:
        assert config["CloudWatchMetricsEnabled"] is True
        assert config["SampledRequestsEnabled"] is True


def test_the_waf_parameter_turns_the_acl_and_its_association_off(stack_template: StackTemplate) -> None:
    assert stack_template.document["Conditions"]["WafIsEnabled"] == {
        "Fn::Equals": [{"Ref": "WafEnabled"}, "true"]
    }
    assert stack_template.parameter_defaults()["WafEnabled"] == "true"
    waf_resources = [
        logical_id
        for logical_id, resource in stack_template.resources.items()
        if resource["Type"].startswith("AWS::WAFv2::")
    ]
    assert sorted(waf_resources) == ["WebAcl", "WebAclAssociation"]
    for logical_id in waf_resources:
        assert stack_template.resources[logical_id]["Condition"] == "WafIsEnabled"
