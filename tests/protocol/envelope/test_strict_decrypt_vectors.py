"""The strict decrypt against published Encryption SDK vectors, with raw and static keyrings."""

from __future__ import annotations

import base64
import io
from typing import Any

import attr
import pytest
from aws_encryption_sdk.internal.formatting.deserialize import deserialize_header
from aws_encryption_sdk.internal.formatting.serialize import serialize_header

from secure_ai_protocol.envelope import encryption_sdk
from secure_ai_protocol.errors import DecryptionFailed
from tests.protocol.envelope.keyrings import RecordingKeyring, StaticDataKeyKeyring
from tests.protocol.envelope.vectors import load, manifest_keyring, zero_key_aes_keyring

KAT = load("esdk_commitment_kat_v2.json")["tests"]
LEGACY = load("esdk_legacy_noncommitting_negative.json")["tests"]
GENERATED = load("esdk_raw_generated_subset.json")["tests"]
MAX_PLAINTEXT = 1024 * 1024


def kat_id(vector: dict[str, Any]) -> str:
    return str(vector["comment"])


def edk_count(ciphertext: bytes) -> int:
    header, _ = deserialize_header(io.BytesIO(ciphertext))
    return len(header.encrypted_data_keys)


def kat_keyring(vector: dict[str, Any]) -> Any:
    if vector["keyring-type"] == "static":
        return zero_key_aes_keyring()
    return StaticDataKeyKeyring(base64.b64decode(vector["decrypted-dek"]))


def decrypt(ciphertext: bytes, keyring: Any, *, allow_signed: bool = True) -> encryption_sdk.Decrypted:
    return encryption_sdk.strict_decrypt(
        ciphertext,
        keyring,
        reproduced_context={},
        required_keys=(),
        allow_signed=allow_signed,
        max_plaintext_bytes=MAX_PLAINTEXT,
    )


def without_second_data_key(ciphertext: bytes) -> bytes:
    header, raw_header = deserialize_header(io.BytesIO(ciphertext))
    first = sorted(header.encrypted_data_keys, key=lambda edk: edk.encrypted_data_key)[0]
    return (
        bytes(serialize_header(attr.evolve(header, encrypted_data_keys={first})))
        + ciphertext[len(raw_header) :]
    )


@pytest.mark.parametrize(
    "vector",
    [v for v in KAT if v["status"] and edk_count(base64.b64decode(v["ciphertext"])) == 1],
    ids=kat_id,
)
def test_a_valid_commitment_kat_with_one_data_key_decrypts_to_its_known_answer(
    vector: dict[str, Any],
) -> None:
    decrypted = decrypt(base64.b64decode(vector["ciphertext"]), kat_keyring(vector))

    assert decrypted.plaintext == "".join(vector["plaintext-frames"]).encode()
    assert decrypted.header.stored_context == vector["encryption-context"]


@pytest.mark.parametrize("vector", [v for v in KAT if not v["status"]], ids=kat_id)
def test_a_commitment_kat_failure_is_refused(vector: dict[str, Any]) -> None:
    with pytest.raises(DecryptionFailed):
        decrypt(base64.b64decode(vector["ciphertext"]), kat_keyring(vector))


@pytest.mark.parametrize(
    "vector",
    [v for v in KAT if not v["status"] and edk_count(base64.b64decode(v["ciphertext"])) > 1],
    ids=kat_id,
)
def test_a_commitment_kat_failure_cut_to_one_data_key_still_fails_on_key_commitment(
    vector: dict[str, Any],
) -> None:
    # Given a known-bad commitment whose two EDKs would stop it at the EDK cap first
    ciphertext = without_second_data_key(base64.b64decode(vector["ciphertext"]))

    # When the cap no longer applies
    with pytest.raises(DecryptionFailed) as error:
        decrypt(ciphertext, kat_keyring(vector))

    # Then the commitment check (which runs before header authentication) is what refuses it
    assert "commitment" in str(error.value.__cause__).lower()


@pytest.mark.parametrize(
    "vector", [v for v in KAT if v["status"] and edk_count(base64.b64decode(v["ciphertext"])) > 1], ids=kat_id
)
def test_a_valid_commitment_kat_with_two_data_keys_is_refused_at_the_data_key_cap(
    vector: dict[str, Any],
) -> None:
    with pytest.raises(DecryptionFailed) as error:
        decrypt(base64.b64decode(vector["ciphertext"]), kat_keyring(vector))

    assert error.value.reason == "data_key_count"


@pytest.mark.parametrize("vector_id", sorted(LEGACY))
def test_a_legacy_non_committing_message_is_refused_before_any_key_is_unwrapped(vector_id: str) -> None:
    keyring = RecordingKeyring()

    with pytest.raises(DecryptionFailed) as error:
        decrypt(base64.b64decode(LEGACY[vector_id]["ciphertext_b64"]), keyring)

    assert type(error.value.__cause__).__name__ == "ActionNotAllowedError"
    assert keyring.decrypt_calls == 0


@pytest.mark.parametrize("vector_id", sorted(LEGACY))
def test_a_legacy_message_header_reads_as_format_1(vector_id: str) -> None:
    header = encryption_sdk.read_header(base64.b64decode(LEGACY[vector_id]["ciphertext_b64"]))

    assert header.version == 1


def generated(*, negative: bool, data_keys: int, committing: bool = True) -> list[str]:
    """Generated vector ids by outcome, EDK count and message format (format 2 = committing)."""
    return [
        vector_id
        for vector_id, vector in sorted(GENERATED.items())
        if ("expected_error" in vector) is negative
        and len(vector["master-keys"]) == data_keys
        and (base64.b64decode(vector["ciphertext_b64"])[0] == 2) is committing
    ]


@pytest.mark.parametrize("vector_id", generated(negative=False, data_keys=1))
def test_a_generated_committing_vector_with_one_data_key_decrypts(vector_id: str) -> None:
    vector = GENERATED[vector_id]

    decrypted = decrypt(
        base64.b64decode(vector["ciphertext_b64"]),
        manifest_keyring(vector["master-keys"][0]),
        allow_signed=vector["decryption-method"] != "streaming-unsigned-only",
    )

    assert decrypted.plaintext == base64.b64decode(vector["expected_plaintext_b64"])


@pytest.mark.parametrize("vector_id", generated(negative=False, data_keys=1, committing=False))
def test_a_generated_valid_but_non_committing_vector_is_refused(vector_id: str) -> None:
    vector = GENERATED[vector_id]

    with pytest.raises(DecryptionFailed) as error:
        decrypt(base64.b64decode(vector["ciphertext_b64"]), manifest_keyring(vector["master-keys"][0]))

    assert type(error.value.__cause__).__name__ == "ActionNotAllowedError"


@pytest.mark.parametrize("vector_id", generated(negative=False, data_keys=2))
def test_a_generated_vector_with_two_data_keys_is_refused(vector_id: str) -> None:
    vector = GENERATED[vector_id]

    with pytest.raises(DecryptionFailed) as error:
        decrypt(base64.b64decode(vector["ciphertext_b64"]), manifest_keyring(vector["master-keys"][0]))

    assert error.value.reason == "data_key_count"


@pytest.mark.parametrize(
    "vector_id",
    generated(negative=True, data_keys=1) + generated(negative=True, data_keys=1, committing=False),
)
def test_a_generated_tampered_vector_is_refused_as_decryption_failed(vector_id: str) -> None:
    vector = GENERATED[vector_id]

    with pytest.raises(DecryptionFailed):
        decrypt(
            base64.b64decode(vector["ciphertext_b64"]),
            manifest_keyring(vector["master-keys"][0]),
            allow_signed=vector["decryption-method"] != "streaming-unsigned-only",
        )
