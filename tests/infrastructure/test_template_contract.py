"""template.yaml as a tested contract: what the code relies on, the template must declare."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from secure_ai_gateway.settings import (
    AuthorizerSettings,
    CompletionSettings,
    DevicesSettings,
    FunctionSettings,
    ValidatorSettings,
)
from secure_ai_local.provision import ProvisionedStack
from secure_ai_local.stack_template import REPOSITORY_ROOT, StackTemplate

SETTINGS_BY_FUNCTION: dict[str, type[FunctionSettings]] = {
    "AuthorizerFunction": AuthorizerSettings,
    "CompletionFunction": CompletionSettings,
    "ValidatorFunction": ValidatorSettings,
    "DevicesFunction": DevicesSettings,
    # The streaming function reads the completion function's settings (the same pipeline).
    "StreamingFunction": CompletionSettings,
}
# Functions behind the Lambda Web Adapter: their handler is the script that starts their HTTP app.
WEB_ADAPTER_FUNCTIONS = {"StreamingFunction": "gateway_streaming.app"}
# Open to the world: the public key, and enrollment (authenticated by the OIDC token, in the function).
PUBLIC_ROUTES = {("/v1/keys/public", "GET"), ("/v1/devices", "POST")}
TABLES_WITH_TTL = {"NoncesTable", "UsageTable", "VerdictsTable", "IdempotencyTable", "DevicesTable"}


def api_events(template: StackTemplate) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    for _, properties in template.resources_of_type("AWS::Serverless::Function"):
        for event in properties.get("Events", {}).values():
            if event["Type"] == "Api":
                yield event["Properties"]["Path"], event["Properties"]["Method"].upper(), event["Properties"]


def test_every_function_declared_is_one_whose_settings_the_tests_know(stack_template: StackTemplate) -> None:
    declared = {logical_id for logical_id, _ in stack_template.resources_of_type("AWS::Serverless::Function")}
    assert declared == set(SETTINGS_BY_FUNCTION)


def test_the_authorizer_result_cache_is_off(stack_template: StackTemplate) -> None:
    (_, api), *_ = stack_template.resources_of_type("AWS::Serverless::Api")
    authorizers = api["Auth"]["Authorizers"]
    assert authorizers, "the API declares no authorizer"
    for authorizer in authorizers.values():
        assert authorizer["FunctionPayloadType"] == "REQUEST"
        assert authorizer["Identity"]["ReauthorizeEvery"] == 0


def test_the_signature_authorizer_is_the_default_authorizer(stack_template: StackTemplate) -> None:
    (_, api), *_ = stack_template.resources_of_type("AWS::Serverless::Api")
    assert api["Auth"]["DefaultAuthorizer"] == "SignatureAuthorizer"
    assert api["Auth"]["Authorizers"]["SignatureAuthorizer"]["FunctionArn"] == {
        "Fn::GetAtt": ["AuthorizerFunction", "Arn"]
    }


def test_every_route_but_the_public_key_route_is_behind_the_authorizer(stack_template: StackTemplate) -> None:
    routes = list(api_events(stack_template))
    assert len(routes) >= 3
    for path, method, properties in routes:
        authorizer = properties.get("Auth", {}).get("Authorizer")
        if (path, method) in PUBLIC_ROUTES:
            assert authorizer == "NONE"
        else:
            assert authorizer in (None, "SignatureAuthorizer"), f"{method} {path} bypasses the authorizer"


def test_the_ciphertext_content_type_is_a_binary_media_type(stack_template: StackTemplate) -> None:
    from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE

    (_, api), *_ = stack_template.resources_of_type("AWS::Serverless::Api")
    assert ENVELOPE_CONTENT_TYPE.replace("/", "~1") in api["BinaryMediaTypes"]


def test_stage_throttling_and_access_logging_are_configured(stack_template: StackTemplate) -> None:
    (_, api), *_ = stack_template.resources_of_type("AWS::Serverless::Api")
    (settings,) = api["MethodSettings"]
    assert {"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= set(settings)
    assert "DestinationArn" in api["AccessLogSetting"]


@pytest.mark.parametrize("logical_id", sorted(SETTINGS_BY_FUNCTION))
def test_every_setting_a_function_reads_is_in_its_environment(
    stack_template: StackTemplate, logical_id: str
) -> None:
    declared = set(stack_template.function_environment(logical_id))
    missing = SETTINGS_BY_FUNCTION[logical_id].environment_variables() - declared
    assert not missing, f"{logical_id} reads {sorted(missing)} but the template does not set them"


@pytest.mark.parametrize("logical_id", sorted(SETTINGS_BY_FUNCTION))
def test_the_environment_the_template_resolves_to_validates(
    aws_stack: ProvisionedStack, logical_id: str
) -> None:
    settings = SETTINGS_BY_FUNCTION[logical_id].from_environ(aws_stack.function_environments[logical_id])
    assert settings.model_dump()


LAMBDA_HANDLER_FUNCTIONS = sorted(set(SETTINGS_BY_FUNCTION) - set(WEB_ADAPTER_FUNCTIONS))


def handler_module(stack_template: StackTemplate, logical_id: str) -> str:
    """The module a function runs: its handler's, or the one its start script runs."""
    if logical_id in WEB_ADAPTER_FUNCTIONS:
        return WEB_ADAPTER_FUNCTIONS[logical_id]
    return stack_template.function_handler(logical_id)[1].rpartition(".")[0]


@pytest.mark.parametrize("logical_id", LAMBDA_HANDLER_FUNCTIONS)
def test_every_handler_imports_and_is_callable(stack_template: StackTemplate, logical_id: str) -> None:
    _, handler = stack_template.function_handler(logical_id)
    module_name, _, attribute = handler.rpartition(".")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute))


@pytest.mark.parametrize("logical_id", sorted(WEB_ADAPTER_FUNCTIONS))
def test_a_web_adapter_function_starts_its_app_from_an_executable_script_in_its_code_uri(
    stack_template: StackTemplate, logical_id: str
) -> None:
    code_uri, handler = stack_template.function_handler(logical_id)
    script = REPOSITORY_ROOT / code_uri / handler
    assert script.is_file()
    assert script.stat().st_mode & 0o111, f"{script} must be executable: LWA's bootstrap execs it"
    text = script.read_text()
    assert f"exec python3 -m {WEB_ADAPTER_FUNCTIONS[logical_id]}" in text
    assert "/opt/python" in text, "the shared layer's packages are on the app's path"
    assert callable(importlib.import_module(WEB_ADAPTER_FUNCTIONS[logical_id]).main)


@pytest.mark.parametrize("logical_id", sorted(SETTINGS_BY_FUNCTION))
def test_the_handler_package_is_the_one_in_its_code_uri(
    stack_template: StackTemplate, logical_id: str
) -> None:
    code_uri, _ = stack_template.function_handler(logical_id)
    package = handler_module(stack_template, logical_id).split(".")[0]
    module = importlib.import_module(package)
    assert module.__file__ is not None
    assert f"/{code_uri}/{package}/" in module.__file__


def test_one_runtime_and_architecture_for_every_function_and_the_layer(stack_template: StackTemplate) -> None:
    function_globals = stack_template.document["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == [{"Ref": "Architecture"}]
    assert stack_template.document["Parameters"]["Architecture"]["Default"] == "arm64"
    for _, properties in stack_template.resources_of_type("AWS::Serverless::Function"):
        assert "Runtime" not in properties
        assert "Architectures" not in properties
    (layer_id, layer), *_ = stack_template.resources_of_type("AWS::Serverless::LayerVersion")
    assert layer["CompatibleRuntimes"] == ["python3.13"]
    assert layer["CompatibleArchitectures"] == [{"Ref": "Architecture"}]
    metadata = stack_template.resources[layer_id]["Metadata"]
    assert metadata == {"BuildMethod": "python3.13", "BuildArchitecture": {"Ref": "Architecture"}}


@pytest.mark.parametrize(
    "logical_id",
    ["ClientsTable", "PoliciesTable", "NoncesTable", "UsageTable", "VerdictsTable", "IdempotencyTable"],
)
def test_every_table_is_on_demand_recoverable_and_encrypted(
    stack_template: StackTemplate, logical_id: str
) -> None:
    properties = stack_template.resources[logical_id]["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    if logical_id in TABLES_WITH_TTL:
        assert properties["TimeToLiveSpecification"]["Enabled"] is True


def test_the_template_declares_exactly_the_tables_the_tests_check(stack_template: StackTemplate) -> None:
    tables = {logical_id for logical_id, _ in stack_template.resources_of_type("AWS::DynamoDB::Table")}
    assert tables == {
        "ClientsTable",
        "PoliciesTable",
        "NoncesTable",
        "UsageTable",
        "VerdictsTable",
        "IdempotencyTable",
        "DevicesTable",
    }


def test_the_verdict_digest_key_is_generated_at_deploy_long_enough_for_the_loader(
    stack_template: StackTemplate,
) -> None:
    from secure_ai_gateway.adapters.verdict_digest_key import MIN_VERDICT_DIGEST_KEY_BYTES

    properties = stack_template.resources["VerdictDigestKeySecret"]["Properties"]
    assert "SecretString" not in properties, "the key is generated, never written into the template"
    # A generated character is one byte but under 6 random bits: twice the loader's minimum length
    # holds more than that many random bytes (64 alphanumerics: about 380 bits).
    assert properties["GenerateSecretString"]["PasswordLength"] >= 2 * MIN_VERDICT_DIGEST_KEY_BYTES


def test_the_rsa_key_is_an_encrypt_decrypt_key(stack_template: StackTemplate) -> None:
    properties = stack_template.resources["RsaRequestKey"]["Properties"]
    assert properties["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert properties["KeySpec"].startswith("RSA_")


def test_the_queue_redrives_to_a_dead_letter_queue_and_reports_partial_failures(
    stack_template: StackTemplate,
) -> None:
    queue = stack_template.resources["ValidationQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["ValidationDeadLetterQueue", "Arn"]
    }
    assert 1 <= queue["RedrivePolicy"]["maxReceiveCount"] <= 5
    validator_timeout = stack_template.resources["ValidatorFunction"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * validator_timeout
    sqs_event = stack_template.resources["ValidatorFunction"]["Properties"]["Events"]["ValidationQueue"]
    assert sqs_event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_queue_path_runs_a_bounded_number_of_validators(stack_template: StackTemplate) -> None:
    # The queue has no per-client budget: the event source mapping's cap is what bounds it.
    sqs_event = stack_template.resources["ValidatorFunction"]["Properties"]["Events"]["ValidationQueue"]
    assert 2 <= sqs_event["Properties"]["ScalingConfig"]["MaximumConcurrency"] <= 10


def test_the_event_bus_rule_feeds_the_queue_and_not_the_verdicts_it_publishes(
    stack_template: StackTemplate,
) -> None:
    rule = stack_template.resources["ValidateOutputRule"]["Properties"]
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["ValidationQueue", "Arn"]}
    assert rule["EventPattern"]["detail-type"] == ["ValidateOutput"]


def test_outputs_name_the_api_url_and_both_key_arns(stack_template: StackTemplate) -> None:
    assert {"ApiUrl", "RequestKeyArn", "RsaRequestKeyArn"} <= set(stack_template.document["Outputs"])


@pytest.mark.parametrize("name", ["Stage", "ModelBaseUrl", "DefaultModel", "Architecture"])
def test_deployers_can_set_the_documented_parameters(stack_template: StackTemplate, name: str) -> None:
    assert name in stack_template.document["Parameters"]


def test_the_streaming_route_streams_through_the_lambda_web_adapter(stack_template: StackTemplate) -> None:
    from gateway_streaming import app
    from secure_ai_protocol.routes import STREAM_ROUTE

    properties = stack_template.resources["StreamingFunction"]["Properties"]
    environment = stack_template.function_environment("StreamingFunction")
    assert environment["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert environment["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert environment["AWS_LWA_READINESS_CHECK_PATH"] == app.READINESS_PATH
    assert environment["AWS_LWA_PORT"] == str(app.DEFAULT_PORT)
    # The adapter's layer for the function's architecture, at the version the parameter names.
    ((condition, arm64, x86_64),) = [layer["Fn::If"] for layer in properties["Layers"]]
    assert condition == "IsArm64"
    assert arm64["Fn::Sub"].endswith(":753240598075:layer:LambdaAdapterLayerArm64:${WebAdapterLayerVersion}")
    assert x86_64["Fn::Sub"].endswith(":753240598075:layer:LambdaAdapterLayerX86:${WebAdapterLayerVersion}")
    assert stack_template.document["Parameters"]["WebAdapterLayerVersion"]["Default"] >= 26
    # Past API Gateway's 29 s integration timeout, within its 15 minutes of streaming.
    assert 29 < properties["Timeout"] <= 900
    (event,) = properties["Events"].values()
    assert event["Properties"]["Path"] == STREAM_ROUTE
    assert event["Properties"]["ResponseTransferMode"] == "RESPONSE_STREAM"


def test_only_the_streaming_route_streams(stack_template: StackTemplate) -> None:
    streamed = {
        (path, method)
        for path, method, properties in api_events(stack_template)
        if "ResponseTransferMode" in properties
    }
    assert streamed == {("/v1/chat/completions/stream", "POST")}
