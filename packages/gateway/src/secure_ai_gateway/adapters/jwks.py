"""Identity providers' signing keys (JWKS), fetched over HTTPS and cached: the `SigningKeys` port.

identity/oidc.py asks for the key a token's `kid` names in its issuer's configured JWKS. A warm
execution environment keeps each parsed set for `max_age_seconds` (an hour) and serves known keys
from it. An issuer rotating keys publishes the new one before signing with it, so a `kid` missing
from a cached set makes the set be fetched again, but at most once per `min_refresh_seconds` (a
minute) per URI, whatever the cause: a flood of tokens with made-up key ids, or an issuer that is
down, costs the issuer at most one request a minute from each environment. Concurrent misses wait
for one fetch and share it.

Fail closed: a set that cannot be fetched or parsed is `DependencyUnavailable` (a 503), unless an
unexpired cached set holds the key, which is then served. An expired set is never served. Only
asymmetric signature keys are kept: keys for another `use` or without `verify` in `key_ops`,
symmetric (`oct`) keys, keys carrying private members, algorithms outside the allow-list,
unparsable keys, and key ids that appear twice are dropped.

`fetch_jwks` is the fetch: HTTPS only (plain HTTP to a loopback address when the local stack asks,
where moto serves the JWKS), no credentials in the URL, no redirects, identity encoding, at most
`max_bytes`, each network step within `timeout` seconds and the body cut off once `timeout` has
passed since the fetch began (a server trickling bytes is not waited for).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import httpx2
import jwt

from secure_ai_gateway.identity.algorithms import ASYMMETRIC_ALGORITHMS
from secure_ai_gateway.identity.oidc import MAX_KID_CHARS, TokenRejected
from secure_ai_protocol.errors import ConfigurationError, DependencyUnavailable
from secure_ai_protocol.json_bounds import json_depth_within

if TYPE_CHECKING:
    import ada_url

DEFAULT_MAX_AGE_SECONDS: Final = 3600.0
DEFAULT_MIN_REFRESH_SECONDS: Final = 60.0
DEFAULT_TIMEOUT_SECONDS: Final = 3.0
# Cognito's JWKS is under 1 KiB; a large provider's, with certificate chains, a few KiB.
DEFAULT_MAX_BYTES: Final = 65536
# {"keys": [{"x5c": [...]}]} is three levels deep.
MAX_JWKS_DEPTH: Final = 8
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "[::1]"})
_KEY_TYPES: Final = frozenset({"RSA", "EC", "OKP"})
# Members of private (or symmetric) keys (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


@dataclass(frozen=True, slots=True)
class _KeySet:
    keys: Mapping[str, jwt.PyJWK]
    fetched_at: float


class JwksCache:
    """The `SigningKeys` port: each issuer's key set, fetched by `fetch` and kept `max_age_seconds`."""

    def __init__(
        self,
        fetch: Callable[[str], bytes],
        clock: Callable[[], float],
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        min_refresh_seconds: float = DEFAULT_MIN_REFRESH_SECONDS,
    ) -> None:
        if not 0 <= min_refresh_seconds <= max_age_seconds:
            raise ValueError("min_refresh_seconds must be between 0 and max_age_seconds")
        self._fetch = fetch
        self._clock = clock
        self._max_age = max_age_seconds
        self._min_refresh = min_refresh_seconds
        self._sets: dict[str, _KeySet] = {}
        self._attempted_at: dict[str, float] = {}
        # One lock per URI (URIs come from configuration, not from tokens), so a slow issuer
        # holds up only its own tokens; `_guard` only creates them.
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def key_for(self, jwks_uri: str, kid: str) -> jwt.PyJWK:
        """The key `kid` of the set at `jwks_uri`.

        Raises TokenRejected("token_unknown_key") when the set lacks it even after a refresh (or
        was refreshed less than `min_refresh_seconds` ago), and DependencyUnavailable when no
        unexpired set holding it could be had.
        """
        cached = self._sets.get(jwks_uri)
        if cached is not None and self._fresh(cached, self._clock()) and kid in cached.keys:
            return cached.keys[kid]
        with self._lock_for(jwks_uri):
            now = self._clock()
            # Another thread may have fetched while this one waited for the lock.
            cached = self._sets.get(jwks_uri)
            fresh = cached is not None and self._fresh(cached, now)
            if cached is not None and fresh and kid in cached.keys:
                return cached.keys[kid]
            if self._refreshed_recently(jwks_uri, now):
                if fresh:
                    raise TokenRejected("token_unknown_key")
                raise DependencyUnavailable("jwks_unavailable")
            refreshed = self._refresh(jwks_uri, now)
        key = refreshed.keys.get(kid)
        if key is None:
            raise TokenRejected("token_unknown_key")
        return key

    def _refresh(self, jwks_uri: str, now: float) -> _KeySet:
        # The attempt counts whether or not it succeeds: that is what bounds the fetch rate.
        self._attempted_at[jwks_uri] = now
        keys = parse_jwks(self._fetch(jwks_uri))
        refreshed = _KeySet(keys, now)
        self._sets[jwks_uri] = refreshed
        return refreshed

    def _fresh(self, cached: _KeySet, now: float) -> bool:
        # A clock that went backwards makes the set stale too: the bound holds either way.
        return 0 <= now - cached.fetched_at < self._max_age

    def _refreshed_recently(self, jwks_uri: str, now: float) -> bool:
        attempted = self._attempted_at.get(jwks_uri)
        return attempted is not None and 0 <= now - attempted < self._min_refresh

    def _lock_for(self, jwks_uri: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(jwks_uri, threading.Lock())


def parse_jwks(document: bytes) -> Mapping[str, jwt.PyJWK]:
    """The usable signature keys of a JWKS document, by key id.

    Raises DependencyUnavailable("jwks_malformed") if the document is not a JWKS; keys that are
    not usable for verifying an asymmetric signature are dropped, not refused.
    """
    if not json_depth_within(document, MAX_JWKS_DEPTH):
        raise DependencyUnavailable("jwks_malformed")
    try:
        parsed = json.loads(document)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise DependencyUnavailable("jwks_malformed") from error
    if not isinstance(parsed, dict) or not isinstance(parsed.get("keys"), list):
        raise DependencyUnavailable("jwks_malformed")
    keys: dict[str, jwt.PyJWK] = {}
    seen: set[str] = set()
    for member in parsed["keys"]:
        kid = member.get("kid") if isinstance(member, dict) else None
        if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_CHARS:
            continue
        # A kid published twice names no one key: neither is used.
        if kid in seen:
            keys.pop(kid, None)
            continue
        seen.add(kid)
        key = _signature_key(member)
        if key is not None:
            keys[kid] = key
    return MappingProxyType(keys)


def _signature_key(member: dict[str, Any]) -> jwt.PyJWK | None:
    """The JWK as a key, if it is a public key for verifying signatures with an allowed algorithm."""
    if member.get("kty") not in _KEY_TYPES or _PRIVATE_MEMBERS & member.keys():
        return None
    if member.get("use", "sig") != "sig":
        return None
    operations = member.get("key_ops")
    if operations is not None and (not isinstance(operations, list) or "verify" not in operations):
        return None
    if "alg" in member and member["alg"] not in ASYMMETRIC_ALGORITHMS:
        return None
    try:
        return jwt.PyJWK(member)
    except (jwt.PyJWTError, ValueError, TypeError):
        return None


def fetch_jwks(
    uri: str,
    *,
    allow_http_loopback: bool = False,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> bytes:
    """The JWKS document at `uri`, as served: HTTPS, no redirects, at most `max_bytes`, within `timeout`.

    Raises ConfigurationError("jwks_uri") for a URI this will not fetch, and DependencyUnavailable
    ("jwks_timeout", "jwks_status", "jwks_too_large", "jwks_encoding", "jwks_unavailable") when
    the fetch fails.
    """
    url = checked_jwks_uri(uri, allow_http_loopback=allow_http_loopback)
    deadline = time.monotonic() + timeout
    try:
        with (
            httpx2.Client(timeout=httpx2.Timeout(timeout), follow_redirects=False, trust_env=False) as client,
            client.stream(
                "GET",
                url,
                headers={
                    "Accept": "application/jwk-set+json, application/json",
                    "Accept-Encoding": "identity",
                },
            ) as response,
        ):
            if response.status_code != 200:
                raise DependencyUnavailable("jwks_status")
            if response.headers.get("content-encoding", "identity").lower() != "identity":
                raise DependencyUnavailable("jwks_encoding")
            declared = response.headers.get("content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
                raise DependencyUnavailable("jwks_too_large")
            body = bytearray()
            for chunk in response.iter_raw():
                body += chunk
                if len(body) > max_bytes:
                    raise DependencyUnavailable("jwks_too_large")
                if time.monotonic() > deadline:
                    raise DependencyUnavailable("jwks_timeout")
            return bytes(body)
    except httpx2.TimeoutException as error:
        raise DependencyUnavailable("jwks_timeout") from error
    except (httpx2.HTTPError, httpx2.StreamError) as error:
        raise DependencyUnavailable("jwks_unavailable") from error


def checked_jwks_uri(uri: str, *, allow_http_loopback: bool = False) -> str:
    """`uri` normalised (WHATWG), if it is an HTTPS URL without credentials, or HTTP to loopback when allowed.

    The normalised form is what is fetched, so the check and the request read the same URL.
    """
    parsed = _parse_url(uri)
    plain_loopback = allow_http_loopback and parsed.protocol == "http:" and parsed.hostname in LOOPBACK_HOSTS
    if (
        (parsed.protocol != "https:" and not plain_loopback)
        or not parsed.hostname
        or parsed.username
        or parsed.password
    ):
        raise ConfigurationError("jwks_uri")
    normalised = parsed.href
    # httpx2 parses the URL again (RFC 3986): it must see the same scheme and host.
    try:
        again = httpx2.URL(normalised)
    except httpx2.InvalidURL as error:
        raise ConfigurationError("jwks_uri") from error
    raw_host = again.raw_host.decode("ascii", errors="replace")  # IDNA-encoded, as ada's hostname
    host = f"[{raw_host}]" if ":" in raw_host else raw_host
    if f"{again.scheme}:" != parsed.protocol or host != parsed.hostname or again.userinfo:
        raise ConfigurationError("jwks_uri")
    return normalised


def _parse_url(uri: str) -> ada_url.URL:
    import ada_url  # noqa: PLC0415 - ada-url loads a native library; only a key fetch needs it

    if not isinstance(uri, str):
        raise ConfigurationError("jwks_uri")
    try:
        return ada_url.URL(uri)
    except ValueError as error:
        raise ConfigurationError("jwks_uri") from error
