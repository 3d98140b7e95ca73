"""docs/vectors/client-vectors.json against the gateway's own code; the TypeScript client against the gateway.

The vectors are built from fixed inputs with `cryptography` primitives (tests/protocol/client_vectors.py);
here every value is checked with what the gateway and the Python SDK actually run: the signing profile,
`RequestEnvelopes.open` (moto KMS holding the vectors' RSA key, decrypting like KMS) and `open_response`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import boto3
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.kms.models import kms_backends

from secure_ai_protocol.envelope import encryption_sdk
from secure_ai_protocol.envelope.requests import RequestEnvelopes
from secure_ai_protocol.envelope.responses import open_response
from secure_ai_protocol.errors import DecryptionFailed
from secure_ai_protocol.signing.content_digest import body_matches_digest
from secure_ai_protocol.signing.profile import (
    PROFILE_TAG,
    SignedRequest,
    check_window,
    parse_signature_headers,
    signature_base,
    verify_signature,
)
from secure_ai_protocol.wire.chat import RequestPlaintext
from secure_ai_protocol.wire.responses import ChatResponse
from tests.kms_rsa_shim import install_rsa_decrypt
from tests.protocol import client_vectors

REPOSITORY: Final = Path(__file__).resolve().parents[2]
VECTOR_FILE: Final = REPOSITORY / "docs/vectors/client-vectors.json"
TS_PACKAGE: Final = REPOSITORY / "clients/typescript"
VECTORS: Final[dict[str, Any]] = json.loads(VECTOR_FILE.read_text(encoding="utf-8"))
REQUEST: Final = VECTORS["request_envelope"]
RESPONSE: Final = VECTORS["response_envelope"]
SIGNING: Final = VECTORS["signing"]
OAEP: Final = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def _bytes(section: dict[str, Any], name: str) -> bytes:
    value = section[name]
    return base64.b64decode(value) if name.endswith("_b64") else bytes.fromhex(value)


def test_regenerating_the_vectors_reproduces_the_file_byte_for_byte() -> None:
    assert client_vectors.render() == VECTOR_FILE.read_text(encoding="utf-8")


def test_the_canonical_query_is_the_profiles() -> None:
    assert (
        VECTORS["canonical_query"]["expected"] == "a=1&a=z&b=2&model=gpt-4o%20mini&name=Jos%C3%A9%20%26%20Ana"
    )


# ----------------------------------------------------------------------------- signing


def _signed_request() -> SignedRequest:
    return SignedRequest(
        method="POST",
        authority="abc123.execute-api.eu-west-1.amazonaws.com",
        path="/prod/v1/chat/completions",
        query="",
        content_type=SIGNING["inputs"]["content_type"],
        content_digest=SIGNING["expected"]["content_digest"],
    )


def test_the_content_digest_covers_the_request_message() -> None:
    assert body_matches_digest(
        _bytes(REQUEST["expected"], "message_b64"), SIGNING["expected"]["content_digest"]
    )


def test_the_signature_verifies_with_the_gateways_profile_and_its_base_is_the_vectors() -> None:
    expected = SIGNING["expected"]
    parsed = parse_signature_headers(
        expected["signature_input"], expected["signature"], expected_tag=PROFILE_TAG
    )
    check_window(parsed, now=SIGNING["inputs"]["created"])
    assert (parsed.key_id, parsed.nonce) == (SIGNING["inputs"]["key_id"], REQUEST["inputs"]["req_id"])
    assert signature_base(parsed, _signed_request()).decode("ascii") == expected["signature_base"]
    verify_signature(parsed, _signed_request(), base64.b64decode(SIGNING["inputs"]["secret_b64"]))


# ----------------------------------------------------------------------------- the request envelope


def test_the_edk_decrypts_with_the_private_key_to_the_context_digest_and_the_data_key() -> None:
    expected = REQUEST["expected"]
    plaintext = client_vectors.private_key().decrypt(_bytes(expected, "edk_ciphertext_hex"), OAEP)
    assert plaintext == _bytes(expected, "edk_plaintext_hex")
    assert plaintext[:48] == hashlib.sha384(_bytes(expected, "full_context_hex")).digest()
    assert plaintext[48:] == _bytes(REQUEST["inputs"], "data_key_hex")


def test_the_sdk_reads_the_request_header_as_a_mobile_envelope() -> None:
    header = encryption_sdk.read_header(_bytes(REQUEST["expected"], "message_b64"))
    assert header.suite == "AES_256_GCM_HKDF_SHA512_COMMIT_KEY"
    assert dict(header.stored_context) == {
        "purpose": "request",
        "route": "/v1/chat/completions",
        "version": "1",
    }
    assert [(entry.provider_id, entry.provider_info) for entry in header.data_keys] == [
        ("aws-kms-rsa", VECTORS["rsa"]["key_arn"].encode())
    ]


@pytest.fixture
def gateway_envelopes() -> Iterator[RequestEnvelopes]:
    """The gateway's envelope opener over moto KMS holding the vectors' RSA key under the vectors' ARN."""
    key_arn = VECTORS["rsa"]["key_arn"]
    region = key_arn.split(":")[3]
    with mock_aws():
        kms = install_rsa_decrypt(boto3.session.Session(region_name=region).client("kms"))
        symmetric_arn = kms.create_key()["KeyMetadata"]["Arn"]
        created = kms.create_key(KeyUsage="ENCRYPT_DECRYPT", KeySpec="RSA_2048")["KeyMetadata"]["KeyId"]
        backend = kms_backends[DEFAULT_ACCOUNT_ID][region]
        key = backend.keys.pop(created)
        key.id = key_arn.rsplit("/", 1)[1]
        key.arn = key_arn
        key.private_key.private_key = client_vectors.private_key()  # type: ignore[attr-defined]
        backend.keys[key.id] = key
        yield RequestEnvelopes(symmetric_arn, key_arn, kms)


def _open(envelopes: RequestEnvelopes, message: bytes, **overrides: str) -> bytes:
    arguments = {
        "client_id": REQUEST["inputs"]["client_id"],
        "req_id": REQUEST["inputs"]["req_id"],
        "route": REQUEST["inputs"]["route"],
        **overrides,
    }
    opened = envelopes.open(message, **arguments)
    assert opened.mode == "mobile"
    return opened.plaintext


def test_the_gateway_opens_the_vector_request_message(gateway_envelopes: RequestEnvelopes) -> None:
    plaintext = _open(gateway_envelopes, _bytes(REQUEST["expected"], "message_b64"))

    assert plaintext == _bytes(REQUEST["inputs"], "plaintext_b64")
    assert RequestPlaintext.model_validate_json(plaintext).resp_key == _bytes(
        RESPONSE["inputs"], "resp_key_b64"
    )


@pytest.mark.parametrize(
    "override", [{"client_id": "dev-bbbbbbbbbbbbbbbbbbbbbbbbbb"}, {"req_id": "another-nonce-0123456789"}]
)
def test_the_vector_message_does_not_open_in_another_clients_or_requests_call(
    gateway_envelopes: RequestEnvelopes, override: dict[str, str]
) -> None:
    with pytest.raises(DecryptionFailed):
        _open(gateway_envelopes, _bytes(REQUEST["expected"], "message_b64"), **override)


# ----------------------------------------------------------------------------- the sealed answer


def test_the_python_client_opens_the_vector_answer() -> None:
    payload = open_response(
        _bytes(RESPONSE["expected"], "message_b64"),
        resp_key=_bytes(RESPONSE["inputs"], "resp_key_b64"),
        req_id=RESPONSE["inputs"]["req_id"],
    )

    assert payload == _bytes(RESPONSE["inputs"], "payload_b64")
    answer = ChatResponse.model_validate_json(payload)
    assert answer.completion.choices[0].message.content == RESPONSE["expected"]["text"]
    assert answer.verdict.decision == RESPONSE["expected"]["decision"]


def test_the_vector_answer_is_refused_for_another_request() -> None:
    with pytest.raises(DecryptionFailed):
        open_response(
            _bytes(RESPONSE["expected"], "message_b64"),
            resp_key=_bytes(RESPONSE["inputs"], "resp_key_b64"),
            req_id="another-nonce-0123456789",
        )


# ----------------------------------------------------------------------------- TypeScript to the gateway


def test_a_request_sealed_by_the_typescript_client_opens_in_the_gateway(
    gateway_envelopes: RequestEnvelopes,
) -> None:
    """Runs the compiled TypeScript package under node: its own random data key, message id, OAEP seed."""
    node = shutil.which("node")
    script = TS_PACKAGE / "dist/tools/seal-vector-request.js"
    if node is None or not (TS_PACKAGE / "node_modules").is_dir() or not script.is_file():
        pytest.fail(
            "the TypeScript client is not built: run `make ts-install` and `npm run build` in "
            "clients/typescript (needs node >= 20 on PATH)"
        )
    completed = subprocess.run(  # noqa: S603 - a fixed script in the repository
        [node, str(script), str(VECTOR_FILE)], capture_output=True, check=True, timeout=60, cwd=TS_PACKAGE
    )
    sealed = json.loads(completed.stdout)
    plaintext = _open(
        gateway_envelopes,
        base64.b64decode(sealed["message_b64"]),
        req_id=sealed["req_id"],
    )
    assert plaintext == base64.b64decode(sealed["plaintext_b64"])
    assert RequestPlaintext.model_validate_json(plaintext).request.model == "gpt-4o-mini"
