"""The devices function under the leak sentinel: no ID token, device secret or user `sub` in any log,
metric or error, whether enrollment succeeds, is refused, or a device renews its key.

The real handlers (devices, authorizer) on a moto stack; the app trusts the stack's Cognito issuer,
whose keys a local JWKS server on 127.0.0.1 publishes (JWKS_ALLOW_HTTP_LOOPBACK, as the local stack).
"""

from __future__ import annotations

import base64
import http.server
import json
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from gateway_devices import app as devices_app
from secure_ai_gateway.adapters.aws_clients import reset_clients
from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.client_registry.admin import ClientAdmin
from secure_ai_gateway.client_registry.records import EnrollmentSettings
from secure_ai_local.provision import ProvisionedStack, provision_stack
from secure_ai_local.stack_template import StackTemplate
from secure_ai_protocol.routes import DEVICE_RENEWAL_ROUTE, DEVICES_ROUTE
from tests.gateway.identity.keys import SigningKey, jwks, rsa_private_key, sign
from tests.gateway_events import SignedCall, authorizer_event, proxy_event, request_context
from tests.lambda_context import FakeLambdaContext
from tests.leak_sentinel import LeakRegistry
from tests.security.harness import Allowed, Gateway, cold_start

REGION = "us-east-1"
APP_ID = "leak-app"
AUDIENCE = "leak-app-client"
KEY = SigningKey(rsa_private_key(7), "RS256", "leak-key")
SUB = "3f1e5c1a-sentinel-user-0042-subject"


class _Jwks(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = jwks(KEY.jwk())
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return None


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


@pytest.fixture(scope="module")
def stack(stack_template: StackTemplate, jwks_url: str) -> Iterator[ProvisionedStack]:
    with mock_aws():
        reset_clients()
        provisioned = provision_stack(stack_template, boto3.session.Session(region_name=REGION))
        provisioned.function_environments["DevicesFunction"]["JWKS_ALLOW_HTTP_LOOPBACK"] = "true"
        ClientAdmin(ClientStore(provisioned.ref("ClientsTable")), None, clock=time.time).create_app(
            app_id=APP_ID,
            scopes=("chat:complete",),
            allowed_models=("gpt-test",),
            max_tokens=64,
            token_budget=1000,
            request_budget=10,
            enrollment=EnrollmentSettings(
                issuer=issuer(provisioned),
                audiences=(AUDIENCE,),
                token_use="id",
                jwks_uri=jwks_url,
                user_token_budget=100,
                user_request_budget=5,
            ),
        )
        yield provisioned
    reset_clients()


def issuer(stack: ProvisionedStack) -> str:
    return stack.function_environments["DevicesFunction"]["COGNITO_ISSUER"]


@pytest.fixture
def gateway(stack: ProvisionedStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    cold_start()
    devices_app.environment.reset()
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    for function in ("DevicesFunction", "AuthorizerFunction"):
        for name, value in stack.function_environments[function].items():
            monkeypatch.setenv(name, value)
    yield
    devices_app.environment.reset()
    cold_start()


def token(stack: ProvisionedStack, **changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": issuer(stack),
        "aud": AUDIENCE,
        "sub": SUB,
        "iat": now - 5,
        "exp": now + 600,
        "token_use": "id",
    }
    claims.update(changes)
    return sign(claims, KEY)


def enrollment_event(authorization: str, app_id: str = APP_ID) -> dict[str, Any]:
    call = SignedCall(secret=b"\0" * 32, key_id="unused.1", created=int(time.time()), resource=DEVICES_ROUTE)
    body = json.dumps({"app_id": app_id})
    headers = {"Authorization": authorization, "Content-Type": "application/json"}
    return {
        "resource": DEVICES_ROUTE,
        "path": DEVICES_ROUTE,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": request_context(call),
        "body": body,
        "isBase64Encoded": False,
    }


def devices(event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = devices_app.lambda_handler(event, FakeLambdaContext("devices"))
    return response


@pytest.mark.usefixtures("gateway")
def test_an_enrollment_and_a_renewal_leave_no_token_secret_or_subject_behind(
    stack: ProvisionedStack,
    leak_registry: LeakRegistry,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    id_token = token(stack)
    leak_registry.plant("ID token", id_token)
    # When the device enrolls
    enrolled = devices(enrollment_event(f"Bearer {id_token}"))
    assert enrolled["statusCode"] == 201, enrolled["body"]
    credentials = json.loads(enrolled["body"])
    secret = base64.b64decode(credentials["secret"])
    leak_registry.plant("device secret", secret)

    # And renews with a request signed by that key, through the authorizer
    call = SignedCall(
        secret=secret,
        key_id=credentials["key_id"],
        created=int(time.time()),
        nonce=secrets.token_urlsafe(16),
        resource=DEVICE_RENEWAL_ROUTE,
        body=b"{}",
    )
    gateway = Gateway.__new__(Gateway)  # only its authorizer invocation
    gateway.stack, gateway._monkeypatch = stack, monkeypatch
    allowed = gateway.authorize(authorizer_event(call))
    assert isinstance(allowed, Allowed)
    context = allowed.policy["context"]
    assert context["user_ref"]
    assert SUB not in json.dumps(context)
    renewed = devices(proxy_event(call, context))
    assert renewed["statusCode"] == 200, renewed["body"]
    leak_registry.plant("renewed device secret", base64.b64decode(json.loads(renewed["body"])["secret"]))
    # Then the sentinel (a fixture) finds none of the planted values in any log line, metric or table;
    # and the `sub`, which the devices table keeps for operators, is in no log line or metric
    assert SUB not in capsys.readouterr().out


@pytest.mark.usefixtures("gateway")
@pytest.mark.parametrize(
    "case", ["expired", "other_audience", "unknown_app", "not_bearer", "signed_by_another_key"]
)
def test_a_refused_enrollment_leaks_nothing_and_answers_the_one_401(
    stack: ProvisionedStack, leak_registry: LeakRegistry, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    now = int(time.time())
    id_token = {
        "expired": token(stack, iat=now - 7200, exp=now - 3600),
        "other_audience": token(stack, aud="another-app-client"),
        "unknown_app": token(stack),
        "not_bearer": token(stack),
        "signed_by_another_key": sign(
            {
                "iss": issuer(stack),
                "aud": AUDIENCE,
                "sub": SUB,
                "iat": now,
                "exp": now + 60,
                "token_use": "id",
            },
            SigningKey(rsa_private_key(8), "RS256", KEY.kid),
        ),
    }[case]
    leak_registry.plant("ID token", id_token)
    authorization = f"Token {id_token}" if case == "not_bearer" else f"Bearer {id_token}"
    response = devices(enrollment_event(authorization, "no-such-app" if case == "unknown_app" else APP_ID))
    assert response["statusCode"] == 401
    assert response["body"] == '{"error":"unauthorized","message":"unauthorized"}'
    assert SUB not in capsys.readouterr().out
