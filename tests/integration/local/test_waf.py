"""The stack's web ACL in front of the local emulator: the body-size rule blocks as a deployed stage
does (413 with the functions' body before API Gateway), read from template.yaml itself."""

from __future__ import annotations

from typing import Any

import pytest

from secure_ai_local.stack_template import StackTemplate
from secure_ai_local.waf import WafBlock, waf_blocks
from secure_ai_protocol.routes import CHAT_ROUTE, STREAM_ROUTE, VALIDATE_ROUTE

ENABLED = {"Condition::WafIsEnabled": "true", "AWS::StackName": "local", "AWS::Region": "us-east-1"}


@pytest.fixture(scope="module")
def blocks() -> tuple[WafBlock, ...]:
    return waf_blocks(StackTemplate.load(), ENABLED)


def blocking(blocks: tuple[WafBlock, ...], route: str, length: int | None) -> WafBlock | None:
    headers = [] if length is None else [("Content-Length", str(length))]
    return next((block for block in blocks if block.matches(f"/prod{route}", headers)), None)


def test_only_the_rule_a_request_decides_is_read_rate_and_reputation_are_not(
    blocks: tuple[WafBlock, ...],
) -> None:
    assert [block.name for block in blocks] == ["BodyLargerThanRouteCap"]
    (size,) = blocks
    assert (size.status, size.content_type) == (413, "application/json")
    assert size.body == b'{"error":"content_too_large","message":"payload too large"}'


@pytest.mark.parametrize("route", [CHAT_ROUTE, STREAM_ROUTE])
def test_a_chat_route_body_over_its_cap_is_blocked_and_one_at_its_cap_passes(
    blocks: tuple[WafBlock, ...], route: str
) -> None:
    assert blocking(blocks, route, 1_048_576) is None
    assert blocking(blocks, route, 1_199_999) is None
    assert blocking(blocks, route, 1_200_000) is not None
    assert blocking(blocks, route, 7_000_000) is not None  # past Lambda's 6 MB: API Gateway's 500 without WAF


def test_the_validate_route_has_the_stage_wide_cap_and_a_request_without_a_length_passes(
    blocks: tuple[WafBlock, ...],
) -> None:
    assert blocking(blocks, VALIDATE_ROUTE, 2_199_999) is None
    assert blocking(blocks, VALIDATE_ROUTE, 2_200_000) is not None
    assert blocking(blocks, CHAT_ROUTE, None) is None


def test_a_stack_deployed_without_waf_has_no_rules() -> None:
    assert waf_blocks(StackTemplate.load(), {**ENABLED, "Condition::WafIsEnabled": "false"}) == ()


def acl(statement: dict[str, Any], action: dict[str, Any] | None = None) -> StackTemplate:
    rule = {
        "Name": "Odd",
        "Priority": 0,
        "Statement": statement,
        "Action": action
        or {"Block": {"CustomResponse": {"ResponseCode": 403, "CustomResponseBodyKey": "b"}}},
    }
    properties = {
        "CustomResponseBodies": {"b": {"ContentType": "TEXT_PLAIN", "Content": "no"}},
        "Rules": [rule],
    }
    return StackTemplate(
        document={"Resources": {"Acl": {"Type": "AWS::WAFv2::WebACL", "Properties": properties}}}
    )


@pytest.mark.parametrize(
    ("statement", "action"),
    [
        ({"SqliMatchStatement": {"FieldToMatch": {"Body": {}}}}, None),
        (
            {
                "ByteMatchStatement": {
                    "FieldToMatch": {"UriPath": {}},
                    "PositionalConstraint": "CONTAINS_WORD",
                    "SearchString": "x",
                }
            },
            None,
        ),
        (
            {
                "RegexMatchStatement": {
                    "FieldToMatch": {"UriPath": {}},
                    "RegexString": "x",
                    "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}],
                }
            },
            None,
        ),
        ({"RegexMatchStatement": {"FieldToMatch": {"Body": {}}, "RegexString": "x"}}, None),
        ({"RegexMatchStatement": {"FieldToMatch": {"UriPath": {}}, "RegexString": "x"}}, {"Count": {}}),
    ],
)
def test_a_rule_the_reader_would_misread_refuses_to_start(statement: dict[str, Any], action: Any) -> None:
    with pytest.raises(NotImplementedError):
        waf_blocks(acl(statement, action), {})
