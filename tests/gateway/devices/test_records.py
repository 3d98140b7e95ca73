"""Device records, device ids, user refs and an app's enrollment settings: what each refuses."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from secure_ai_gateway.adapters.client_store import ClientStore, item_to_record, record_to_item
from secure_ai_gateway.client_registry.records import EnrollmentSettings
from secure_ai_gateway.device_registry.records import DeviceRecord, new_device_id
from secure_ai_gateway.device_registry.user_refs import user_account, user_ref, user_ref_key
from secure_ai_protocol.errors import DependencyUnavailable
from secure_ai_protocol.key_ids import DEVICE_ID_PATTERN, is_device_id, parse_key_id
from tests.gateway.devices.fakes import (
    APP_ID,
    NOW,
    REF_KEY,
    SUB,
    app_record,
    device_key,
    device_record,
    enrollment_settings,
)
from tests.integration.clients.aws_doubles import stub_dynamodb

# ------------------------------------------------------------------------------- device records


def test_a_device_with_two_keys_of_one_version_is_refused() -> None:
    with pytest.raises(ValidationError, match="duplicate key version"):
        device_record(keys=(device_key(1), device_key(1, not_after=NOW + 10)))


def test_a_device_key_without_an_end_is_refused() -> None:
    # A device key that never expires would make the device (and its slot) immortal.
    with pytest.raises(ValidationError, match="always expires"):
        device_record(keys=(device_key(1), device_key(2, not_after=None)))


def test_a_device_without_keys_is_refused() -> None:
    with pytest.raises(ValidationError):
        device_record(keys=())


@pytest.mark.parametrize(
    "change",
    [
        {"device_id": "acme-app"},
        {"device_id": "dev-" + "A" * 26},
        {"device_id": "dev-" + "a" * 25},
        {"device_id": "dev-" + "1" * 26},
        {"user_sub": ""},
        {"user_sub": "x" * 256},
        {"user_ref": "0" * 31},
        {"user_ref": "G" * 32},
        {"status": "suspended"},
        {"created_at": -1},
        {"unexpected": "field"},
    ],
)
def test_a_device_record_with_a_malformed_field_is_refused(change: dict[str, Any]) -> None:
    values = device_record().model_dump() | {"key_versions": (device_key(1),)} | change
    with pytest.raises(ValidationError):
        DeviceRecord.model_validate(values)


def test_a_device_expires_when_its_newest_key_does_even_if_an_older_one_ends_later() -> None:
    # Given version 1 ending later than version 2 (a version number, not an end, says which is newest)
    device = device_record(keys=(device_key(1, not_after=NOW + 900), device_key(2, not_after=NOW + 600)))
    # Then the device's end is version 2's
    assert device.latest.version == 2
    assert device.expires_at == NOW + 600


def test_the_newest_key_is_chosen_by_number_not_by_position() -> None:
    device = device_record(keys=(device_key(10, not_after=NOW + 50), device_key(9, not_after=NOW + 40)))
    assert (device.latest.version, device.expires_at) == (10, NOW + 50)


@pytest.mark.parametrize(
    ("now", "counts"),
    [(NOW + 3599, True), (NOW + 3599.999, True), (NOW + 3600, False), (NOW + 3601, False)],
)
def test_a_device_holds_a_slot_until_exactly_its_expiry(now: float, counts: bool) -> None:
    # Given a device whose newest key ends at NOW + 3600 (half-open: gone at that second)
    device = device_record()
    assert device.expires_at == NOW + 3600
    assert device.counts_against_limit(now) is counts


def test_a_revoked_device_holds_no_slot() -> None:
    assert device_record(status="revoked").counts_against_limit(NOW) is False


def test_the_sub_is_kept_out_of_the_device_repr() -> None:
    assert SUB not in repr(device_record())


def test_key_version_finds_only_the_versions_the_device_has() -> None:
    device = device_record(keys=(device_key(1), device_key(3)))
    assert device.key_version(3) is not None
    assert device.key_version(2) is None


# ------------------------------------------------------------------------------------ device ids


def test_a_new_device_id_is_in_the_device_namespace() -> None:
    device_id = new_device_id()
    assert re.fullmatch(DEVICE_ID_PATTERN, device_id)
    assert is_device_id(device_id)
    # And it makes a key id the signature profile accepts
    assert parse_key_id(f"{device_id}.1") == (device_id, 1)


def test_a_thousand_new_device_ids_are_all_different_and_all_well_formed() -> None:
    ids = {new_device_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(DEVICE_ID_PATTERN, device_id) for device_id in ids)


def test_device_ids_use_every_base32_letter_position() -> None:
    # 130 random bits: over 1000 ids, every one of the 26 positions takes many values
    ids = [new_device_id()[4:] for _ in range(1000)]
    assert all(len({device_id[position] for device_id in ids}) > 16 for position in range(26))


# -------------------------------------------------------------------------------------- user refs


def test_a_user_ref_is_stable_and_32_lower_case_hex_digits() -> None:
    first = user_ref(REF_KEY, APP_ID, SUB)
    assert first == user_ref(REF_KEY, APP_ID, SUB)
    assert re.fullmatch(r"[0-9a-f]{32}", first)


def test_a_user_ref_differs_per_app_per_sub_and_per_key() -> None:
    refs = {
        user_ref(REF_KEY, APP_ID, SUB),
        user_ref(REF_KEY, "other-app", SUB),
        user_ref(REF_KEY, APP_ID, "user-0002"),
        user_ref(user_ref_key(b"another deployment"), APP_ID, SUB),
    }
    assert len(refs) == 4


def test_the_app_and_sub_cannot_be_shifted_across_their_boundary() -> None:
    # ("ab", "c") and ("a", "bc") would hash alike without the separator
    assert user_ref(REF_KEY, "ab", "c") != user_ref(REF_KEY, "a", "bc")
    # A sub may hold NUL; an app id cannot (ClientId), so the first NUL always ends the app id
    assert user_ref(REF_KEY, "a", "\x00b") != user_ref(REF_KEY, "a", "b")
    with pytest.raises(ValidationError):
        app_record("a\x00")


def test_a_user_ref_never_contains_the_sub() -> None:
    assert SUB not in user_ref(REF_KEY, APP_ID, SUB)
    assert SUB not in user_account(APP_ID, user_ref(REF_KEY, APP_ID, SUB))


def test_a_sub_with_a_lone_surrogate_still_has_a_ref() -> None:
    # A JSON token may carry "\ud800": a ref is still computed, never a UnicodeEncodeError
    assert re.fullmatch(r"[0-9a-f]{32}", user_ref(REF_KEY, APP_ID, "\ud800"))


def test_the_ref_key_is_derived_from_the_deployment_secret_never_equal_to_it() -> None:
    secret = b"deployment digest secret, 32 b!!"
    key = user_ref_key(secret)
    assert len(key) == 32
    assert key != secret
    assert key == user_ref_key(secret)
    assert key != user_ref_key(secret + b"!")
    # A ref under the raw secret (what a leaked verdict-digest key would give) does not match
    raw = hmac.new(secret, APP_ID.encode() + b"\x00" + SUB.encode(), hashlib.sha256).digest()[:16].hex()
    assert raw != user_ref(key, APP_ID, SUB)


def test_a_users_budget_account_names_the_app_and_the_ref() -> None:
    ref = user_ref(REF_KEY, APP_ID, SUB)
    assert user_account(APP_ID, ref) == f"user#{APP_ID}#{ref}"


# ---------------------------------------------------------------------------- enrollment settings


def test_default_settings_verify_rs256_and_allow_five_devices() -> None:
    settings = EnrollmentSettings(
        issuer="https://idp.example.com", audiences=("web",), user_token_budget=1, user_request_budget=1
    )
    assert (settings.algorithms, settings.max_devices, settings.allowed_origins) == (("RS256",), 5, ())
    assert settings.jwks_address == "https://idp.example.com/.well-known/jwks.json"


def test_the_jwks_address_is_the_explicit_uri_when_given() -> None:
    settings = enrollment_settings(issuer="https://idp.example.com/", jwks_uri="https://keys.example.com/k")
    assert settings.jwks_address == "https://keys.example.com/k"
    assert enrollment_settings(issuer="https://idp.example.com/").jwks_address == (
        "https://idp.example.com/.well-known/jwks.json"
    )


@pytest.mark.parametrize(
    "algorithms",
    [("none",), ("HS256",), ("RS256", "HS256"), ("HS512",), ("rs256",), ("RS256", "none"), ()],
)
def test_symmetric_unknown_or_no_algorithms_are_refused(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError):
        enrollment_settings(algorithms=algorithms)


@pytest.mark.parametrize(
    "issuer",
    [
        "http://idp.example.com",
        "http://localhost",
        "https://",
        "idp.example.com",
        "https://idp.example.com\n",
        "https://idp.example.com/ path",
        "HTTPS://idp.example.com",
    ],
)
def test_an_issuer_that_is_not_plain_https_is_refused(issuer: str) -> None:
    with pytest.raises(ValidationError):
        enrollment_settings(issuer=issuer)


@pytest.mark.parametrize(
    "jwks_uri",
    [
        "http://keys.example.com/jwks.json",
        "http://localhost.evil.example/jwks",
        "http://localhost@evil.example/jwks",
        "http://127.0.0.1.evil.example/",
        "http://[::1].evil.example/",
        "http://10.0.0.1/jwks",
        "ftp://keys.example.com/jwks",
        "https://keys.example.com/\njwks",
        "https://user@keys.example.com/jwks",
    ],
)
def test_a_jwks_uri_that_is_not_https_or_loopback_is_refused(jwks_uri: str) -> None:
    with pytest.raises(ValidationError):
        enrollment_settings(jwks_uri=jwks_uri)


@pytest.mark.parametrize(
    "jwks_uri",
    [
        "https://keys.example.com/jwks.json",
        "http://localhost:8080/jwks",
        "http://127.0.0.1:4566/jwks",
        "http://[::1]/jwks",
    ],
)
def test_an_https_or_loopback_jwks_uri_is_accepted(jwks_uri: str) -> None:
    assert enrollment_settings(jwks_uri=jwks_uri).jwks_address == jwks_uri


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.example.com/",
        "https://app.example.com/login",
        "https://*.example.com",
        "*",
        "null",
        "http://app.example.com",
        "https://APP.example.com",
        "https://app.example.com?x=1",
        "https://user@app.example.com",
        "",
    ],
)
def test_an_origin_with_a_path_wildcard_or_plain_http_is_refused(origin: str) -> None:
    with pytest.raises(ValidationError):
        enrollment_settings(allowed_origins=(origin,))


@pytest.mark.parametrize(
    "origin", ["https://app.example.com", "https://app.example.com:8443", "http://localhost:3000"]
)
def test_an_exact_origin_is_accepted(origin: str) -> None:
    assert enrollment_settings(allowed_origins=(origin,)).allowed_origins == (origin,)


@pytest.mark.parametrize(
    "change",
    [
        {"audiences": ()},
        {"audiences": ("",)},
        {"audiences": ("has space",)},
        {"audiences": tuple(f"a{i}" for i in range(17))},
        {"max_devices": 0},
        {"max_devices": 101},
        {"user_token_budget": 0},
        {"user_request_budget": 0},
        {"token_use": "refresh"},
        {"extra": "field"},
        {"max_devices": "3"},
    ],
)
def test_settings_without_an_audience_or_with_out_of_range_limits_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        enrollment_settings(**change)


# ---------------------------------------------------------------- settings in the clients table


def test_a_client_without_enrollment_round_trips_without_the_attribute() -> None:
    record = app_record(enrolls=False)
    item = record_to_item(record)
    assert "enrollment" not in item
    assert item_to_record(item) == record


def test_a_client_with_enrollment_round_trips_through_a_json_string() -> None:
    record = app_record(
        enrollment=enrollment_settings(
            algorithms=("ES256", "RS256"), token_use="id", jwks_uri="https://keys.example.com/k"
        )
    )
    item = record_to_item(record)
    assert set(item["enrollment"]) == {"S"}
    assert item_to_record(item) == record


@pytest.mark.parametrize(
    "attribute",
    [
        {"S": "{not json"},
        {"S": "{}"},
        {
            "S": '{"issuer": "https://idp.example.com", "audiences": [], '
            '"user_token_budget": 1, "user_request_budget": 1}'
        },
        {
            "S": '{"issuer": "https://idp.example.com", "audiences": ["a"], "algorithms": ["HS256"], '
            '"user_token_budget": 1, "user_request_budget": 1}'
        },
        {"S": "null"},
        {"NULL": True},
        {"M": {}},
    ],
)
def test_a_malformed_enrollment_attribute_fails_closed(attribute: dict[str, Any]) -> None:
    # Given a stored app whose enrollment attribute someone edited by hand
    item: dict[str, Any] = dict(record_to_item(app_record()))
    item["enrollment"] = attribute
    client = stub_dynamodb()
    store = ClientStore("clients", client)
    with Stubber(client) as stubber:
        stubber.add_response("get_item", {"Item": item})
        # When it is read / Then nobody is authenticated by it: DependencyUnavailable, not a default
        with pytest.raises(DependencyUnavailable) as refused:
            store.get(APP_ID)
    assert refused.value.reason == "client_record_malformed"
