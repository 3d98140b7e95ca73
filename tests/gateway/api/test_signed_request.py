"""Reading the signed request out of an API Gateway REST REQUEST-authorizer event."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from secure_ai_gateway.api.signed_request import (
    query_from_event,
    request_from_authorizer_event,
    single_header,
)
from secure_ai_protocol.errors import SignatureRejected
from secure_ai_protocol.signing.content_digest import compute_content_digest
from secure_ai_protocol.signing.profile import (
    PROFILE_TAG,
    SignedRequest,
    check_window,
    parse_signature_headers,
    sign_request,
    verify_signature,
)

SECRET = bytes(range(32))
NOW = 1_767_225_600
DOMAIN = "abc123.execute-api.eu-west-1.amazonaws.com"
BODY = b'{"model":"gpt-4o-mini","messages":[]}'


def _signed_headers(request: SignedRequest) -> dict[str, str]:
    signature_input, signature = sign_request(
        request,
        secret=SECRET,
        key_id="demo-client.1",
        tag=PROFILE_TAG,
        created=NOW,
        expires=NOW + 120,
        nonce="bm9uY2Utb2YtdGhlLXRlc3Q",
    )
    return {
        "Host": request.authority,
        "Content-Type": request.content_type,
        "Content-Digest": request.content_digest,
        "Signature-Input": signature_input,
        "Signature": signature,
        "User-Agent": "test",
    }


def _event(
    *,
    method: str = "POST",
    path: str = "/prod/v1/chat/completions",
    query: dict[str, list[str]] | None = None,
    signed_query: str = "",
    authority: str = DOMAIN,
) -> dict[str, Any]:
    """A REST REQUEST-authorizer event as API Gateway sends it, for a request signed over the given values."""
    request = SignedRequest(
        method=method,
        authority=authority,
        path=path,
        query=signed_query,
        content_type="application/json",
        content_digest=compute_content_digest(BODY),
    )
    headers = _signed_headers(request)
    resource_path = path.removeprefix("/prod")
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/{method}{resource_path}",
        "resource": resource_path,
        "path": resource_path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None
        if query is None
        else {name: values[-1] for name, values in query.items()},
        "multiValueQueryStringParameters": query,
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {
            "resourcePath": resource_path,
            "httpMethod": method,
            "path": path,
            "stage": "prod",
            "domainName": DOMAIN,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        },
    }


def _verify(event: dict[str, Any]) -> SignedRequest:
    request, signature_input, signature = request_from_authorizer_event(event)
    parsed = parse_signature_headers(signature_input, signature, expected_tag=PROFILE_TAG)
    check_window(parsed, NOW)
    verify_signature(parsed, request, SECRET)
    return request


def _reason(event: dict[str, Any]) -> str:
    with pytest.raises(SignatureRejected) as caught:
        _verify(event)
    return caught.value.reason


def _set_header(event: dict[str, Any], name: str, values: list[str]) -> None:
    for existing in [key for key in event["headers"] if key.lower() == name.lower()]:
        del event["headers"][existing]
        del event["multiValueHeaders"][existing]
    event["headers"][name] = values[-1]
    event["multiValueHeaders"][name] = values


SIGNED_HEADERS = ["Host", "Content-Type", "Content-Digest", "Signature-Input", "Signature"]


# --- the happy path ------------------------------------------------------------------------------


def test_a_signed_event_yields_the_request_the_client_signed() -> None:
    event = _event()

    request = _verify(event)

    assert request == SignedRequest(
        method="POST",
        authority=DOMAIN,
        path="/prod/v1/chat/completions",
        query="",
        content_type="application/json",
        content_digest=compute_content_digest(BODY),
    )


def test_the_signature_headers_are_returned_as_received() -> None:
    event = _event()

    _, signature_input, signature = request_from_authorizer_event(event)

    assert (signature_input, signature) == (
        event["headers"]["Signature-Input"],
        event["headers"]["Signature"],
    )


def test_header_names_are_matched_case_insensitively() -> None:
    event = _event()
    for name in SIGNED_HEADERS:
        value = event["headers"].pop(name)
        event["multiValueHeaders"].pop(name)
        event["headers"][name.upper()] = value
        event["multiValueHeaders"][name.upper()] = [value]

    _verify(event)


def test_an_event_with_only_single_value_headers_verifies() -> None:
    event = _event()
    event["multiValueHeaders"] = None

    _verify(event)


def test_an_event_with_only_multi_value_headers_verifies() -> None:
    event = _event()
    del event["headers"]

    _verify(event)


def test_the_host_header_is_lower_cased_for_the_authority() -> None:
    event = _event()
    _set_header(event, "Host", [DOMAIN.upper()])

    assert _verify(event).authority == DOMAIN


def test_an_event_without_domain_name_takes_the_authority_from_host() -> None:
    event = _event(authority="127.0.0.1:3000")
    del event["requestContext"]["domainName"]

    assert _verify(event).authority == "127.0.0.1:3000"


def test_the_query_is_rebuilt_in_canonical_form_from_decoded_parameters() -> None:
    # Given a client that sent ?z=1&a=x y&a=%C3%A9 and signed the canonical form
    event = _event(query={"z": ["1"], "a": ["x y", "é"]}, signed_query="a=%C3%A9&a=x%20y&z=1")

    # Then the gateway rebuilds the same canonical query and the signature verifies
    assert _verify(event).query == "a=%C3%A9&a=x%20y&z=1"


def test_the_query_falls_back_to_single_value_parameters() -> None:
    event = _event(signed_query="b=2")
    event["queryStringParameters"] = {"b": "2"}

    assert _verify(event).query == "b=2"


def test_query_reading_works_on_a_proxy_integration_event_too() -> None:
    proxy_event = {"multiValueQueryStringParameters": {"q": ["a b"], "n": ["2", "10"]}, "body": "{}"}

    assert query_from_event(proxy_event) == "n=10&n=2&q=a%20b"


def test_single_header_reads_a_proxy_integration_event_too() -> None:
    proxy_event = {
        "headers": {"content-digest": "sha-256=:x:"},
        "multiValueHeaders": {"content-digest": ["sha-256=:x:"]},
    }

    assert single_header(proxy_event, "content-digest") == "sha-256=:x:"


# --- the signature does not move -----------------------------------------------------------------


def test_a_signature_moved_to_another_method_is_refused() -> None:
    event = _event()
    event["httpMethod"] = event["requestContext"]["httpMethod"] = "PUT"

    assert _reason(event) == "mac_mismatch"


def test_a_signature_moved_to_another_path_is_refused() -> None:
    event = _event()
    event["requestContext"]["path"] = "/prod/v1/validate"

    assert _reason(event) == "mac_mismatch"


def test_a_signature_moved_to_another_stage_is_refused() -> None:
    event = _event()
    event["requestContext"]["path"] = "/dev/v1/chat/completions"
    event["requestContext"]["stage"] = "dev"

    assert _reason(event) == "mac_mismatch"


def test_a_signature_moved_to_another_query_is_refused() -> None:
    event = _event(query={"a": ["1"]}, signed_query="a=1")
    event["multiValueQueryStringParameters"] = {"a": ["1"], "admin": ["true"]}

    assert _reason(event) == "mac_mismatch"


def test_a_signature_moved_to_another_authority_is_refused() -> None:
    event = _event()
    other = "zzz999.execute-api.eu-west-1.amazonaws.com"
    event["requestContext"]["domainName"] = other
    _set_header(event, "Host", [other])

    assert _reason(event) == "mac_mismatch"


def test_a_host_header_that_disagrees_with_the_domain_name_is_refused() -> None:
    event = _event()
    _set_header(event, "Host", ["evil.example"])

    assert _reason(event) == "authority_mismatch"


def test_a_method_that_disagrees_with_the_request_context_is_refused() -> None:
    event = _event()
    event["httpMethod"] = "GET"

    assert _reason(event) == "method_mismatch"


# --- duplicates ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SIGNED_HEADERS)
def test_a_signed_header_sent_twice_is_refused(name: str) -> None:
    # Given the header twice in multiValueHeaders (API Gateway keeps only the last in headers)
    event = _event()
    value = event["headers"][name]
    _set_header(event, name, [value, value])

    assert _reason(event) == "duplicate_header"


@pytest.mark.parametrize("name", SIGNED_HEADERS)
def test_a_signed_header_under_two_spellings_is_refused(name: str) -> None:
    event = _event()
    event["headers"][name.lower()] = event["headers"][name]
    event["multiValueHeaders"][name.lower()] = [event["headers"][name]]

    assert _reason(event) == "duplicate_header"


def test_a_signed_header_under_two_spellings_in_a_single_map_is_refused() -> None:
    event = _event()
    event["multiValueHeaders"] = None
    event["headers"]["signature"] = event["headers"]["Signature"]

    assert _reason(event) == "duplicate_header"


def test_headers_and_multi_value_headers_that_disagree_are_refused() -> None:
    event = _event()
    event["headers"]["Signature"] = "sig=:AAAA:"

    assert _reason(event) == "duplicate_header"


def test_a_header_present_in_only_one_of_the_two_maps_is_refused() -> None:
    event = _event()
    del event["multiValueHeaders"]["Signature"]

    assert _reason(event) == "bad_event"


def test_an_extra_signature_member_in_the_header_is_refused() -> None:
    event = _event()
    extra = f"{event['headers']['Signature']}, sig2=:{'A' * 43}=:"
    _set_header(event, "Signature", [extra])

    assert _reason(event) == "signature_members"


def test_an_extra_signature_input_member_in_the_header_is_refused() -> None:
    event = _event()
    value = event["headers"]["Signature-Input"]
    _set_header(event, "Signature-Input", [f"{value}, {value.replace('sig=', 'sig2=', 1)}"])

    assert _reason(event) == "signature_input_members"


# --- what is missing or malformed ----------------------------------------------------------------


@pytest.mark.parametrize("name", SIGNED_HEADERS)
def test_a_missing_signed_header_is_refused(name: str) -> None:
    event = _event()
    del event["headers"][name]
    del event["multiValueHeaders"][name]

    assert _reason(event) == "missing_header"


@pytest.mark.parametrize("name", ["@method", "@path", "Bad Header", "", "x\r\ny"])
def test_a_header_name_that_is_not_a_token_is_refused(name: str) -> None:
    # Given a header named like a derived component (or otherwise not an HTTP token)
    event = _event()
    event["headers"][name] = "DELETE"
    event["multiValueHeaders"][name] = ["DELETE"]

    assert _reason(event) == "header_name"


def test_an_unsigned_extra_header_is_ignored() -> None:
    event = _event()
    _set_header(event, "X-Forwarded-For", ["198.51.100.1", "203.0.113.9"])

    _verify(event)


@pytest.mark.parametrize(
    "damage",
    [
        lambda event: event.pop("requestContext"),
        lambda event: event.update(requestContext="prod"),
        lambda event: event["requestContext"].pop("path"),
        lambda event: event["requestContext"].update(path="v1/chat/completions"),
        lambda event: event["requestContext"].update(path=7),
        lambda event: (event.pop("httpMethod"), event["requestContext"].pop("httpMethod")),
        lambda event: event.update(httpMethod=["POST"]),
        lambda event: event.update(headers=["Host"]),
        lambda event: event["headers"].update(Signature=None),
        lambda event: event["multiValueHeaders"].update(Signature="sig=:AAAA:"),
        lambda event: event["multiValueHeaders"].update(Signature=[]),
        lambda event: event.update(multiValueQueryStringParameters={"a": "1"}),
        lambda event: event.update(multiValueQueryStringParameters=None, queryStringParameters={"a": 1}),
        lambda event: event["requestContext"].update(domainName=42),
    ],
    ids=[
        "no-request-context",
        "request-context-not-a-map",
        "no-path",
        "relative-path",
        "path-not-a-string",
        "no-method",
        "method-not-a-string",
        "headers-not-a-map",
        "header-value-not-a-string",
        "multi-value-not-a-list",
        "multi-value-empty",
        "query-values-not-a-list",
        "query-value-not-a-string",
        "domain-not-a-string",
    ],
)
def test_an_event_of_the_wrong_shape_is_refused(damage: Any) -> None:
    event = copy.deepcopy(_event())
    damage(event)

    assert _reason(event) == "bad_event"


def test_a_query_value_that_cannot_be_utf_8_encoded_is_refused() -> None:
    event = _event()
    event["multiValueQueryStringParameters"] = {"a": ["\ud800"]}

    assert _reason(event) == "bad_query"


def test_a_method_only_in_the_request_context_is_used() -> None:
    event = _event()
    del event["httpMethod"]

    assert _verify(event).method == "POST"
