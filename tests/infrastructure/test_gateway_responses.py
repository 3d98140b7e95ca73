"""API Gateway's own error answers, read off template.yaml, are the functions' answers byte for byte."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from secure_ai_gateway.api.cors import cors_headers
from secure_ai_gateway.api.responses import AUTHENTICATION_REFUSALS, ERROR_HEADERS, Refusal
from secure_ai_local.stack_template import StackTemplate, resolve

# No CORS (the default), and a deployment naming its web app's origin.
ORIGINS = ("", "https://app.example.com")


def gateway_responses(template: StackTemplate, origin: str = "") -> Mapping[str, Any]:
    """The gateway responses as deployed with `CorsAllowOrigin` = `origin` (conditions resolved)."""
    (_, api), *_ = template.resources_of_type("AWS::Serverless::Api")
    references = {**template.parameter_defaults(), "CorsAllowOrigin": origin}
    references |= {
        f"Condition::{name}": str(value).lower() for name, value in template.conditions(references).items()
    }
    responses: Mapping[str, Any] = resolve(api["GatewayResponses"], references)
    return responses


def declared_headers(response: Mapping[str, Any]) -> dict[str, str]:
    """A gateway response's static headers, without the quotes API Gateway requires around them."""
    headers = response["ResponseParameters"]["Headers"]
    assert all(value[0] == value[-1] == "'" for value in headers.values()), "static values are quoted"
    return {name: value[1:-1] for name, value in headers.items()}


@pytest.mark.parametrize("origin", ORIGINS)
@pytest.mark.parametrize(
    "refusal", list(AUTHENTICATION_REFUSALS.values()), ids=lambda refusal: refusal.response_type
)
def test_the_gateways_refusal_is_the_functions_refusal(
    stack_template: StackTemplate, refusal: Refusal, origin: str
) -> None:
    declared = gateway_responses(stack_template, origin)[refusal.response_type]
    assert declared["StatusCode"] == str(int(refusal.status))
    assert declared["ResponseTemplates"] == {"application/json": refusal.body}
    # API Gateway adds x-amzn-ErrorType to its own answers; the template declares every other header,
    # the CORS ones (api/cors.py, which the functions add to every response) included.
    assert declared_headers(declared) == {
        **{name: value for name, value in refusal.headers.items() if name != "x-amzn-ErrorType"},
        **cors_headers(origin),
    }


@pytest.mark.parametrize("origin", ORIGINS)
def test_every_gateway_response_carries_the_headers_of_every_error(
    stack_template: StackTemplate, origin: str
) -> None:
    for response_type, declared in gateway_responses(stack_template, origin).items():
        assert declared_headers(declared) == {**ERROR_HEADERS, **cors_headers(origin)}, response_type
