"""Issuers' signing keys: cached an hour, refreshed at most once a minute, fetched over HTTPS only, bounded.

The fetch is tested against a real HTTP server on 127.0.0.1 (loopback is the one place plain HTTP is
allowed, and only when asked); the cache against a fake fetch and a hand-moved clock.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import jwt
import pytest
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from secure_ai_gateway.adapters.jwks import (
    DEFAULT_MAX_AGE_SECONDS,
    DEFAULT_MIN_REFRESH_SECONDS,
    JwksCache,
    checked_jwks_uri,
    fetch_jwks,
    parse_jwks,
)
from secure_ai_gateway.identity.oidc import TokenRejected, TrustedIssuer, verify_token
from secure_ai_protocol.errors import ConfigurationError, DependencyUnavailable, ProtocolError
from tests.gateway.client_registry.fakes import FakeClock
from tests.gateway.identity.keys import (
    APP,
    ISSUER,
    JWKS_URI,
    SigningKey,
    claims,
    ec_private_key,
    ed25519_private_key,
    jwks,
    rsa_private_key,
    sign,
)

MAX_AGE = DEFAULT_MAX_AGE_SECONDS
MIN_REFRESH = DEFAULT_MIN_REFRESH_SECONDS


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    return SigningKey(rsa_private_key(1), "RS256", "rsa-1")


@pytest.fixture(scope="session")
def next_rsa_key() -> SigningKey:
    """The key the issuer rotates to."""
    return SigningKey(rsa_private_key(2), "RS256", "rsa-2")


@pytest.fixture(scope="session")
def ec_key() -> SigningKey:
    return SigningKey(ec_private_key(1), "ES256", "ec-1")


@pytest.fixture(scope="session")
def ed_key() -> SigningKey:
    return SigningKey(ed25519_private_key(1), "EdDSA", "ed-1")


class FakeFetch:
    """Serves one document per URI (changeable), or raises `failure`; counts fetches."""

    def __init__(self, document: bytes, uri: str = JWKS_URI) -> None:
        self.documents = {uri: document}
        self.failure: ProtocolError | None = None
        self.fetches: list[str] = []

    def __call__(self, uri: str) -> bytes:
        self.fetches.append(uri)
        if self.failure is not None:
            raise self.failure
        return self.documents[uri]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fetch(rsa_key: SigningKey) -> FakeFetch:
    return FakeFetch(jwks(rsa_key.jwk()))


@pytest.fixture
def cache(fetch: FakeFetch, clock: FakeClock) -> JwksCache:
    return JwksCache(fetch, clock)


def unknown(cache: JwksCache, kid: str) -> None:
    with pytest.raises(TokenRejected) as refused:
        cache.key_for(JWKS_URI, kid)
    assert refused.value.reason == "token_unknown_key"


def unavailable(cache: JwksCache, kid: str) -> str:
    with pytest.raises(DependencyUnavailable) as failed:
        cache.key_for(JWKS_URI, kid)
    return failed.value.reason


# --- parsing a JWKS document ---


def test_every_allowed_kind_of_public_key_is_kept(
    rsa_key: SigningKey, ec_key: SigningKey, ed_key: SigningKey
) -> None:
    keys = parse_jwks(jwks(rsa_key.jwk(), ec_key.jwk(), ed_key.jwk()))
    assert {kid: key.algorithm_name for kid, key in keys.items()} == {
        "rsa-1": "RS256",
        "ec-1": "ES256",
        "ed-1": "EdDSA",
    }


def test_a_key_without_use_alg_or_key_ops_is_kept(rsa_key: SigningKey) -> None:
    jwk = rsa_key.jwk()
    for member in ("use", "alg"):
        del jwk[member]
    assert list(parse_jwks(jwks(jwk))) == ["rsa-1"]


@pytest.mark.parametrize(
    "changes",
    [
        {"use": "enc"},
        {"use": ""},
        {"key_ops": ["encrypt"]},
        {"key_ops": "verify"},
        {"alg": "HS256"},
        {"alg": "none"},
        {"alg": "RSA-OAEP"},
        {"kty": "oct", "k": "c2VjcmV0"},
        {"kty": "oct"},
        {"kty": "EC"},
        {"kty": "RSA-ish"},
        {"d": "cHJpdmF0ZQ"},
        {"kid": ""},
        {"kid": 7},
        {"kid": "k" * 257},
        {"n": ""},
        {"e": 65537},
        {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
    ],
)
def test_a_key_not_usable_for_verifying_an_asymmetric_signature_is_dropped(
    rsa_key: SigningKey, next_rsa_key: SigningKey, changes: dict[str, Any]
) -> None:
    document = jwks(rsa_key.jwk(**changes), next_rsa_key.jwk())
    assert list(parse_jwks(document)) == ["rsa-2"]


def private_jwks() -> list[dict[str, Any]]:
    return [
        RSAAlgorithm.to_jwk(rsa_private_key(1), as_dict=True),
        ECAlgorithm.to_jwk(ec_private_key(1), as_dict=True),
    ]


@pytest.mark.parametrize("private", private_jwks(), ids=["RSA", "EC"])
def test_a_private_key_published_by_mistake_is_dropped(
    private: dict[str, Any], next_rsa_key: SigningKey
) -> None:
    leaked = {**private, "kid": "leaked", "use": "sig"}
    assert jwt.PyJWK(leaked).key is not None  # PyJWT would take it
    assert list(parse_jwks(jwks(leaked, next_rsa_key.jwk()))) == ["rsa-2"]


def test_key_ops_naming_verify_is_kept(rsa_key: SigningKey) -> None:
    assert list(parse_jwks(jwks(rsa_key.jwk(key_ops=["verify"])))) == ["rsa-1"]


def test_a_key_without_kid_is_dropped(rsa_key: SigningKey, next_rsa_key: SigningKey) -> None:
    jwk = rsa_key.jwk()
    del jwk["kid"]
    assert list(parse_jwks(jwks(jwk, next_rsa_key.jwk(), "not a key"))) == ["rsa-2"]  # type: ignore[arg-type]


def test_a_kid_published_twice_names_no_key(rsa_key: SigningKey, next_rsa_key: SigningKey) -> None:
    # rsa-1 three times (twice the same key, once another), rsa-2 once.
    document = jwks(rsa_key.jwk(), next_rsa_key.jwk(kid="rsa-1"), next_rsa_key.jwk(), rsa_key.jwk())
    assert list(parse_jwks(document)) == ["rsa-2"]


def test_an_empty_key_set_holds_no_key() -> None:
    assert dict(parse_jwks(b'{"keys": []}')) == {}


@pytest.mark.parametrize(
    "document",
    [b"", b"not json", b"[]", b'{"keys": {}}', b'{"key": []}', b"\xff\xfe{", b"null", b"[" * 100_000],
)
def test_a_document_that_is_not_a_jwks_is_malformed(document: bytes) -> None:
    with pytest.raises(DependencyUnavailable) as failed:
        parse_jwks(document)
    assert failed.value.reason == "jwks_malformed"


def test_the_parsed_set_cannot_be_changed(rsa_key: SigningKey) -> None:
    keys = parse_jwks(jwks(rsa_key.jwk()))
    with pytest.raises(TypeError):
        keys["evil"] = keys["rsa-1"]  # type: ignore[index]


# --- the cache ---


def test_a_known_key_is_served_from_one_fetch(cache: JwksCache, fetch: FakeFetch) -> None:
    first = cache.key_for(JWKS_URI, "rsa-1")
    assert isinstance(first, jwt.PyJWK)
    assert cache.key_for(JWKS_URI, "rsa-1") is first
    assert fetch.fetches == [JWKS_URI]


def test_each_uri_has_its_own_set(rsa_key: SigningKey, next_rsa_key: SigningKey, clock: FakeClock) -> None:
    fetch = FakeFetch(jwks(rsa_key.jwk()))
    fetch.documents["https://other.example/jwks"] = jwks(next_rsa_key.jwk())
    cache = JwksCache(fetch, clock)
    assert cache.key_for("https://other.example/jwks", "rsa-2").key_id == "rsa-2"
    assert cache.key_for(JWKS_URI, "rsa-1").key_id == "rsa-1"
    with pytest.raises(TokenRejected):
        cache.key_for("https://other.example/jwks", "rsa-1")
    assert fetch.fetches == ["https://other.example/jwks", JWKS_URI]


def test_a_set_is_kept_until_max_age_and_fetched_again_at_it(
    cache: JwksCache, fetch: FakeFetch, clock: FakeClock
) -> None:
    cache.key_for(JWKS_URI, "rsa-1")
    clock.advance(MAX_AGE - 0.001)
    cache.key_for(JWKS_URI, "rsa-1")
    assert len(fetch.fetches) == 1
    clock.advance(0.001)
    cache.key_for(JWKS_URI, "rsa-1")
    assert len(fetch.fetches) == 2


def test_a_clock_that_went_backwards_makes_the_set_stale(
    cache: JwksCache, fetch: FakeFetch, clock: FakeClock
) -> None:
    cache.key_for(JWKS_URI, "rsa-1")
    clock.advance(-1)
    cache.key_for(JWKS_URI, "rsa-1")
    assert len(fetch.fetches) == 2


def test_an_unknown_kid_refreshes_the_set_once_and_then_is_refused(
    cache: JwksCache, fetch: FakeFetch, clock: FakeClock
) -> None:
    cache.key_for(JWKS_URI, "rsa-1")
    clock.advance(MIN_REFRESH)
    unknown(cache, "made-up-1")
    assert len(fetch.fetches) == 2  # the refresh
    clock.advance(MIN_REFRESH - 0.001)
    unknown(cache, "made-up-2")
    assert len(fetch.fetches) == 2  # within a minute of the refresh: no fetch
    clock.advance(0.001)
    unknown(cache, "made-up-3")
    assert len(fetch.fetches) == 3


def test_a_flood_of_made_up_kids_costs_one_fetch_a_minute(
    cache: JwksCache, fetch: FakeFetch, clock: FakeClock
) -> None:
    cache.key_for(JWKS_URI, "rsa-1")
    for second in range(180):
        clock.advance(1)
        for attempt in range(10):
            unknown(cache, f"made-up-{second}-{attempt}")
    assert len(fetch.fetches) == 1 + 3


def test_a_rotated_key_is_found_by_the_refresh(
    cache: JwksCache, fetch: FakeFetch, clock: FakeClock, rsa_key: SigningKey, next_rsa_key: SigningKey
) -> None:
    cache.key_for(JWKS_URI, "rsa-1")
    fetch.documents[JWKS_URI] = jwks(rsa_key.jwk(), next_rsa_key.jwk())
    clock.advance(MIN_REFRESH)
    assert cache.key_for(JWKS_URI, "rsa-2").key_id == "rsa-2"
    assert cache.key_for(JWKS_URI, "rsa-1").key_id == "rsa-1"
    assert len(fetch.fetches) == 2


def test_a_key_published_within_a_minute_of_the_last_fetch_waits_for_the_minute(
    cache: JwksCache, fetch: FakeFetch, clock: FakeClock, rsa_key: SigningKey, next_rsa_key: SigningKey
) -> None:
    cache.key_for(JWKS_URI, "rsa-1")
    fetch.documents[JWKS_URI] = jwks(rsa_key.jwk(), next_rsa_key.jwk())
    clock.advance(MIN_REFRESH - 1)
    unknown(cache, "rsa-2")
    clock.advance(1)
    assert cache.key_for(JWKS_URI, "rsa-2").key_id == "rsa-2"


def test_a_cold_cache_asked_for_an_unknown_kid_fetches_once(cache: JwksCache, fetch: FakeFetch) -> None:
    unknown(cache, "made-up-1")
    unknown(cache, "made-up-2")
    assert cache.key_for(JWKS_URI, "rsa-1").key_id == "rsa-1"
    assert len(fetch.fetches) == 1


def test_a_failed_fetch_with_nothing_cached_fails_closed_and_is_not_retried_within_the_minute(
    cache: JwksCache, fetch: FakeFetch, clock: FakeClock
) -> None:
    fetch.failure = DependencyUnavailable("jwks_timeout")
    assert unavailable(cache, "rsa-1") == "jwks_timeout"
    clock.advance(MIN_REFRESH - 1)
    assert unavailable(cache, "rsa-1") == "jwks_unavailable"
    assert len(fetch.fetches) == 1
    fetch.failure = None
    clock.advance(1)
    assert cache.key_for(JWKS_URI, "rsa-1").key_id == "rsa-1"
    assert len(fetch.fetches) == 2


def test_a_failed_refresh_still_serves_the_unexpired_set_s_keys(
    cache: JwksCache, fetch: FakeFetch, clock: FakeClock
) -> None:
    cache.key_for(JWKS_URI, "rsa-1")
    clock.advance(MIN_REFRESH)
    fetch.failure = DependencyUnavailable("jwks_status")
    assert unavailable(cache, "rsa-2") == "jwks_status"
    assert cache.key_for(JWKS_URI, "rsa-1").key_id == "rsa-1"
    unknown(cache, "rsa-2")  # within the minute after the failed refresh: the unexpired set answers
    assert len(fetch.fetches) == 2


def test_an_expired_set_is_never_served_even_when_the_fetch_fails(
    cache: JwksCache, fetch: FakeFetch, clock: FakeClock
) -> None:
    cache.key_for(JWKS_URI, "rsa-1")
    clock.advance(MAX_AGE)
    fetch.failure = DependencyUnavailable("jwks_unavailable")
    assert unavailable(cache, "rsa-1") == "jwks_unavailable"
    clock.advance(1)
    assert unavailable(cache, "rsa-1") == "jwks_unavailable"
    assert len(fetch.fetches) == 2


def test_a_malformed_refresh_keeps_the_unexpired_set(
    cache: JwksCache, fetch: FakeFetch, clock: FakeClock
) -> None:
    cache.key_for(JWKS_URI, "rsa-1")
    clock.advance(MIN_REFRESH)
    fetch.documents[JWKS_URI] = b"<html>maintenance</html>"
    assert unavailable(cache, "rsa-2") == "jwks_malformed"
    assert cache.key_for(JWKS_URI, "rsa-1").key_id == "rsa-1"


def test_a_refresh_that_drops_a_key_drops_it_from_the_cache(
    cache: JwksCache, fetch: FakeFetch, clock: FakeClock, next_rsa_key: SigningKey
) -> None:
    cache.key_for(JWKS_URI, "rsa-1")
    fetch.documents[JWKS_URI] = jwks(next_rsa_key.jwk())  # rsa-1 retired
    clock.advance(MIN_REFRESH)
    assert cache.key_for(JWKS_URI, "rsa-2").key_id == "rsa-2"
    unknown(cache, "rsa-1")


@pytest.mark.parametrize(("max_age", "min_refresh"), [(60, 61), (3600, -1)])
def test_the_refresh_interval_is_within_the_max_age(max_age: float, min_refresh: float) -> None:
    with pytest.raises(ValueError, match="min_refresh_seconds"):
        JwksCache(FakeFetch(b""), FakeClock(), max_age_seconds=max_age, min_refresh_seconds=min_refresh)


@pytest.mark.parametrize(("max_age", "min_refresh"), [(60, 60), (60, 0)])
def test_the_refresh_interval_may_be_the_max_age_or_zero(max_age: float, min_refresh: float) -> None:
    JwksCache(FakeFetch(b""), FakeClock(), max_age_seconds=max_age, min_refresh_seconds=min_refresh)


def run_together(count: int, call: Callable[[int], object]) -> list[object]:
    """`call(i)` in `count` threads released at once; each one's result or exception."""
    results: list[object] = [None] * count
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = call(index)
        except ProtocolError as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return results


class SlowFetch(FakeFetch):
    """A fetch that takes a while, so concurrent callers pile up behind it."""

    def __call__(self, uri: str) -> bytes:
        time.sleep(0.05)
        return super().__call__(uri)


def test_concurrent_misses_share_one_fetch(rsa_key: SigningKey, clock: FakeClock) -> None:
    fetch = SlowFetch(jwks(rsa_key.jwk()))
    cache = JwksCache(fetch, clock)
    results = run_together(16, lambda _: cache.key_for(JWKS_URI, "rsa-1"))
    assert all(isinstance(result, jwt.PyJWK) for result in results)
    assert len(fetch.fetches) == 1


def test_concurrent_unknown_kids_share_one_refresh(rsa_key: SigningKey, clock: FakeClock) -> None:
    fetch = SlowFetch(jwks(rsa_key.jwk()))
    cache = JwksCache(fetch, clock)
    cache.key_for(JWKS_URI, "rsa-1")
    clock.advance(MIN_REFRESH)
    results = run_together(16, lambda index: cache.key_for(JWKS_URI, f"made-up-{index}"))
    assert all(isinstance(result, TokenRejected) for result in results)
    assert len(fetch.fetches) == 2


# --- with verify_token ---


def test_a_token_under_a_kid_the_jwks_lacks_is_refused_after_one_refresh(
    rsa_key: SigningKey, next_rsa_key: SigningKey, cache: JwksCache, fetch: FakeFetch, clock: FakeClock
) -> None:
    trusted = TrustedIssuer.for_issuer(ISSUER, (APP,))
    now = clock()
    assert verify_token(sign(claims(iat=now, exp=now + 3600), rsa_key), trusted, cache, now).audience == APP
    clock.advance(MIN_REFRESH)
    now = clock()
    for made_up in ("made-up-1", "made-up-2"):
        token = sign(claims(iat=now, exp=now + 3600), next_rsa_key.with_kid(made_up))
        with pytest.raises(TokenRejected) as refused:
            verify_token(token, trusted, cache, now)
        assert refused.value.reason == "token_unknown_key"
    assert fetch.fetches == [JWKS_URI, JWKS_URI]  # the first fetch, then one refresh for both


# --- the URI ---


@pytest.mark.parametrize(
    "uri",
    [
        "http://cognito-idp.eu-west-1.amazonaws.com/pool/.well-known/jwks.json",
        "https://user:password@issuer.example/jwks",
        "https://user@issuer.example/jwks",
        "https://:password@issuer.example/jwks",
        "ftp://issuer.example/jwks",
        "file:///etc/passwd",
        "ws://issuer.example/jwks",
        "javascript:alert(1)",
        "data:application/json,{}",
        "//issuer.example/jwks",
        "issuer.example/jwks",
        "https://",
        "",
        "http://127.0.0.1/jwks",
        "http://localhost/jwks",
        "http://[::1]/jwks",
    ],
)
def test_only_https_without_credentials_is_fetched(uri: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        checked_jwks_uri(uri)
    assert refused.value.reason == "jwks_uri"


@pytest.mark.parametrize(
    "uri",
    [
        "http://issuer.example/jwks",
        "http://127.0.0.2/jwks",
        "http://localhost.issuer.example/jwks",
        "http://127.0.0.1.nip.io/jwks",
        "http://user@127.0.0.1/jwks",
        "http://0.0.0.0/jwks",
        "http://[::ffff:127.0.0.1]/jwks",
    ],
)
def test_plain_http_is_allowed_to_loopback_only(uri: str) -> None:
    with pytest.raises(ConfigurationError):
        checked_jwks_uri(uri, allow_http_loopback=True)


@pytest.mark.parametrize(
    ("uri", "normalised"),
    [
        (
            "http://127.0.0.1:5000/pool/.well-known/jwks.json",
            "http://127.0.0.1:5000/pool/.well-known/jwks.json",
        ),
        ("http://localhost:5000/jwks", "http://localhost:5000/jwks"),
        ("http://LOCALHOST:5000/jwks", "http://localhost:5000/jwks"),
        ("http://[::1]:5000/jwks", "http://[::1]:5000/jwks"),
        ("http://0x7f.1:5000/jwks", "http://127.0.0.1:5000/jwks"),
    ],
)
def test_plain_http_to_loopback_is_allowed_when_asked(uri: str, normalised: str) -> None:
    assert checked_jwks_uri(uri, allow_http_loopback=True) == normalised


@pytest.mark.parametrize(
    ("uri", "normalised"),
    [
        ("https://Issuer.Example:443/a/../jwks", "https://issuer.example/jwks"),
        ("https://bücher.example/jwks", "https://xn--bcher-kva.example/jwks"),
        ("https://issuer.example/jwks#fragment", "https://issuer.example/jwks#fragment"),
    ],
)
def test_the_uri_fetched_is_the_normalised_one(uri: str, normalised: str) -> None:
    assert checked_jwks_uri(uri) == normalised


# --- fetching, from a real server on 127.0.0.1 ---


class Handler(BaseHTTPRequestHandler):
    """Answers by path; records every path asked for."""

    body: ClassVar[bytes] = b""
    requests: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        # A client that gave up (a timeout test) has closed the connection.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer()

    def _send(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        if "Content_Length" not in headers and "Transfer_Encoding" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer(self) -> None:
        body = type(self).body
        path = self.path
        if path == "/jwks":
            self._send(200, body, Content_Type="application/json")
        elif path.startswith("/size/"):
            self._send(200, b"x" * int(path.removeprefix("/size/")))
        elif path.startswith("/unsized/"):
            # No Content-Length: the body runs to the connection's close.
            self.close_connection = True
            self._send(200, b"x" * int(path.removeprefix("/unsized/")), Connection="close", Content_Length="")
        elif path == "/lying-length":
            self._send(200, body, Content_Length="10")
        elif path.startswith("/status/"):
            self._send(int(path.removeprefix("/status/")), b'{"keys": []}')
        elif path == "/redirect":
            self._send(302, b"", Location="/jwks")
        elif path == "/gzip":
            self._send(200, body, Content_Encoding="gzip")
        elif path == "/slow":
            time.sleep(1.0)
            self._send(200, body)
        elif path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Length", "64")
            self.end_headers()
            for _ in range(64):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.02)
        else:
            self._send(404, b"")

    def send_header(self, keyword: str, value: str) -> None:
        if value:  # an empty value drops the header (Content-Length above)
            super().send_header(keyword, value)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def served(server: str, rsa_key: SigningKey) -> Iterator[str]:
    Handler.body = jwks(rsa_key.jwk())
    Handler.requests.clear()
    yield server
    Handler.requests.clear()


def failure(uri: str, **options: Any) -> str:
    with pytest.raises(DependencyUnavailable) as failed:
        fetch_jwks(uri, allow_http_loopback=True, **options)
    return failed.value.reason


def test_the_document_is_fetched_from_loopback_when_asked(served: str, rsa_key: SigningKey) -> None:
    assert fetch_jwks(served + "/jwks", allow_http_loopback=True) == jwks(rsa_key.jwk())
    assert Handler.requests == ["/jwks"]


def test_plain_http_to_loopback_is_refused_unless_asked(served: str) -> None:
    with pytest.raises(ConfigurationError):
        fetch_jwks(served + "/jwks")
    assert Handler.requests == []


def test_credentials_in_a_loopback_uri_are_refused_before_any_request(served: str) -> None:
    with pytest.raises(ConfigurationError):
        fetch_jwks(served.replace("http://", "http://user:pw@") + "/jwks", allow_http_loopback=True)
    assert Handler.requests == []


def test_https_to_a_server_without_tls_fails_closed(served: str) -> None:
    with pytest.raises(DependencyUnavailable) as failed:
        fetch_jwks(served.replace("http://", "https://") + "/jwks", timeout=2)
    assert failed.value.reason == "jwks_unavailable"


@pytest.mark.parametrize("status", [201, 204, 301, 304, 400, 401, 403, 404, 429, 500, 503])
def test_any_status_but_200_fails_closed(served: str, status: int) -> None:
    assert failure(f"{served}/status/{status}") == "jwks_status"


def test_a_redirect_is_not_followed(served: str) -> None:
    assert failure(served + "/redirect") == "jwks_status"
    assert Handler.requests == ["/redirect"]


def test_a_body_of_exactly_max_bytes_is_read(served: str) -> None:
    assert fetch_jwks(served + "/size/100", allow_http_loopback=True, max_bytes=100) == b"x" * 100


@pytest.mark.parametrize("path", ["/size/101", "/unsized/101", "/unsized/1000000"])
def test_a_body_over_max_bytes_is_refused(served: str, path: str) -> None:
    assert failure(served + path, max_bytes=100) == "jwks_too_large"


def test_a_declared_length_over_max_bytes_is_refused_before_reading(served: str) -> None:
    assert failure(served + "/size/70000") == "jwks_too_large"


def test_a_body_longer_than_its_declared_length_is_cut_at_it(served: str) -> None:
    assert fetch_jwks(served + "/lying-length", allow_http_loopback=True) == Handler.body[:10]


def test_an_encoded_body_is_refused(served: str) -> None:
    assert failure(served + "/gzip") == "jwks_encoding"


def test_a_server_that_does_not_answer_in_time_fails_closed(served: str) -> None:
    started = time.monotonic()
    assert failure(served + "/slow", timeout=0.2) == "jwks_timeout"
    assert time.monotonic() - started < 0.9


def test_a_trickling_server_is_cut_off_at_the_overall_timeout(served: str) -> None:
    # Each byte arrives well within the read timeout; the whole body does not arrive within it.
    started = time.monotonic()
    assert failure(served + "/trickle", timeout=0.3) == "jwks_timeout"
    assert time.monotonic() - started < 1.0


def test_a_refused_connection_fails_closed() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert failure(f"http://127.0.0.1:{port}/jwks") == "jwks_unavailable"


def test_the_cache_over_the_real_fetch(served: str, rsa_key: SigningKey) -> None:
    cache = JwksCache(lambda uri: fetch_jwks(uri, allow_http_loopback=True), FakeClock())
    assert cache.key_for(served + "/jwks", "rsa-1").key_id == "rsa-1"
    assert cache.key_for(served + "/jwks", "rsa-1").key_id == "rsa-1"
    assert Handler.requests == ["/jwks"]
