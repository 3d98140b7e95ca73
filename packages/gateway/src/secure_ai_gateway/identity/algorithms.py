"""The JWS algorithms an app's token issuer may be configured with.

Asymmetric only, so a verifying key is public and can never double as an HMAC secret. A module of
its own, without PyJWT or cryptography: client records (client_registry/records.py) check an app's
settings against it, and the authorizer, which reads client records on every cold start, verifies
no tokens (identity/oidc.py does, in the devices function).
"""

from __future__ import annotations

from typing import Final

ASYMMETRIC_ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
