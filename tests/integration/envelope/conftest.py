"""Envelope fixtures: the template's two KMS keys in moto, a KMS client that decrypts RSA like KMS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from secure_ai_local.provision import ProvisionedStack
from secure_ai_protocol.envelope.kms import public_key_pem
from secure_ai_protocol.envelope.requests import RequestEnvelopes
from tests.kms_rsa_shim import install_rsa_decrypt

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

ROUTE = "/v1/chat/completions"
PLAINTEXT = b'{"resp_key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "request": {"model": "m"}}'


@dataclass
class Keys:
    """The request keys as the template declares them."""

    symmetric_arn: str
    rsa_arn: str
    rsa_public_pem: str


@dataclass
class KmsCalls:
    """The KMS operations the code under test made, with their parameters."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def named(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]


@pytest.fixture
def kms(aws_stack: ProvisionedStack) -> KMSClient:
    """A moto KMS client whose RSA Decrypt honours RSAES_OAEP_SHA_256 (tests/kms_rsa_shim.py)."""
    return install_rsa_decrypt(boto3.session.Session(region_name=aws_stack.region).client("kms"))


@pytest.fixture
def keys(aws_stack: ProvisionedStack, kms: KMSClient) -> Keys:
    rsa_arn = aws_stack.attribute("RsaRequestKey", "Arn")
    return Keys(
        symmetric_arn=aws_stack.attribute("RequestKey", "Arn"),
        rsa_arn=rsa_arn,
        rsa_public_pem=public_key_pem(rsa_arn, kms).pem,
    )


@pytest.fixture
def envelopes(keys: Keys, kms: KMSClient) -> RequestEnvelopes:
    return RequestEnvelopes(keys.symmetric_arn, keys.rsa_arn, kms)


@pytest.fixture
def kms_calls(kms: KMSClient, monkeypatch: pytest.MonkeyPatch) -> KmsCalls:
    """Record the Decrypt, GenerateDataKey and GetPublicKey calls made through `kms` from now on."""
    recorded = KmsCalls()

    def spy(operation: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(**params: Any) -> Any:
            recorded.calls.append((operation, params))
            return real(**params)

        return call

    for operation in ("decrypt", "generate_data_key", "get_public_key"):
        monkeypatch.setattr(kms, operation, spy(operation, getattr(kms, operation)))
    return recorded
