"""Client records and their signing-key versions: the pure domain, no AWS.

A client holds numbered key versions; a request names one with the RFC 9421 `keyid` parameter,
`<client_id>.<version>`. A version is usable while the client and the version are active and
`not_before <= now < not_after` (half-open, so setting `not_after = now` retires it at once).
Times are epoch seconds. The DynamoDB shape of these records lives in
`secure_ai_gateway.adapters.client_store`; the key-id grammar in `secure_ai_protocol.key_ids`.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from secure_ai_gateway.identity.algorithms import ASYMMETRIC_ALGORITHMS
from secure_ai_protocol.errors import ProtocolError, Unauthenticated
from secure_ai_protocol.key_ids import CLIENT_ID_PATTERN, MAX_KEY_VERSION


class ClientConflict(ProtocolError):
    """A client-admin write lost a race or contradicts the record's state (exists, revoked)."""


ClientId = Annotated[str, StringConstraints(pattern=CLIENT_ID_PATTERN)]
Scope = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,31}:[a-z][a-z0-9_-]{0,31}$")]
ModelName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")]
PolicyId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
EpochSeconds = Annotated[int, Field(ge=0)]
Status = Literal["active", "revoked"]

DEFAULT_POLICY_ID: Final = "default"
LoopbackOrHttpsUrl = Annotated[
    str,
    StringConstraints(
        pattern=r"^(https://[A-Za-z0-9.-]+|http://(127\.0\.0\.1|localhost|\[::1\]))(:[0-9]{1,5})?(/[\x21-\x7e]*)?$",
        max_length=512,
    ),
]
Origin = Annotated[
    str,
    StringConstraints(
        pattern=r"^(https://[a-z0-9.-]+|http://(127\.0\.0\.1|localhost|\[::1\]))(:[0-9]{1,5})?$",
        max_length=256,
    ),
]
Audience = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,256}$")]


class EnrollmentSettings(BaseModel):
    """Whether and how an app's signed-in users enroll devices (docs/enrollment.md).

    One OIDC issuer; the audiences (or Cognito app client ids) whose tokens it accepts; the
    asymmetric algorithms it signs with; per-user limits; the browser origins it serves. The
    issuer is `https` (a loopback `http` JWKS address is for the local stack only).
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    issuer: Annotated[str, StringConstraints(pattern=r"^https://[\x21-\x7e]{1,500}$")]
    audiences: Annotated[tuple[Audience, ...], Field(min_length=1, max_length=16)]
    algorithms: Annotated[tuple[str, ...], Field(min_length=1, max_length=10)] = ("RS256",)
    token_use: Literal["id", "access"] | None = None
    jwks_uri: LoopbackOrHttpsUrl | None = None
    max_devices: int = Field(default=5, ge=1, le=100)
    user_token_budget: int = Field(ge=1)
    user_request_budget: int = Field(ge=1)
    allowed_origins: Annotated[tuple[Origin, ...], Field(max_length=16)] = ()

    @model_validator(mode="after")
    def _only_asymmetric_algorithms(self) -> Self:
        if not set(self.algorithms) <= ASYMMETRIC_ALGORITHMS:
            raise ValueError("only asymmetric JWS algorithms may verify enrollment tokens")
        return self

    @property
    def jwks_address(self) -> str:
        """Where the issuer publishes its keys: `jwks_uri`, else the OIDC default under the issuer."""
        return self.jwks_uri or self.issuer.rstrip("/") + "/.well-known/jwks.json"


class KeyVersion(BaseModel):
    """One signing-key version of a client: its KMS-sealed secret and validity."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    version: int = Field(ge=1, le=MAX_KEY_VERSION)
    # Ciphertext only, but still kept out of reprs and dumps: nothing prints a sealed blob.
    sealed_secret: bytes = Field(min_length=1, repr=False, exclude=True)
    status: Status
    not_before: EpochSeconds
    not_after: EpochSeconds | None = None
    created_at: EpochSeconds

    @model_validator(mode="after")
    def _window_is_ordered(self) -> Self:
        if self.not_after is not None and self.not_after < self.not_before:
            raise ValueError("not_after precedes not_before")
        return self


class ClientRecord(BaseModel):
    """A client of the gateway: status, permissions, budgets and signing-key versions."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    client_id: ClientId
    status: Status
    scopes: tuple[Scope, ...]
    allowed_models: tuple[ModelName, ...]
    max_tokens: int = Field(ge=1)
    token_budget: int = Field(ge=1)
    request_budget: int = Field(ge=1)
    policy_id: PolicyId = DEFAULT_POLICY_ID
    created_at: EpochSeconds
    key_versions: tuple[KeyVersion, ...] = ()
    enrollment: EnrollmentSettings | None = None

    @model_validator(mode="after")
    def _versions_are_unique(self) -> Self:
        versions = [key.version for key in self.key_versions]
        if len(versions) != len(set(versions)):
            raise ValueError("duplicate key version")
        return self

    def key_version(self, version: int) -> KeyVersion | None:
        """The key version numbered `version`, if the client has one."""
        return next((key for key in self.key_versions if key.version == version), None)

    @property
    def latest_version(self) -> int:
        """The highest version number ever issued (revoked ones included), 0 if none."""
        return max((key.version for key in self.key_versions), default=0)


class KeyHolder(Protocol):
    """Anything that holds signing-key versions: a client, or an enrolled device."""

    @property
    def status(self) -> Status: ...

    def key_version(self, version: int) -> KeyVersion | None: ...


def usable_key(record: KeyHolder, version: int, now: float) -> KeyVersion:
    """The key version `version` of `record` if it may verify a signature at `now`.

    Raises Unauthenticated with reason "client_revoked", "unknown_key", "revoked_key",
    "key_not_yet_valid" or "key_expired".
    """
    if record.status != "active":
        raise Unauthenticated("client_revoked")
    key = record.key_version(version)
    if key is None:
        raise Unauthenticated("unknown_key")
    if key.status != "active":
        raise Unauthenticated("revoked_key")
    if now < key.not_before:
        raise Unauthenticated("key_not_yet_valid")
    if key.not_after is not None and now >= key.not_after:
        raise Unauthenticated("key_expired")
    return key
