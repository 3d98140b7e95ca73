"""Faults injected at the boto3 client level and at the model provider, counted as they are delivered.

AWS faults are injected in `BaseClient._make_api_call`, the one path every boto3 client call takes:
the gateway's cached clients, Powertools' own Secrets Manager client and the idempotency layer's
DynamoDB client alike. A fault is aimed at one dependency (service, operation and a predicate on the
call's parameters, e.g. the table or the key) and is one of four kinds: a service error, throttling,
a timeout, or a malformed answer (a response that parses but is not what the service promises).
Nothing sleeps: botocore's retries run inside the call this replaces.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import httpx2
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError, ReadTimeoutError

from secure_ai_local.provision import ProvisionedStack
from tests.fake_provider import FakeProvider, moderation_answer, sse, streamed
from tests.security.tally import count_fault

FaultKind = Literal["error", "throttling", "timeout", "malformed"]
FAULT_KINDS: Final[tuple[FaultKind, ...]] = ("error", "throttling", "timeout", "malformed")
# The one method every boto3 client call goes through (private, so absent from the type stubs).
MAKE_API_CALL: Final = "_make_api_call"
Answer = dict[str, Any] | Exception


@dataclass(frozen=True)
class AwsDependency:
    """One AWS dependency as the code under test calls it, and how each fault looks from it."""

    name: str
    service: str
    operation: str
    matches: Callable[[ProvisionedStack, Mapping[str, Any]], bool]
    error_code: str
    throttling_code: str
    malformed: Callable[[ProvisionedStack, Mapping[str, Any]], Answer]

    def answer(self, fault: FaultKind, stack: ProvisionedStack, params: Mapping[str, Any]) -> Answer:
        """What the call returns (a parsed answer) or raises, under `fault`."""
        if fault == "error":
            return client_error(self.error_code, self.operation)
        if fault == "throttling":
            return client_error(self.throttling_code, self.operation)
        if fault == "timeout":
            return ReadTimeoutError(endpoint_url=f"https://{self.service}.us-east-1.amazonaws.com/")
        return self.malformed(stack, params)


def client_error(code: str, operation: str, **extra: Any) -> ClientError:
    """The ClientError botocore raises for an error answer with `code`."""
    response: dict[str, Any] = {"Error": {"Code": code, "Message": "injected"}, **extra}
    response["ResponseMetadata"] = {"HTTPStatusCode": 400}
    return ClientError(response, operation)  # type: ignore[arg-type]


def _table(logical_id: str) -> Callable[[ProvisionedStack, Mapping[str, Any]], bool]:
    return lambda stack, params: params.get("TableName") == stack.ref(logical_id)


def _secret(logical_id: str) -> Callable[[ProvisionedStack, Mapping[str, Any]], bool]:
    return lambda stack, params: params.get("SecretId") == stack.ref(logical_id)


def _key(logical_id: str) -> Callable[[ProvisionedStack, Mapping[str, Any]], bool]:
    return lambda stack, params: (
        params.get("KeyId")
        in {
            stack.attribute(logical_id, "Arn"),
            stack.ref(logical_id),
        }
    )


def _unseal(stack: ProvisionedStack, params: Mapping[str, Any]) -> bool:
    context = params.get("EncryptionContext") or {}
    return bool(_key("RequestKey")(stack, params)) and context.get("purpose") == "client-secret"


def _envelope(logical_id: str) -> Callable[[ProvisionedStack, Mapping[str, Any]], bool]:
    def matches(stack: ProvisionedStack, params: Mapping[str, Any]) -> bool:
        context = params.get("EncryptionContext") or {}
        return bool(_key(logical_id)(stack, params)) and context.get("purpose") != "client-secret"

    return matches


def _reserve(stack: ProvisionedStack, params: Mapping[str, Any]) -> bool:
    return _table("UsageTable")(stack, params) and "ConditionExpression" in params


def _settle(stack: ProvisionedStack, params: Mapping[str, Any]) -> bool:
    return _table("UsageTable")(stack, params) and "ConditionExpression" not in params


def _mangled_client(stack: ProvisionedStack, params: Mapping[str, Any]) -> Answer:
    # A record whose key versions are not a map: nobody can be authenticated from it.
    return {"Item": {"client_id": params["Key"]["client_id"], "key_versions": {"S": "{}"}}}


def _mangled_policy(stack: ProvisionedStack, params: Mapping[str, Any]) -> Answer:
    # A head whose document is not a policy: no policy, built-in or stale, is served in its place.
    return {"Item": {**params["Key"], "current": {"N": "1"}, "document": {"S": "{"}}}


def _replay_with_mangled_item(stack: ProvisionedStack, params: Mapping[str, Any]) -> Answer:
    # A conditional failure whose old item cannot be ours: never read as "our own earlier write".
    return client_error("ConditionalCheckFailedException", "PutItem", Item={"writer": {"N": "7"}})


def _error_without_code(stack: ProvisionedStack, params: Mapping[str, Any]) -> Answer:
    return ClientError({"Error": {}, "ResponseMetadata": {"HTTPStatusCode": 500}}, "Call")  # type: ignore[typeddict-item]


def _short_plaintext(stack: ProvisionedStack, params: Mapping[str, Any]) -> Answer:
    # 31 bytes where KMS promises a 32-byte key: a truncated answer, not a refusal.
    return {"KeyId": params.get("KeyId"), "Plaintext": bytes(31), "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}


def _binary_secret(stack: ProvisionedStack, params: Mapping[str, Any]) -> Answer:
    # The secret came back as SecretBinary with no SecretString.
    return {"ARN": params["SecretId"], "Name": "model-api-key", "SecretBinary": b"\x00\x01", "VersionId": "v"}


def _delete_that_failed(stack: ProvisionedStack, params: Mapping[str, Any]) -> Answer:
    # A 200 that lists every entry as failed.
    entries = params.get("Entries", [])
    failed = [{"Id": entry["Id"], "SenderFault": False, "Code": "InternalError"} for entry in entries]
    return {"Successful": [], "Failed": failed}


def _rejected_entry(stack: ProvisionedStack, params: Mapping[str, Any]) -> Answer:
    return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "injected"}]}


def _record_in_an_unknown_state(stack: ProvisionedStack, params: Mapping[str, Any]) -> Answer:
    # "Already exists", with an old record no idempotency layer wrote.
    old = {"id": params["Item"]["id"], "status": {"S": "GARBLED"}, "expiration": {"N": "1"}}
    return client_error("ConditionalCheckFailedException", "PutItem", Item=old)


CLIENTS_TABLE = AwsDependency(
    "DynamoDB clients table", "dynamodb", "GetItem", _table("ClientsTable"),
    "InternalServerError", "ProvisionedThroughputExceededException", _mangled_client,
)  # fmt: skip
POLICIES_TABLE = AwsDependency(
    "DynamoDB policies table", "dynamodb", "GetItem", _table("PoliciesTable"),
    "InternalServerError", "ProvisionedThroughputExceededException", _mangled_policy,
)  # fmt: skip
NONCES_TABLE = AwsDependency(
    "DynamoDB nonces table", "dynamodb", "PutItem", _table("NoncesTable"),
    "InternalServerError", "ProvisionedThroughputExceededException", _replay_with_mangled_item,
)  # fmt: skip
USAGE_RESERVE = AwsDependency(
    "DynamoDB usage table (reserve)", "dynamodb", "UpdateItem", _reserve,
    "InternalServerError", "ThrottlingException", _error_without_code,
)  # fmt: skip
USAGE_SETTLE = AwsDependency(
    "DynamoDB usage table (settle)", "dynamodb", "UpdateItem", _settle,
    "InternalServerError", "ProvisionedThroughputExceededException", _error_without_code,
)  # fmt: skip
VERDICTS_TABLE = AwsDependency(
    "DynamoDB verdicts table", "dynamodb", "PutItem", _table("VerdictsTable"),
    "InternalServerError", "ProvisionedThroughputExceededException", _error_without_code,
)  # fmt: skip
IDEMPOTENCY_TABLE = AwsDependency(
    "DynamoDB idempotency table", "dynamodb", "PutItem", _table("IdempotencyTable"),
    "InternalServerError", "ProvisionedThroughputExceededException", _record_in_an_unknown_state,
)  # fmt: skip
KMS_SEALING = AwsDependency(
    "KMS symmetric key (client secrets)", "kms", "Decrypt", _unseal,
    "KMSInternalException", "ThrottlingException", _short_plaintext,
)  # fmt: skip
KMS_REQUEST_KEY = AwsDependency(
    "KMS symmetric key (server envelopes)", "kms", "Decrypt", _envelope("RequestKey"),
    "KMSInternalException", "ThrottlingException", _short_plaintext,
)  # fmt: skip
KMS_RSA_KEY = AwsDependency(
    "KMS RSA key (mobile envelopes)", "kms", "Decrypt", _envelope("RsaRequestKey"),
    "KMSInternalException", "ThrottlingException", _short_plaintext,
)  # fmt: skip
SECRETS_MANAGER = AwsDependency(
    "Secrets Manager (model API key)", "secretsmanager", "GetSecretValue", _secret("ModelApiKeySecret"),
    "InternalServiceError", "ThrottlingException", _binary_secret,
)  # fmt: skip
VERDICT_DIGEST_KEY = AwsDependency(
    "Secrets Manager (verdict-digest key)", "secretsmanager", "GetSecretValue",
    _secret("VerdictDigestKeySecret"), "InternalServiceError", "ThrottlingException", _binary_secret,
)  # fmt: skip
SQS_DELETE = AwsDependency(
    "SQS (deleting a processed message)", "sqs", "DeleteMessageBatch", lambda stack, params: True,
    "InternalError", "RequestThrottled", _delete_that_failed,
)  # fmt: skip
EVENTBRIDGE = AwsDependency(
    "EventBridge (verdict events)", "events", "PutEvents", lambda stack, params: True,
    "InternalException", "ThrottlingException", _rejected_entry,
)  # fmt: skip


class AwsFaults:
    """Delivers one fault kind to every call of one dependency while installed; counts deliveries."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, stack: ProvisionedStack) -> None:
        self._monkeypatch = monkeypatch
        self._stack = stack
        self._original = getattr(BaseClient, MAKE_API_CALL)
        self.delivered = 0

    def clear(self) -> None:
        """The dependency recovers: every call reaches moto again."""
        self._monkeypatch.setattr(BaseClient, MAKE_API_CALL, self._original)

    def inject(self, dependency: AwsDependency, fault: FaultKind) -> None:
        """From now on, `dependency` answers every call with `fault`."""
        original = self._original
        stack = self._stack

        def make_api_call(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            if (service, operation_name) != (
                dependency.service,
                dependency.operation,
            ) or not dependency.matches(stack, api_params):
                return original(client, operation_name, api_params)
            self.delivered += 1
            count_fault(dependency.name, fault)
            answer = dependency.answer(fault, stack, api_params)
            if isinstance(answer, Exception):
                raise answer
            return answer

        self._monkeypatch.setattr(BaseClient, MAKE_API_CALL, make_api_call)


# -- the model provider -------------------------------------------------------------------------

MODEL: Final = "the model (chat completions)"
MODERATION: Final = "the moderation API"
MODEL_MID_STREAM: Final = "the model (mid-stream)"
# How a streamed answer breaks once the provider's 200 is in: an error event (as OpenAI reports a
# failure after the stream started), a read timing out, a chunk that is not JSON, the connection
# reset, or the body ending cleanly without the finish reason or `[DONE]` (a truncated stream).
MidStreamFault = Literal["error", "timeout", "malformed", "cut", "truncated"]
MID_STREAM_FAULTS: Final[tuple[MidStreamFault, ...]] = ("error", "timeout", "malformed", "cut", "truncated")


class ProviderFaults:
    """Faults of the OpenAI-compatible provider: its chat endpoint or its moderation endpoint."""

    def __init__(self, provider: FakeProvider) -> None:
        self._provider = provider
        self.delivered = 0

    def inject(self, endpoint: str, fault: FaultKind) -> None:
        """From now on, `endpoint` (MODEL or MODERATION) answers with `fault`."""
        provider = self._provider
        path = "/chat/completions" if endpoint == MODEL else "/moderations"
        answer = FakeProvider.handle

        def handle(request: httpx2.Request) -> httpx2.Response:
            if not request.url.path.endswith(path):
                return answer(provider, request)
            self.delivered += 1
            count_fault(endpoint, fault)
            if fault == "timeout":
                raise httpx2.ReadTimeout("injected", request=request)
            if fault == "error":
                return httpx2.Response(500, json={"error": {"message": "UPSTREAM-DETAIL"}})
            if fault == "throttling":
                return httpx2.Response(429, headers={"retry-after": "7"}, json={"error": {"message": "slow"}})
            if endpoint == MODEL:
                return httpx2.Response(200, content=b'{"id": "chatcmpl-x", "choices": [{"message": ')
            return httpx2.Response(200, json={**moderation_answer({}), "results": []})

        provider.handle = handle  # type: ignore[method-assign]

    def inject_mid_stream(self, fault: MidStreamFault, *, after: int) -> None:
        """From now on, a streamed answer breaks `fault`'s way after its first `after` pieces."""
        provider = self._provider
        answer = FakeProvider.handle

        def handle(request: httpx2.Request) -> httpx2.Response:
            body = json.loads(request.content)
            if not request.url.path.endswith("/chat/completions") or body.get("stream") is not True:
                return answer(provider, request)
            provider.chat_requests.append(body)
            return streamed(self._breaking(body, fault, after))

        provider.handle = handle  # type: ignore[method-assign]

    def _breaking(self, request: Mapping[str, Any], fault: MidStreamFault, after: int) -> Iterator[bytes]:
        pieces = self._provider.delta_events(request)
        assert after < len(pieces), "the fault must strike before the answer is whole"
        yield from pieces[:after]
        self.delivered += 1
        count_fault(MODEL_MID_STREAM, fault)
        if fault == "error":
            yield sse({"error": {"message": "UPSTREAM-DETAIL", "type": "server_error"}})
        elif fault == "timeout":
            raise httpx2.ReadTimeout("injected")
        elif fault == "malformed":
            yield b'data: {"id": "chatcmpl-x", "choices": [{"delta": \n\n'
        elif fault == "cut":
            raise httpx2.ReadError("injected")
        # "truncated": the body just ends.


def answer_json(response: Mapping[str, Any]) -> Any:
    """A proxy response's JSON body."""
    return json.loads(response["body"])
