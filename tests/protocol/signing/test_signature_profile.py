"""The gateway's RFC 9421 profile: parsing, time window, MAC verification and signing."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from collections.abc import Mapping, Sequence

import pytest
from http_sfv.dictionary import Dictionary
from http_sfv.item import InnerList, Item

from secure_ai_protocol.errors import SignatureRejected
from secure_ai_protocol.key_ids import KeyId, parse_key_id
from secure_ai_protocol.signing.content_digest import compute_content_digest
from secure_ai_protocol.signing.profile import (
    PROFILE_COMPONENTS,
    PROFILE_TAG,
    ParsedSignature,
    SignedRequest,
    check_window,
    parse_signature_headers,
    sign_request,
    signature_base,
    verify_signature,
)

SECRET = bytes(range(32))
NOW = 1_767_225_600
NONCE = "bm9uY2Utb2YtdGhlLXRlc3Q"
KEY_ID = "demo-client.1"
REQUEST = SignedRequest(
    method="POST",
    authority="abc123.execute-api.eu-west-1.amazonaws.com",
    path="/prod/v1/chat/completions",
    query="a=1&stream=false",
    content_type="application/json",
    content_digest=compute_content_digest(b'{"model":"m"}'),
)
VALID_PARAMS: dict[str, object] = {
    "created": NOW,
    "expires": NOW + 120,
    "nonce": NONCE,
    "keyid": KEY_ID,
    "alg": "hmac-sha256",
    "tag": PROFILE_TAG,
}
# Well-formed but wrong: lets shape tests reach the rule they are about.
SOME_SIGNATURE = f"sig=:{base64.b64encode(bytes(32)).decode()}:"


def _sign(
    request: SignedRequest = REQUEST,
    *,
    secret: bytes = SECRET,
    key_id: str = KEY_ID,
    created: int = NOW,
    expires: int = NOW + 120,
    nonce: str = NONCE,
    label: str = "sig",
) -> tuple[str, str]:
    return sign_request(
        request,
        secret=secret,
        key_id=key_id,
        tag=PROFILE_TAG,
        created=created,
        expires=expires,
        nonce=nonce,
        label=label,
    )


def _signature_input(
    components: Sequence[str | Item] = PROFILE_COMPONENTS,
    params: Mapping[str, object] = VALID_PARAMS,
    label: str = "sig",
) -> str:
    member = InnerList(list(components))
    member.params.update(params)
    inputs = Dictionary()
    inputs[label] = member
    return str(inputs)


def _parse(signature_input: str, signature: str = SOME_SIGNATURE) -> ParsedSignature:
    return parse_signature_headers(signature_input, signature, expected_tag=PROFILE_TAG)


def _parse_reason(signature_input: str, signature: str = SOME_SIGNATURE) -> str:
    with pytest.raises(SignatureRejected) as caught:
        _parse(signature_input, signature)
    return caught.value.reason


def _verify(signature_input: str, signature: str, request: SignedRequest = REQUEST, now: int = NOW) -> None:
    parsed = _parse(signature_input, signature)
    check_window(parsed, now)
    verify_signature(parsed, request, SECRET)


def _verify_reason(signature_input: str, signature: str, request: SignedRequest = REQUEST) -> str:
    with pytest.raises(SignatureRejected) as caught:
        _verify(signature_input, signature, request)
    return caught.value.reason


def _without(params: Mapping[str, object], name: str) -> dict[str, object]:
    return {key: value for key, value in params.items() if key != name}


# --- the happy path ------------------------------------------------------------------------------


def test_a_signed_request_verifies() -> None:
    # Given a request signed under the profile
    signature_input, signature = _sign()

    # When it is parsed, its window checked and its MAC verified, nothing is raised
    _verify(signature_input, signature)


def test_parsing_exposes_label_key_nonce_and_times() -> None:
    parsed = _parse(*_sign())

    assert (parsed.label, parsed.key_id, parsed.nonce, parsed.created, parsed.expires) == (
        "sig",
        KEY_ID,
        NONCE,
        NOW,
        NOW + 120,
    )
    assert parsed.components == PROFILE_COMPONENTS


def test_signature_input_emitted_by_signing_names_every_component_and_parameter() -> None:
    signature_input, _ = _sign()

    assert signature_input == (
        'sig=("@method" "@authority" "@path" "@query" "content-type" "content-digest")'
        f';created={NOW};expires={NOW + 120};nonce="{NONCE}";keyid="{KEY_ID}"'
        ';alg="hmac-sha256";tag="secure-ai-v1"'
    )


def test_the_signature_base_lists_the_covered_values_then_the_parameters() -> None:
    signature_input, signature = _sign()

    base = signature_base(_parse(signature_input, signature), REQUEST)

    assert base.decode("ascii").splitlines() == [
        '"@method": POST',
        '"@authority": abc123.execute-api.eu-west-1.amazonaws.com',
        '"@path": /prod/v1/chat/completions',
        '"@query": ?a=1&stream=false',
        '"content-type": application/json',
        f'"content-digest": {REQUEST.content_digest}',
        f'"@signature-params": {signature_input.removeprefix("sig=")}',
    ]


def test_a_request_without_query_signs_a_bare_question_mark() -> None:
    request = dataclasses.replace(REQUEST, query="")
    signature_input, signature = _sign(request)

    assert b'"@query": ?\n' in signature_base(_parse(signature_input, signature), request)
    _verify(signature_input, signature, request)


def test_any_label_verifies_when_both_headers_use_it() -> None:
    _verify(*_sign(label="client-7"))


def test_components_and_parameters_in_reverse_order_verify() -> None:
    # Given a client library that emits components and parameters in another order
    components = list(reversed(PROFILE_COMPONENTS))
    params = dict(reversed(list(VALID_PARAMS.items())))
    signature_input = _signature_input(components, params)
    values = {
        "@method": REQUEST.method,
        "@authority": REQUEST.authority,
        "@path": REQUEST.path,
        "@query": f"?{REQUEST.query}",
        "content-type": REQUEST.content_type,
        "content-digest": REQUEST.content_digest,
    }
    # (the base is written out here independently of the implementation)
    base = "\n".join(
        [*(f'"{name}": {values[name]}' for name in components), f'"@signature-params": {signature_input[4:]}']
    )
    mac = hmac.new(SECRET, base.encode("ascii"), hashlib.sha256).digest()
    signature = f"sig=:{base64.b64encode(mac).decode()}:"

    # Then the gateway verifies it, with the order kept in @signature-params
    _verify(signature_input, signature)
    assert _parse(signature_input, signature).signature_params == signature_input[4:]


# --- MAC and signature value ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "moved",
    [
        dataclasses.replace(REQUEST, method="PUT"),
        dataclasses.replace(REQUEST, path="/prod/v1/validate"),
        dataclasses.replace(REQUEST, path="/dev/v1/chat/completions"),
        dataclasses.replace(REQUEST, query="a=2&stream=false"),
        dataclasses.replace(REQUEST, query=""),
        dataclasses.replace(REQUEST, authority="other.execute-api.eu-west-1.amazonaws.com"),
        dataclasses.replace(REQUEST, content_type="text/plain"),
        dataclasses.replace(REQUEST, content_digest=compute_content_digest(b"other body")),
    ],
    ids=["method", "path", "stage", "query", "no-query", "authority", "content-type", "content-digest"],
)
def test_a_signature_moved_to_another_request_is_refused(moved: SignedRequest) -> None:
    signature_input, signature = _sign()

    assert _verify_reason(signature_input, signature, moved) == "mac_mismatch"


def test_a_signature_under_another_secret_is_refused() -> None:
    signature_input, signature = _sign(secret=bytes(32))

    assert _verify_reason(signature_input, signature) == "mac_mismatch"


@pytest.mark.parametrize("bit", [0, 7, 128, 255])
def test_a_signature_with_one_bit_flipped_is_refused(bit: int) -> None:
    signature_input, signature = _sign()
    mac = bytearray(base64.b64decode(signature[5:-1]))
    mac[bit // 8] ^= 1 << (bit % 8)

    assert _verify_reason(signature_input, f"sig=:{base64.b64encode(mac).decode()}:") == "mac_mismatch"


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_a_signature_of_the_wrong_length_is_refused(length: int) -> None:
    signature_input, signature = _sign()
    mac = (base64.b64decode(signature[5:-1]) * 3)[:length]

    assert _parse_reason(signature_input, f"sig=:{base64.b64encode(mac).decode()}:") == "signature_length"


@pytest.mark.parametrize(
    "signature", ['sig="AAAA"', "sig=AAAA", "sig=1", "sig", f"{SOME_SIGNATURE};alg=1", "sig=(:AAAA:)"]
)
def test_a_signature_member_that_is_not_a_bare_byte_sequence_is_refused(signature: str) -> None:
    assert _parse_reason(_signature_input(), signature) == "bad_signature"


def test_a_malformed_signature_header_is_refused() -> None:
    assert _parse_reason(_signature_input(), "sig=:AAAA") == "bad_signature"


def test_a_signature_in_non_canonical_base64_is_refused() -> None:
    # 32 bytes end in a base64 character with two unused bits: "AB=" decodes like "AA=".
    assert (
        _parse_reason(_signature_input(), SOME_SIGNATURE.replace("AA=", "AB=")) == "signature_not_canonical"
    )


# --- members and labels --------------------------------------------------------------------------


def test_two_signature_input_members_are_refused() -> None:
    signature_input = f"{_signature_input()}, {_signature_input(label='other')}"

    assert _parse_reason(signature_input) == "signature_input_members"


def test_two_signature_members_are_refused() -> None:
    signature = f"{SOME_SIGNATURE}, other=:{base64.b64encode(bytes(32)).decode()}:"

    assert _parse_reason(_signature_input(), signature) == "signature_members"


def test_the_same_label_twice_in_signature_input_is_refused() -> None:
    signature_input = f"{_signature_input()}, {_signature_input()}"

    assert _parse_reason(signature_input) == "signature_input_not_canonical"


def test_the_same_label_twice_in_signature_is_refused() -> None:
    assert (
        _parse_reason(_signature_input(), f"{SOME_SIGNATURE}, {SOME_SIGNATURE}") == "signature_not_canonical"
    )


def test_different_labels_in_the_two_headers_are_refused() -> None:
    assert _parse_reason(_signature_input(label="one"), SOME_SIGNATURE) == "label_mismatch"


def test_a_signature_input_member_that_is_not_an_inner_list_is_refused() -> None:
    assert _parse_reason('sig="@method"') == "bad_signature_input"


# --- covered components --------------------------------------------------------------------------


@pytest.mark.parametrize("missing", PROFILE_COMPONENTS)
def test_each_component_is_required(missing: str) -> None:
    components = [name for name in PROFILE_COMPONENTS if name != missing]

    assert _parse_reason(_signature_input(components)) == "missing_component"


@pytest.mark.parametrize("extra", ["date", "@target-uri", "@query-param", "content-length", "@method2"])
def test_a_component_outside_the_profile_is_refused(extra: str) -> None:
    assert _parse_reason(_signature_input([*PROFILE_COMPONENTS, extra])) == "unknown_component"


def test_a_duplicated_component_is_refused() -> None:
    assert _parse_reason(_signature_input([*PROFILE_COMPONENTS, "@path"])) == "duplicate_component"


@pytest.mark.parametrize(("name", "value"), [("req", True), ("sf", True), ("name", "a"), ("key", "x")])
def test_a_component_with_parameters_is_refused(name: str, value: object) -> None:
    with_parameter = Item("content-digest")
    with_parameter.params[name] = value
    components: list[str | Item] = [*PROFILE_COMPONENTS[:-1], with_parameter]

    assert _parse_reason(_signature_input(components)) == "component_parameters"


def test_a_component_written_as_a_token_instead_of_a_string_is_refused() -> None:
    signature_input = _signature_input().replace('"content-type"', "content-type")

    assert _parse_reason(signature_input) == "bad_component"


# --- parameters ----------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", list(VALID_PARAMS))
def test_each_parameter_is_required(missing: str) -> None:
    assert _parse_reason(_signature_input(params=_without(VALID_PARAMS, missing))) == "missing_param"


@pytest.mark.parametrize(("name", "value"), [("foo", 1), ("context", "x"), ("nonce2", NONCE)])
def test_an_unknown_parameter_is_refused(name: str, value: object) -> None:
    assert _parse_reason(_signature_input(params={**VALID_PARAMS, name: value})) == "unknown_param"


@pytest.mark.parametrize("name", list(VALID_PARAMS))
def test_a_duplicated_parameter_is_refused(name: str) -> None:
    # Given a parameter written twice (http_sfv alone would silently keep the last one)
    signature_input = _signature_input()
    first = signature_input.index(f";{name}=")
    end = signature_input.find(";", first + 1)
    duplicate = signature_input[first : end if end != -1 else None]

    # Then the field is refused
    assert _parse_reason(signature_input + duplicate) == "signature_input_not_canonical"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("created", str(NOW)),
        ("created", True),
        ("created", -1),
        ("expires", "tomorrow"),
        ("nonce", 12345),
        ("keyid", 1),
        ("alg", True),
        ("tag", 1),
    ],
)
def test_a_parameter_of_the_wrong_type_is_refused(name: str, value: object) -> None:
    assert _parse_reason(_signature_input(params={**VALID_PARAMS, name: value})) == "param_type"


@pytest.mark.parametrize("name", ["nonce", "keyid", "alg", "tag"])
def test_a_string_parameter_written_as_a_token_is_refused(name: str) -> None:
    # A Token serialises without quotes; RFC 9421 defines these parameters as Strings.
    signature_input = _signature_input(params={**VALID_PARAMS, name: "abc"}).replace('"abc"', "abc")

    assert _parse_reason(signature_input) == "param_type"


def test_a_decimal_created_is_refused() -> None:
    signature_input = _signature_input().replace(f"created={NOW}", f"created={NOW}.5")

    assert _parse_reason(signature_input) == "param_type"


@pytest.mark.parametrize("alg", ["hmac-sha512", "ed25519", "rsa-pss-sha512", "HMAC-SHA256", "none", ""])
def test_an_algorithm_other_than_hmac_sha256_is_refused(alg: str) -> None:
    assert _parse_reason(_signature_input(params={**VALID_PARAMS, "alg": alg})) == "alg"


@pytest.mark.parametrize("tag", ["secure-ai-v2", "header-example", "", "SECURE-AI-V1"])
def test_a_tag_other_than_the_expected_profile_tag_is_refused(tag: str) -> None:
    assert _parse_reason(_signature_input(params={**VALID_PARAMS, "tag": tag})) == "tag"


@pytest.mark.parametrize(
    "nonce",
    [
        "A" * 22,
        "A" * 128,
        "abcdefghijklmnopqrstu_-",
        "abcdefghijklmnopqrstu+/",
        "abcdefghijklmnopqrstuv==",
    ],
    ids=["22-chars", "128-chars", "base64url", "base64", "padded"],
)
def test_nonces_of_the_base64_alphabets_from_22_to_128_characters_are_accepted(nonce: str) -> None:
    assert _parse(_signature_input(params={**VALID_PARAMS, "nonce": nonce})).nonce == nonce


@pytest.mark.parametrize(
    "nonce",
    [
        "A" * 21,
        "A" * 129,
        "",
        "abcdefghijklmnopqrstu!",
        "abcdefghijklmnopqrstu v",
        "abcdefghijklmnopqrstuv===",
        "=" * 24,
    ],
    ids=["21-chars", "129-chars", "empty", "punctuation", "space", "three-pads", "only-padding"],
)
def test_nonces_outside_the_rule_are_refused(nonce: str) -> None:
    assert _parse_reason(_signature_input(params={**VALID_PARAMS, "nonce": nonce})) == "nonce"


@pytest.mark.parametrize(
    ("key_id", "expected"),
    [
        ("demo-client.1", KeyId("demo-client", 1)),
        ("A_b-9.42", KeyId("A_b-9", 42)),
        ("x.999999", KeyId("x", 999_999)),  # the highest version the registry issues
        (f"{'c' * 64}.7", KeyId("c" * 64, 7)),
    ],
)
def test_a_key_id_splits_into_client_and_version(key_id: str, expected: KeyId) -> None:
    assert parse_key_id(key_id) == expected
    assert str(parse_key_id(key_id)) == key_id


@pytest.mark.parametrize(
    "key_id",
    [
        "demo-client",
        "demo-client.",
        ".1",
        "demo-client.0",
        "demo-client.01",
        "demo-client.v1",
        "demo-client.-1",
        "demo.client.1",
        "demo client.1",
        f"{'c' * 65}.1",
        "x.1000000",  # one past it: the SDK and the gateway refuse it alike
        "x.1234567890",
        "démo.1",
        "x.\u0661",
    ],
)
def test_key_ids_outside_the_grammar_are_refused(key_id: str) -> None:
    with pytest.raises(SignatureRejected) as caught:
        parse_key_id(key_id)
    assert caught.value.reason == "keyid"


def test_a_signature_input_with_a_bad_key_id_is_refused() -> None:
    assert _parse_reason(_signature_input(params={**VALID_PARAMS, "keyid": "demo-client"})) == "keyid"


# --- header hygiene ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature_input",
    ["", "sig=(", 'sig=("@method"', "=x", "sig=();created=", 'sig=("@method")x', "sig=(),"],
    ids=["empty", "open", "unterminated", "no-label", "empty-param", "trailing", "trailing-comma"],
)
def test_malformed_signature_input_is_refused(signature_input: str) -> None:
    assert _parse_reason(signature_input) == "bad_signature_input"


def test_extra_whitespace_inside_signature_input_is_refused() -> None:
    assert _parse_reason(_signature_input().replace('" "', '"  "', 1)) == "signature_input_not_canonical"


def test_surrounding_spaces_are_ignored_as_http_does() -> None:
    signature_input, signature = _sign()

    _verify(f"  {signature_input} ", f" {signature}  ")


@pytest.mark.parametrize(
    "damage",
    ["\r\n", "\n", "\t", "\x00", "\u00e9", "\u2028"],
    ids=["crlf", "lf", "tab", "nul", "non-ascii", "line-separator"],
)
def test_control_and_non_ascii_characters_in_either_header_are_refused(damage: str) -> None:
    signature_input, signature = _sign()

    assert _parse_reason(signature_input + damage, signature) == "header_characters"
    assert _parse_reason(signature_input, signature + damage) == "header_characters"


def test_a_10_kb_signature_input_is_refused_before_parsing() -> None:
    padded = _signature_input(params={**VALID_PARAMS, "nonce": "A" * 10_240})

    assert _parse_reason(padded) == "header_too_large"


def test_a_10_kb_signature_is_refused_before_parsing() -> None:
    assert _parse_reason(_signature_input(), f"sig=:{'A' * 10_240}:") == "header_too_large"


# --- the request side of the base ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (dataclasses.replace(REQUEST, query="stream=false&a=1"), "query_not_canonical"),
        (dataclasses.replace(REQUEST, query="a=x+y"), "query_not_canonical"),
        (dataclasses.replace(REQUEST, content_digest="md5=:1B2M2Y8AsgTpgAmY7PhCfg==:"), "digest_algorithm"),
        (dataclasses.replace(REQUEST, content_type="application/json\r\nx-evil: 1"), "component_value"),
        (dataclasses.replace(REQUEST, path="/prod/v1/caf\u00e9"), "component_value"),
        (
            dataclasses.replace(REQUEST, authority="ABC123.execute-api.eu-west-1.amazonaws.com"),
            "authority_not_normalised",
        ),
    ],
    ids=[
        "unsorted-query",
        "plus-in-query",
        "md5-digest",
        "crlf-content-type",
        "non-ascii-path",
        "upper-authority",
    ],
)
def test_a_request_breaking_a_profile_rule_is_refused_before_any_mac(
    request_: SignedRequest, reason: str
) -> None:
    signature_input, signature = _sign()

    assert _verify_reason(signature_input, signature, request_) == reason


# --- time window ---------------------------------------------------------------------------------


def _window(created: int, expires: int) -> ParsedSignature:
    return dataclasses.replace(_parse(*_sign()), created=created, expires=expires)


@pytest.mark.parametrize(
    ("created", "expires", "now"),
    [
        (NOW - 300, NOW - 300 + 300, NOW),
        (NOW + 60, NOW + 61, NOW),
        (NOW, NOW + 1, NOW),
        (NOW - 10, NOW, NOW),
    ],
    ids=["oldest-created", "furthest-future-created", "shortest-life", "expires-now"],
)
def test_signatures_at_the_edges_of_the_window_are_accepted(created: int, expires: int, now: int) -> None:
    check_window(_window(created, expires), now)


@pytest.mark.parametrize(
    ("created", "expires", "reason"),
    [
        (NOW - 301, NOW + 1, "window_created"),
        (NOW + 61, NOW + 120, "window_created"),
        (NOW - 200, NOW - 1, "window_expires"),
        (NOW, NOW + 301, "window_expires"),
        (NOW, NOW, "window_expires"),
        (NOW, NOW - 1, "window_expires"),
    ],
    ids=[
        "created-too-old",
        "created-in-future",
        "expired",
        "expires-too-far",
        "expires-equals-created",
        "inverted",
    ],
)
def test_signatures_outside_the_window_are_refused(created: int, expires: int, reason: str) -> None:
    with pytest.raises(SignatureRejected) as caught:
        check_window(_window(created, expires), NOW)
    assert caught.value.reason == reason


# --- secrecy -------------------------------------------------------------------------------------


def test_a_parsed_signature_does_not_show_its_signature_value() -> None:
    _, signature = _sign()
    parsed = _parse(*_sign())

    assert signature[5:-1] not in repr(parsed)
    assert repr(parsed.signature) not in repr(parsed)


def test_a_rejection_carries_only_its_reason() -> None:
    signature_input, signature = _sign(secret=bytes(32))

    with pytest.raises(SignatureRejected) as caught:
        _verify(signature_input, signature)

    assert str(caught.value) == "mac_mismatch"
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def test_a_parse_failure_does_not_chain_the_parser_message() -> None:
    with pytest.raises(SignatureRejected) as caught:
        _parse("sig=(", "sig=:AAAA")

    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


# --- signing arguments ---------------------------------------------------------------------------


def test_signing_with_a_secret_shorter_than_32_bytes_raises_value_error() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        _sign(secret=bytes(31))


def test_signing_with_a_key_id_outside_the_grammar_raises_value_error() -> None:
    with pytest.raises(ValueError, match="keyid"):
        _sign(key_id="demo-client")


def test_signing_with_a_short_nonce_raises_value_error() -> None:
    with pytest.raises(ValueError, match="nonce"):
        _sign(nonce="short")


@pytest.mark.parametrize("expires", [NOW + 301, NOW, NOW - 1])
def test_signing_with_a_lifetime_outside_the_window_raises_value_error(expires: int) -> None:
    with pytest.raises(ValueError, match="window_expires"):
        _sign(expires=expires)


def test_signing_a_request_with_a_non_canonical_query_raises_value_error() -> None:
    with pytest.raises(ValueError, match="query_not_canonical"):
        _sign(dataclasses.replace(REQUEST, query="b=1&a=2"))


def test_signing_with_a_label_that_is_not_a_structured_field_key_raises_value_error() -> None:
    with pytest.raises(ValueError, match="Key"):
        _sign(label="Sig")
