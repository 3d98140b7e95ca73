"""docs/openapi.yaml as a contract: generated from the code, and the routes of three sources agree.

The template's Api events, the Powertools routes each function's app registers and the document's
paths must be the same set; the committed document must be byte for byte what
`python -m secure_ai_local.openapi` writes; and what the handlers emit must validate against it.
"""

from __future__ import annotations

import base64
import difflib
import importlib
import json
import re
from collections.abc import Mapping
from copy import deepcopy
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import yaml
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, Route
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from pydantic import ValidationError

from secure_ai_gateway.api.statuses import answer_of, public_body_of
from secure_ai_gateway.ports import ModelAnswer
from secure_ai_gateway.screening.policy import DEFAULT_POLICY
from secure_ai_gateway.screening.screen import screen_text
from secure_ai_gateway.services.completion import response_payload
from secure_ai_local.openapi import (
    DOCUMENT_PATH,
    OIDC_SCHEME,
    REGENERATE_COMMAND,
    SIGNED_ROUTE_ERRORS,
    UndocumentedRoute,
    api_routes,
    build_document,
    render_document,
)
from secure_ai_local.stack_template import StackTemplate
from secure_ai_protocol.envelope.kms import PublicKey
from secure_ai_protocol.errors import ProtocolError
from secure_ai_protocol.wire.chat import RequestPlaintext

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    """docs/openapi.yaml as committed."""
    document: dict[str, Any] = yaml.safe_load(DOCUMENT_PATH.read_text(encoding="utf-8"))
    return document


def document_routes(document: Mapping[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def handler_module(template: StackTemplate, function: str) -> ModuleType:
    _, handler = template.function_handler(function)
    return importlib.import_module(handler.rpartition(".")[0])


def resolver_routes(module: ModuleType) -> set[tuple[str, str]]:
    """The routes registered on the module's Powertools resolver(s).

    `get_openapi_schema()`, Powertools' public view of the routes, cannot resolve the handlers'
    string annotations (`Response[bytes]` under `from __future__ import annotations`), so this reads
    the resolver's route lists; the isinstance checks fail loudly if a Powertools upgrade moves them.
    """
    resolvers = [value for value in vars(module).values() if isinstance(value, ApiGatewayResolver)]
    assert resolvers, f"{module.__name__} has no Powertools API resolver"
    routes: set[tuple[str, str]] = set()
    for resolver in resolvers:
        registered = [*resolver._static_routes, *resolver._dynamic_routes]
        assert all(isinstance(route, Route) for route in registered)
        routes |= {(route.path, route.method.upper()) for route in registered}
    return routes


def test_the_committed_document_is_what_the_code_generates(stack_template: StackTemplate) -> None:
    generated = render_document(stack_template)
    on_disk = DOCUMENT_PATH.read_text(encoding="utf-8")
    if on_disk != generated:
        diff = difflib.unified_diff(
            on_disk.splitlines(), generated.splitlines(), "docs/openapi.yaml", "generated", lineterm=""
        )
        excerpt = "\n".join(list(diff)[:60])
        pytest.fail(
            f"docs/openapi.yaml is not what the code generates; regenerate it with\n\n"
            f"    {REGENERATE_COMMAND}\n\nand commit the result.\n{excerpt}",
            pytrace=False,
        )


def test_the_document_is_valid_openapi_3_1(committed: dict[str, Any]) -> None:
    assert committed["openapi"].startswith("3.1.")
    validate_openapi(committed)


def test_the_document_has_exactly_the_templates_routes(
    stack_template: StackTemplate, committed: dict[str, Any]
) -> None:
    template_routes = {(route.path, route.method) for route in api_routes(stack_template)}
    assert document_routes(committed) == template_routes


@pytest.mark.parametrize("function", ["CompletionFunction", "ValidatorFunction"])
def test_each_function_app_registers_exactly_its_template_routes(
    stack_template: StackTemplate, function: str
) -> None:
    declared = {
        (route.path, route.method) for route in api_routes(stack_template) if route.function == function
    }
    assert declared, f"{function} has no Api event"
    assert resolver_routes(handler_module(stack_template, function)) == declared


def test_every_function_with_api_events_is_checked_against_its_app(stack_template: StackTemplate) -> None:
    with_routes = {route.function for route in api_routes(stack_template)}
    assert with_routes == {"CompletionFunction", "ValidatorFunction", "DevicesFunction", "StreamingFunction"}


def test_the_streaming_app_serves_exactly_its_template_route(stack_template: StackTemplate) -> None:
    # Not a Powertools resolver: an HTTP app behind the Lambda Web Adapter, which routes on one path.
    import inspect

    from gateway_streaming import app
    from secure_ai_protocol.routes import STREAM_ROUTE

    declared = {(r.path, r.method) for r in api_routes(stack_template) if r.function == "StreamingFunction"}
    assert declared == {(STREAM_ROUTE, "POST")}
    assert "self.path != STREAM_ROUTE" in inspect.getsource(app.StreamingRequestHandler)


def test_only_the_template_s_open_route_is_documented_without_signature(
    stack_template: StackTemplate, committed: dict[str, Any]
) -> None:
    assert committed["security"] == [{"Signature": [], "SignatureInput": [], "ContentDigest": []}]
    for route in api_routes(stack_template):
        operation = committed["paths"][route.path][route.method.lower()]
        assert ("security" not in operation) == route.signed, f"{route.method} {route.path}"
        if not route.signed:
            # Open to anyone (the public key), or to the bearer of an OIDC token (enrollment).
            assert operation["security"] in ([], [{OIDC_SCHEME: []}])


def test_a_template_route_without_an_operation_fails_the_generation(stack_template: StackTemplate) -> None:
    document = deepcopy(dict(stack_template.document))
    events = document["Resources"]["ValidatorFunction"]["Properties"]["Events"]
    events["Verdicts"] = {
        "Type": "Api",
        "Properties": {"RestApiId": {"Ref": "Api"}, "Path": "/v1/verdicts", "Method": "GET"},
    }
    with pytest.raises(UndocumentedRoute, match="/v1/verdicts"):
        build_document(StackTemplate(document=document))


def test_an_operation_whose_route_left_the_template_fails_the_generation(
    stack_template: StackTemplate,
) -> None:
    document = deepcopy(dict(stack_template.document))
    del document["Resources"]["ValidatorFunction"]["Properties"]["Events"]["Validate"]
    with pytest.raises(UndocumentedRoute, match="/v1/validate"):
        build_document(StackTemplate(document=document))


def test_opening_a_signed_route_in_the_template_fails_the_generation(stack_template: StackTemplate) -> None:
    document = deepcopy(dict(stack_template.document))
    validate = document["Resources"]["ValidatorFunction"]["Properties"]["Events"]["Validate"]
    validate["Properties"]["Auth"] = {"Authorizer": "NONE"}
    with pytest.raises(UndocumentedRoute, match="security"):
        build_document(StackTemplate(document=document))


def test_a_route_without_its_own_authorizer_is_signed_by_the_api_s_default(
    stack_template: StackTemplate,
) -> None:
    signed = {(route.path, route.method): route.signed for route in api_routes(stack_template)}
    assert signed == {
        ("/v1/chat/completions", "POST"): True,
        ("/v1/chat/completions/stream", "POST"): True,
        ("/v1/keys/public", "GET"): False,
        ("/v1/validate", "POST"): True,
        ("/v1/devices", "POST"): False,
        ("/v1/devices/renew", "POST"): True,
    }


# ------------------------------------------------------------------------------ the handlers' output
def schema_validator(document: Mapping[str, Any], component: str) -> Draft202012Validator:
    """A validator for `#/components/schemas/<component>`, resolving refs within the document."""
    return Draft202012Validator(
        {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
    )


def test_the_chat_response_payload_the_code_builds_matches_its_schema(committed: dict[str, Any]) -> None:
    text = "Reach me at jane.doe@example.com"
    verdict = screen_text(text, DEFAULT_POLICY)
    answer = ModelAnswer(
        completion={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 8, "total_tokens": 11},
        },
        text=text,
        prompt_tokens=3,
        completion_tokens=8,
    )
    for released in (text, None):
        payload = json.loads(json.dumps(response_payload("nonce-1", answer, verdict, released)))
        schema_validator(committed, "ChatResponse").validate(payload)


def test_the_public_key_the_route_serves_matches_its_schema(
    committed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway_completion import app

    class Envelopes:
        def public_key(self) -> PublicKey:
            return PublicKey(
                pem="-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n",
                key_arn="arn:aws:kms:us-east-1:123456789012:key/1234",
                key_spec="RSA_3072",
            )

    monkeypatch.setattr(
        app, "environment", SimpleNamespace(get=lambda: SimpleNamespace(envelopes=Envelopes()))
    )
    schema_validator(committed, "PublicKeyDocument").validate(app.public_key())


def test_the_verdict_the_validator_returns_matches_its_schema(committed: dict[str, Any]) -> None:
    verdict = screen_text("key AKIAIOSFODNN7EXAMPLE and jane.doe@example.com", DEFAULT_POLICY)
    schema_validator(committed, "Verdict").validate(json.loads(verdict.model_dump_json()))


@pytest.mark.parametrize("error_class", SIGNED_ROUTE_ERRORS, ids=lambda error_class: error_class.__name__)
def test_every_documented_error_body_matches_the_error_schema_and_status(
    committed: dict[str, Any], error_class: type[ProtocolError]
) -> None:
    body = public_body_of(error_class)
    schema_validator(committed, "ErrorBody").validate(body)
    for path, method in {("/v1/chat/completions", "post"), ("/v1/validate", "post")}:
        assert str(int(answer_of(error_class).status)) in committed["paths"][path][method]["responses"]


@pytest.mark.parametrize("key_bytes", [31, 32, 33])
def test_the_documented_resp_key_pattern_accepts_exactly_what_the_plaintext_parser_does(
    committed: dict[str, Any], key_bytes: int
) -> None:
    pattern = committed["components"]["schemas"]["RequestPlaintext"]["properties"]["resp_key"]["pattern"]
    resp_key = base64.b64encode(bytes(range(key_bytes))).decode()
    request = {"model": "default", "messages": [{"role": "user", "content": "hi"}]}
    try:
        RequestPlaintext.model_validate({"resp_key": resp_key, "request": request})
    except ValidationError:
        accepted = False
    else:
        accepted = True
    assert accepted == (key_bytes == 32)
    assert (re.search(pattern, resp_key) is not None) == accepted
