"""Mobile/web mode: the RSA public key only, pinned; a served key that differs is refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from secure_ai_client.client import SecureAIClient
from secure_ai_client.errors import PublicKeyMismatch, ResponseRejected
from tests.client.conftest import Keys, other_public_key_pem
from tests.client.fake_gateway import FakeGateway

MakeClient = Callable[..., SecureAIClient]
HELLO = [{"role": "user", "content": "Hello"}]
OTHER_ARN = "arn:aws:kms:us-east-1:123456789012:key/99999999-9999-9999-9999-999999999999"


def _posts(gateway: FakeGateway) -> int:
    return sum(request.method == "POST" for request in gateway.requests)


def _gets(gateway: FakeGateway) -> int:
    return sum(request.method == "GET" for request in gateway.requests)


def test_with_key_and_arn_pinned_nothing_is_fetched_and_the_gateway_opens_the_envelope(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    result = make_client("mobile").chat_completions(model="gpt-4o-mini", messages=HELLO)

    assert result.text == "Hello from the fake model."
    assert _gets(gateway) == 0


def test_without_pins_the_served_key_is_fetched_once(make_client: MakeClient, gateway: FakeGateway) -> None:
    client = make_client("mobile", rsa_public_key_pem=None, rsa_key_arn=None)

    client.chat_completions(model="gpt-4o-mini", messages=HELLO)
    client.chat_completions(model="gpt-4o-mini", messages=HELLO)

    assert (_gets(gateway), _posts(gateway)) == (1, 2)


def test_a_pinned_pem_is_compared_with_the_served_key_whatever_its_line_breaks(
    make_client: MakeClient, gateway: FakeGateway, keys: Keys
) -> None:
    rewrapped = keys.rsa_pem.replace("\n", "\r\n")

    make_client("mobile", rsa_public_key_pem=rewrapped, rsa_key_arn=None).chat_completions(
        model="gpt-4o-mini", messages=HELLO
    )

    assert (_gets(gateway), _posts(gateway)) == (1, 1)


def test_a_served_key_other_than_the_pinned_one_is_refused_and_nothing_is_sent(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    client = make_client("mobile", rsa_public_key_pem=other_public_key_pem(), rsa_key_arn=None)

    with pytest.raises(PublicKeyMismatch) as refused:
        client.chat_completions(model="gpt-4o-mini", messages=HELLO)

    assert refused.value.reason == "public_key"
    assert _posts(gateway) == 0


def test_a_served_key_arn_other_than_the_pinned_one_is_refused(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    client = make_client("mobile", rsa_public_key_pem=None, rsa_key_arn=OTHER_ARN)

    with pytest.raises(PublicKeyMismatch) as refused:
        client.chat_completions(model="gpt-4o-mini", messages=HELLO)

    assert refused.value.reason == "key_arn"
    assert _posts(gateway) == 0


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("encryption_algorithm", "RSAES_OAEP_SHA_1", "unsupported_encryption_algorithm"),
        ("key_arn", "alias/secure-ai-rsa-request", "malformed_public_key"),
        ("public_key_pem", "not a key", "malformed_public_key"),
    ],
)
def test_a_served_key_that_is_unusable_is_refused_and_nothing_is_sent(
    make_client: MakeClient, gateway: FakeGateway, field: str, value: str, reason: str
) -> None:
    gateway.public_key[field] = value

    with pytest.raises(ResponseRejected) as refused:
        make_client("mobile", rsa_public_key_pem=None, rsa_key_arn=None).chat_completions(
            model="gpt-4o-mini", messages=HELLO
        )

    assert refused.value.reason == reason
    assert _posts(gateway) == 0


def test_public_key_returns_what_the_gateway_serves(make_client: MakeClient, keys: Keys) -> None:
    info = make_client("mobile").public_key()

    assert (info.key_arn, info.key_spec, info.encryption_algorithm) == (
        keys.rsa_arn,
        "RSA_3072",
        "RSAES_OAEP_SHA_256",
    )
    assert info.public_key_pem == keys.rsa_pem


def test_mobile_mode_needs_no_kms_client(keys: Keys, gateway: FakeGateway, make_client: MakeClient) -> None:
    client = make_client("mobile", kms_client=None, kms_key_arn=None)

    assert client.chat_completions(model="gpt-4o-mini", messages=HELLO).verdict.decision == "allow"


def test_a_pinned_pem_that_is_not_a_public_key_is_refused_at_construction(make_client: MakeClient) -> None:
    with pytest.raises(ValueError, match="PEM"):
        make_client(
            "mobile", rsa_public_key_pem="-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
        )
