"""A refusal does not say who refused: API Gateway's 401/403 and the functions' are the same bytes.

If the completion function's 401 for a body changed after signing differed from API Gateway's 401
for a bad signature, the difference would tell a caller that the signature itself verified. Each
refusal is compared three ways: the template's gateway response, the function's proxy response, and
what the local API Gateway emulator sends for each (status, body bytes, every header).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any, Final

import pytest
from werkzeug.test import Client as WsgiClient
from werkzeug.test import TestResponse

from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.secret_sealing import SecretSealer
from secure_ai_gateway.api.responses import FORBIDDEN_REFUSAL, UNAUTHORIZED_REFUSAL, Refusal
from secure_ai_gateway.client_registry.admin import ClientAdmin
from secure_ai_local.api_definition import ApiDefinition
from secure_ai_local.api_gateway import ApiGatewayEmulator
from secure_ai_local.lambda_runtime import FunctionError, InvocationResult
from secure_ai_local.loopback_server import RAW_HEADERS_KEY
from secure_ai_local.provision import LOCAL_ACCOUNT_ID
from secure_ai_local.stack_template import StackTemplate
from secure_ai_protocol.key_ids import format_key_id
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE
from secure_ai_protocol.routes import CHAT_ROUTE
from tests.conftest import REGION, TEST_MODEL, Client
from tests.gateway_events import SignedCall
from tests.security.harness import Allowed, Gateway

# Request ids differ per request by design; every other header must match in name and value.
PER_REQUEST_HEADERS: Final = frozenset({"x-amzn-requestid", "x-amz-apigw-id"})
# A signature of 86 base64url characters that no key produced.
FORGED_SIGNATURE: Final = "sig1=:" + "A" * 86 + "==:"


class InProcessFunctions:
    """The emulator's FunctionInvoker: the real handlers, run in this process on the module's stack.

    `deny` makes the authorizer's Allow a Deny, the one way API Gateway itself answers 403 here.
    """

    def __init__(self, gateway: Gateway, *, deny: bool = False) -> None:
        self._gateway = gateway
        self._deny = deny

    def submit(self, logical_id: str, event: Any) -> Future[InvocationResult]:
        future: Future[InvocationResult] = Future()
        request_id = str(uuid.uuid4())
        if logical_id == "AuthorizerFunction":
            outcome = self._gateway.authorize(event)
            if not isinstance(outcome, Allowed):
                error = FunctionError(error_type="PermissionError", error_message="Unauthorized")
                future.set_result(InvocationResult(logical_id, request_id, error=error))
                return future
            payload = outcome.policy
            if self._deny:
                payload["policyDocument"]["Statement"][0]["Effect"] = "Deny"
        elif logical_id == "CompletionFunction":
            payload = self._gateway.complete(event)
        else:
            payload = self._gateway.validator(event)
        future.set_result(InvocationResult(logical_id, request_id, payload=payload))
        return future


def emulator(gateway: Gateway, stack_template: StackTemplate, *, deny: bool = False) -> ApiGatewayEmulator:
    api = ApiDefinition.from_template(stack_template, gateway.stack.references)
    return ApiGatewayEmulator(
        api, InProcessFunctions(gateway, deny=deny), region=REGION, account_id=LOCAL_ACCOUNT_ID
    )


def send(
    app: ApiGatewayEmulator, call: SignedCall, *, body: bytes | None = None, **replaced: str
) -> TestResponse:
    """`call` over the emulator, its body and headers as signed unless replaced."""
    headers = [(name, replaced.get(name, value)) for name, value in call.headers()]
    return WsgiClient(app).open(
        call.path,
        method=call.method,
        data=call.body if body is None else body,
        headers=headers,
        environ_overrides={RAW_HEADERS_KEY: headers},
    )


def signed_chat(client: Client) -> SignedCall:
    return SignedCall(
        secret=client.secret,
        key_id=client.key_id,
        created=int(time.time()),
        nonce=uuid.uuid4().hex,
        resource=CHAT_ROUTE,
        body=b"a sealed request, as far as the authorizer knows",
        content_type=ENVELOPE_CONTENT_TYPE,
    )


def over_http(response: TestResponse) -> tuple[int, bytes, dict[str, str]]:
    """Status, body bytes and headers (names lower-cased) of an emulator response, request ids aside."""
    headers = {name.lower(): value for name, value in response.headers.items()}
    assert set(headers) >= PER_REQUEST_HEADERS, "API Gateway sends its request ids with every answer"
    return (
        response.status_code,
        response.get_data(),
        {name: value for name, value in headers.items() if name not in PER_REQUEST_HEADERS},
    )


def from_function(response: Mapping[str, Any]) -> tuple[int, bytes, dict[str, str]]:
    """Status, body bytes and headers (names lower-cased) of a function's proxy response."""
    headers = {name.lower(): str(value) for name, value in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        (headers[name.lower()],) = values
    assert response.get("isBase64Encoded") in (None, False)
    return int(response["statusCode"]), str(response["body"]).encode(), headers


def expected(refusal: Refusal, *, content_length: bool) -> tuple[int, bytes, dict[str, str]]:
    headers = {name.lower(): value for name, value in refusal.headers.items()}
    if content_length:
        headers["content-length"] = str(len(refusal.body.encode()))
    return int(refusal.status), refusal.body.encode(), headers


@pytest.fixture
def scopeless_client(gateway: Gateway) -> Client:
    """A client whose key may validate outputs but not complete chats."""
    admin = ClientAdmin(
        ClientStore(gateway.stack.ref("ClientsTable")),
        SecretSealer(gateway.stack.attribute("RequestKey", "Arn")),
        clock=time.time,
    )
    record, secret = admin.create_client(
        client_id=f"no-chat-{uuid.uuid4().hex[:8]}",
        scopes=("output:validate",),
        allowed_models=(TEST_MODEL,),
        max_tokens=256,
        token_budget=1000,
        request_budget=10,
    )
    return Client(record.client_id, format_key_id(record.client_id, record.latest_version), secret)


def test_a_body_changed_after_signing_gets_api_gateways_own_401_from_the_function(
    gateway: Gateway, stack_template: StackTemplate
) -> None:
    # Given one request whose signature is forged, and one correctly signed whose body then changed
    app = emulator(gateway, stack_template)
    forged = send(app, signed_chat(gateway.client), Signature=FORGED_SIGNATURE)
    changed = send(app, signed_chat(gateway.client), body=b"another body than the one signed")

    # Then the authorizer refused the first (API Gateway's 401), the function the second, alike
    assert over_http(forged) == over_http(changed) == expected(UNAUTHORIZED_REFUSAL, content_length=True)


def test_the_functions_401_is_the_refusal_byte_for_byte(gateway: Gateway) -> None:
    # Given a correctly signed request whose body changed after the authorizer allowed it
    call = gateway.chat_call()
    event = call.proxy_event(gateway.client)
    body = bytearray(base64.b64decode(event["body"]))
    body[len(body) // 2] ^= 0x01
    event["body"] = base64.b64encode(body).decode()

    # When the completion function handles it, Then its proxy response is the refusal, exactly
    assert from_function(gateway.complete(event)) == expected(UNAUTHORIZED_REFUSAL, content_length=False)


def test_a_missing_scope_gets_api_gateways_own_403_from_the_function(
    gateway: Gateway, stack_template: StackTemplate, scopeless_client: Client
) -> None:
    # Given a request API Gateway denies itself, and one the function refuses for a missing scope
    denied = send(emulator(gateway, stack_template, deny=True), signed_chat(gateway.client))
    unscoped = send(emulator(gateway, stack_template), signed_chat(scopeless_client))

    # Then both are the same 403, byte for byte
    assert over_http(denied) == over_http(unscoped) == expected(FORBIDDEN_REFUSAL, content_length=True)
