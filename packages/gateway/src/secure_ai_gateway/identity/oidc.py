"""An app user's OIDC token (ID or access token), verified against its issuer's signing keys.

Device enrollment (`POST /v1/devices`) is authorised by the token an app's identity provider gave
its user, sent as `Authorization: Bearer <jwt>`. `verify_token` decides whether that token was
issued by a configured issuer, for one of its configured apps, and is valid now; it returns who
the user is (`VerifiedToken`) or raises `TokenRejected`. It is pure: the keys come through
`SigningKeys` (adapters/jwks.py fetches and caches them) and the time is an argument.

Nothing the token says chooses how it is checked. The algorithm must be one the issuer is
configured with, all asymmetric (so `none`, and HS256 keyed with the issuer's public key, are
refused before any key is looked up), and the key the `kid` names must be of that algorithm
(RFC 8725 §3.1). Keys are looked up by `kid` in the configured JWKS only: `jku`, `x5u`, `jwk` and
`x5c` headers are never consulted. Times are checked here against `now`, not by PyJWT (which reads
the wall clock): a token is valid while `now < exp + leeway`, from `nbf - leeway`, and refused if
issued more than `leeway` in the future. The audience is `aud` when present (a string or a list,
any one accepted value suffices) and otherwise `client_id`, which Cognito access tokens carry
instead of `aud`.

Every refusal has its own `reason`, for logs and metrics only: callers answer all of them with the
same 401. Neither the token nor any claim from it is ever put in an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, get_args

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from secure_ai_gateway.identity.algorithms import ASYMMETRIC_ALGORITHMS
from secure_ai_protocol.errors import Unauthenticated

# Larger than any real ID token (Cognito's are 1-2 KiB, with groups a few); checked before parsing.
MAX_TOKEN_CHARS: Final = 8192
MAX_KID_CHARS: Final = 256
MAX_SUBJECT_CHARS: Final = 255
MAX_LEEWAY_SECONDS: Final = 300
DEFAULT_LEEWAY_SECONDS: Final = 30

# The key type (and curve) each algorithm an issuer may be configured with needs
# (identity/algorithms.py names them; tests/gateway/identity hold the two in step).
_KEY_TYPES: Final[Mapping[str, tuple[str, type[Any], str | None]]] = {
    "RS256": ("RSA", RSAPublicKey, None),
    "RS384": ("RSA", RSAPublicKey, None),
    "RS512": ("RSA", RSAPublicKey, None),
    "PS256": ("RSA", RSAPublicKey, None),
    "PS384": ("RSA", RSAPublicKey, None),
    "PS512": ("RSA", RSAPublicKey, None),
    "ES256": ("EC", EllipticCurvePublicKey, "secp256r1"),
    "ES384": ("EC", EllipticCurvePublicKey, "secp384r1"),
    "ES512": ("EC", EllipticCurvePublicKey, "secp521r1"),
    "EdDSA": ("OKP", Ed25519PublicKey, None),
}

TokenRejection = Literal[
    "token_too_large",
    "token_malformed",
    "token_algorithm",
    "token_unknown_key",
    "token_key_unusable",
    "token_signature",
    "token_claim_missing",
    "token_issuer",
    "token_expired",
    "token_not_yet_valid",
    "token_issued_in_future",
    "token_audience",
    "token_use",
    "token_subject",
]
TOKEN_REJECTIONS: Final = frozenset(get_args(TokenRejection))


class TokenRejected(Unauthenticated):
    """The bearer token is not a valid token of a trusted issuer for one of its apps (one 401)."""

    def __init__(self, reason: TokenRejection) -> None:
        super().__init__(reason)


class SigningKeys(Protocol):
    """The issuers' published verification keys, by JWKS URI and key id."""

    def key_for(self, jwks_uri: str, kid: str) -> jwt.PyJWK:
        """The key `kid` of the set at `jwks_uri`.

        Raises TokenRejected("token_unknown_key") if the set has no such key, and
        DependencyUnavailable if the set cannot be read.
        """
        ...


@dataclass(frozen=True, slots=True)
class TrustedIssuer:
    """An identity provider whose tokens enroll devices, and the apps (audiences) it speaks for.

    `audiences` are the accepted `aud` values, or for a token without `aud` the accepted
    `client_id` values. `token_use`, when set, is the value the `token_use` claim must have
    (Cognito: "id" or "access"). Build one with `for_issuer` to get the conventional JWKS URI.
    """

    issuer: str
    audiences: tuple[str, ...]
    jwks_uri: str
    algorithms: tuple[str, ...] = ("RS256",)
    token_use: str | None = None
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS

    def __post_init__(self) -> None:
        if not isinstance(self.issuer, str) or not self.issuer:
            raise ValueError("issuer must be a non-empty string")
        if not isinstance(self.jwks_uri, str) or not self.jwks_uri:
            raise ValueError("jwks_uri must be a non-empty string")
        if (
            not isinstance(self.audiences, tuple)
            or not self.audiences
            or not all(isinstance(audience, str) and audience for audience in self.audiences)
        ):
            raise ValueError("audiences must be a non-empty tuple of non-empty strings")
        if not isinstance(self.algorithms, tuple) or not self.algorithms:
            raise ValueError("algorithms must be a non-empty tuple")
        refused = [name for name in self.algorithms if name not in ASYMMETRIC_ALGORITHMS]
        if refused:
            raise ValueError(f"algorithms must be asymmetric, one of {sorted(ASYMMETRIC_ALGORITHMS)}")
        if self.token_use is not None and (not isinstance(self.token_use, str) or not self.token_use):
            raise ValueError("token_use must be None or a non-empty string")
        if (
            not isinstance(self.leeway_seconds, int)
            or isinstance(self.leeway_seconds, bool)
            or not 0 <= self.leeway_seconds <= MAX_LEEWAY_SECONDS
        ):
            raise ValueError(f"leeway_seconds must be an integer from 0 to {MAX_LEEWAY_SECONDS}")

    @classmethod
    def for_issuer(
        cls,
        issuer: str,
        audiences: tuple[str, ...],
        *,
        jwks_uri: str | None = None,
        algorithms: tuple[str, ...] = ("RS256",),
        token_use: str | None = None,
        leeway_seconds: int = DEFAULT_LEEWAY_SECONDS,
    ) -> TrustedIssuer:
        """An issuer whose keys are at `jwks_uri`, by default `<issuer>/.well-known/jwks.json` (Cognito's)."""
        return cls(
            issuer=issuer,
            audiences=audiences,
            jwks_uri=jwks_uri if jwks_uri is not None else issuer.rstrip("/") + "/.well-known/jwks.json",
            algorithms=algorithms,
            token_use=token_use,
            leeway_seconds=leeway_seconds,
        )


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """Who a verified token names: its issuer, the user (`sub`), the app it matched, and until when."""

    issuer: str
    subject: str
    audience: str
    expires_at: int


def verify_token(token: str, issuer: TrustedIssuer, keys: SigningKeys, now: float) -> VerifiedToken:
    """Verify `token` as one of `issuer`'s, for one of its audiences, at time `now` (epoch seconds).

    Raises TokenRejected with a reason naming the first rule it fails, and whatever `keys` raises
    when the key set cannot be read (DependencyUnavailable).
    """
    algorithm, kid = _header(token, issuer)
    key = keys.key_for(issuer.jwks_uri, kid)
    _check_key(key, algorithm)
    claims = _decode(token, key, algorithm, issuer)
    if claims.get("iss") != issuer.issuer:  # PyJWT compared it already; this does not rely on it
        raise TokenRejected("token_issuer")
    expires_at = _check_times(claims, now, issuer.leeway_seconds)
    audience = _matched_audience(claims, issuer.audiences)
    if issuer.token_use is not None and claims.get("token_use") != issuer.token_use:
        raise TokenRejected("token_use")
    return VerifiedToken(
        issuer=issuer.issuer,
        subject=_subject(claims),
        audience=audience,
        expires_at=expires_at,
    )


def _header(token: str, issuer: TrustedIssuer) -> tuple[str, str]:
    """The header's algorithm, if the issuer accepts it, and key id; nothing else of it is used."""
    if not isinstance(token, str):
        raise TokenRejected("token_malformed")
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenRejected("token_too_large")
    # Compact JWS only: three segments (a JWE has five), base64url and dots only.
    if not token.isascii() or token.count(".") != 2:
        raise TokenRejected("token_malformed")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise TokenRejected("token_malformed") from error
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in issuer.algorithms:
        raise TokenRejected("token_algorithm")
    # No extension is understood here (RFC 7515 §4.1.11), `b64: false` (RFC 7797) included.
    if "crit" in header or "b64" in header:
        raise TokenRejected("token_malformed")
    kid = header.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_CHARS:
        raise TokenRejected("token_malformed")
    return algorithm, kid


def _check_key(key: jwt.PyJWK, algorithm: str) -> None:
    """Refuse a key that is not of the header's algorithm: its type, curve and own `alg` must agree."""
    key_type, public_key_class, curve = _KEY_TYPES[algorithm]
    material = key.key
    if (
        key.key_type != key_type
        or key.algorithm_name != algorithm
        or not isinstance(material, public_key_class)
        or (curve is not None and getattr(getattr(material, "curve", None), "name", None) != curve)
    ):
        raise TokenRejected("token_algorithm")


def _decode(token: str, key: jwt.PyJWK, algorithm: str, issuer: TrustedIssuer) -> dict[str, Any]:
    """The claims, once the signature verifies; times and audience are left to the checks below."""
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[algorithm],
            issuer=issuer.issuer,
            options={
                "verify_signature": True,
                "require": ["exp", "iat", "iss", "sub"],
                "verify_iss": True,
                "verify_sub": True,
                "verify_aud": False,
                # PyJWT reads the wall clock; _check_times uses the caller's `now`.
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "enforce_minimum_key_length": True,
            },
        )
    except jwt.PyJWTError as error:
        raise TokenRejected(_reason_for(error)) from error
    except (ValueError, TypeError) as error:
        raise TokenRejected("token_malformed") from error
    return claims


def _reason_for(error: jwt.PyJWTError) -> TokenRejection:
    """The rejection reason for an error PyJWT raised while verifying the signature and claims."""
    if isinstance(error, jwt.MissingRequiredClaimError):
        if error.claim == "sub":
            return "token_subject"
        if error.claim == "iss":
            return "token_issuer"
        return "token_claim_missing"
    reasons: tuple[tuple[type[jwt.PyJWTError], TokenRejection], ...] = (
        (jwt.InvalidSignatureError, "token_signature"),
        (jwt.InvalidAlgorithmError, "token_algorithm"),
        (jwt.InvalidIssuerError, "token_issuer"),
        (jwt.exceptions.InvalidSubjectError, "token_subject"),
        (jwt.InvalidKeyError, "token_key_unusable"),
        (jwt.ExpiredSignatureError, "token_expired"),
        (jwt.ImmatureSignatureError, "token_not_yet_valid"),
        (jwt.InvalidAudienceError, "token_audience"),
    )
    for kind, reason in reasons:
        if isinstance(error, kind):
            return reason
    return "token_malformed"


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    """A NumericDate claim (RFC 7519 §2): a finite JSON number, or None when absent."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TokenRejected("token_malformed")
    return float(value)


def _check_times(claims: Mapping[str, Any], now: float, leeway: int) -> int:
    """Refuse a token outside its validity at `now`, give or take `leeway`; its `exp`, whole seconds."""
    expires = _numeric_date(claims, "exp")
    issued = _numeric_date(claims, "iat")
    if expires is None or issued is None:
        raise TokenRejected("token_claim_missing")
    if now >= expires + leeway:
        raise TokenRejected("token_expired")
    not_before = _numeric_date(claims, "nbf")
    if not_before is not None and now < not_before - leeway:
        raise TokenRejected("token_not_yet_valid")
    if now < issued - leeway:
        raise TokenRejected("token_issued_in_future")
    return math.floor(expires)


def _matched_audience(claims: Mapping[str, Any], accepted: tuple[str, ...]) -> str:
    """The accepted value the token is for: from `aud` if it has one, else from `client_id`."""
    if "aud" in claims:
        # A token that names its audience is judged by it alone, never by its client_id.
        named = claims["aud"]
        values = [named] if isinstance(named, str) else named
        if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
            raise TokenRejected("token_audience")
    else:
        client_id = claims.get("client_id")
        values = [client_id] if isinstance(client_id, str) else []
    for value in values:
        if value in accepted:
            return str(value)
    raise TokenRejected("token_audience")


def _subject(claims: Mapping[str, Any]) -> str:
    """The user the token is about: a non-empty `sub` of at most 255 characters, no control characters."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_CHARS or not subject.isprintable():
        raise TokenRejected("token_subject")
    return subject
