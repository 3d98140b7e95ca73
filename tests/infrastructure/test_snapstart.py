"""SnapStart on the completion and validator functions, within what Lambda supports, behind an alias.

SAM points every event of a function with AutoPublishAlias at the alias: the API integrations, their
invoke permissions and the queue's event source mapping (checked on the translated template when this
was written; docs/performance.md, "SnapStart"). What the template must say for that is held here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from secure_ai_local.stack_template import StackTemplate

SNAPSTART_FUNCTIONS = ("CompletionFunction", "ValidatorFunction")
# Lambda: SnapStart is for Python 3.12 and later, and not with provisioned concurrency, EFS, or more
# than 512 MB of ephemeral storage (https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html).
SNAPSTART_PYTHON_RUNTIMES = ("python3.12", "python3.13", "python3.14")
MAX_EPHEMERAL_STORAGE_MB = 512


def effective(template: StackTemplate, logical_id: str) -> Mapping[str, Any]:
    """The function's properties over the template's Globals."""
    globals_function = template.document.get("Globals", {}).get("Function", {})
    return {**globals_function, **template.resources[logical_id]["Properties"]}


def intrinsic_targets(node: Any) -> Iterator[Any]:
    """Every Fn::GetAtt operand anywhere below `node`."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "Fn::GetAtt":
                yield value
            yield from intrinsic_targets(value)
    elif isinstance(node, list):
        for item in node:
            yield from intrinsic_targets(item)


@pytest.mark.parametrize("logical_id", SNAPSTART_FUNCTIONS)
def test_snapstart_applies_to_published_versions_served_through_an_alias(
    stack_template: StackTemplate, logical_id: str
) -> None:
    properties = effective(stack_template, logical_id)
    assert properties["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert properties["AutoPublishAlias"] == "live"


@pytest.mark.parametrize("logical_id", SNAPSTART_FUNCTIONS)
def test_a_change_of_any_property_or_of_the_layer_publishes_a_new_snapshot(
    stack_template: StackTemplate, logical_id: str
) -> None:
    # Without both, a new layer (where all the code is) would leave the alias on the old snapshot.
    assert effective(stack_template, logical_id)["AutoPublishAliasAllProperties"] is True
    (layer,) = effective(stack_template, logical_id)["Layers"]
    assert stack_template.resources[layer["Ref"]]["Properties"]["PublishLambdaVersion"] is True


@pytest.mark.parametrize("logical_id", SNAPSTART_FUNCTIONS)
def test_the_function_uses_nothing_snapstart_does_not_support(
    stack_template: StackTemplate, logical_id: str
) -> None:
    properties = effective(stack_template, logical_id)
    assert properties["Runtime"] in SNAPSTART_PYTHON_RUNTIMES
    assert "ProvisionedConcurrencyConfig" not in properties
    assert "FileSystemConfigs" not in properties
    assert (
        properties.get("EphemeralStorage", {}).get("Size", MAX_EPHEMERAL_STORAGE_MB)
        <= MAX_EPHEMERAL_STORAGE_MB
    )


@pytest.mark.parametrize("logical_id", SNAPSTART_FUNCTIONS)
def test_nothing_invokes_the_unpublished_function_by_its_arn(
    stack_template: StackTemplate, logical_id: str
) -> None:
    # $LATEST has no snapshot: an integration or permission naming `<Function>.Arn` would bypass the alias.
    targets = [target for target in intrinsic_targets(stack_template.document) if target[0] == logical_id]
    assert [target for target in targets if target[1] == "Arn"] == []


def test_the_snapstart_functions_events_are_the_ones_sam_wires_to_the_alias(
    stack_template: StackTemplate,
) -> None:
    # Api and SQS events follow the alias; another event type would need checking before it is added.
    for logical_id in SNAPSTART_FUNCTIONS:
        events = stack_template.resources[logical_id]["Properties"]["Events"].values()
        assert {event["Type"] for event in events} <= {"Api", "SQS"}


def test_the_authorizer_is_not_snapshotted_and_is_called_by_its_arn(stack_template: StackTemplate) -> None:
    properties = effective(stack_template, "AuthorizerFunction")
    assert "SnapStart" not in properties
    assert "AutoPublishAlias" not in properties
    (_, api), *_ = stack_template.resources_of_type("AWS::Serverless::Api")
    assert api["Auth"]["Authorizers"]["SignatureAuthorizer"]["FunctionArn"] == {
        "Fn::GetAtt": ["AuthorizerFunction", "Arn"]
    }
