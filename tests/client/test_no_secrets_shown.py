"""The signing secret and the response key never appear in a repr or an exception message."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from secure_ai_client.client import AsyncSecureAIClient, SecureAIClient
from secure_ai_client.errors import ResponseRejected, SecureAIError, Unauthorized
from tests.client.conftest import SECRET
from tests.client.fake_gateway import FakeGateway, json_response

MakeClient = Callable[..., SecureAIClient]
HELLO = [{"role": "user", "content": "Hello"}]


def _leaks(text: str, *secrets: bytes) -> list[str]:
    forms = []
    for secret in secrets:
        forms += [
            repr(secret),
            secret.hex(),
            base64.b64encode(secret).decode(),
            base64.urlsafe_b64encode(secret).decode(),
        ]
    return [form for form in forms if form in text]


def test_client_reprs_name_the_key_id_but_not_the_secret(
    make_client: MakeClient, make_async_client: Callable[..., AsyncSecureAIClient]
) -> None:
    for client in (make_client(), make_client("mobile"), make_async_client()):
        shown = repr(client) + str(vars(client))
        assert "app-1.1" in repr(client)
        assert _leaks(shown, SECRET) == []


def test_refusals_do_not_quote_the_secret_the_response_key_or_the_gateways_body(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    raised: list[SecureAIError] = []
    gateway.canned = json_response(401, {"error": "unauthorized", "message": "mac_mismatch for secret X"})
    with pytest.raises(Unauthorized) as unauthorized:
        make_client().chat_completions(model="gpt-4o-mini", messages=HELLO)
    raised.append(unauthorized.value)

    gateway.canned = None
    gateway.seal_with_key = bytes(32)
    with pytest.raises(ResponseRejected) as rejected:
        make_client().chat_completions(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "PROMPT-TEXT"}]
        )
    raised.append(rejected.value)

    resp_keys = [base64.b64decode(opened.plaintext["resp_key"]) for opened in gateway.opened]
    for error in raised:
        shown = f"{error} {error!r} {error.args!r}"
        assert _leaks(shown, SECRET, *resp_keys) == []
        assert "mac_mismatch" not in shown
        assert "PROMPT-TEXT" not in shown


def test_a_result_holds_no_key(make_client: MakeClient, gateway: FakeGateway) -> None:
    result = make_client().chat_completions(model="gpt-4o-mini", messages=HELLO)

    resp_key = base64.b64decode(gateway.opened[0].plaintext["resp_key"])
    assert _leaks(repr(result) + result.model_dump_json(), SECRET, resp_key) == []


def test_a_stream_and_its_refusal_show_neither_key_nor_text(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    stream = make_client().chat_completions(model="gpt-4o-mini", messages=HELLO, stream=True)
    with stream:
        list(stream)
    gateway.stream_mangle = lambda events, key, req_id: events[:-1]
    broken = make_client().chat_completions(model="gpt-4o-mini", messages=HELLO, stream=True)
    with pytest.raises(ResponseRejected) as refused:
        list(broken)

    resp_keys = [base64.b64decode(opened.plaintext["resp_key"]) for opened in gateway.opened]
    shown = " ".join(
        [
            repr(stream),
            str(vars(stream)),
            repr(broken),
            str(vars(broken)),
            str(refused.value),
            repr(refused.value),
        ]
    )
    assert _leaks(shown, SECRET, *resp_keys) == []
    assert "from the" not in f"{refused.value} {refused.value!r}"  # a refusal never quotes the answer
