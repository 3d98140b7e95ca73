"""The verdict-digest key is read from its secret as bytes; anything short of a strong key fails closed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from secure_ai_gateway.adapters.verdict_digest_key import (
    MIN_VERDICT_DIGEST_KEY_BYTES,
    load_verdict_digest_key,
)
from secure_ai_protocol.errors import DependencyUnavailable

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:verdict-digest-key-AbCdEf"
KEY_TEXT = "k" * 64


def returning(value: str) -> Callable[[str], str]:
    def fetch(secret_arn: str) -> str:
        assert secret_arn == SECRET_ARN
        return value

    return fetch


def unavailable(secret_arn: str) -> str:
    raise DependencyUnavailable("model_key_unavailable")


def test_the_key_is_the_secret_value_as_utf8_bytes() -> None:
    assert load_verdict_digest_key(SECRET_ARN, returning(KEY_TEXT)) == KEY_TEXT.encode()


def test_a_key_of_exactly_the_minimum_length_is_accepted() -> None:
    key = load_verdict_digest_key(SECRET_ARN, returning("k" * MIN_VERDICT_DIGEST_KEY_BYTES))
    assert len(key) == MIN_VERDICT_DIGEST_KEY_BYTES


def test_a_key_one_byte_short_fails_closed() -> None:
    with pytest.raises(DependencyUnavailable) as refused:
        load_verdict_digest_key(SECRET_ARN, returning("k" * (MIN_VERDICT_DIGEST_KEY_BYTES - 1)))
    assert refused.value.reason == "verdict_digest_key_too_short"


def test_an_unreadable_secret_fails_closed_under_the_key_s_own_reason() -> None:
    with pytest.raises(DependencyUnavailable) as refused:
        load_verdict_digest_key(SECRET_ARN, unavailable)
    assert refused.value.reason == "verdict_digest_key_unavailable"


def test_the_short_key_s_value_is_never_in_the_error() -> None:
    short = "s3cr3t-but-short"
    with pytest.raises(DependencyUnavailable) as refused:
        load_verdict_digest_key(SECRET_ARN, returning(short))
    assert short not in str(refused.value)
    assert short not in repr(refused.value)
