"""The general RFC 9421 signature-base builder, against the RFC's own Appendix B values."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from secure_ai_protocol.errors import SignatureRejected
from secure_ai_protocol.signing.signature_base import HttpMessage, signature_base_for_label

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "rfc9421_http_message_signatures.json").read_text(
        encoding="utf-8"
    )
)
CASES: list[dict[str, Any]] = VECTORS["cases"]

# RFC 9421 Appendix B.2 test-request and test-response, as the builder sees them.
TEST_REQUEST = HttpMessage(
    method="POST",
    authority="example.com",
    path="/foo",
    query="param=Value&Pet=dog",
    fields=(
        ("Host", "example.com"),
        ("Date", "Tue, 20 Apr 2021 02:07:55 GMT"),
        ("Content-Type", "application/json"),
        (
            "Content-Digest",
            "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
        ),
        ("Content-Length", "18"),
    ),
)
TEST_RESPONSE = HttpMessage(
    scheme=None,
    status=200,
    fields=(
        ("Date", "Tue, 20 Apr 2021 02:07:56 GMT"),
        ("Content-Type", "application/json"),
        (
            "Content-Digest",
            "sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:",
        ),
        ("Content-Length", "23"),
    ),
)


def _base(components: str, message: HttpMessage = TEST_REQUEST) -> str:
    return signature_base_for_label(f"sig=({components});created=1", "sig", message).decode("ascii")


def _reason(components: str, message: HttpMessage = TEST_REQUEST) -> str:
    with pytest.raises(SignatureRejected) as caught:
        _base(components, message)
    return caught.value.reason


@pytest.mark.parametrize("case", CASES, ids=lambda case: str(case["section"]))
def test_signature_base_reproduces_the_rfc_vector_byte_for_byte(case: dict[str, Any]) -> None:
    # Given an Appendix B signature input and the message it was made over
    message = TEST_REQUEST if case["message"] == "request" else TEST_RESPONSE

    # When the signature base is built for its label
    base = signature_base_for_label(case["signature_input"], case["label"], message)

    # Then it is the RFC's base, byte for byte
    assert base == case["signature_base"].encode("ascii")


def test_hmac_over_the_b25_base_is_the_rfc_signature() -> None:
    # Given RFC 9421 B.2.5 and the shared secret of B.1.5
    case = next(case for case in CASES if case["section"].startswith("B.2.5"))
    secret = base64.b64decode(VECTORS["keys"]["test-shared-secret"]["secret_b64"])

    # When the base is built and MACed with hmac-sha256
    base = signature_base_for_label(case["signature_input"], case["label"], TEST_REQUEST)
    signature = hmac.new(secret, base, hashlib.sha256).digest()

    # Then the Signature header of the RFC results
    assert f"{case['label']}=:{base64.b64encode(signature).decode()}:" == case["signature"]


def test_target_uri_scheme_and_request_target_follow_rfc_section_2_2() -> None:
    base = _base('"@target-uri" "@scheme" "@request-target"')

    assert base.splitlines()[:3] == [
        '"@target-uri": https://example.com/foo?param=Value&Pet=dog',
        '"@scheme": https',
        '"@request-target": /foo?param=Value&Pet=dog',
    ]


def test_a_request_without_query_has_a_bare_question_mark_as_query() -> None:
    message = HttpMessage(method="GET", authority="example.com", path="/foo")

    assert _base('"@query" "@request-target"', message).splitlines()[:2] == [
        '"@query": ?',
        '"@request-target": /foo',
    ]


def test_an_empty_path_is_signed_as_slash() -> None:
    message = HttpMessage(method="GET", authority="example.com", path="")

    assert _base('"@path"', message).splitlines()[0] == '"@path": /'


def test_query_parameters_are_decoded_and_re_encoded_as_rfc_9421_section_2_2_8_shows() -> None:
    # Given the RFC's own example of awkward query parameters
    message = HttpMessage(
        method="GET",
        authority="example.com",
        path="/path",
        query="var=this%20is%20a%20big%0Avalue&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something",
    )

    # When each is covered by name
    base = _base(
        '"@query-param";name="var" "@query-param";name="bar" "@query-param";name="fa%C3%A7ade%22%3A+"',
        message,
    )

    # Then the values are the form-encoded forms the RFC prints
    assert base.splitlines()[:3] == [
        '"@query-param";name="var": this+is+a+big%0Avalue',
        '"@query-param";name="bar": with+plus+whitespace',
        '"@query-param";name="fa%C3%A7ade%22%3A+": something',
    ]


def test_a_stray_percent_in_a_query_parameter_is_kept_literally_as_the_url_standard_parses() -> None:
    # WHATWG form parsing leaves a '%' without two hex digits as it is; re-encoding escapes it.
    message = HttpMessage(method="GET", authority="example.com", path="/", query="a=50%&b=%zz")

    assert _base('"@query-param";name="a" "@query-param";name="b"', message).splitlines()[:2] == [
        '"@query-param";name="a": 50%25',
        '"@query-param";name="b": %25zz',
    ]


def test_an_empty_query_parameter_value_is_an_empty_component_value() -> None:
    message = HttpMessage(method="GET", authority="example.com", path="/", query="qux=&baz=batman")

    assert _base('"@query-param";name="qux"', message).splitlines()[0] == '"@query-param";name="qux": '


def test_a_repeated_query_parameter_cannot_be_covered_by_name() -> None:
    message = HttpMessage(method="GET", authority="example.com", path="/", query="a=1&a=2")

    assert _reason('"@query-param";name="a"', message) == "query_param_repeated"


def test_a_query_parameter_without_a_name_parameter_is_refused() -> None:
    assert _reason('"@query-param"') == "component_parameters"


def test_a_query_parameter_with_an_extra_parameter_is_refused() -> None:
    assert _reason('"@query-param";name="Pet";req') == "component_parameters"


def test_an_absent_query_parameter_is_a_missing_component() -> None:
    assert _reason('"@query-param";name="cat"') == "missing_component"


def test_repeated_header_lines_are_combined_with_comma_space() -> None:
    message = HttpMessage(fields=(("X-Tag", " a "), ("x-tag", "b")))

    assert _base('"x-tag"', message).splitlines()[0] == '"x-tag": a, b'


def test_a_header_named_like_a_derived_component_is_refused() -> None:
    # Given a message carrying a header literally called "@method"
    message = HttpMessage(method="GET", authority="example.com", path="/", fields=(("@method", "DELETE"),))

    # Then nothing is built over it, whatever is covered
    assert _reason('"@method"', message) == "field_name"


@pytest.mark.parametrize(
    ("components", "reason"),
    [
        ('"@method" "@method"', "duplicate_component"),
        ('"@fragment"', "unknown_component"),
        ('"Date"', "bad_component"),
        ('"x y"', "bad_component"),
        ('""', "bad_component"),
        ("date", "bad_component"),
        ('"content-digest";sf', "component_parameters"),
        ('"@method";req', "component_parameters"),
        ('"x-absent"', "missing_component"),
        ('"@status"', "missing_component"),
    ],
    ids=[
        "duplicate",
        "unknown-derived",
        "upper-case-field",
        "not-a-token",
        "empty",
        "token-not-string",
        "sf-parameter",
        "req-parameter",
        "absent-header",
        "status-on-request",
    ],
)
def test_covered_components_the_builder_cannot_honour_are_refused(components: str, reason: str) -> None:
    assert _reason(components) == reason


@pytest.mark.parametrize("component", ['"@method"', '"@query"', '"@query-param";name="a"', '"@target-uri"'])
def test_request_components_are_missing_from_a_response(component: str) -> None:
    assert _reason(component, TEST_RESPONSE) == "missing_component"


@pytest.mark.parametrize(
    "value",
    ["application/json\r\nx-injected: 1", "application/json\nx: y", "caf\u00e9", "a\tb", "a\x00b"],
    ids=["crlf", "lf", "non-ascii", "tab", "nul"],
)
def test_a_covered_value_with_control_or_non_ascii_characters_is_refused(value: str) -> None:
    message = HttpMessage(fields=(("content-type", value),))

    assert _reason('"content-type"', message) == "component_value"


def test_a_covered_value_over_8_kb_is_refused() -> None:
    message = HttpMessage(fields=(("x-big", "a" * 8193),))

    assert _reason('"x-big"', message) == "component_too_large"


def test_an_authority_that_is_not_lower_case_is_refused_rather_than_normalised() -> None:
    message = HttpMessage(method="GET", authority="Example.com", path="/")

    assert _reason('"@authority"', message) == "authority_not_normalised"


def test_a_label_absent_from_signature_input_is_refused() -> None:
    with pytest.raises(SignatureRejected) as caught:
        signature_base_for_label('sig=("@method");created=1', "other", TEST_REQUEST)
    assert caught.value.reason == "missing_label"


def test_a_label_whose_member_is_not_an_inner_list_is_refused() -> None:
    with pytest.raises(SignatureRejected) as caught:
        signature_base_for_label('sig="@method"', "sig", TEST_REQUEST)
    assert caught.value.reason == "bad_signature_input"
