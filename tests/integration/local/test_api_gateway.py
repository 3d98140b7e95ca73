"""The API Gateway emulator over real HTTP on 127.0.0.1, against the fake template's handlers."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from secure_ai_local.api_definition import ApiDefinition, GatewayResponse
from secure_ai_local.api_gateway import ApiGatewayEmulator, ApiGatewayServer
from secure_ai_local.authorizer_policy import evaluate_policy
from tests.integration.local.conftest import ACCOUNT, REGION, RecordingInvoker
from tests.integration.local.fake_handlers import BINARY_PAYLOAD

ALLOW = {"X-Fake-Token": "allow"}


def call(gateway: ApiGatewayServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{gateway.origin}{path}", timeout=15, **kwargs)


def echoed_event(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    event: dict[str, Any] = response.json()["event"]
    return event


# ------------------------------------------------------------------------------ the template, read
def test_the_api_is_read_from_the_template(api: ApiDefinition) -> None:
    # Then routes, stage, authorizer, identity sources and binary media types come from the template
    assert api.stage == "test"
    assert {(r.resource, r.method, r.authorizer) for r in api.routes} == {
        ("/v1/echo", "POST", "FakeAuthorizer"),
        ("/v1/items/{item_id}", "GET", "FakeAuthorizer"),
        ("/v1/open", "GET", None),
    }
    assert api.authorizers["FakeAuthorizer"].function == "AuthorizerFunction"
    assert api.authorizers["FakeAuthorizer"].identity_headers == ("X-Fake-Token",)
    assert api.binary_media_types == ("application/octet-stream", "image/*")


# ------------------------------------------------------------------------------ event shapes
def test_the_integration_gets_a_rest_proxy_event(gateway: ApiGatewayServer) -> None:
    # When a client posts JSON with a repeated header and a repeated query parameter
    response = call(
        gateway,
        "POST",
        "/test/v1/echo?q=1&q=2&empty=",
        headers=[*ALLOW.items(), ("X-Repeat", "a"), ("X-Repeat", "b"), ("Content-Type", "application/json")],
        content=b'{"hello": "world"}',
    )

    # Then the function saw the REST API proxy event
    event = echoed_event(response)
    assert event["resource"] == "/v1/echo"
    assert event["path"] == "/v1/echo"
    assert event["httpMethod"] == "POST"
    assert event["body"] == '{"hello": "world"}'
    assert event["isBase64Encoded"] is False
    assert event["headers"]["X-Repeat"] == "b"
    assert event["multiValueHeaders"]["X-Repeat"] == ["a", "b"]
    assert event["queryStringParameters"] == {"q": "2", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"q": ["1", "2"], "empty": [""]}
    assert event["pathParameters"] is None
    assert event["stageVariables"] is None
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    context = event["requestContext"]
    assert context["path"] == "/test/v1/echo"
    assert context["stage"] == "test"
    assert context["resourcePath"] == "/v1/echo"
    assert context["httpMethod"] == "POST"
    assert context["accountId"] == ACCOUNT
    assert context["apiId"] == "local"
    assert context["domainName"] == event["headers"]["Host"] == gateway.origin.removeprefix("http://")
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["protocol"] == "HTTP/1.1"
    assert isinstance(context["requestTimeEpoch"], int)
    assert response.headers["x-amzn-RequestId"] == context["requestId"]


def test_the_authorizer_context_reaches_the_integration_as_strings(gateway: ApiGatewayServer) -> None:
    # When the authorizer allows with a context of a string, a number and a boolean
    event = echoed_event(call(gateway, "POST", "/test/v1/echo", headers=ALLOW, content=b"{}"))

    # Then requestContext.authorizer holds them as strings, with the principal and the latency
    authorizer = event["requestContext"]["authorizer"]
    assert {k: v for k, v in authorizer.items() if k != "integrationLatency"} == {
        "principalId": "alice",
        "user": "alice",
        "plan": "7",
        "beta": "true",
    }
    assert isinstance(authorizer["integrationLatency"], int)


def test_the_authorizer_gets_a_request_authorizer_event(
    gateway: ApiGatewayServer, invoker: RecordingInvoker
) -> None:
    # When a request reaches a protected route
    call(gateway, "GET", "/test/v1/items/42?view=full", headers=ALLOW)

    # Then the authorizer was given the REQUEST event with the method ARN of this very request
    (event,) = invoker.events_for("AuthorizerFunction")
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == f"arn:aws:execute-api:{REGION}:{ACCOUNT}:local/test/GET/v1/items/42"
    assert event["resource"] == "/v1/items/{item_id}"
    assert event["path"] == "/v1/items/42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"item_id": "42"}
    assert event["queryStringParameters"] == {"view": "full"}
    assert event["multiValueQueryStringParameters"] == {"view": ["full"]}
    assert event["multiValueHeaders"]["X-Fake-Token"] == ["allow"]
    assert event["requestContext"]["path"] == "/test/v1/items/42"
    assert event["requestContext"]["resourcePath"] == "/v1/items/{item_id}"
    assert "body" not in event
    assert "authorizer" not in event["requestContext"]


def test_path_parameters_reach_the_integration(gateway: ApiGatewayServer) -> None:
    # When a resource with a path parameter is called
    event = echoed_event(call(gateway, "GET", "/test/v1/items/a%20b", headers=ALLOW))

    # Then the decoded parameter and the resource template are in the event
    assert event["pathParameters"] == {"item_id": "a b"}
    assert event["resource"] == "/v1/items/{item_id}"


def test_a_body_of_a_binary_media_type_arrives_base64_encoded(gateway: ApiGatewayServer) -> None:
    # When a client posts bytes as application/octet-stream
    payload = bytes(range(256)) * 4
    event = echoed_event(
        call(
            gateway,
            "POST",
            "/test/v1/echo",
            headers={**ALLOW, "Content-Type": "application/octet-stream"},
            content=payload,
        )
    )

    # Then the function gets them base64-encoded and flagged so
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_a_wildcard_binary_media_type_matches_its_subtypes(gateway: ApiGatewayServer) -> None:
    # When a client posts image/png (the template lists image/*)
    event = echoed_event(
        call(
            gateway,
            "POST",
            "/test/v1/echo",
            headers={**ALLOW, "Content-Type": "image/png"},
            content=b"\x89PNG",
        )
    )

    # Then the body is base64-encoded
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x89PNG"


def test_a_route_without_an_authorizer_does_not_invoke_one(
    gateway: ApiGatewayServer, invoker: RecordingInvoker
) -> None:
    # When the open route is called with no identity source at all
    event = echoed_event(call(gateway, "GET", "/test/v1/open"))

    # Then only the integration ran, and its event has no authorizer context
    assert [function for function, _ in invoker.calls] == ["BackendFunction"]
    assert "authorizer" not in event["requestContext"]


# ------------------------------------------------------------------------------ responses
def test_a_base64_response_is_decoded_to_bytes_when_the_client_accepts_a_binary_type(
    gateway: ApiGatewayServer,
) -> None:
    # When the function answers isBase64Encoded and the client accepts application/octet-stream
    response = call(
        gateway,
        "GET",
        "/test/v1/open",
        headers={"X-Fake-Action": "binary", "Accept": "application/octet-stream"},
    )

    # Then the client receives the bytes
    assert response.status_code == 200
    assert response.content == BINARY_PAYLOAD
    assert response.headers["Content-Type"] == "application/octet-stream"


def test_a_base64_response_stays_text_when_the_client_accepts_no_binary_type(
    gateway: ApiGatewayServer,
) -> None:
    # When the same function answers a client whose Accept is application/json
    response = call(
        gateway, "GET", "/test/v1/open", headers={"X-Fake-Action": "binary", "Accept": "application/json"}
    )

    # Then the client receives the base64 text, as API Gateway sends it
    assert base64.b64decode(response.content) == BINARY_PAYLOAD


def test_the_proxy_response_maps_status_headers_and_body(gateway: ApiGatewayServer) -> None:
    # When the function answers 201 with single and multi-value headers
    response = call(gateway, "GET", "/test/v1/open", headers={"X-Fake-Action": "headers"})

    # Then the client gets them, API Gateway's default content type, and a remapped Content-Length
    assert response.status_code == 201
    assert response.text == "created"
    assert response.headers["X-Single"] == "one"
    assert response.headers.get_list("Set-Cookie") == ["a=1", "b=2"]
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["x-amzn-Remapped-Content-Length"] == "999"


# ------------------------------------------------------------------------------ authorization
def test_a_missing_identity_source_is_401_without_invoking_the_authorizer(
    gateway: ApiGatewayServer, invoker: RecordingInvoker
) -> None:
    # When a protected route is called without the X-Fake-Token header
    response = call(gateway, "POST", "/test/v1/echo", content=b"{}")

    # Then the template's UNAUTHORIZED gateway response comes back, and nothing was invoked
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized", "requestId": response.headers["x-amzn-RequestId"]}
    assert response.headers["X-Refused-By"] == "fake-gateway"
    assert invoker.calls == []


def test_an_empty_identity_source_is_401_without_invoking_the_authorizer(
    gateway: ApiGatewayServer, invoker: RecordingInvoker
) -> None:
    response = call(gateway, "POST", "/test/v1/echo", headers={"X-Fake-Token": ""}, content=b"{}")

    assert response.status_code == 401
    assert invoker.calls == []


def test_an_authorizer_failing_with_unauthorized_is_401(
    gateway: ApiGatewayServer, invoker: RecordingInvoker
) -> None:
    # When the authorizer raises "Unauthorized"
    response = call(gateway, "POST", "/test/v1/echo", headers={"X-Fake-Token": "unauthorized"}, content=b"{}")

    # Then the client gets 401 and the integration never runs
    assert response.status_code == 401
    assert [function for function, _ in invoker.calls] == ["AuthorizerFunction"]


def test_a_deny_policy_is_403(gateway: ApiGatewayServer, invoker: RecordingInvoker) -> None:
    response = call(gateway, "POST", "/test/v1/echo", headers={"X-Fake-Token": "deny"}, content=b"{}")

    assert response.status_code == 403
    assert response.json() == {
        "message": "User is not authorized to access this resource with an explicit deny"
    }
    assert invoker.events_for("BackendFunction") == []


def test_an_allow_for_another_method_arn_is_403(gateway: ApiGatewayServer, invoker: RecordingInvoker) -> None:
    # When the authorizer allows GET /v1/other, but the request is POST /v1/echo
    response = call(gateway, "POST", "/test/v1/echo", headers={"X-Fake-Token": "elsewhere"}, content=b"{}")

    # Then the request is refused and the integration never runs
    assert response.status_code == 403
    assert response.json() == {"message": "User is not authorized to access this resource"}
    assert invoker.events_for("BackendFunction") == []


def test_an_allow_whose_wildcards_cover_the_method_arn_is_honoured(gateway: ApiGatewayServer) -> None:
    response = call(gateway, "POST", "/test/v1/echo", headers={"X-Fake-Token": "wildcard"}, content=b"{}")

    assert response.status_code == 200


@pytest.mark.parametrize("token", ["crash", "malformed", "nested-context"])
def test_an_authorizer_that_fails_otherwise_is_500(
    gateway: ApiGatewayServer, invoker: RecordingInvoker, token: str
) -> None:
    # When the authorizer crashes or returns something that is not a valid policy and context
    response = call(gateway, "POST", "/test/v1/echo", headers={"X-Fake-Token": token}, content=b"{}")

    # Then API Gateway answers 500 with a null message, and the integration never runs
    assert response.status_code == 500
    assert response.json() == {"message": None}
    assert invoker.events_for("BackendFunction") == []


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("arn:aws:execute-api:us-east-1:123456789012:local/test/POST/v1/echo", "allow"),
        ("arn:aws:execute-api:us-east-1:123456789012:local/test/*", "allow"),
        ("arn:aws:execute-api:us-east-1:123456789012:local/test/P?ST/v1/echo", "allow"),
        ("*", "allow"),
        ("arn:aws:execute-api:us-east-1:123456789012:local/test/GET/v1/echo", "implicit_deny"),
        ("arn:aws:execute-api:us-east-1:*:local/prod/*", "implicit_deny"),
        ("arn:aws:execute-api:us-east-1:123456789012:local/test/POST/v1/[e]cho", "implicit_deny"),
    ],
)
def test_policy_resources_match_like_iam(resource: str, expected: str) -> None:
    policy = {"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": resource}]}

    decision = evaluate_policy(policy, "arn:aws:execute-api:us-east-1:123456789012:local/test/POST/v1/echo")

    assert decision == expected


def test_an_explicit_deny_wins_over_an_allow() -> None:
    arn = "arn:aws:execute-api:us-east-1:123456789012:local/test/POST/v1/echo"
    policy = {
        "Statement": [
            {"Effect": "Allow", "Action": "execute-api:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": [arn]},
        ]
    }

    assert evaluate_policy(policy, arn) == "explicit_deny"


# ------------------------------------------------------------------------------ gateway errors
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/test/v1/nothing"), ("DELETE", "/test/v1/echo"), ("GET", "/test/v1/items/1/extra")],
)
def test_an_unknown_route_is_403_missing_authentication_token(
    gateway: ApiGatewayServer, invoker: RecordingInvoker, method: str, path: str
) -> None:
    response = call(gateway, method, path, headers=ALLOW)

    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}
    assert invoker.calls == []


def test_an_unknown_stage_is_403_forbidden(gateway: ApiGatewayServer, invoker: RecordingInvoker) -> None:
    response = call(gateway, "POST", "/prod/v1/echo", headers=ALLOW, content=b"{}")

    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}
    assert invoker.calls == []


def test_a_body_over_10_mb_is_413_before_anything_is_invoked(
    gateway: ApiGatewayServer, invoker: RecordingInvoker
) -> None:
    # When a client posts one byte more than 10 MB
    response = call(gateway, "POST", "/test/v1/echo", headers=ALLOW, content=b"x" * (10 * 1024 * 1024 + 1))

    # Then API Gateway refuses it without invoking the authorizer or the integration
    assert response.status_code == 413
    assert response.json() == {"message": "Request Too Long"}
    assert invoker.calls == []


def test_an_event_lambda_cannot_accept_is_500(gateway: ApiGatewayServer, invoker: RecordingInvoker) -> None:
    # When the body fits API Gateway's 10 MB but the event exceeds Lambda's 6 MB request payload
    response = call(gateway, "GET", "/test/v1/open", content=b"x" * (7 * 1024 * 1024))

    # Then Lambda refuses the invocation and the client gets API Gateway's 500
    assert response.status_code == 500
    assert response.json() == {"message": "Internal server error"}
    assert [function for function, _ in invoker.calls] == ["BackendFunction"]


def test_an_integration_slower_than_the_timeout_is_504(gateway: ApiGatewayServer) -> None:
    # Given an integration timeout of 1 s (29 s in the real stack)
    # When the function takes 1.5 s
    response = call(gateway, "GET", "/test/v1/open?seconds=1.5", headers={"X-Fake-Action": "sleep"})

    # Then the client gets API Gateway's timeout answer
    assert response.status_code == 504
    assert response.json() == {"message": "Endpoint request timed out"}


def test_a_function_error_is_502(gateway: ApiGatewayServer) -> None:
    response = call(gateway, "GET", "/test/v1/open", headers={"X-Fake-Action": "crash"})

    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_a_malformed_proxy_response_is_502(gateway: ApiGatewayServer) -> None:
    response = call(gateway, "GET", "/test/v1/open", headers={"X-Fake-Action": "malformed"})

    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_the_default_gateway_response_bodies_can_be_customised(
    api: ApiDefinition, invoker: RecordingInvoker
) -> None:
    # Given an API that customises DEFAULT_4XX and DEFAULT_5XX, as the project's template does
    customised = ApiDefinition(
        api_id=api.api_id,
        stage=api.stage,
        routes=api.routes,
        authorizers=api.authorizers,
        binary_media_types=api.binary_media_types,
        gateway_responses={
            "DEFAULT_4XX": GatewayResponse(None, {"application/json": '{"error":"bad_request"}'}),
            "DEFAULT_5XX": GatewayResponse(None, {"application/json": '{"error":"internal_error"}'}),
        },
    )
    emulator = ApiGatewayEmulator(customised, invoker, region=REGION, account_id=ACCOUNT)
    with ApiGatewayServer(emulator, port=0) as server:
        # When API Gateway answers a 4xx and a 5xx of its own
        missing = call(server, "GET", "/test/v1/nothing")
        crashed = call(server, "GET", "/test/v1/open", headers={"X-Fake-Action": "crash"})

    # Then the bodies are the customised ones, the statuses API Gateway's
    assert (missing.status_code, missing.json()) == (403, {"error": "bad_request"})
    assert (crashed.status_code, crashed.json()) == (502, {"error": "internal_error"})


def test_a_utf8_body_reaches_the_function_as_the_same_text(gateway: ApiGatewayServer) -> None:
    document = {"text": "héllo ✓"}
    event = echoed_event(
        call(
            gateway,
            "GET",
            "/test/v1/open",
            headers={"Content-Type": "application/json"},
            content=json.dumps(document),
        )
    )

    assert json.loads(event["body"]) == document


def test_a_port_already_taken_is_an_os_error(gateway: ApiGatewayServer) -> None:
    # Given a port the emulator already listens on
    taken = int(gateway.origin.rsplit(":", 1)[1])
    second = ApiGatewayServer(gateway.emulator, port=taken)

    # Then a second server cannot start there, and says so without exiting the process
    with pytest.raises(OSError, match="in use"):
        second.start()
