"""Fixtures for the client SDK's tests: moto's KMS in-process (no sockets) and the fake gateway."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import mock_aws

from secure_ai_client.client import AsyncSecureAIClient, SecureAIClient
from secure_ai_protocol.envelope.kms import public_key_pem
from secure_ai_protocol.envelope.requests import RequestEnvelopes
from tests.client.fake_gateway import BASE_URL, FakeGateway
from tests.kms_rsa_shim import install_rsa_decrypt

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

REGION = "us-east-1"
KEY_ID = "app-1.1"
# Recognisable in any encoding a leak could take (raw, base64, hex).
SECRET = b"S3CRET-" + bytes(range(25))


@dataclass(frozen=True)
class Keys:
    """The gateway's two request keys in moto, and a KMS client that honours RSA decryption."""

    kms: KMSClient
    symmetric_arn: str
    rsa_arn: str
    rsa_pem: str


def other_public_key_pem() -> str:
    """An RSA public key the gateway does not hold."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


@pytest.fixture(scope="module")
def keys() -> Iterator[Keys]:
    """moto's KMS for this module (RSA keys are slow to make): a symmetric and an RSA_3072 key."""
    with mock_aws():
        kms = boto3.client(
            "kms", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        install_rsa_decrypt(kms)
        symmetric = kms.create_key()["KeyMetadata"]["Arn"]
        rsa_arn = kms.create_key(KeySpec="RSA_3072", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
        yield Keys(kms, symmetric, rsa_arn, public_key_pem(rsa_arn, kms).pem)


@pytest.fixture
def gateway(keys: Keys) -> FakeGateway:
    """A fresh fake gateway holding both request keys and the client's secret."""
    return FakeGateway(
        envelopes=RequestEnvelopes(keys.symmetric_arn, keys.rsa_arn, keys.kms),
        secret=SECRET,
        public_key={
            "key_arn": keys.rsa_arn,
            "key_spec": "RSA_3072",
            "encryption_algorithm": "RSAES_OAEP_SHA_256",
            "public_key_pem": keys.rsa_pem,
            "envelope_version": "1",
        },
    )


def client_options(keys: Keys, mode: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments for either client in `mode`, with `overrides` applied."""
    options: dict[str, Any] = {"key_id": KEY_ID, "secret": SECRET, "mode": mode}
    if mode == "server":
        options |= {"kms_key_arn": keys.symmetric_arn, "kms_client": keys.kms}
    else:
        options |= {"rsa_public_key_pem": keys.rsa_pem, "rsa_key_arn": keys.rsa_arn}
    return options | overrides


@pytest.fixture
def make_client(keys: Keys, gateway: FakeGateway) -> Iterator[Callable[..., SecureAIClient]]:
    """Build a SecureAIClient talking to the fake gateway (server mode unless told)."""
    made: list[SecureAIClient] = []

    def build(mode: str = "server", **overrides: Any) -> SecureAIClient:
        client = SecureAIClient(
            BASE_URL,
            transport=httpx.MockTransport(gateway),
            **client_options(keys, mode, overrides),
        )
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


@pytest.fixture
def make_async_client(keys: Keys, gateway: FakeGateway) -> Callable[..., AsyncSecureAIClient]:
    """Build an AsyncSecureAIClient talking to the fake gateway (use it with `async with`)."""

    def build(mode: str = "server", **overrides: Any) -> AsyncSecureAIClient:
        return AsyncSecureAIClient(
            BASE_URL,
            transport=httpx.MockTransport(gateway),
            **client_options(keys, mode, overrides),
        )

    return build
