"""Keys, JWKS documents and tokens for the OIDC tests: what an identity provider publishes and issues."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from secure_ai_gateway.identity.oidc import TokenRejected

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example"
JWKS_URI = ISSUER + "/.well-known/jwks.json"
APP = "app-client-one"
OTHER_APP = "app-client-two"
NOW = 1_800_000_000.0

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class SigningKey:
    """A private key, the algorithm it signs with, and its key id."""

    private: PrivateKey
    algorithm: str
    kid: str

    def jwk(self, **members: Any) -> dict[str, Any]:
        """The public half as a JWK, as an issuer publishes it; `members` added or replaced."""
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            document = RSAAlgorithm.to_jwk(public, as_dict=True)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            document = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            document = OKPAlgorithm.to_jwk(public, as_dict=True)
        return {**document, "kid": self.kid, "alg": self.algorithm, "use": "sig", **members}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def with_kid(self, kid: str) -> SigningKey:
        return SigningKey(self.private, self.algorithm, kid)


@functools.cache
def rsa_private_key(number: int, bits: int = 2048) -> rsa.RSAPrivateKey:
    """The `number`th RSA key of `bits`, generated once per session."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@functools.cache
def ec_private_key(number: int, curve_name: str = "P-256") -> ec.EllipticCurvePrivateKey:
    curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}[curve_name]
    return ec.generate_private_key(curve)


@functools.cache
def ed25519_private_key(number: int) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def jwks(*keys: Mapping[str, Any]) -> bytes:
    """A JWKS document holding `keys` (JWKs), as the issuer serves it."""
    return json.dumps({"keys": list(keys)}).encode()


def claims(**changes: Any) -> dict[str, Any]:
    """An ID token's claims for APP, issued a minute before NOW, valid an hour; None drops a claim."""
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": APP,
        "sub": "0b6f4c52-7c4f-4a8e-9d1a-user-one",
        "iat": int(NOW) - 60,
        "exp": int(NOW) + 3600,
        "token_use": "id",
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def sign(payload: Mapping[str, Any], key: SigningKey, **headers: Any) -> str:
    """`payload` signed by `key` with its algorithm, its kid in the header (unless `headers` change it)."""
    return jwt.encode(
        dict(payload), key.private, algorithm=key.algorithm, headers={"kid": key.kid, **headers}
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unsigned(payload: Mapping[str, Any], **header: Any) -> str:
    """An `alg: none` token, made by hand as an attacker would (PyJWT will not help)."""
    return f"{segment({'alg': 'none', 'typ': 'JWT', **header})}.{segment(dict(payload))}."


def hmac_signed(payload: Mapping[str, Any], secret: bytes, **header: Any) -> str:
    """An HS256 token keyed with `secret` (the issuer's public PEM, in the key-confusion attack)."""
    signing_input = f"{segment({'alg': 'HS256', 'typ': 'JWT', **header})}.{segment(dict(payload))}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


class FakeKeys:
    """The `SigningKeys` port over fixed JWKs; records every lookup."""

    def __init__(self, *jwk_documents: Mapping[str, Any], jwks_uri: str = JWKS_URI) -> None:
        self.jwks_uri = jwks_uri
        self.keys = {str(document["kid"]): jwt.PyJWK(dict(document)) for document in jwk_documents}
        self.lookups: list[tuple[str, str]] = []

    def key_for(self, jwks_uri: str, kid: str) -> jwt.PyJWK:
        self.lookups.append((jwks_uri, kid))
        if jwks_uri != self.jwks_uri or kid not in self.keys:
            raise TokenRejected("token_unknown_key")
        return self.keys[kid]
