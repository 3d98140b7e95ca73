"""Properties of the profile verifier over generated inputs."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac

from http_sfv.dictionary import Dictionary
from http_sfv.item import InnerList
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secure_ai_protocol.errors import SignatureRejected
from secure_ai_protocol.signing.content_digest import compute_content_digest
from secure_ai_protocol.signing.profile import (
    PROFILE_COMPONENTS,
    PROFILE_PARAMETERS,
    PROFILE_TAG,
    SignedRequest,
    check_window,
    parse_signature_headers,
    sign_request,
    verify_signature,
)

SECRET = bytes(range(32))
NOW = 1_767_225_600
REQUEST = SignedRequest(
    method="POST",
    authority="abc123.execute-api.eu-west-1.amazonaws.com",
    path="/prod/v1/chat/completions",
    query="model=gpt-4o-mini&stream=false",
    content_type="application/json",
    content_digest=compute_content_digest(b'{"messages":[]}'),
)
PARAMS: dict[str, object] = {
    "created": NOW,
    "expires": NOW + 120,
    "nonce": "bm9uY2Utb2YtdGhlLXRlc3Q",
    "keyid": "demo-client.1",
    "alg": "hmac-sha256",
    "tag": PROFILE_TAG,
}
SIGNATURE_INPUT, SIGNATURE = sign_request(
    REQUEST,
    secret=SECRET,
    key_id="demo-client.1",
    tag=PROFILE_TAG,
    created=NOW,
    expires=NOW + 120,
    nonce="bm9uY2Utb2YtdGhlLXRlc3Q",
)
REQUEST_PARTS = ("method", "authority", "path", "query", "content_type", "content_digest")

# Generated inputs are judged on behaviour, never on speed.
PROPERTY = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])


def _verify(signature_input: str, signature: str, request: SignedRequest = REQUEST) -> None:
    parsed = parse_signature_headers(signature_input, signature, expected_tag=PROFILE_TAG)
    check_window(parsed, NOW)
    verify_signature(parsed, request, SECRET)


def _is_rejected(signature_input: str, signature: str, request: SignedRequest = REQUEST) -> bool:
    try:
        _verify(signature_input, signature, request)
    except SignatureRejected:
        return True
    return False


def _replace_char(text: str, index: int, replacement: str) -> str:
    return text[:index] + replacement + text[index + 1 :]


def test_the_unmodified_request_verifies() -> None:
    # The baseline every property below departs from.
    _verify(SIGNATURE_INPUT, SIGNATURE)


@PROPERTY
@given(signature_input=st.text(max_size=400), signature=st.text(max_size=200))
def test_arbitrary_text_in_both_headers_only_ever_raises_signature_rejected(
    signature_input: str, signature: str
) -> None:
    # Any other exception type would escape the authorizer as a 500 instead of a 401.
    assert _is_rejected(signature_input, signature)


_SF_ALPHABET = st.sampled_from(list('sig=()"@:;,. -*?%abcdefkmnpqrtyz0123456789+/AZ\\\t\r\n\u00e9'))


@PROPERTY
@given(
    signature_input=st.text(alphabet=_SF_ALPHABET, max_size=300),
    signature=st.text(alphabet=_SF_ALPHABET, max_size=80),
)
def test_structured_field_shaped_noise_only_ever_raises_signature_rejected(
    signature_input: str, signature: str
) -> None:
    assert _is_rejected(signature_input, signature)


@PROPERTY
@given(data=st.data())
def test_any_single_character_change_to_signature_input_is_refused(data: st.DataObject) -> None:
    # Given one character of Signature-Input (a component, a parameter name or value, the label) replaced
    index = data.draw(st.integers(0, len(SIGNATURE_INPUT) - 1))
    replacement = data.draw(st.characters().filter(lambda char: char != SIGNATURE_INPUT[index]))

    # Then the request is refused
    assert _is_rejected(_replace_char(SIGNATURE_INPUT, index, replacement), SIGNATURE)


@PROPERTY
@given(data=st.data())
def test_any_single_character_change_to_signature_is_refused(data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(SIGNATURE) - 1))
    replacement = data.draw(st.characters().filter(lambda char: char != SIGNATURE[index]))

    assert _is_rejected(SIGNATURE_INPUT, _replace_char(SIGNATURE, index, replacement))


@PROPERTY
@given(data=st.data(), part=st.sampled_from(REQUEST_PARTS))
def test_any_single_character_change_to_a_signed_request_part_is_refused(
    part: str, data: st.DataObject
) -> None:
    # Given one character of one covered request value replaced by any other character
    value: str = getattr(REQUEST, part)
    index = data.draw(st.integers(0, len(value) - 1))
    replacement = data.draw(st.characters().filter(lambda char: char != value[index]))
    changed = dataclasses.replace(REQUEST, **{part: _replace_char(value, index, replacement)})

    # Then the original signature does not cover it
    assert _is_rejected(SIGNATURE_INPUT, SIGNATURE, changed)


@PROPERTY
@given(
    data=st.data(),
    param=st.sampled_from(PROFILE_PARAMETERS),
)
def test_any_single_character_change_to_a_parameter_value_is_refused(param: str, data: st.DataObject) -> None:
    # Given one parameter value changed by one character, re-serialised so the field stays well-formed
    original = str(PARAMS[param])
    index = data.draw(st.integers(0, len(original) - 1))
    replacement = data.draw(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E).filter(lambda char: char != original[index])
    )
    changed_text = _replace_char(original, index, replacement)
    value: object = changed_text
    if isinstance(PARAMS[param], int):
        value = int(changed_text) if changed_text.isdigit() else changed_text
    member = InnerList(list(PROFILE_COMPONENTS))
    member.params.update({**PARAMS, param: value})
    inputs = Dictionary()
    inputs["sig"] = member

    # Then the signature made over the original parameters does not verify
    assert _is_rejected(str(inputs), SIGNATURE)


@PROPERTY
@given(components=st.permutations(PROFILE_COMPONENTS), params=st.permutations(PROFILE_PARAMETERS))
def test_every_order_of_components_and_parameters_verifies(components: list[str], params: list[str]) -> None:
    # Given a client that emits components and parameters in any order, signing the base it implies
    member = InnerList(list(components))
    member.params.update({name: PARAMS[name] for name in params})
    inputs = Dictionary()
    inputs["sig"] = member
    values = {
        "@method": REQUEST.method,
        "@authority": REQUEST.authority,
        "@path": REQUEST.path,
        "@query": f"?{REQUEST.query}",
        "content-type": REQUEST.content_type,
        "content-digest": REQUEST.content_digest,
    }
    base = "\n".join(
        [*(f'"{name}": {values[name]}' for name in components), f'"@signature-params": {member}']
    )
    signatures = Dictionary()
    signatures["sig"] = hmac.new(SECRET, base.encode("ascii"), hashlib.sha256).digest()

    # Then the gateway verifies it
    _verify(str(inputs), str(signatures))


@PROPERTY
@given(mac=st.binary(min_size=0, max_size=64))
def test_no_other_signature_value_verifies(mac: bytes) -> None:
    original = base64.b64decode(SIGNATURE[5:-1])
    signature = f"sig=:{base64.b64encode(mac).decode()}:"

    assert _is_rejected(SIGNATURE_INPUT, signature) == (mac != original)
