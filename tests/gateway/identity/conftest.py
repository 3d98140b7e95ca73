"""Session-wide keys for the OIDC tests: generating RSA keys is slow, and no test changes one."""

from __future__ import annotations

import pytest

from tests.gateway.identity.keys import (
    SigningKey,
    ec_private_key,
    ed25519_private_key,
    rsa_private_key,
)


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    """The issuer's current RS256 key."""
    return SigningKey(rsa_private_key(1), "RS256", "rsa-1")


@pytest.fixture(scope="session")
def impostor_key() -> SigningKey:
    """Another RSA key, under the issuer's key id: what an attacker signs with."""
    return SigningKey(rsa_private_key(2), "RS256", "rsa-1")


@pytest.fixture(scope="session")
def ec_key() -> SigningKey:
    return SigningKey(ec_private_key(1), "ES256", "ec-1")


@pytest.fixture(scope="session")
def ed_key() -> SigningKey:
    return SigningKey(ed25519_private_key(1), "EdDSA", "ed-1")
