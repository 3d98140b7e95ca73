"""The ports: every interface the services call through, defined once, and the values they pass.

A service (services/) depends on these Protocols, never on an adapter; adapters/ implement them
against AWS and the model provider, and each handler's `build_dependencies` (functions/*) plugs
one into the other. Tests plug in fakes (tests/gateway/completion/fakes.py). See docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterator

    from secure_ai_gateway.client_registry.records import ClientRecord, EnrollmentSettings, KeyVersion
    from secure_ai_gateway.device_registry.records import DeviceRecord
    from secure_ai_gateway.screening.moderation import ModerationPort
    from secure_ai_gateway.screening.policy import Policy
    from secure_ai_gateway.screening.pseudonymise import Pseudonymiser
    from secure_ai_protocol.wire.chat import ChatCompletionRequest
    from secure_ai_protocol.wire.verdict import Verdict


# --- values crossing the ports --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelAnswer:
    """What the model said, and what it cost."""

    completion: dict[str, Any]
    text: str
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        """Tokens to settle against the budget."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class ModelDelta:
    """A piece of a streamed answer's text, as the model sent it (unscreened)."""

    text: str


@dataclass(frozen=True, slots=True)
class ModelStreamEnd:
    """The end of a streamed answer: why it stopped, and what it cost when the provider said so."""

    finish_reason: str | None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        """Tokens to settle against the budget; None when the provider sent no usage."""
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Budget:
    """A client's daily limits."""

    tokens: int
    requests: int


@dataclass(frozen=True, slots=True)
class Reservation:
    """Tokens held for one request until it settles."""

    client_id: str
    period: str
    tokens: int


# --- the ports ------------------------------------------------------------------------------------


class Envelopes(Protocol):
    """Opens request envelopes (secure_ai_protocol.envelope.requests.RequestEnvelopes)."""

    def open(self, ciphertext: bytes, *, client_id: str, req_id: str, route: str) -> Any: ...


class ClientRecords(Protocol):
    """Where client records come from (secure_ai_gateway.adapters.client_store.ClientStore)."""

    def get(self, client_id: str) -> ClientRecord | None:
        """The client's record, or None."""
        ...


class DeviceRecords(Protocol):
    """Where enrolled devices come from (secure_ai_gateway.adapters.device_store.DeviceStore)."""

    def get(self, device_id: str) -> DeviceRecord | None:
        """The device's record, or None."""
        ...


class DeviceDirectory(DeviceRecords, Protocol):
    """Where devices are enrolled and renewed (secure_ai_gateway.adapters.device_store.DeviceStore)."""

    def enroll(self, device: DeviceRecord, *, limit: int, now: int) -> None:
        """Store `device`; raise DeviceLimitReached if its user already has `limit` live devices."""
        ...

    def add_key_version(self, device: DeviceRecord, key: KeyVersion, *, retire_at: int) -> None:
        """Add `key` to `device` and end its current key at `retire_at`."""
        ...


class VerifiedUser(Protocol):
    """What a verified OIDC token says: who (`subject`, the `sub`) and until when."""

    @property
    def subject(self) -> str: ...

    @property
    def expires_at(self) -> int: ...


class TokenVerifier(Protocol):
    """Verifies an app's OIDC tokens (secure_ai_gateway.identity.verifier.OidcTokenVerifier);
    raises Unauthenticated for any token it does not accept."""

    def verify(self, token: str, settings: EnrollmentSettings, now: float) -> VerifiedUser: ...


class EnrollmentReplays(Protocol):
    """Spends enrollment tokens once (secure_ai_gateway.adapters.replay.NonceStore)."""

    def remember_enrollment(self, app_id: str, token_digest: str, expires_at: int) -> None: ...


class SecretSealing(Protocol):
    """Seals a new key version's secret (secure_ai_gateway.adapters.secret_sealing.SecretSealer)."""

    def seal(self, client_id: str, version: int, secret: bytes) -> bytes: ...


class SecretUnsealer(Protocol):
    """Unseals a key version's secret (secure_ai_gateway.adapters.secret_sealing.SecretSealer)."""

    def unseal(self, client_id: str, version: int, sealed: bytes) -> bytes:
        """The plaintext secret of `<client_id>.<version>`."""
        ...


class Policies(Protocol):
    """Finds a screening policy by id (secure_ai_gateway.policy_registry.cache.CachedPolicies);
    raises ConfigurationError("unknown_policy") for an id no policy has."""

    def policy(self, policy_id: str) -> Policy: ...


class StoredPolicies(Protocol):
    """Where managed policies are kept (secure_ai_gateway.adapters.policy_store.PolicyStore)."""

    def current(self, policy_id: str) -> Policy | None:
        """The current version of the policy, or None if none is stored."""
        ...


class Ledger(Protocol):
    """Reserves and settles token budgets (secure_ai_gateway.adapters.quota.UsageLedger)."""

    def reserve(self, client_id: str, tokens: int, budget: Budget, now: float) -> Reservation: ...

    def cancel(self, reservation: Reservation) -> None: ...

    def settle(self, reservation: Reservation, used_tokens: int) -> None: ...


class Model(Protocol):
    """Answers chat requests (secure_ai_gateway.adapters.openai.chat.ChatModel)."""

    def complete(self, request: ChatCompletionRequest) -> ModelAnswer: ...


class StreamingModel(Protocol):
    """Streams chat answers (secure_ai_gateway.adapters.openai.chat.ChatModel).

    `stream` raises an Upstream* error when the provider refuses or fails before answering; the
    iterator it returns yields `ModelDelta`s and then exactly one `ModelStreamEnd`, and raises an
    Upstream* error (ProtocolError) if the provider fails after the stream started. Closing the
    iterator closes the connection to the provider.
    """

    def stream(self, request: ChatCompletionRequest) -> Iterator[ModelDelta | ModelStreamEnd]: ...


class StreamStepResult(Protocol):
    """What one step of a stream screen gives: text now safe to release, and the verdict once decided.

    A verdict before `finish` means the stream is blocked: nothing more is released.
    """

    @property
    def released(self) -> str: ...

    @property
    def verdict(self) -> Verdict | None: ...


class StreamScreen(Protocol):
    """Screens a streamed answer piece by piece (secure_ai_gateway.screening.streaming.StreamScreen):
    `feed` each model delta, then `finish` once; only `released` text may reach the caller."""

    def feed(self, delta: str) -> StreamStepResult: ...

    def finish(self) -> StreamStepResult: ...


class StreamScreens(Protocol):
    """Builds the screen of one streamed answer (the StreamScreen class itself is one)."""

    def __call__(
        self,
        policy: Policy,
        *,
        pseudonyms: Pseudonymiser,
        canary: str | None,
        schema: dict[str, Any] | None,
        moderation: ModerationPort | None,
        digest_key: bytes | None,
    ) -> StreamScreen: ...


class VerdictRecords(Protocol):
    """Keeps verdict records (secure_ai_gateway.adapters.verdicts.VerdictStore)."""

    def put(self, record: dict[str, Any], now: float) -> None: ...


class VerdictEvents(Protocol):
    """Announces verdict records (secure_ai_gateway.adapters.verdicts.VerdictPublisher)."""

    def publish(self, record: dict[str, Any]) -> None: ...


class VerificationKey(Protocol):
    """A resolved, currently usable signing key."""

    @property
    def secret(self) -> bytes: ...

    @property
    def client_id(self) -> str: ...

    @property
    def scopes(self) -> tuple[str, ...]: ...

    @property
    def app_id(self) -> str: ...

    @property
    def device_id(self) -> str: ...

    @property
    def user_ref(self) -> str: ...


class KeyResolver(Protocol):
    """Finds the secret behind a key id, refusing unknown, revoked or out-of-window keys."""

    def resolve(self, key_id: str) -> VerificationKey: ...


class NonceRecorder(Protocol):
    """Remembers (key id, nonce) pairs; raises ReplayDetected on a second sighting."""

    def remember(self, key_id: str, nonce: str, expires_at: int) -> None: ...
