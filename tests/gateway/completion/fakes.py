"""Test doubles for `CompletionService`: every collaborator in memory, every call recorded."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Final

from secure_ai_gateway.api.authorized_call import AuthorizedCall
from secure_ai_gateway.client_registry.records import ClientRecord
from secure_ai_gateway.ports import Budget, ModelAnswer, Reservation
from secure_ai_gateway.screening.catalog import PolicyCatalog
from secure_ai_gateway.screening.policy import Policy
from secure_ai_gateway.services.completion import CompletionResult, CompletionService
from secure_ai_protocol.errors import ProtocolError
from secure_ai_protocol.signing.content_digest import compute_content_digest
from secure_ai_protocol.wire.chat import ChatCompletionRequest

CLIENT_ID: Final = "app-1"
MODEL: Final = "gpt-test"
DIGEST_KEY: Final = b"unit-test-verdict-digest-key-32b!"
# Every local detector; moderation is a network call these tests do not make.
LOCAL_DETECTORS: Final = frozenset(
    {"pii", "secrets", "canary", "exfiltration", "bidi", "deny_terms", "schema"}
)


def local_policy(**changes: Any) -> Policy:
    """The client's policy: id `default`, every local detector, `changes` on top."""
    return Policy.model_validate(
        {"policy_id": "default", "version": 1, "detectors": LOCAL_DETECTORS} | changes
    )


def hmac_digest(text: str) -> str:
    """The verdict digest the service must report for `text` released under `DIGEST_KEY`."""
    mac = hmac.new(DIGEST_KEY, text.encode(), hashlib.sha256).digest()
    return f"hmac-sha256=:{base64.b64encode(mac).decode()}:"


class IdentityEnvelopes:
    """Envelopes whose ciphertext is the plaintext: the service's logic without the cryptography."""

    def open(self, ciphertext: bytes, *, client_id: str, req_id: str, route: str) -> Any:
        return SimpleNamespace(plaintext=ciphertext)


@dataclass
class FakeLedger:
    """Records reservations and settlements."""

    reserved: list[int] = field(default_factory=list)
    settled: list[int] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    refuse: dict[str, Exception] = field(default_factory=dict)

    def reserve(self, client_id: str, tokens: int, budget: Budget, now: float) -> Reservation:
        if client_id in self.refuse:
            raise self.refuse[client_id]
        self.reserved.append(tokens)
        self.accounts.append(client_id)
        return Reservation(client_id=client_id, period="2026-01-01", tokens=tokens)

    def cancel(self, reservation: Reservation) -> None:
        self.cancelled.append(reservation.client_id)

    def settle(self, reservation: Reservation, used_tokens: int) -> None:
        self.settled.append(used_tokens)


@dataclass
class FakeModel:
    """Answers with `answer` (or `answer_for(request)`), recording every request it was sent."""

    answer: str = "Hello."
    answer_for: Callable[[ChatCompletionRequest], str] | None = None
    finish_reason: str = "stop"
    requests: list[ChatCompletionRequest] = field(default_factory=list)

    def complete(self, request: ChatCompletionRequest) -> ModelAnswer:
        self.requests.append(request)
        text = self.answer_for(request) if self.answer_for is not None else self.answer
        completion = {
            "id": "chatcmpl-unit",
            "object": "chat.completion",
            "model": request.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": self.finish_reason,
                }
            ],
        }
        return ModelAnswer(completion=completion, text=text, prompt_tokens=5, completion_tokens=3)

    def sent(self) -> str:
        """Everything the provider received, as the SDK would serialise it."""
        return json.dumps([request.model_dump(mode="json", by_alias=True) for request in self.requests])


@dataclass
class Harness:
    """A `CompletionService` on fakes, and what each fake saw."""

    model: FakeModel = field(default_factory=FakeModel)
    ledger: FakeLedger = field(default_factory=FakeLedger)
    policy: Policy = field(default_factory=local_policy)
    digest_key: Callable[[], bytes] = lambda: DIGEST_KEY
    sealed: list[dict[str, Any]] = field(default_factory=list)
    moderated: list[str] = field(default_factory=list)
    moderation_fails: bool = False

    def service(self) -> CompletionService:
        record = ClientRecord(
            client_id=CLIENT_ID,
            status="active",
            scopes=("chat:complete",),
            allowed_models=(MODEL,),
            max_tokens=256,
            token_budget=100_000,
            request_budget=1_000,
            created_at=0,
        )
        return CompletionService(
            envelopes=IdentityEnvelopes(),
            clients=SimpleNamespace(get=lambda client_id: record if client_id == CLIENT_ID else None),
            ledger=self.ledger,
            model=lambda: self.model,
            moderation=lambda: SimpleNamespace(moderate=self._moderate),
            policies=PolicyCatalog({self.policy.policy_id: self.policy}),
            seal_response=self._seal,
            digest_key=self.digest_key,
            default_model=MODEL,
            clock=lambda: 1_700_000_000.0,
        )

    def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run `request` through the service; the payload it sealed."""
        self.result(request)
        return self.sealed[-1]

    def result(self, request: dict[str, Any]) -> CompletionResult:
        """Run `request` through the service; what it returns to the handler."""
        plaintext = json.dumps({"resp_key": base64.b64encode(b"r" * 32).decode(), "request": request})
        return self.service().complete(authorized_call(plaintext.encode()))

    def refusal(self, request: dict[str, Any]) -> ProtocolError:
        """The error the service refuses `request` with (the test fails if it answers)."""
        try:
            self.complete(request)
        except ProtocolError as error:
            return error
        raise AssertionError("the request was answered, not refused")

    def _moderate(self, text: str) -> dict[str, float]:
        self.moderated.append(text)
        if self.moderation_fails:
            raise ConnectionError("moderation endpoint unreachable")
        return {"violence": 0.0}

    def _seal(self, payload: bytes, *, resp_key: bytes, req_id: str) -> bytes:
        self.sealed.append(json.loads(payload))
        return payload


def authorized_call(body: bytes) -> AuthorizedCall:
    return AuthorizedCall(
        client_id=CLIENT_ID,
        key_id=f"{CLIENT_ID}.1",
        req_id="req-unit-1",
        content_digest=compute_content_digest(body),
        scopes=frozenset({"chat:complete"}),
        body=base64.b64encode(body).decode(),
        is_base64_encoded=True,
    )


def chat(text: str, **extra: Any) -> dict[str, Any]:
    """A one-message chat request for the test model."""
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}


def released(payload: dict[str, Any]) -> str | None:
    """The answer text the client reads."""
    content: str | None = payload["completion"]["choices"][0]["message"]["content"]
    return content
