"""A mobile/web client seals with the pinned public key alone: no credentials, no network."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from secure_ai_protocol.envelope import encryption_sdk
from secure_ai_protocol.envelope.requests import seal_request_mobile
from secure_ai_protocol.errors import ConfigurationError

RSA_ARN = "arn:aws:kms:us-east-1:123456789012:key/22222222-2222-2222-2222-222222222222"
PUBLIC_PEM = (
    rsa.generate_private_key(public_exponent=65537, key_size=3072)
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode("ascii")
)


@pytest.fixture
def no_aws_and_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every credential source boto3 knows and refuse every outbound connection."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def seal(**overrides: Any) -> bytes:
    arguments: dict[str, Any] = {
        "rsa_public_key_pem": PUBLIC_PEM,
        "rsa_key_arn": RSA_ARN,
        "client_id": "client-a",
        "req_id": "nonce-1",
        "route": "/v1/chat/completions",
    }
    arguments.update(overrides)
    return seal_request_mobile(b'{"resp_key": "...", "request": {}}', **arguments)


@pytest.mark.usefixtures("no_aws_and_no_network")
def test_a_mobile_envelope_is_sealed_without_credentials_or_network() -> None:
    assert seal()


@pytest.mark.usefixtures("no_aws_and_no_network")
def test_a_mobile_envelope_names_the_rsa_key_under_the_kms_rsa_provider() -> None:
    header = encryption_sdk.read_header(seal())

    assert [(entry.provider_id, entry.provider_info) for entry in header.data_keys] == [
        ("aws-kms-rsa", RSA_ARN.encode())
    ]


@pytest.mark.usefixtures("no_aws_and_no_network")
def test_a_mobile_envelope_uses_the_committing_unsigned_suite() -> None:
    assert encryption_sdk.read_header(seal()).suite == "AES_256_GCM_HKDF_SHA512_COMMIT_KEY"


@pytest.mark.usefixtures("no_aws_and_no_network")
def test_a_mobile_envelope_stores_the_request_context_but_not_client_id_or_req_id() -> None:
    stored = dict(encryption_sdk.read_header(seal()).stored_context)

    assert stored == {"purpose": "request", "route": "/v1/chat/completions", "version": "1"}


def test_a_public_key_pem_given_as_bytes_works_too() -> None:
    assert seal(rsa_public_key_pem=PUBLIC_PEM.encode("ascii"))


def test_a_malformed_public_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        seal(rsa_public_key_pem="-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
