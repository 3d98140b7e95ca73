"""The real completion handler against moto, with a programmable OpenAI-compatible provider."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from gateway_completion import app
from secure_ai_gateway.adapters.aws_clients import kms_client
from secure_ai_local.provision import ProvisionedStack
from secure_ai_protocol.envelope.kms import public_key_pem
from secure_ai_protocol.envelope.requests import seal_request_mobile, seal_request_server
from secure_ai_protocol.envelope.responses import open_response
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE
from secure_ai_protocol.signing.content_digest import compute_content_digest
from tests.conftest import TEST_MODEL as MODEL
from tests.conftest import Client
from tests.fake_provider import FakeProvider
from tests.gateway_events import SignedCall, proxy_event
from tests.kms_rsa_shim import install_rsa_decrypt
from tests.lambda_context import FakeLambdaContext


@dataclass
class Sent:
    """A completion request as sent: its nonce, response key and the handler's raw response."""

    req_id: str
    resp_key: bytes
    response: dict[str, Any]

    @property
    def status(self) -> int:
        return int(self.response["statusCode"])

    def header(self, name: str) -> str:
        """A response header, from `headers` or Powertools' `multiValueHeaders` (REST proxy format)."""
        for key, values in (self.response.get("multiValueHeaders") or {}).items():
            if key.lower() == name.lower():
                return str(values[-1])
        for key, value in (self.response.get("headers") or {}).items():
            if key.lower() == name.lower():
                return str(value)
        raise KeyError(name)

    def json(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.response["body"])
        return result

    def opened(self) -> dict[str, Any]:
        """The decrypted response payload, as the client SDK would see it."""
        assert self.response["isBase64Encoded"] is True
        ciphertext = base64.b64decode(self.response["body"])
        payload: dict[str, Any] = json.loads(
            open_response(ciphertext, resp_key=self.resp_key, req_id=self.req_id)
        )
        return payload


@pytest.fixture
def handler(
    use_function_environment: Callable[[str], dict[str, str]], provider: FakeProvider
) -> Iterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    """The real handler in its template environment, cold, with an RSA-honest KMS client."""
    use_function_environment("CompletionFunction")
    app.environment.reset()
    install_rsa_decrypt(kms_client())

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = app.lambda_handler(event, FakeLambdaContext("completion"))
        return response

    yield invoke
    app.environment.reset()


@pytest.fixture
def send(
    aws_stack: ProvisionedStack, handler: Callable[[dict[str, Any]], dict[str, Any]]
) -> Callable[..., Sent]:
    """Seal a chat request (server or mobile mode), sign it, and hand it to the handler."""

    def send_request(
        client: Client,
        request: dict[str, Any] | None = None,
        *,
        mode: str = "server",
        as_client: str | None = None,
        req_id: str | None = None,
        sealed_for_req_id: str | None = None,
        body: bytes | None = None,
        scopes: str = "chat:complete",
        accept: str | None = None,
    ) -> Sent:
        req_id = req_id or secrets.token_urlsafe(16)
        resp_key = secrets.token_bytes(32)
        chat = request or {"model": MODEL, "messages": [{"role": "user", "content": "Say hello."}]}
        plaintext = json.dumps({"resp_key": base64.b64encode(resp_key).decode(), "request": chat}).encode()
        sealed_req = sealed_for_req_id or req_id
        if mode == "server":
            ciphertext = seal_request_server(
                plaintext,
                kms_key_arn=aws_stack.attribute("RequestKey", "Arn"),
                client_id=client.client_id,
                req_id=sealed_req,
                route="/v1/chat/completions",
                kms_client=kms_client(),
            )
        else:
            rsa_arn = aws_stack.attribute("RsaRequestKey", "Arn")
            ciphertext = seal_request_mobile(
                plaintext,
                rsa_public_key_pem=public_key_pem(rsa_arn, kms_client()).pem,
                rsa_key_arn=rsa_arn,
                client_id=client.client_id,
                req_id=sealed_req,
                route="/v1/chat/completions",
            )
        call = SignedCall(
            secret=client.secret,
            key_id=client.key_id,
            created=int(time.time()),
            nonce=req_id,
            body=ciphertext,
            content_type=ENVELOPE_CONTENT_TYPE,
            accept=accept,
        )
        context = {
            "client_id": as_client or client.client_id,
            "key_id": client.key_id,
            "nonce": req_id,
            "content_digest": compute_content_digest(ciphertext),
            "scopes": scopes,
        }
        event = proxy_event(call, context, binary=True, body=body)
        return Sent(req_id=req_id, resp_key=resp_key, response=handler(event))

    return send_request
