"""CORS: one origin, the same headers on every response; browsers only as devices of apps listing them."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from secure_ai_gateway.api.authorized_call import request_origin
from secure_ai_gateway.api.cors import check_origin, cors_headers, with_cors
from secure_ai_protocol.errors import Forbidden
from tests.gateway.completion.fakes import Harness, authorized_call, chat

APP_ORIGIN = "https://app.example.com"


def test_no_configured_origin_means_no_cors_header_at_all() -> None:
    assert cors_headers("") == {}
    response = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}
    assert with_cors(dict(response), "") == response


def test_the_configured_origin_is_sent_never_a_wildcard_and_never_credentials() -> None:
    headers = cors_headers(APP_ORIGIN)
    assert headers == {
        "Access-Control-Allow-Origin": APP_ORIGIN,
        "Access-Control-Expose-Headers": "Retry-After",
    }
    assert "Access-Control-Allow-Credentials" not in headers


def test_the_headers_join_single_and_multi_value_responses_alike() -> None:
    single = with_cors({"statusCode": 401, "headers": {"Content-Type": "application/json"}}, APP_ORIGIN)
    multi = with_cors(
        {"statusCode": 401, "multiValueHeaders": {"Content-Type": ["application/json"]}}, APP_ORIGIN
    )
    assert single["headers"]["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert multi["multiValueHeaders"]["Access-Control-Allow-Origin"] == [APP_ORIGIN]
    assert "headers" not in multi


@pytest.mark.parametrize(
    ("origin", "allowed", "refused"),
    [
        (None, None, False),  # a server or a mobile app: no Origin
        (None, (APP_ORIGIN,), False),
        (APP_ORIGIN, (APP_ORIGIN,), False),
        (APP_ORIGIN, None, True),  # a browser holding an operator-issued secret
        (APP_ORIGIN, (), True),
        ("https://evil.example", (APP_ORIGIN,), True),
        (APP_ORIGIN + "/", (APP_ORIGIN,), True),  # origins compare exactly
        ("null", (APP_ORIGIN,), True),
    ],
)
def test_a_browser_origin_must_be_one_its_app_lists(
    origin: str | None, allowed: tuple[str, ...] | None, refused: bool
) -> None:
    if refused:
        with pytest.raises(Forbidden, match="origin_not_allowed"):
            check_origin(origin, allowed)
    else:
        check_origin(origin, allowed)


def test_the_origin_header_is_read_in_any_case_and_refused_when_sent_twice() -> None:
    assert request_origin({"headers": {"origin": APP_ORIGIN}}) == APP_ORIGIN
    assert request_origin({"multiValueHeaders": {"Origin": [APP_ORIGIN]}}) == APP_ORIGIN
    assert request_origin({"headers": {}}) is None
    with pytest.raises(Forbidden):
        request_origin({"multiValueHeaders": {"Origin": [APP_ORIGIN, "https://evil.example"]}})


def test_a_client_without_enrollment_settings_is_not_served_to_a_browser() -> None:
    harness = Harness()
    plaintext = json.dumps(
        {"resp_key": base64.b64encode(b"r" * 32).decode(), "request": chat("Hello")}
    ).encode()
    call = authorized_call(plaintext)
    # Given the same signed request, once from a server and once from a page
    harness.service().complete(call)
    with pytest.raises(Forbidden, match="origin_not_allowed"):
        harness.service().complete(dataclasses.replace(call, origin=APP_ORIGIN))
    # Then the page's request reserved nothing and reached no model
    assert len(harness.ledger.reserved) == 1
    assert len(harness.model.requests) == 1
