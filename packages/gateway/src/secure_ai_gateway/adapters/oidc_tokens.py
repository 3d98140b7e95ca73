"""The `TokenVerifier` port over real issuers: an app's enrollment settings, its issuer's JWKS.

Only issuers the deployment trusts may be named by an app (template.yaml: this stack's Cognito user
pool and `OidcIssuers`): an app record pointed at any other issuer enrolls nobody, whoever wrote it.
The token checks themselves are secure_ai_gateway.identity.oidc; the keys come through one
`JwksCache` per execution environment (adapters/jwks.py: HTTPS, cached, refetched on an unknown `kid`
at most once a minute).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from secure_ai_gateway.adapters.jwks import JwksCache, fetch_jwks
from secure_ai_gateway.client_registry.records import EnrollmentSettings
from secure_ai_gateway.identity.oidc import TrustedIssuer, VerifiedToken, verify_token
from secure_ai_protocol.errors import Unauthenticated


class OidcTokenVerifier:
    """Verifies app users' OIDC tokens against the issuers this deployment trusts."""

    def __init__(
        self, trusted_issuers: frozenset[str], *, allow_http_loopback: bool, clock: Callable[[], float]
    ) -> None:
        self._trusted = trusted_issuers
        self._keys = JwksCache(
            fetch=functools.partial(fetch_jwks, allow_http_loopback=allow_http_loopback), clock=clock
        )

    def verify(self, token: str, settings: EnrollmentSettings, now: float) -> VerifiedToken:
        """The verified token; Unauthenticated for any problem with it or with its issuer."""
        if settings.issuer not in self._trusted:
            raise Unauthenticated("issuer_not_trusted")
        issuer = TrustedIssuer(
            issuer=settings.issuer,
            audiences=settings.audiences,
            jwks_uri=settings.jwks_address,
            algorithms=settings.algorithms,
            token_use=settings.token_use,
        )
        return verify_token(token, issuer, self._keys, now)
