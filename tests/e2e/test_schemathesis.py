"""Schemathesis against the local stack: no request generated from docs/openapi.yaml gets a 5xx.

Three runs. Signed: the reference client's `SignatureAuth.sign` signs every generated request with
the demo client's key, so generated bodies pass the authorizer and reach the functions (a generated
envelope is not ciphertext the gateway can open: a 400; a generated ValidationRequest is screened).
Unsigned: the generated signature headers go to the authorizer, which must refuse them. Sealed: the
plaintexts the document describes (`x-plaintext-schema`) are generated, sealed in real envelopes
bound to the request's nonce and signed, so they reach the completion and screening pipelines; a
200's envelope is opened and checked against its documented plaintext schema.

Besides `not_a_server_error`, every answer must conform to the document (status, content type,
headers, JSON schema). The document is checked against the code by tests/infrastructure/test_openapi_drift.py.
The stack is the package's (`local_stack` in tests/e2e/conftest.py), warmed up once here.
"""

from __future__ import annotations

import base64
import collections
import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from secure_ai_client.httpx_auth import SignatureAuth, new_nonce
from secure_ai_local.openapi import DOCUMENT_PATH
from secure_ai_local.stack import LocalStack
from secure_ai_protocol.envelope.requests import seal_request_server
from secure_ai_protocol.envelope.responses import open_response
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE, JSON_CONTENT_TYPE
from secure_ai_protocol.stream import STREAM_CONTENT_TYPE, StreamOpener, parse_events

pytestmark = pytest.mark.e2e

# Examples per operation and run; the whole module takes about a minute on a 2-core machine.
MAX_EXAMPLES = 100
MAX_SEALED_EXAMPLES = 50
# Past API Gateway's 29 s integration timeout, so a slow function shows as the emulator's 504.
REQUEST_TIMEOUT_SECONDS = 35.0
WARM_UP_ATTEMPTS = 3
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SIGNATURE_HEADERS = ("Content-Digest", "Signature-Input", "Signature")
PLAINTEXT_SCHEMA = "x-plaintext-schema"
NO_HEALTH_CHECKS = list(HealthCheck)

# The document gives envelopes no structure (they are ciphertext): send arbitrary bytes, and bytes
# that start like an ESDK message format 2 header (suite 0x0478 or 0x0578), to reach its parser.
schemathesis.openapi.media_type(
    ENVELOPE_CONTENT_TYPE,
    st.one_of(
        st.binary(max_size=1024),
        st.builds(
            lambda suite, rest: b"\x02" + suite + rest,
            st.sampled_from([b"\x04\x78", b"\x05\x78"]),
            st.binary(max_size=1024),
        ),
    ),
)

schema = schemathesis.openapi.from_path(DOCUMENT_PATH)
DOCUMENT: dict[str, Any] = copy.deepcopy(schema.raw_schema)


def sealed_variant(document: dict[str, Any]) -> dict[str, Any]:
    """The document with every envelope request body replaced by its plaintext's schema, as JSON."""
    variant = copy.deepcopy(document)
    for item in variant["paths"].values():
        for operation in item.values():
            content = operation.get("requestBody", {}).get("content", {})
            if ENVELOPE_CONTENT_TYPE in content:
                plaintext = content[ENVELOPE_CONTENT_TYPE][PLAINTEXT_SCHEMA]
                operation["requestBody"]["content"] = {JSON_CONTENT_TYPE: {"schema": plaintext}}
    return variant


SEALED = schemathesis.openapi.from_dict(sealed_variant(DOCUMENT))
SEALED_OPERATIONS = [
    operation["operationId"]
    for item in DOCUMENT["paths"].values()
    for operation in item.values()
    if ENVELOPE_CONTENT_TYPE in operation.get("requestBody", {}).get("content", {})
]
SENT: collections.Counter[tuple[str, str, int]] = collections.Counter()


class SignedRequests(requests.auth.AuthBase):
    """Sign a `requests` request with the reference httpx client's code (`SignatureAuth.sign`)."""

    def __init__(self, auth: SignatureAuth) -> None:
        self._auth = auth

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if "content-type" not in request.headers:
            return request  # the profile requires one: sent unsigned, the authorizer must refuse it
        body = wire_body(request)
        headers = {
            name: value if isinstance(value, str) else value.decode("latin-1")
            for name, value in request.headers.items()
        }
        signed = httpx.Request(str(request.method), str(request.url), headers=headers, content=body)
        self._auth.sign(signed)
        request.prepare_url(str(signed.url), None)  # the canonical query the signature covers
        request.body = body
        request.prepare_content_length(body)
        for name in SIGNATURE_HEADERS:
            request.headers[name] = signed.headers[name]
        return request


def wire_body(request: requests.PreparedRequest) -> bytes:
    """The body as bytes; text as UTF-8 (http.client would send a str as Latin-1, not what was signed)."""
    if request.body is None:
        return b""
    if isinstance(request.body, bytes):
        return request.body
    if isinstance(request.body, str):
        return request.body.encode()
    raise TypeError("a streamed body cannot be signed")


def signature_auth(stack: LocalStack, nonce: str | None = None) -> SignatureAuth:
    """The demo client's signer; with `nonce`, one that signs with that nonce (the envelope's req_id)."""
    info = stack.info
    if nonce is None:
        return SignatureAuth(key_id=info.key_id, secret=info.secret, tag=info.tag)
    return SignatureAuth(key_id=info.key_id, secret=info.secret, tag=info.tag, nonce_factory=lambda: nonce)


@pytest.fixture(scope="module")
def warm_stack(local_stack: LocalStack) -> LocalStack:
    """One answered request per function first: cold starts are seconds of imports, not what is tested."""
    base, signer = local_stack.info.api_url, SignedRequests(signature_auth(local_stack))
    statuses: tuple[int, int] = (0, 0)
    for _ in range(WARM_UP_ATTEMPTS):
        public_key = requests.get(f"{base}/v1/keys/public", timeout=REQUEST_TIMEOUT_SECONDS)
        validate = requests.post(
            f"{base}/v1/validate",
            data=b'{"text": "warm up"}',
            headers={"Content-Type": JSON_CONTENT_TYPE},
            auth=signer,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        statuses = (public_key.status_code, validate.status_code)
        if statuses == (200, 200):
            return local_stack
    pytest.fail(f"the local stack did not warm up: GET /v1/keys/public, POST /v1/validate gave {statuses}")


@pytest.fixture(scope="module", autouse=True)
def request_summary(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the module: how many requests each run sent per operation, by status."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    by_operation: dict[tuple[str, str], dict[int, int]] = collections.defaultdict(dict)
    for (run, label, status), count in sorted(SENT.items()):
        by_operation[run, label][status] = count
    for (run, label), statuses in by_operation.items():
        if reporter is not None:
            reporter.write_line(f"schemathesis {run} {label}: {sum(statuses.values())} requests {statuses}")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=NO_HEALTH_CHECKS)
def test_no_signed_generated_request_gets_a_server_error(case: Case[Any], warm_stack: LocalStack) -> None:
    response = case.call(
        base_url=warm_stack.info.api_url,
        auth=SignedRequests(signature_auth(warm_stack)),
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    SENT["signed", case.operation.label, response.status_code] += 1
    case.validate_response(response, checks=CHECKS)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=NO_HEALTH_CHECKS)
def test_no_unsigned_generated_request_gets_a_server_error(case: Case[Any], warm_stack: LocalStack) -> None:
    response = case.call(base_url=warm_stack.info.api_url, timeout=REQUEST_TIMEOUT_SECONDS)
    SENT["unsigned", case.operation.label, response.status_code] += 1
    case.validate_response(response, checks=CHECKS)


def plaintext_bytes(body: Any) -> bytes:
    """A generated plaintext as the bytes to seal (negative cases may be raw bytes, or no body)."""
    if isinstance(body, NotSet):
        return b""
    if isinstance(body, bytes):
        return body
    return json.dumps(body).encode()


@pytest.mark.parametrize("operation_id", SEALED_OPERATIONS)
def test_no_sealed_generated_plaintext_gets_a_server_error(warm_stack: LocalStack, operation_id: str) -> None:
    operation = SEALED.find_operation_by_id(operation_id)
    info, kms = warm_stack.info, warm_stack.client("kms")
    payload_schema = DOCUMENT["paths"][operation.path][operation.method]["responses"]["200"]["content"]
    components = DOCUMENT["components"]
    streamed = STREAM_CONTENT_TYPE in payload_schema
    if streamed:
        # A streamed answer: each event's plaintext has its own schema (chunk, final).
        event_schemas = payload_schema[STREAM_CONTENT_TYPE]["x-event-plaintext-schemas"]
        event_validators = {
            kind: Draft202012Validator({**schema_ref, "components": components})
            for kind, schema_ref in event_schemas.items()
        }
    else:
        answer_validator = Draft202012Validator(
            {**payload_schema[ENVELOPE_CONTENT_TYPE][PLAINTEXT_SCHEMA], "components": components}
        )
    sent: list[int] = []

    @settings(max_examples=MAX_SEALED_EXAMPLES, deadline=None, suppress_health_check=NO_HEALTH_CHECKS)
    @given(
        case=st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
        ),
        # Most generated model names are not the demo client's: often ask for its default instead.
        default_model=st.booleans(),
    )
    def send_sealed(case: Case[Any], default_model: bool) -> None:
        plaintext: Any = case.body
        if default_model and isinstance(plaintext, dict) and isinstance(plaintext.get("request"), dict):
            plaintext["request"]["model"] = "default"
        nonce = new_nonce()
        body = seal_request_server(
            plaintext_bytes(plaintext),
            kms_key_arn=info.kms_key_arn,
            client_id=info.client_id,
            req_id=nonce,
            route=operation.path,
            kms_client=kms,
        )
        response = httpx.post(
            f"{info.api_url}{operation.path}",
            content=body,
            headers={
                "Content-Type": ENVELOPE_CONTENT_TYPE,
                "Accept": STREAM_CONTENT_TYPE if streamed else ENVELOPE_CONTENT_TYPE,
            },
            auth=signature_auth(warm_stack, nonce),
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        sent.append(response.status_code)
        SENT["sealed", operation.label, response.status_code] += 1
        case.validate_response(response, checks=CHECKS)
        if response.status_code == 200:
            resp_key = base64.b64decode(plaintext["resp_key"])
            if streamed:
                opener = StreamOpener(resp_key, nonce)
                for event in parse_events(response.text.split("\n")):
                    kind = "final" if event.final else "chunk"
                    event_validators[kind].validate(json.loads(opener.open(event)))
                opener.finish()
            else:
                answer_validator.validate(
                    json.loads(open_response(response.content, resp_key=resp_key, req_id=nonce))
                )

    send_sealed()
    assert sent, f"no sealed request was sent to {operation.label}"
