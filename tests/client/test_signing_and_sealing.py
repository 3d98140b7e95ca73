"""What the client puts on the wire: the profile's headers, and an envelope bound to the nonce."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import pytest

from secure_ai_client.client import SecureAIClient
from secure_ai_client.errors import Unauthorized
from secure_ai_protocol.envelope import encryption_sdk
from secure_ai_protocol.errors import DecryptionFailed
from secure_ai_protocol.signing.content_digest import body_matches_digest
from secure_ai_protocol.signing.profile import (
    PROFILE_TAG,
    SignedRequest,
    check_window,
    parse_signature_headers,
    verify_signature,
)
from tests.client.conftest import KEY_ID, SECRET, Keys
from tests.client.fake_gateway import FakeGateway

MakeClient = Callable[..., SecureAIClient]
HELLO = [{"role": "user", "content": "Hello"}]


def test_a_chat_request_carries_the_profile_headers_and_verifies_with_the_gateways_code(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    # When the client sends one completion
    make_client().chat_completions(model="gpt-4o-mini", messages=HELLO)

    # Then the request is a signed envelope POST that the profile's own verifier accepts
    (request,) = gateway.requests
    headers = request.headers
    assert (request.method, request.url.path) == ("POST", "/prod/v1/chat/completions")
    assert headers["content-type"] == "application/vnd.secure-ai.envelope"
    assert headers["accept"] == "application/vnd.secure-ai.envelope"
    assert body_matches_digest(request.content, headers["content-digest"])
    assert headers["content-digest"].startswith("sha-256=:")
    parsed = parse_signature_headers(
        headers["signature-input"], headers["signature"], expected_tag=PROFILE_TAG
    )
    check_window(parsed, int(time.time()))
    verify_signature(
        parsed,
        SignedRequest(
            method="POST",
            authority=headers["host"],
            path="/prod/v1/chat/completions",
            query="",
            content_type=headers["content-type"],
            content_digest=headers["content-digest"],
        ),
        SECRET,
    )
    assert (parsed.key_id, parsed.tag, parsed.alg) == (KEY_ID, "secure-ai-v1", "hmac-sha256")


def test_the_signature_nonce_is_the_req_id_the_envelope_is_sealed_for(
    make_client: MakeClient, gateway: FakeGateway, keys: Keys
) -> None:
    # When the client sends one completion
    result = make_client().chat_completions(model="gpt-4o-mini", messages=HELLO)

    # Then the gateway opened the envelope with the signature's nonce as req_id...
    (signature,) = gateway.signatures
    (opened,) = gateway.opened
    assert opened.nonce == signature.nonce == result.req_id
    assert opened.route == "/v1/chat/completions"
    # ...and under any other req_id the same envelope does not open
    with pytest.raises(DecryptionFailed):
        gateway.envelopes.open(
            gateway.requests[0].content,
            client_id="app-1",
            req_id=signature.nonce[::-1],
            route="/v1/chat/completions",
        )


def test_the_nonce_is_128_random_bits_base64url(make_client: MakeClient, gateway: FakeGateway) -> None:
    make_client().chat_completions(model="gpt-4o-mini", messages=HELLO)

    nonce = gateway.signatures[0].nonce
    assert len(base64.urlsafe_b64decode(nonce + "==")) == 16


def test_every_call_draws_a_fresh_nonce_and_response_key(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    client = make_client()
    client.chat_completions(model="gpt-4o-mini", messages=HELLO)
    client.chat_completions(model="gpt-4o-mini", messages=HELLO)

    first, second = gateway.opened
    assert first.nonce != second.nonce
    assert first.plaintext["resp_key"] != second.plaintext["resp_key"]
    assert len(base64.b64decode(first.plaintext["resp_key"])) == 32


def test_the_sealed_plaintext_is_the_resp_key_and_the_openai_request(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    make_client().chat_completions(model="gpt-4o-mini", messages=HELLO, max_tokens=50, temperature=0.2)

    (opened,) = gateway.opened
    assert set(opened.plaintext) == {"resp_key", "request"}
    assert opened.plaintext["request"] == {
        "model": "gpt-4o-mini",
        "messages": HELLO,
        "max_tokens": 50,
        "temperature": 0.2,
    }


@pytest.mark.parametrize(
    ("mode", "suite", "provider"),
    [
        ("server", "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384", "aws-kms"),
        ("mobile", "AES_256_GCM_HKDF_SHA512_COMMIT_KEY", "aws-kms-rsa"),
    ],
)
def test_each_mode_seals_with_its_suite_and_key(
    make_client: MakeClient, gateway: FakeGateway, mode: str, suite: str, provider: str
) -> None:
    make_client(mode).chat_completions(model="gpt-4o-mini", messages=HELLO)

    header = encryption_sdk.read_header(gateway.requests[-1].content)
    assert header.suite == suite
    assert [entry.provider_id for entry in header.data_keys] == [provider]
    stored = {name: value for name, value in header.stored_context.items() if name != "aws-crypto-public-key"}
    assert stored == {"purpose": "request", "route": "/v1/chat/completions", "version": "1"}


def test_a_request_is_refused_by_the_gateway_when_signed_with_another_secret(
    make_client: MakeClient,
) -> None:
    with pytest.raises(Unauthorized):
        make_client(secret=bytes(32)).chat_completions(model="gpt-4o-mini", messages=HELLO)


def test_a_malformed_key_id_or_short_secret_is_refused_before_anything_is_sent(
    make_client: MakeClient, gateway: FakeGateway
) -> None:
    with pytest.raises(ValueError, match="key_id"):
        make_client(key_id="no-version")
    with pytest.raises(ValueError, match="secret"):
        make_client(secret=b"short")
    with pytest.raises(ValueError, match="KMS key ARN"):
        make_client(kms_key_arn="alias/request")
    assert gateway.requests == []
