"""Raw signed requests over real HTTP: a replay and any change after signing are refused (401)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from secure_ai_local.stack import LocalStackInfo
from secure_ai_protocol.envelope.responses import open_response
from tests.e2e.conftest import RawCall

pytestmark = pytest.mark.e2e

UNAUTHORIZED = {"error": "unauthorized", "message": "unauthorized"}


def test_the_exact_same_signed_request_sent_twice_is_refused_the_second_time(
    http: httpx.Client, signed_chat: Callable[[str], RawCall]
) -> None:
    # Given one signed, sealed request
    call = signed_chat("Hello once")

    # When it is sent, then sent again byte for byte
    first = http.send(call.request)
    second = http.send(call.request)

    # Then the first is answered (for this request only) and the replay is refused
    assert first.status_code == 200
    assert (
        json.loads(open_response(first.content, resp_key=call.resp_key, req_id=call.nonce))["req_id"]
        == call.nonce
    )
    assert second.status_code == 401
    assert second.json() == UNAUTHORIZED


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_a_sealed_answer_not_asked_for_in_accept_is_a_clear_406_not_base64_text(
    http: httpx.Client, signed_chat: Callable[[str], RawCall], accept: str | None
) -> None:
    call = signed_chat("Hello, without the envelope type")
    headers = {name: value for name, value in call.request.headers.items() if name.lower() != "accept"}
    if accept is not None:
        headers["Accept"] = accept
    # Accept is not a signed component: the signature still verifies.
    request = httpx.Request("POST", call.request.url, headers=headers, content=call.request.content)

    response = http.send(request)

    assert response.status_code == 406
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "error": "not_acceptable",
        "message": "accept application/vnd.secure-ai.envelope",
    }


def test_a_body_changed_by_one_byte_after_signing_is_refused(
    http: httpx.Client, signed_chat: Callable[[str], RawCall]
) -> None:
    call = signed_chat("Hello, untouched")
    body = bytearray(call.request.content)
    body[len(body) // 2] ^= 0x01
    tampered = httpx.Request("POST", call.request.url, headers=call.request.headers, content=bytes(body))

    response = http.send(tampered)

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_a_request_sent_to_another_path_than_the_one_signed_is_refused(
    http: httpx.Client, signed_chat: Callable[[str], RawCall]
) -> None:
    call = signed_chat("Hello, right path")
    elsewhere = call.request.url.copy_with(
        path=call.request.url.path.replace("/chat/completions", "/validate")
    )
    moved = httpx.Request("POST", elsewhere, headers=call.request.headers, content=call.request.content)

    response = http.send(moved)

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_an_unsigned_request_is_refused(http: httpx.Client, signed_chat: Callable[[str], RawCall]) -> None:
    call = signed_chat("Hello, unsigned")
    headers = {
        name: value for name, value in call.request.headers.items() if not name.startswith("signature")
    }

    response = http.send(
        httpx.Request("POST", call.request.url, headers=headers, content=call.request.content)
    )

    assert response.status_code == 401


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/chat/completions/stream"])
def test_a_body_beyond_the_chat_cap_is_refused_in_front_of_the_gateway_as_the_stage_s_waf_does(
    http: httpx.Client, info: LocalStackInfo, route: str
) -> None:
    # 7 MB: past Lambda's 6 MB event, under API Gateway's 10 MB. The deployed stage's WAF answers
    # 413 with the functions' body before API Gateway's 500; the local stack reads the same rule.
    headers = {"Content-Type": "application/octet-stream"}
    response = http.post(f"{info.api_url}{route}", content=b"x" * 7_000_000, headers=headers)
    assert response.status_code == 413
    assert response.json() == {"error": "content_too_large", "message": "payload too large"}
