"""Error statuses become typed exceptions; nothing is ever retried (a retry would replay a nonce)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from botocore.exceptions import EndpointConnectionError

from secure_ai_client.client import SecureAIClient
from secure_ai_client.errors import (
    ApiError,
    BadRequest,
    EncryptionFailed,
    Forbidden,
    NetworkError,
    RateLimited,
    SecureAIError,
    Unauthorized,
    Unavailable,
    UpstreamError,
)
from tests.client.conftest import Keys
from tests.client.fake_gateway import FakeGateway, json_response

MakeClient = Callable[..., SecureAIClient]
HELLO = [{"role": "user", "content": "Hello"}]
REQUEST_ID = "7446362f-a60a-4c7f-a71f-0132c5466c8e"


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "bad_request", BadRequest),
        (413, "payload_too_large", BadRequest),
        (401, "unauthorized", Unauthorized),
        (403, "forbidden", Forbidden),
        (429, "too_many_requests", RateLimited),
        (502, "bad_gateway", UpstreamError),
        (504, "gateway_timeout", UpstreamError),
        (503, "service_unavailable", Unavailable),
    ],
)
def test_each_refusal_status_raises_its_exception_with_the_generic_code_and_request_id(
    make_client: MakeClient, gateway: FakeGateway, status: int, code: str, expected: type[ApiError]
) -> None:
    gateway.canned = json_response(
        status, {"error": code, "message": "generic"}, **{"x-amzn-RequestId": REQUEST_ID}
    )

    with pytest.raises(expected) as raised:
        make_client().chat_completions(model="gpt-4o-mini", messages=HELLO)

    assert (raised.value.status, raised.value.code, raised.value.request_id) == (status, code, REQUEST_ID)
    assert str(raised.value) == f"{status} {code} (request id {REQUEST_ID})"


@pytest.mark.parametrize("status", [500, 404])
def test_any_other_status_is_an_api_error(make_client: MakeClient, gateway: FakeGateway, status: int) -> None:
    gateway.canned = json_response(status, {"message": "Missing Authentication Token"})

    with pytest.raises(ApiError) as raised:
        make_client().chat_completions(model="gpt-4o-mini", messages=HELLO)

    assert type(raised.value) is ApiError
    assert raised.value.code is None


@pytest.mark.parametrize(
    ("header", "expected"), [("7", 7), ("Wed, 21 Oct 2026 07:28:00 GMT", None), (None, None)]
)
def test_rate_limited_carries_retry_after_seconds_when_the_gateway_gives_them(
    make_client: MakeClient, gateway: FakeGateway, header: str | None, expected: int | None
) -> None:
    headers = {"Retry-After": header} if header is not None else {}
    gateway.canned = json_response(
        429, {"error": "too_many_requests", "message": "quota exceeded"}, **headers
    )

    with pytest.raises(RateLimited) as raised:
        make_client().chat_completions(model="gpt-4o-mini", messages=HELLO)

    assert raised.value.retry_after == expected


def test_a_failed_call_is_sent_exactly_once(make_client: MakeClient, gateway: FakeGateway) -> None:
    gateway.canned = json_response(503, {"error": "service_unavailable", "message": "service unavailable"})

    with pytest.raises(Unavailable):
        make_client().chat_completions(model="gpt-4o-mini", messages=HELLO)

    assert len(gateway.requests) == 1


def test_a_network_failure_is_a_network_error_after_one_attempt(keys: Keys) -> None:
    attempts: list[httpx.Request] = []

    def unreachable(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        raise httpx.ConnectTimeout("timed out", request=request)

    client = SecureAIClient(
        "https://gateway.example/prod",
        key_id="app-1.1",
        secret=bytes(32),
        kms_key_arn=keys.symmetric_arn,
        kms_client=keys.kms,
        transport=httpx.MockTransport(unreachable),
    )
    with client, pytest.raises(NetworkError) as raised:
        client.chat_completions(model="gpt-4o-mini", messages=HELLO)

    assert raised.value.kind == "ConnectTimeout"
    assert len(attempts) == 1
    assert isinstance(raised.value, SecureAIError)


def test_kms_failing_to_seal_is_an_encryption_failure_and_nothing_is_sent(
    make_client: MakeClient, gateway: FakeGateway, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(**_: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://kms.invalid")

    monkeypatch.setattr(keys.kms, "generate_data_key", unreachable)

    with pytest.raises(EncryptionFailed) as raised:
        make_client().chat_completions(model="gpt-4o-mini", messages=HELLO)

    assert raised.value.reason == "kms_unavailable"
    assert gateway.requests == []
