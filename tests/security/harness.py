"""The real handlers on one moto stack, and builders for every kind of request they take.

`Gateway` invokes the authorizer, completion and validator handlers as Lambda would (each in the
environment template.yaml gives it), and builds signed calls the way a client and API Gateway would:
the authorizer event, and the proxy event with the context the authorizer would have allowed it with.
The streaming function is called as the Lambda Web Adapter calls it: its HTTP app
(functions/streaming), served on 127.0.0.1, sent the signed request with the request context in
`x-amzn-request-context`, its answer read off the socket.
Everything secret a builder makes (resp_keys, prompts, screened texts) is planted in the leak sentinel.
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import secrets
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any, Final, Literal

import boto3
import pytest
from aws_lambda_powertools.warnings import PowertoolsUserWarning
from botocore.exceptions import BotoCoreError, ClientError

from gateway_authorizer import app as authorizer_app
from gateway_completion import app as completion_app
from gateway_streaming import app as streaming_app
from gateway_validator import app as validator_app
from secure_ai_gateway.adapters.aws_clients import kms_client
from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.policy_store import PolicyStore
from secure_ai_gateway.client_registry.records import DEFAULT_POLICY_ID
from secure_ai_gateway.policy_registry.admin import PolicyAdmin
from secure_ai_local.provision import ProvisionedStack
from secure_ai_protocol.envelope.requests import seal_request_mobile, seal_request_server
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE, JSON_CONTENT_TYPE
from secure_ai_protocol.routes import CHAT_ROUTE, PUBLIC_KEY_ROUTE, STREAM_ROUTE, VALIDATE_ROUTE
from secure_ai_protocol.signing.content_digest import compute_content_digest
from secure_ai_protocol.stream import STREAM_CONTENT_TYPE, StreamOpener, parse_events
from tests.conftest import TEST_MODEL, Client
from tests.gateway_events import SignedCall, authorizer_event, proxy_event, sqs_batch, sqs_record
from tests.kms_rsa_shim import install_rsa_decrypt
from tests.lambda_context import FakeLambdaContext
from tests.leak_sentinel import LeakRegistry

SCOPES: Final = "chat:complete output:validate"
# The security client's completion limit (tests/security/conftest.py): every reservation holds it.
CLIENT_MAX_TOKENS: Final = 256
UNAUTHORIZED: Final = "Unauthorized"
EnvelopeMode = Literal["server", "mobile"]
# How long a streamed call may take before the test gives up on it (nothing here is slow).
STREAM_WAIT_SECONDS: Final = 30.0

FUNCTION_ENVIRONMENTS: Final = (
    authorizer_app.environment,
    completion_app.environment,
    validator_app.environment,
    streaming_app.environment,
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

    def request_context(self, client: Client) -> str:
        """What the Lambda Web Adapter puts in `x-amzn-request-context` for this call (JSON)."""
        return json.dumps(self.proxy_event(client)["requestContext"])


@dataclass(frozen=True)
class Streamed:
    """The streaming function's answer as read off the socket: status, headers, the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def is_stream(self) -> bool:
        return self.status == 200 and self.headers.get("content-type") == STREAM_CONTENT_TYPE

    def json(self) -> Any:
        """A refusal's JSON body."""
        assert self.headers.get("content-type") == "application/json", "a refusal is a JSON error"
        return json.loads(self.body)

    def events(self, call: SignedProxyCall) -> list[dict[str, Any]]:
        """Every event, opened in order as `call`'s client opens them; the stream must be whole:
        chunks, then exactly one final event, last (else this or the opener raises)."""
        assert self.is_stream, f"not a stream: {self.status}"
        assert call.resp_key is not None
        parsed = list(parse_events(self.body.decode().split("\n")))
        assert [event.final for event in parsed] == [False] * (len(parsed) - 1) + [True]
        opener = StreamOpener(call.resp_key, call.nonce)
        events = [json.loads(opener.open(event)) for event in parsed]
        opener.finish()
        return events


@dataclass(frozen=True)
class Usage:
    """A client's usage rows, summed over periods: tokens counted (reserved, or settled), tokens
    settled, requests."""

    counted: int
    settled: int
    requests: int

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.counted - other.counted, self.settled - other.settled, self.requests - other.requests
        )


class StreamingServer:
    """The streaming function's HTTP app on 127.0.0.1 (`app.serve`), as the adapter reaches it;
    counts the requests it finished handling, so a caller can wait for the app's last log line."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._handled = threading.Condition()
        self.handled = 0
        handle = streaming_app.StreamingRequestHandler.handle

        def counted(handler: streaming_app.StreamingRequestHandler) -> None:
            try:
                handle(handler)
            finally:
                with self._handled:
                    self.handled += 1
                    self._handled.notify_all()

        monkeypatch.setattr(streaming_app.StreamingRequestHandler, "handle", counted)
        self._server: ThreadingHTTPServer = streaming_app.serve(port=0)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=STREAM_WAIT_SECONDS)

    def wait_for(self, handled: int) -> None:
        """Until `handled` connections were handled to the end (the app logged and flushed)."""
        with self._handled:
            done = self._handled.wait_for(lambda: self.handled >= handled, timeout=STREAM_WAIT_SECONDS)
        assert done, "the streaming app did not finish the request"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=STREAM_WAIT_SECONDS)


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
        self._streaming: StreamingServer | None = None
        self._streams = 0
        self._policy_changed = False

    def close(self) -> None:
        """Stop the streaming function's server, if a test started it; give the client back its
        default policy, if a test changed it."""
        if self._streaming is not None:
            self._streaming.close()
            self._streaming = None
        if self._policy_changed:
            self._policy_admin().set_client_policy(self.client.client_id, DEFAULT_POLICY_ID)

    # -- state -------------------------------------------------------------------------------------

    def _policy_admin(self) -> PolicyAdmin:
        return PolicyAdmin(
            PolicyStore(self.stack.ref("PoliciesTable")),
            ClientStore(self.stack.ref("ClientsTable")),
            clock=time.time,
        )

    def use_policy(self, policy_id: str, document: Mapping[str, Any]) -> None:
        """Store `document` as the current version of `policy_id` and make it the client's policy
        (until the test ends). Call it before the functions first read the policy."""
        admin = self._policy_admin()
        admin.put(policy_id, document, written_by="security-suite")
        admin.set_client_policy(self.client.client_id, policy_id)
        self._policy_changed = True

    def usage(self) -> Usage:
        """The client's usage, every period summed (a test crossing midnight UTC still adds up)."""
        items = boto3.client("dynamodb").query(
            TableName=self.stack.ref("UsageTable"),
            KeyConditionExpression="client_id = :client",
            ExpressionAttributeValues={":client": {"S": self.client.client_id}},
            ConsistentRead=True,
        )["Items"]

        def total(name: str) -> int:
            return sum(int(item[name]["N"]) for item in items if name in item)

        return Usage(total("reserved_tokens"), total("used_tokens"), total("requests"))

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

    def stream(
        self, call: SignedProxyCall, *, read: int | None = None, gone: Callable[[], None] = lambda: None
    ) -> Streamed:
        """The streaming function's answer to `call` (authorized), read whole, or only `read` bytes
        of it before the client goes away (then `gone` is called); returns once the app finished
        the request."""
        self._enter("StreamingFunction")
        install_rsa_decrypt_once()
        if self._streaming is None:
            self._streaming = StreamingServer(self._monkeypatch)
        connection = self._streaming.connect()
        try:
            connection.putrequest("POST", STREAM_ROUTE, skip_host=True, skip_accept_encoding=True)
            for name, value in call.call.headers():
                connection.putheader(name, value)
            connection.putheader(streaming_app.REQUEST_CONTEXT_HEADER, call.request_context(self.client))
            connection.putheader("Content-Length", str(len(call.call.body)))
            connection.endheaders(call.call.body)
            response = connection.getresponse()
            headers = {name.lower(): value for name, value in response.getheaders()}
            body = response.read() if read is None else response.read(read)
        finally:
            connection.close()
        if read is not None:
            gone()
        self._streams += 1
        self._streaming.wait_for(self._streams)
        return Streamed(response.status, headers, body)

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

    def stream_call(
        self,
        prompt: str = "Say hello to the auditors.",
        *,
        mode: EnvelopeMode = "mobile",
        plaintext: bytes | None = None,
        resp_key: bytes | None = None,
    ) -> SignedProxyCall:
        """A sealed, signed request for a streamed answer (`stream: true`, sealed for the stream
        route); `plaintext` (with its `resp_key`, to open the answer) replaces the planted default."""
        nonce = secrets.token_urlsafe(16)
        plaintext = plaintext or self.chat_plaintext(prompt, stream=True)
        sealed = self.seal(plaintext, req_id=nonce, route=STREAM_ROUTE, mode=mode)
        call = dataclasses.replace(
            self.sign(resource=STREAM_ROUTE, body=sealed, content_type=ENVELOPE_CONTENT_TYPE, nonce=nonce),
            accept=STREAM_CONTENT_TYPE,
        )
        return SignedProxyCall(call, resp_key or self.resp_key)

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
