"""Settings of each function, validated once per execution environment.

Each model names the environment variables it reads (the field aliases). A missing or malformed
setting fails the cold start with a `ConfigurationError` naming the variable, never its value.
Logic receives these plain values; nothing below the handlers reads the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from secure_ai_protocol.errors import ConfigurationError

NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
KmsKeyArn = Annotated[
    str, StringConstraints(pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
]
SecretArn = Annotated[
    str,
    StringConstraints(
        pattern=r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$"
    ),
]

HttpsUrl = Annotated[str, StringConstraints(pattern=r"^https://\S+$")]
HttpsUrlList = Annotated[str, StringConstraints(pattern=r"^$|^https://[^,\s]+(,https://[^,\s]+)*$")]


class FunctionSettings(BaseModel):
    """Base: frozen, built from an environment mapping by alias."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False)

    @classmethod
    def environment_variables(cls) -> frozenset[str]:
        """The environment variable names this model reads."""
        return frozenset(field.alias or name for name, field in cls.model_fields.items())

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Self:
        """Validate the settings from `environ`; raise ConfigurationError naming what is wrong."""
        wanted = {name: environ[name] for name in cls.environment_variables() if name in environ}
        try:
            return cls.model_validate(wanted)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
            )
            raise ConfigurationError(f"{cls.__name__} is invalid: {problems}") from None


class AuthorizerSettings(FunctionSettings):
    """What the authorizer needs: client records, the replay store and the sealing key."""

    clients_table: NonEmpty = Field(alias="CLIENTS_TABLE")
    devices_table: NonEmpty = Field(alias="DEVICES_TABLE")
    nonces_table: NonEmpty = Field(alias="NONCES_TABLE")
    secrets_key_arn: KmsKeyArn = Field(alias="SECRETS_KEY_ARN")
    signature_tag: NonEmpty = Field(alias="SIGNATURE_TAG")
    # How long a resolved key is reused: a revocation takes effect within it (docs/clients.md).
    key_cache_seconds: float = Field(default=60.0, alias="KEY_CACHE_SECONDS", ge=0, le=300)


class ModelSettings(FunctionSettings):
    """The OpenAI-compatible endpoint, its API key's secret, and explicit timeout/retries."""

    model_base_url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")] = Field(
        alias="MODEL_BASE_URL"
    )
    model_api_key_secret_arn: SecretArn = Field(alias="MODEL_API_KEY_SECRET_ARN")
    # API Gateway gives the integration 29 s; the SDK default (600 s, 2 retries) would outlive it.
    model_timeout_seconds: float = Field(alias="MODEL_TIMEOUT_SECONDS", gt=0, le=25)
    model_max_retries: int = Field(alias="MODEL_MAX_RETRIES", ge=0, le=3)


class ScreeningSettings(ModelSettings):
    """What both screening functions need: policies, the request envelopes' keys, the digest key."""

    policies_table: NonEmpty = Field(alias="POLICIES_TABLE")
    request_key_arn: KmsKeyArn = Field(alias="REQUEST_KEY_ARN")
    rsa_key_arn: KmsKeyArn = Field(alias="RSA_KEY_ARN")
    verdict_digest_key_secret_arn: SecretArn = Field(alias="VERDICT_DIGEST_KEY_SECRET_ARN")


class CompletionSettings(ScreeningSettings):
    """What the completion function needs."""

    clients_table: NonEmpty = Field(alias="CLIENTS_TABLE")
    usage_table: NonEmpty = Field(alias="USAGE_TABLE")
    default_model: NonEmpty = Field(alias="DEFAULT_MODEL")


class ValidatorSettings(ScreeningSettings):
    """What the validator function needs."""

    verdicts_table: NonEmpty = Field(alias="VERDICTS_TABLE")
    idempotency_table: NonEmpty = Field(alias="IDEMPOTENCY_TABLE")
    event_bus_name: NonEmpty = Field(alias="EVENT_BUS_NAME")


class DevicesSettings(FunctionSettings):
    """What the devices function (enrollment and renewal) needs."""

    clients_table: NonEmpty = Field(alias="CLIENTS_TABLE")
    devices_table: NonEmpty = Field(alias="DEVICES_TABLE")
    nonces_table: NonEmpty = Field(alias="NONCES_TABLE")
    secrets_key_arn: KmsKeyArn = Field(alias="SECRETS_KEY_ARN")
    signature_tag: NonEmpty = Field(alias="SIGNATURE_TAG")
    verdict_digest_key_secret_arn: SecretArn = Field(alias="VERDICT_DIGEST_KEY_SECRET_ARN")
    device_key_lifetime_seconds: int = Field(alias="DEVICE_KEY_LIFETIME_SECONDS", ge=300, le=7 * 24 * 3600)
    device_max_age_seconds: int = Field(alias="DEVICE_MAX_AGE_SECONDS", ge=300, le=365 * 24 * 3600)
    cognito_issuer: HttpsUrl = Field(alias="COGNITO_ISSUER")
    oidc_issuers: HttpsUrlList = Field(default="", alias="OIDC_ISSUERS")
    # Only the local stack sets it: moto serves its user pools' JWKS over http on 127.0.0.1.
    jwks_allow_http_loopback: bool = Field(default=False, alias="JWKS_ALLOW_HTTP_LOOPBACK")

    @property
    def trusted_issuers(self) -> frozenset[str]:
        """The issuers an app may name: this stack's user pool, and those the operator listed."""
        extra = {issuer for issuer in self.oidc_issuers.split(",") if issuer}
        return frozenset({self.cognito_issuer, *extra})
