"""Secrets Manager through Powertools' cached SecretsProvider: what every function reads secrets with.

A secret is cached for `SECRET_MAX_AGE_SECONDS`, so a rotated value is picked up within that time;
any failure, or an empty value, fails closed. Kept apart from the model adapter so a function that
reads a secret (the devices function, the user-ref key) does not import the OpenAI SDK.
"""

from __future__ import annotations

from secure_ai_protocol.errors import DependencyUnavailable

SECRET_MAX_AGE_SECONDS = 300


def secret_from_secrets_manager(secret_arn: str) -> str:
    """The secret string, through Powertools' cached SecretsProvider; any failure fails closed."""
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415 - only where the model is called

    try:
        value = parameters.get_secret(secret_arn, max_age=SECRET_MAX_AGE_SECONDS)
    except Exception as error:
        raise DependencyUnavailable("secret_unavailable") from error
    if not isinstance(value, str) or not value.strip():
        # Powertools cached the unusable answer: drop it, or every read would refuse for max_age
        # seconds after Secrets Manager answered properly again.
        parameters.clear_caches()  # type: ignore[no-untyped-call]
        raise DependencyUnavailable("secret_unavailable")
    return value.strip()


def forget_cached_secrets() -> None:
    """Drop every secret Powertools' providers cached in this process, and the providers' boto3 clients.

    For SnapStart (secure_ai_gateway/snapstart.py): a snapshot must not carry a secret, and restored
    execution environments must not share one connection pool.
    """
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415 - as above

    parameters.clear_caches()  # type: ignore[no-untyped-call]
