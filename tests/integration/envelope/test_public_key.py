"""The RSA public key served at GET /v1/keys/public, from KMS GetPublicKey."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from secure_ai_protocol.envelope.kms import public_key_pem
from secure_ai_protocol.envelope.requests import RequestEnvelopes
from secure_ai_protocol.errors import ConfigurationError
from tests.integration.envelope.conftest import Keys, KmsCalls

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient


def test_the_public_key_is_the_rsa_request_keys_public_half_as_pem(keys: Keys, kms: KMSClient) -> None:
    served = public_key_pem(keys.rsa_arn, kms)

    loaded = serialization.load_pem_public_key(served.pem.encode("ascii"))
    der = kms.get_public_key(KeyId=keys.rsa_arn)["PublicKey"]
    assert isinstance(loaded, rsa.RSAPublicKey)
    assert (
        loaded.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        == der
    )
    assert served.pem.startswith("-----BEGIN PUBLIC KEY-----")


def test_the_public_key_comes_with_the_key_arn_to_pin_and_its_spec(keys: Keys, kms: KMSClient) -> None:
    served = public_key_pem(keys.rsa_arn, kms)

    assert (served.key_arn, served.key_spec) == (keys.rsa_arn, "RSA_3072")


def test_the_symmetric_key_has_no_public_key_to_serve(keys: Keys, kms: KMSClient) -> None:
    with pytest.raises(ConfigurationError):
        public_key_pem(keys.symmetric_arn, kms)


def test_the_gateway_fetches_the_public_key_once(
    keys: Keys, envelopes: RequestEnvelopes, kms_calls: KmsCalls
) -> None:
    first = envelopes.public_key()
    second = envelopes.public_key()

    assert first == second
    assert len(kms_calls.named("get_public_key")) == 1
