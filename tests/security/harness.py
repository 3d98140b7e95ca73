"""The three real handlers on one moto stack, and builders for every kind of request they take.

`Gateway` invokes the authorizer, completion and validator handlers as Lambda would (each in the
environment template.yaml gives it), and builds signed calls the way a client and API Gateway would:
the authorizer event, and the proxy event with the context the authorizer would have allowed it with.
Everything secret a builder makes (resp_keys, prompts, screened texts) is planted in the leak sentinel.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
import time
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import pytest
from aws_lambda_powertools.warnings import PowertoolsUserWarning
from botocore.exceptions import BotoCoreError, ClientError

from gateway_authorizer import app as authorizer_app
from gateway_completion import app as completion_app
from gateway_validator import app as validator_app
from secure_ai_gateway.adapters.aws_clients import kms_client
from secure_ai_local.provision import ProvisionedStack
from secure_ai_protocol.envelope.requests import seal_request_mobile, seal_request_server
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE, JSON_CONTENT_TYPE
from secure_ai_protocol.routes import CHAT_ROUTE, PUBLIC_KEY_ROUTE, VALIDATE_ROUTE
from secure_ai_protocol.signing.content_digest import compute_content_digest
from tests.conftest import TEST_MODEL, Client
from tests.gateway_events import SignedCall, authorizer_event, proxy_event, sqs_batch, sqs_record
from tests.kms_rsa_shim import install_rsa_decrypt
from tests.lambda_context import FakeLambdaContext
from tests.leak_sentinel import LeakRegistry

SCOPES: Final = "chat:complete output:validate"
UNAUTHORIZED: Final = "Unauthorized"
EnvelopeMode = Literal["server", "mobile"]

FUNCTION_ENVIRONMENTS: Final = (
    authorizer_app.environment,
    completion_app.environment,
    validator_app.environment,
)


@dataclass(frozen=True)
class SecurityStack:
    """A provisioned stack, its one client (budgets out of the way), and the RSA key clients pin."""

    stack: ProvisionedStack
    client: Client
    rsa_public_key_pem: str


def cold_start() -> None:
    """Forget every function's cached settings and services, as a new execution environment would."""
    for environment in FUNCTION_ENVIRONMENTS:
        environment.reset()


@dataclass(frozen=True)
class Allowed:
    """The authorizer's Allow policy."""

    policy: dict[str, Any]

    @property
    def resource(self) -> object:
        """The one resource the policy allows."""
        (statement,) = self.policy["policyDocument"]["Statement"]
        return statement["Resource"]


@dataclass(frozen=True)
class Refused:
    """The authorizer's one refusal (API Gateway's 401)."""


@dataclass(frozen=True)
class SignedProxyCall:
    """A signed call as the client sent it, and the authorizer context it is allowed with."""

    call: SignedCall
    resp_key: bytes | None = field(default=None, repr=False)

    @property
    def nonce(self) -> str:
        return self.call.nonce

    def authorizer_event(self) -> dict[str, Any]:
        """What API Gateway hands the authorizer for this call."""
        return authorizer_event(self.call)

    def context(self, client: Client) -> dict[str, str]:
        """The context the authorizer allows this call with (see Authorization.context)."""
        return {
            "client_id": client.client_id,
            "key_id": client.key_id,
            "nonce": self.call.nonce,
            "content_digest": compute_content_digest(self.call.body),
            "scopes": SCOPES,
        }

    def proxy_event(self, client: Client) -> dict[str, Any]:
        """What API Gateway hands the function once the authorizer allowed the call."""
        binary = self.call.content_type == ENVELOPE_CONTENT_TYPE
        return proxy_event(self.call, self.context(client), binary=binary)


def outcome_of(invoke: Callable[[], dict[str, object]]) -> Allowed | Refused:
    """Run an authorizer invocation; anything but a policy or the one refusal fails the test."""
    try:
        return Allowed(dict(invoke()))
    except PermissionError as refusal:
        refused = refusal
    # API Gateway maps exactly this message to its 401; the reason stays in the log.
    assert str(refused) == UNAUTHORIZED, "every refusal must be API Gateway's 'Unauthorized'"
    assert refused.__cause__ is None, "a refusal must not chain the reason to the caller"
    return Refused()


class Gateway:
    """The real handlers, one moto stack, one provisioned client; builders plant what they make."""

    def __init__(
        self,
        stack: ProvisionedStack,
        client: Client,
        registry: LeakRegistry,
        monkeypatch: pytest.MonkeyPatch,
        rsa_public_key_pem: str,
    ) -> None:
        self.stack = stack
        self.client = client
        self.registry = registry
        self._monkeypatch = monkeypatch
        self._rsa_public_key_pem = rsa_public_key_pem
        # One response key per gateway: fuzz runs plant a handful of values, not one per example.
        self.resp_key = secrets.token_bytes(32)
        registry.plant("resp_key", self.resp_key)
        registry.plant("client secret", client.secret)

    # -- invocation ----------------------------------------------------------------------------

    def _enter(self, function: str) -> None:
        for name, value in self.stack.function_environments[function].items():
            self._monkeypatch.setenv(name, value)

    def authorize(self, event: Any) -> Allowed | Refused:
        """The authorizer's answer to `event`; a refusal counted twice (a dimension set twice) fails."""
        self._enter("AuthorizerFunction")
        with warnings.catch_warnings():
            warnings.simplefilter("error", PowertoolsUserWarning)
            return outcome_of(lambda: authorizer_app.lambda_handler(event, FakeLambdaContext("authorizer")))

    def complete(self, event: Any) -> dict[str, Any]:
        """The completion function's proxy response to `event`."""
        self._enter("CompletionFunction")
        install_rsa_decrypt_once()
        response: dict[str, Any] = completion_app.lambda_handler(event, FakeLambdaContext("completion"))
        return response

    def validator(self, event: Any) -> dict[str, Any]:
        """The validator function's answer to `event` (a proxy response or a batch response)."""
        self._enter("ValidatorFunction")
        install_rsa_decrypt_once()
        response: dict[str, Any] = validator_app.lambda_handler(event, FakeLambdaContext("validator"))
        return response

    # -- builders ------------------------------------------------------------------------------

    @staticmethod
    def unique() -> str:
        """A short value no other call of this run has (message ids, correlation ids)."""
        return uuid.uuid4().hex[:12]

    def sign(
        self,
        *,
        resource: str,
        body: bytes,
        content_type: str,
        method: str = "POST",
        nonce: str | None = None,
        query: Sequence[tuple[str, str]] = (),
    ) -> SignedCall:
        """A call signed now by the client, under a fresh nonce unless one is given."""
        return SignedCall(
            query=query,
            secret=self.client.secret,
            key_id=self.client.key_id,
            created=int(time.time()),
            nonce=nonce or secrets.token_urlsafe(16),
            method=method,
            resource=resource,
            body=body,
            content_type=content_type,
        )

    def chat_plaintext(self, prompt: str, **request: Any) -> bytes:
        """The plaintext of a chat request envelope: this gateway's resp_key and one user message."""
        self.registry.observe("prompt", prompt)
        chat = {"model": TEST_MODEL, "messages": [{"role": "user", "content": prompt}], **request}
        return json.dumps({"resp_key": base64.b64encode(self.resp_key).decode(), "request": chat}).encode()

    def seal(self, plaintext: bytes, *, req_id: str, route: str, mode: EnvelopeMode = "mobile") -> bytes:
        """A request envelope as the client would seal it for `route` and request `req_id`."""
        if mode == "server":
            return seal_request_server(
                plaintext,
                kms_key_arn=self.stack.attribute("RequestKey", "Arn"),
                client_id=self.client.client_id,
                req_id=req_id,
                route=route,
                kms_client=kms_client(),
            )
        return seal_request_mobile(
            plaintext,
            rsa_public_key_pem=self._rsa_public_key_pem,
            rsa_key_arn=self.stack.attribute("RsaRequestKey", "Arn"),
            client_id=self.client.client_id,
            req_id=req_id,
            route=route,
        )

    def chat_call(
        self,
        prompt: str = "Say hello to the auditors.",
        *,
        mode: EnvelopeMode = "mobile",
        plaintext: bytes | None = None,
    ) -> SignedProxyCall:
        """A sealed, signed chat completion request."""
        nonce = secrets.token_urlsafe(16)
        sealed = self.seal(
            plaintext or self.chat_plaintext(prompt), req_id=nonce, route=CHAT_ROUTE, mode=mode
        )
        call = self.sign(resource=CHAT_ROUTE, body=sealed, content_type=ENVELOPE_CONTENT_TYPE, nonce=nonce)
        return SignedProxyCall(call, self.resp_key)

    def validate_json_call(self, document: Any) -> SignedProxyCall:
        """A signed JSON `POST /v1/validate`."""
        if isinstance(document, Mapping) and isinstance(document.get("text"), str):
            self.registry.observe("screened text", document["text"])
        body = json.dumps(document).encode()
        return SignedProxyCall(self.sign(resource=VALIDATE_ROUTE, body=body, content_type=JSON_CONTENT_TYPE))

    def validate_envelope_call(self, document: Any, *, mode: EnvelopeMode = "mobile") -> SignedProxyCall:
        """A sealed, signed `POST /v1/validate` (answered with a sealed verdict)."""
        nonce = secrets.token_urlsafe(16)
        plaintext = json.dumps({"resp_key": base64.b64encode(self.resp_key).decode(), "request": document})
        sealed = self.seal(plaintext.encode(), req_id=nonce, route=VALIDATE_ROUTE, mode=mode)
        call = self.sign(
            resource=VALIDATE_ROUTE, body=sealed, content_type=ENVELOPE_CONTENT_TYPE, nonce=nonce
        )
        return SignedProxyCall(call, self.resp_key)

    def public_key_event(self) -> dict[str, Any]:
        """`GET /v1/keys/public`, an open route (no authorizer context)."""
        call = self.sign(resource=PUBLIC_KEY_ROUTE, body=b"", content_type=JSON_CONTENT_TYPE, method="GET")
        event = proxy_event(call, {})
        del event["requestContext"]["authorizer"]
        return event


_RSA_SHIM_INSTALLED: Final = "secure_ai_security_rsa_shim"


def resigner(call: SignedCall) -> Callable[[Mapping[str, Any]], list[tuple[str, str]]]:
    """What `call`'s client would send as Signature-Input and Signature for `call` changed as told."""

    def resign(changes: Mapping[str, Any]) -> list[tuple[str, str]]:
        replacements = dict(changes)
        if "body" in replacements:
            replacements["body"] = base64.b64decode(replacements["body"])
        if "query" in replacements:
            replacements["query"] = tuple(tuple(pair) for pair in replacements["query"])
        headers = dict(dataclasses.replace(call, **replacements).headers())
        return [("Signature-Input", headers["Signature-Input"]), ("Signature", headers["Signature"])]

    return resign


def install_rsa_decrypt_once() -> None:
    """Give the current cached KMS client real-KMS RSA decryption (once per client)."""
    client = kms_client()
    if not getattr(client, _RSA_SHIM_INSTALLED, False):
        install_rsa_decrypt(client)
        setattr(client, _RSA_SHIM_INSTALLED, True)


def eventbridge_event(detail: Any, detail_type: str = "ValidateOutput") -> dict[str, Any]:
    """An EventBridge event as the ValidateOutput rule delivers it into the queue (the whole event)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "team.app",
        "account": "123456789012",
        "time": "2026-11-27T01:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def failed_ids(response: Mapping[str, Any]) -> list[str]:
    """The message ids a batch response asks SQS to retry; the response must have Lambda's shape."""
    assert set(response) == {"batchItemFailures"}, "a batch response holds batchItemFailures only"
    failures = response["batchItemFailures"]
    assert isinstance(failures, list)
    ids = [failure["itemIdentifier"] for failure in failures]
    assert all(isinstance(item, str) and item for item in ids)
    return ids


def status_of(response: Mapping[str, Any]) -> int:
    """A proxy response's status; the response must have API Gateway's proxy shape."""
    status = response["statusCode"]
    assert isinstance(status, int)
    assert isinstance(response.get("body"), str)
    return status


class QueueTrigger:
    """Lambda's SQS event source mapping with ReportBatchItemFailures, for one queue, step by step.

    Each `poll` receives what is visible, invokes the validator with the SQS event Lambda would send,
    deletes the records not reported as failed and makes the reported ones visible again at once
    (Lambda leaves them to the visibility timeout; waiting it out here would only slow the test).
    """

    def __init__(self, gateway: Gateway, queue_url: str, sqs: Any) -> None:
        self._gateway = gateway
        self._queue_url = queue_url
        self._sqs = sqs

    def poll(self) -> tuple[list[str], list[str]]:
        """One batch: (message ids received, message ids left on the queue for a retry)."""
        messages = self._sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            return [], []
        records = [sqs_record(message["Body"], message["MessageId"]) for message in messages]
        retried = set(failed_ids(self._gateway.validator(sqs_batch(records))))
        done = [message for message in messages if message["MessageId"] not in retried]
        kept = [message for message in messages if message["MessageId"] in retried]
        if done:
            try:
                answer = self._sqs.delete_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
                undeleted = {int(entry["Id"]) for entry in answer.get("Failed", [])}
            except (ClientError, BotoCoreError):
                undeleted = set(range(len(done)))
            # A delete that did not happen: SQS delivers the message again after its visibility timeout.
            kept += [message for index, message in enumerate(done) if index in undeleted]
        for message in kept:
            self._sqs.change_message_visibility(
                QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return [message["MessageId"] for message in messages], [message["MessageId"] for message in kept]
