"""AsyncSecureAIClient: the same protocol, with the Encryption SDK kept off the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from secure_ai_client import exchange
from secure_ai_client.client import AsyncSecureAIClient
from secure_ai_client.errors import PublicKeyMismatch, RateLimited, ResponseRejected
from tests.client.conftest import other_public_key_pem
from tests.client.fake_gateway import FakeGateway, json_response

MakeAsyncClient = Callable[..., AsyncSecureAIClient]
HELLO = [{"role": "user", "content": "Hello"}]


@pytest.mark.parametrize("mode", ["server", "mobile"])
def test_an_async_completion_round_trips_in_both_modes(
    make_async_client: MakeAsyncClient, gateway: FakeGateway, mode: str
) -> None:
    async def scenario() -> None:
        async with make_async_client(mode) as client:
            result = await client.chat_completions(model="gpt-4o-mini", messages=HELLO)
        assert result.text == "Hello from the fake model."
        assert result.req_id == gateway.signatures[0].nonce == gateway.opened[0].nonce

    asyncio.run(scenario())


def test_async_sealing_and_opening_run_off_the_event_loop_thread(
    make_async_client: MakeAsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: dict[str, int] = {}
    seal, open_payload = exchange.sealed_call, exchange.opened_payload

    def recording_seal(*args: Any, **kwargs: Any) -> exchange.Call:
        threads["seal"] = threading.get_ident()
        return seal(*args, **kwargs)

    def recording_open(*args: Any) -> dict[str, Any]:
        threads["open"] = threading.get_ident()
        return open_payload(*args)

    monkeypatch.setattr("secure_ai_client.client.sealed_call", recording_seal)
    monkeypatch.setattr("secure_ai_client.client.opened_payload", recording_open)

    async def scenario() -> int:
        async with make_async_client() as client:
            await client.chat_completions(model="gpt-4o-mini", messages=HELLO)
        return threading.get_ident()

    loop_thread = asyncio.run(scenario())
    assert set(threads) == {"seal", "open"}
    assert loop_thread not in threads.values()


def test_an_async_refusal_is_typed_with_retry_after(
    make_async_client: MakeAsyncClient, gateway: FakeGateway
) -> None:
    gateway.canned = json_response(
        429, {"error": "too_many_requests", "message": "quota"}, **{"Retry-After": "3"}
    )

    async def scenario() -> None:
        async with make_async_client() as client:
            await client.chat_completions(model="gpt-4o-mini", messages=HELLO)

    with pytest.raises(RateLimited) as raised:
        asyncio.run(scenario())
    assert raised.value.retry_after == 3
    assert len(gateway.requests) == 1


def test_an_async_answer_for_another_request_is_refused(
    make_async_client: MakeAsyncClient, gateway: FakeGateway
) -> None:
    gateway.seal_for_req_id = "YW5vdGhlci1yZXF1ZXN0LW5vbmNl"

    async def scenario() -> None:
        async with make_async_client() as client:
            await client.chat_completions(model="gpt-4o-mini", messages=HELLO)

    with pytest.raises(ResponseRejected) as raised:
        asyncio.run(scenario())
    assert raised.value.reason == "context_mismatch"


def test_an_async_mobile_client_refuses_a_served_key_other_than_the_pinned_one(
    make_async_client: MakeAsyncClient, gateway: FakeGateway
) -> None:
    async def scenario() -> None:
        async with make_async_client(
            "mobile", rsa_public_key_pem=other_public_key_pem(), rsa_key_arn=None
        ) as client:
            await client.chat_completions(model="gpt-4o-mini", messages=HELLO)

    with pytest.raises(PublicKeyMismatch):
        asyncio.run(scenario())
    assert [request.method for request in gateway.requests] == ["GET"]


def test_async_validation_plain_and_encrypted(
    make_async_client: MakeAsyncClient, gateway: FakeGateway
) -> None:
    async def scenario() -> tuple[str, str, str]:
        async with make_async_client() as client:
            plain = await client.validate("text")
            sealed = await client.validate("text", encrypted=True)
            key = await client.public_key()
        return plain.decision, sealed.decision, key.encryption_algorithm

    assert asyncio.run(scenario()) == ("allow", "allow", "RSAES_OAEP_SHA_256")
    assert [opened.route for opened in gateway.opened] == ["/v1/validate"]
