"""Client records, key ids and key validity: the pure rules the authorizer relies on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from secure_ai_gateway.client_registry.records import ClientRecord, usable_key
from secure_ai_protocol.errors import SignatureRejected, Unauthenticated
from secure_ai_protocol.key_ids import format_key_id, parse_key_id
from tests.gateway.client_registry.fakes import START, client_record, key_version

client_ids = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
versions = st.integers(min_value=1, max_value=999_999)


# ------------------------------------------------------------------------------------ key ids


@given(client_id=client_ids, version=versions)
def test_a_formatted_key_id_parses_back_to_its_client_and_version(client_id: str, version: int) -> None:
    # Given a client id and version / When formatted and parsed / Then both come back unchanged
    assert parse_key_id(format_key_id(client_id, version)) == (client_id, version)


@given(text=st.text(max_size=80))
def test_any_text_either_is_refused_or_is_the_one_canonical_spelling_of_its_key(text: str) -> None:
    # Given arbitrary text / When parsed
    outcome: tuple[str, int] | str
    try:
        outcome = parse_key_id(text)
    except SignatureRejected as exc:
        outcome = exc.reason
    # Then a refusal carries the fixed reason, and an accepted id is exactly what formatting its
    # parts gives (one spelling per key, hence one replay-store key)
    if isinstance(outcome, str):
        assert outcome == "keyid"
    else:
        assert format_key_id(*outcome) == text


@pytest.mark.parametrize(
    "key_id",
    [
        "",
        "acme",
        "acme.",
        ".1",
        "acme.0",
        "acme.01",
        "acme.1000000",
        "acme.-1",
        "acme.+1",
        "acme.1.2",
        "ac me.1",
        "acme.1\n",
        "acme.\u0661",  # ARABIC-INDIC DIGIT ONE: a digit, but not an ASCII one
        "\u00e9cole.1",
        "a" * 65 + ".1",
        "a" * 10_000 + ".1",
    ],
)
def test_a_malformed_key_id_is_rejected_as_a_signature_problem(key_id: str) -> None:
    # Given a key id that breaks the grammar / When parsed / Then it is refused with reason "keyid"
    with pytest.raises(SignatureRejected) as caught:
        parse_key_id(key_id)
    assert caught.value.reason == "keyid"


def test_the_largest_client_id_and_version_are_accepted() -> None:
    # Given a 64-character client id and a 6-digit version / When parsed / Then both are returned
    assert parse_key_id("a" * 64 + ".999999") == ("a" * 64, 999_999)


@pytest.mark.parametrize(("client_id", "version"), [("acme", 0), ("acme", 1_000_000), ("a.b", 1), ("", 1)])
def test_formatting_an_impossible_key_id_raises(client_id: str, version: int) -> None:
    # Given parts no key can have / When formatted / Then it raises instead of producing a bad id
    with pytest.raises(ValueError, match="not a valid"):
        format_key_id(client_id, version)


def test_formatting_refuses_a_boolean_version() -> None:
    # Given True (an int subclass) as a version / When formatted / Then it raises
    with pytest.raises(ValueError, match="not a valid"):
        format_key_id("acme", True)


# ------------------------------------------------------------------------------------ usable_key


def test_an_active_key_inside_its_window_is_usable() -> None:
    # Given an active client and key / When checked now / Then the key version is returned
    record = client_record()
    assert usable_key(record, 1, START) == record.key_versions[0]


def test_a_revoked_client_refuses_even_its_active_keys() -> None:
    # Given a revoked client with an active key / When checked / Then "client_revoked"
    with pytest.raises(Unauthenticated) as caught:
        usable_key(client_record(status="revoked"), 1, START)
    assert caught.value.reason == "client_revoked"


def test_a_version_the_client_does_not_have_is_unknown() -> None:
    # Given a client with version 1 only / When version 2 is checked / Then "unknown_key"
    with pytest.raises(Unauthenticated) as caught:
        usable_key(client_record(), 2, START)
    assert caught.value.reason == "unknown_key"


def test_a_revoked_key_is_refused() -> None:
    # Given a revoked key version / When checked inside its window / Then "revoked_key"
    record = client_record(keys=(key_version(1, status="revoked"),))
    with pytest.raises(Unauthenticated) as caught:
        usable_key(record, 1, START)
    assert caught.value.reason == "revoked_key"


def test_a_key_is_refused_before_its_not_before() -> None:
    # Given a key valid from START + 10 / When checked one second earlier / Then "key_not_yet_valid"
    record = client_record(keys=(key_version(1, not_before=int(START) + 10),))
    with pytest.raises(Unauthenticated) as caught:
        usable_key(record, 1, START + 9)
    assert caught.value.reason == "key_not_yet_valid"


def test_a_key_is_usable_from_the_second_of_its_not_before() -> None:
    # Given a key valid from START / When checked at START exactly / Then it is usable
    record = client_record(keys=(key_version(1, not_before=int(START)),))
    assert usable_key(record, 1, START).version == 1


def test_a_key_is_refused_from_the_second_of_its_not_after() -> None:
    # Given a key whose not_after is START (the window is half-open) / When checked at START
    record = client_record(keys=(key_version(1, not_after=int(START)),))
    # Then "key_expired"
    with pytest.raises(Unauthenticated) as caught:
        usable_key(record, 1, START)
    assert caught.value.reason == "key_expired"


def test_a_key_is_usable_just_before_its_not_after() -> None:
    # Given a key whose not_after is START / When checked half a second before / Then it is usable
    record = client_record(keys=(key_version(1, not_after=int(START)),))
    assert usable_key(record, 1, START - 0.5).version == 1


# ------------------------------------------------------------------------------------ records


def test_a_key_version_never_shows_its_sealed_secret_in_repr_or_dumps() -> None:
    # Given a key version with a recognisable sealed blob
    key = key_version(1, sealed_secret=b"SEALED-BLOB-MARKER")
    record = client_record(keys=(key,))
    # When it is printed or dumped / Then the blob appears nowhere
    for text in (repr(key), str(key), repr(record), key.model_dump_json(), record.model_dump_json()):
        assert "SEALED-BLOB-MARKER" not in text
    assert "sealed_secret" not in record.model_dump()["key_versions"][0]


def test_a_record_with_the_same_version_twice_is_invalid() -> None:
    # Given two key versions numbered 1 / When a record is built / Then validation fails
    with pytest.raises(ValidationError, match="duplicate key version"):
        client_record(keys=(key_version(1), key_version(1)))


def test_a_key_whose_window_ends_before_it_starts_is_invalid() -> None:
    # Given not_after < not_before / When a key version is built / Then validation fails
    with pytest.raises(ValidationError, match="not_after precedes not_before"):
        key_version(1, not_before=100, not_after=99)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_tokens", "1024"),  # strict: no string-to-int coercion from a tampered record
        ("max_tokens", 0),
        ("status", "suspended"),
        ("scopes", ("chat complete",)),
        ("allowed_models", ("",)),
        ("client_id", "acme.mobile"),
        ("policy_id", "../etc"),
    ],
)
def test_a_record_with_an_invalid_field_is_rejected(field: str, value: object) -> None:
    # Given a valid record's fields with one replaced / When validated / Then it is rejected
    fields = client_record().model_dump()
    fields["key_versions"] = ()
    fields[field] = value
    with pytest.raises(ValidationError):
        ClientRecord.model_validate(fields)


def test_the_latest_version_counts_revoked_versions_too() -> None:
    # Given versions 1 (active) and 3 (revoked) / When asked / Then 3: version numbers are never reused
    record = client_record(keys=(key_version(1), key_version(3, status="revoked")))
    assert record.latest_version == 3


def test_a_client_without_keys_has_latest_version_zero() -> None:
    # Given a record with no key versions / When asked / Then 0
    assert client_record(keys=()).latest_version == 0


def test_a_key_version_is_immutable() -> None:
    # Given a key version / When a field is assigned / Then it refuses
    key = key_version(1)
    with pytest.raises(ValidationError):
        key.status = "revoked"
