"""OidcTokenVerifier: an app's settings become a TrustedIssuer, but only for issuers the deployment trusts."""

from __future__ import annotations

import pytest

from secure_ai_gateway.adapters import oidc_tokens
from secure_ai_gateway.adapters.oidc_tokens import OidcTokenVerifier
from secure_ai_gateway.identity.oidc import TokenRejected
from secure_ai_protocol.errors import Unauthenticated
from tests.gateway.devices.fakes import enrollment_settings
from tests.gateway.identity.keys import APP, ISSUER, NOW, SigningKey, claims, jwks, rsa_private_key, sign

KEY = SigningKey(rsa_private_key(3), "RS256", "verifier-key")


def verifier(
    trusted: frozenset[str], fetched: list[str], monkeypatch: pytest.MonkeyPatch
) -> OidcTokenVerifier:
    def fetch(uri: str, *, allow_http_loopback: bool = False) -> bytes:
        fetched.append(uri)
        return jwks(KEY.jwk())

    monkeypatch.setattr(oidc_tokens, "fetch_jwks", fetch)
    return OidcTokenVerifier(trusted, allow_http_loopback=False, clock=lambda: NOW)


def test_a_token_from_a_trusted_issuer_is_verified_against_the_apps_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fetched: list[str] = []
    settings = enrollment_settings(issuer=ISSUER, audiences=(APP,), token_use="id")
    verified = verifier(frozenset({ISSUER}), fetched, monkeypatch).verify(sign(claims(), KEY), settings, NOW)
    assert (verified.subject, verified.audience) == (claims()["sub"], APP)
    assert fetched == [ISSUER + "/.well-known/jwks.json"]


def test_an_app_naming_an_issuer_the_deployment_does_not_trust_enrolls_nobody_and_fetches_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fetched: list[str] = []
    settings = enrollment_settings(issuer=ISSUER, audiences=(APP,))
    with pytest.raises(Unauthenticated) as refused:
        verifier(frozenset({"https://other.example.com"}), fetched, monkeypatch).verify(
            sign(claims(), KEY), settings, NOW
        )
    assert refused.value.reason == "issuer_not_trusted"
    assert fetched == []


def test_the_apps_audiences_algorithms_and_token_use_are_the_ones_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fetched: list[str] = []
    check = verifier(frozenset({ISSUER}), fetched, monkeypatch)
    token = sign(claims(), KEY)
    for settings, reason in (
        (enrollment_settings(issuer=ISSUER, audiences=("another-app",)), "token_audience"),
        (enrollment_settings(issuer=ISSUER, audiences=(APP,), algorithms=("ES256",)), "token_algorithm"),
        (enrollment_settings(issuer=ISSUER, audiences=(APP,), token_use="access"), "token_use"),
    ):
        with pytest.raises(TokenRejected) as refused:
            check.verify(token, settings, NOW)
        assert refused.value.reason == reason
