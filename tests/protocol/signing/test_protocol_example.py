"""docs/protocol.md's worked example: recomputed from its inputs, and quoted verbatim by the document."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from secure_ai_gateway.api.signed_request import request_from_authorizer_event
from secure_ai_protocol.signing.canonical_query import canonical_query
from secure_ai_protocol.signing.content_digest import compute_content_digest
from secure_ai_protocol.signing.profile import (
    SignedRequest,
    check_window,
    parse_signature_headers,
    sign_request,
    signature_base,
    verify_signature,
)

ROOT = Path(__file__).parents[3]
EXAMPLE: dict[str, Any] = json.loads(
    (ROOT / "tests" / "vectors" / "protocol_example.json").read_text(encoding="utf-8")
)
DOC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
SECRET = base64.b64decode(EXAMPLE["secret_b64"])
BODY: bytes = EXAMPLE["body"].encode("utf-8")


def _request() -> SignedRequest:
    return SignedRequest(
        method=EXAMPLE["method"],
        authority=EXAMPLE["authority"],
        path=EXAMPLE["path"],
        query=EXAMPLE["query"],
        content_type=EXAMPLE["content_type"],
        content_digest=compute_content_digest(BODY),
    )


def _sign() -> tuple[str, str]:
    return sign_request(
        _request(),
        secret=SECRET,
        key_id=EXAMPLE["keyid"],
        tag=EXAMPLE["tag"],
        created=EXAMPLE["created"],
        expires=EXAMPLE["expires"],
        nonce=EXAMPLE["nonce"],
        label=EXAMPLE["label"],
    )


def test_the_example_url_is_the_authority_and_path_it_lists() -> None:
    assert EXAMPLE["url"] == f"https://{EXAMPLE['authority']}{EXAMPLE['path']}"


def test_the_example_content_digest_is_recomputed_from_the_body() -> None:
    assert compute_content_digest(BODY) == EXAMPLE["content_digest"]


def test_the_example_headers_are_recomputed_from_secret_times_nonce_and_key() -> None:
    assert _sign() == (EXAMPLE["signature_input"], EXAMPLE["signature"])


def test_the_example_signature_base_is_recomputed() -> None:
    parsed = parse_signature_headers(
        EXAMPLE["signature_input"], EXAMPLE["signature"], expected_tag=EXAMPLE["tag"]
    )

    assert signature_base(parsed, _request()).decode("ascii") == EXAMPLE["signature_base"]


def test_the_example_request_passes_the_gateway_as_an_authorizer_event() -> None:
    # Given the example as API Gateway would deliver it to the authorizer
    headers = {
        "Host": EXAMPLE["authority"],
        "Content-Type": EXAMPLE["content_type"],
        "Content-Digest": EXAMPLE["content_digest"],
        "Signature-Input": EXAMPLE["signature_input"],
        "Signature": EXAMPLE["signature"],
    }
    event = {
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": {"httpMethod": "POST", "path": EXAMPLE["path"], "domainName": EXAMPLE["authority"]},
    }

    # When it is read, parsed, window-checked and verified, nothing is raised
    request, signature_input, signature = request_from_authorizer_event(event)
    parsed = parse_signature_headers(signature_input, signature, expected_tag=EXAMPLE["tag"])
    check_window(parsed, EXAMPLE["created"])
    verify_signature(parsed, request, SECRET)


def test_the_example_canonical_query_is_recomputed() -> None:
    example = EXAMPLE["canonical_query_example"]

    assert canonical_query((name, value) for name, value in example["pairs"]) == example["canonical"]


@pytest.mark.parametrize(
    "key",
    ["secret_b64", "keyid", "nonce", "body", "content_digest", "signature_input", "signature", "url", "path"],
)
def test_the_document_quotes_each_example_value_verbatim(key: str) -> None:
    assert str(EXAMPLE[key]) in DOC


def test_the_document_quotes_both_times() -> None:
    assert f"`{EXAMPLE['created']}`" in DOC
    assert f"`{EXAMPLE['expires']}`" in DOC


def test_the_document_quotes_the_whole_signature_base_as_one_block() -> None:
    assert f"```\n{EXAMPLE['signature_base']}\n```" in DOC
    assert f"Signature base** ({len(EXAMPLE['signature_base'])} bytes" in DOC


def test_the_document_quotes_the_headers_as_sent() -> None:
    assert f"Signature-Input: {EXAMPLE['signature_input']}\n" in DOC
    assert f"Signature: {EXAMPLE['signature']}\n" in DOC
    assert f"Content-Digest: {EXAMPLE['content_digest']}\n" in DOC


def test_the_document_states_the_body_length_and_the_secret_in_hex() -> None:
    assert f"{len(BODY)}-byte body" in DOC
    assert f"hexkey:{SECRET.hex()}" in DOC


def test_the_document_quotes_the_canonical_query_example() -> None:
    example = EXAMPLE["canonical_query_example"]

    assert f"```\n{example['canonical']}\n```" in DOC
    for name, value in example["pairs"]:
        assert f"(`{name}`, `{value}`)" in DOC
