"""The httpx client auth, end to end against the gateway's own verifier (no sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from secure_ai_client.httpx_auth import SignatureAuth, new_nonce
from secure_ai_gateway.api.signed_request import request_from_authorizer_event
from secure_ai_protocol.errors import SignatureRejected
from secure_ai_protocol.signing.content_digest import body_matches_digest, compute_content_digest
from secure_ai_protocol.signing.profile import (
    PROFILE_TAG,
    ParsedSignature,
    check_window,
    parse_signature_headers,
    verify_signature,
)

SECRET = bytes(range(32))
NOW = 1_767_225_600
NONCE = "bm9uY2Utb2YtdGhlLXRlc3Q"
URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/v1/chat/completions"


def _event_from(request: httpx.Request) -> dict[str, Any]:
    """What API Gateway would hand the authorizer for this request: decoded query, no body."""
    headers: dict[str, list[str]] = {}
    for name, value in request.headers.multi_items():
        headers.setdefault(name, []).append(value)
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True):
        query.setdefault(name, []).append(value)
    return {
        "type": "REQUEST",
        "httpMethod": request.method,
        "headers": {name: values[-1] for name, values in headers.items()},
        "multiValueHeaders": headers,
        "multiValueQueryStringParameters": query or None,
        "requestContext": {
            "httpMethod": request.method,
            "path": request.url.path,
            "domainName": request.url.host,
        },
    }


class Gateway:
    """A MockTransport handler that authorizes like the real authorizer and re-hashes the body."""

    def __init__(self) -> None:
        self.seen: list[httpx.Request] = []
        self.parsed: list[ParsedSignature] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        try:
            signed, signature_input, signature = request_from_authorizer_event(_event_from(request))
            parsed = parse_signature_headers(signature_input, signature, expected_tag=PROFILE_TAG)
            check_window(parsed, NOW)
            verify_signature(parsed, signed, SECRET)
        except SignatureRejected as rejected:
            return httpx.Response(401, json={"reason": rejected.reason})
        self.parsed.append(parsed)
        if not body_matches_digest(request.content, signed.content_digest):
            return httpx.Response(400, json={"reason": "body"})
        return httpx.Response(200, json={"query": signed.query})


def _auth(**overrides: Any) -> SignatureAuth:
    options: dict[str, Any] = {
        "key_id": "demo-client.1",
        "secret": SECRET,
        "clock": lambda: NOW + 0.9,
        "nonce_factory": lambda: NONCE,
    }
    options.update(overrides)
    return SignatureAuth(**options)


def _client(gateway: Gateway, auth: SignatureAuth | None = None) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(gateway), auth=auth or _auth())


def test_a_signed_post_is_accepted_by_the_gateway_verifier() -> None:
    # Given a client with SignatureAuth and a gateway that verifies like the authorizer
    gateway = Gateway()

    # When it posts JSON
    response = _client(gateway).post(URL, json={"model": "gpt-4o-mini", "messages": []})

    # Then the gateway accepts it
    assert response.status_code == 200, response.text


def test_the_signature_carries_clock_time_lifetime_nonce_and_key() -> None:
    gateway = Gateway()

    _client(gateway).post(URL, json={})

    (parsed,) = gateway.parsed
    assert (parsed.created, parsed.expires, parsed.nonce, parsed.key_id) == (
        NOW,
        NOW + 120,
        NONCE,
        "demo-client.1",
    )


def test_the_content_digest_header_is_the_sha_256_of_the_body_sent() -> None:
    gateway = Gateway()

    _client(gateway).post(
        URL, content=b"\x00ciphertext\xff", headers={"Content-Type": "application/octet-stream"}
    )

    assert gateway.seen[0].headers["content-digest"] == compute_content_digest(b"\x00ciphertext\xff")


def test_an_empty_body_is_signed_too() -> None:
    gateway = Gateway()

    response = _client(gateway).get(URL, headers={"Content-Type": "application/json"})

    assert response.status_code == 200, response.text
    assert gateway.seen[0].headers["content-digest"] == compute_content_digest(b"")


def test_a_streamed_body_is_read_and_signed() -> None:
    gateway = Gateway()

    response = _client(gateway).post(
        URL, content=iter([b'{"a":', b"1}"]), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 200, response.text
    assert gateway.seen[0].headers["content-digest"] == compute_content_digest(b'{"a":1}')


def test_the_query_is_sent_in_canonical_form() -> None:
    # Given parameters in any order, with characters httpx encodes its own way
    gateway = Gateway()

    response = _client(gateway).post(URL, params={"z": "1", "a": "x y~*"}, json={})

    # Then what goes on the wire is exactly the canonical query that was signed
    assert response.status_code == 200, response.text
    assert gateway.seen[0].url.query == b"a=x%20y~%2A&z=1"
    assert response.json() == {"query": "a=x%20y~%2A&z=1"}


def test_a_url_query_that_canonicalises_to_nothing_is_dropped() -> None:
    gateway = Gateway()

    _client(gateway).post(f"{URL}?&&", json={})

    assert gateway.seen[0].url.query == b""


def test_a_request_without_content_type_is_refused_before_sending() -> None:
    gateway = Gateway()

    with pytest.raises(ValueError, match="Content-Type"):
        _client(gateway).post(URL, content=b"raw")

    assert gateway.seen == []


def test_a_request_with_two_content_types_is_refused_before_sending() -> None:
    gateway = Gateway()
    headers = [("Content-Type", "application/json"), ("Content-Type", "text/plain")]

    with pytest.raises(ValueError, match="Content-Type"):
        _client(gateway).post(URL, content=b"{}", headers=headers)

    assert gateway.seen == []


def test_signature_headers_already_present_are_replaced_not_duplicated() -> None:
    gateway = Gateway()
    stale = {"Content-Type": "application/json", "Signature": "sig=:AAAA:", "Content-Digest": "md5=:x:"}

    response = _client(gateway).post(URL, content=b"{}", headers=stale)

    assert response.status_code == 200, response.text
    assert len(gateway.seen[0].headers.get_list("signature")) == 1


def test_a_configured_lifetime_sets_expires() -> None:
    gateway = Gateway()

    _client(gateway, _auth(lifetime=300)).post(URL, json={})

    assert gateway.parsed[0].expires == NOW + 300


@pytest.mark.parametrize("lifetime", [0, -1, 301])
def test_a_lifetime_outside_the_profile_window_is_refused(lifetime: int) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        _auth(lifetime=lifetime)


def test_a_secret_shorter_than_32_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        _auth(secret=bytes(16))


def test_a_key_id_outside_the_grammar_is_refused() -> None:
    with pytest.raises(ValueError, match="key_id"):
        _auth(key_id="demo-client")


def test_a_wrong_secret_is_answered_with_401_by_the_gateway() -> None:
    gateway = Gateway()

    response = _client(gateway, _auth(secret=bytes(32))).post(URL, json={})

    assert (response.status_code, response.json()) == (401, {"reason": "mac_mismatch"})


def test_the_default_nonce_is_22_base64url_characters_and_fresh_each_time() -> None:
    nonces = {new_nonce() for _ in range(50)}

    assert len(nonces) == 50
    assert all(len(nonce) == 22 and nonce.replace("-", "").replace("_", "").isalnum() for nonce in nonces)


def test_the_default_clock_and_nonce_are_accepted_by_a_gateway_with_the_real_time() -> None:
    import time

    seen: list[ParsedSignature] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        signed, signature_input, signature = request_from_authorizer_event(_event_from(request))
        parsed = parse_signature_headers(signature_input, signature, expected_tag=PROFILE_TAG)
        check_window(parsed, int(time.time()))
        verify_signature(parsed, signed, SECRET)
        seen.append(parsed)
        return httpx.Response(200)

    auth = SignatureAuth(key_id="demo-client.1", secret=SECRET)
    with httpx.Client(transport=httpx.MockTransport(gateway), auth=auth) as client:
        client.post(URL, json={})
        client.post(URL, json={})

    assert seen[0].nonce != seen[1].nonce


def test_the_auth_object_does_not_show_its_secret() -> None:
    shown = repr(_auth())

    assert repr(SECRET) not in shown
    assert "secret" not in shown


def test_an_async_client_is_signed_the_same_way() -> None:
    gateway = Gateway()

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.MockTransport(gateway), auth=_auth()) as client:
            return await client.post(URL, params={"b": "2", "a": "1"}, json={"model": "gpt-4o-mini"})

    response = asyncio.run(post())

    assert response.status_code == 200, response.text
    assert gateway.seen[0].url.query == b"a=1&b=2"


def test_an_async_streamed_body_is_read_and_signed() -> None:
    gateway = Gateway()

    async def chunks() -> Any:
        yield b"hello "
        yield b"world"

    async def post(make_client: Callable[[], httpx.AsyncClient]) -> httpx.Response:
        async with make_client() as client:
            return await client.post(URL, content=chunks(), headers={"Content-Type": "text/plain"})

    response = asyncio.run(
        post(lambda: httpx.AsyncClient(transport=httpx.MockTransport(gateway), auth=_auth()))
    )

    assert response.status_code == 200, response.text
    assert gateway.seen[0].headers["content-digest"] == compute_content_digest(b"hello world")
