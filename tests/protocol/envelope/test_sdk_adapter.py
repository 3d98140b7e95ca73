"""The SDK adapter's own rules: caps, header parsing, required context, configuration errors."""

from __future__ import annotations

import os
from typing import Any

import pytest
from aws_cryptographic_material_providers.mpl.models import CreateMultiKeyringInput
from aws_encryption_sdk import EncryptionSDKClient
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy

from secure_ai_gateway.api.statuses import status_for
from secure_ai_protocol.envelope import encryption_sdk, rules
from secure_ai_protocol.errors import ConfigurationError, DecryptionFailed, PayloadTooLarge
from tests.protocol.envelope.keyrings import RecordingKeyring
from tests.protocol.envelope.vectors import material_providers

KEY = os.urandom(32)


def keyring(key: bytes = KEY) -> Any:
    return encryption_sdk.raw_aes_keyring(namespace="tests", name="key", key=key)


def sealed(plaintext: bytes, *, frame_length: int = 4096, sealing_keyring: Any = None) -> bytes:
    # A client without our EDK cap, so tests can build what the strict side must refuse.
    client = EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    ciphertext, _ = client.encrypt(
        source=plaintext,
        keyring=sealing_keyring or keyring(),
        encryption_context={"k": "v"},
        algorithm=Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
        frame_length=frame_length,
    )
    return bytes(ciphertext)


def strict(
    ciphertext: bytes, *, max_plaintext_bytes: int = 4096, **overrides: Any
) -> encryption_sdk.Decrypted:
    arguments: dict[str, Any] = {
        "reproduced_context": {},
        "required_keys": (),
        "allow_signed": False,
        "max_plaintext_bytes": max_plaintext_bytes,
    }
    arguments.update(overrides)
    return encryption_sdk.strict_decrypt(ciphertext, keyring(), **arguments)


def test_a_message_within_the_plaintext_cap_decrypts() -> None:
    assert strict(sealed(bytes(1024), frame_length=1024), max_plaintext_bytes=1024).plaintext == bytes(1024)


def test_a_frame_longer_than_the_plaintext_cap_is_refused_before_unwrapping() -> None:
    keyring_calls = RecordingKeyring()

    with pytest.raises(DecryptionFailed) as error:
        encryption_sdk.strict_decrypt(
            sealed(b"small", frame_length=4096),
            keyring_calls,
            reproduced_context={},
            required_keys=(),
            allow_signed=False,
            max_plaintext_bytes=1024,
        )

    assert error.value.reason == "plaintext_too_large"
    assert keyring_calls.decrypt_calls == 0


def test_the_plaintext_cap_is_a_generic_decryption_failure_not_a_413() -> None:
    # Only the ciphertext size, measured before any work, answers 413; whatever opening the
    # envelope reveals (here: a frame length in the header) is the one generic 400.
    with pytest.raises(DecryptionFailed) as error:
        strict(sealed(b"small", frame_length=4096), max_plaintext_bytes=1024)

    assert not isinstance(error.value, PayloadTooLarge)
    assert status_for(error.value) == 400


def test_small_frames_adding_up_past_the_plaintext_cap_are_refused() -> None:
    with pytest.raises(DecryptionFailed) as error:
        strict(sealed(bytes(2000), frame_length=512), max_plaintext_bytes=1024)

    assert error.value.reason == "plaintext_too_large"


def test_a_non_framed_body_longer_than_the_plaintext_cap_is_refused() -> None:
    with pytest.raises(DecryptionFailed, match="plaintext_too_large"):
        strict(sealed(bytes(2000), frame_length=0), max_plaintext_bytes=1024)


def test_a_signed_message_is_refused_when_only_unsigned_are_allowed() -> None:
    signed = encryption_sdk.encrypt(
        b"x", keyring(), context={"k": "v"}, required_keys=(), suite=rules.SIGNING_COMMITTING_SUITE
    )

    with pytest.raises(DecryptionFailed) as error:
        strict(signed, allow_signed=False)

    assert type(error.value.__cause__).__name__ == "ActionNotAllowedError"


def test_a_signed_message_decrypts_when_signed_messages_are_allowed() -> None:
    signed = encryption_sdk.encrypt(
        b"x", keyring(), context={"k": "v"}, required_keys=(), suite=rules.SIGNING_COMMITTING_SUITE
    )

    assert strict(signed, allow_signed=True).plaintext == b"x"


def test_required_context_is_bound_but_not_stored() -> None:
    ciphertext = encryption_sdk.encrypt(
        b"x",
        keyring(),
        context={"client_id": "a", "route": "/r"},
        required_keys=("client_id",),
        suite=rules.COMMITTING_SUITE,
    )

    assert dict(encryption_sdk.read_header(ciphertext).stored_context) == {"route": "/r"}
    opened = strict(ciphertext, reproduced_context={"client_id": "a"}, required_keys=("client_id",))
    assert opened.plaintext == b"x"


@pytest.mark.parametrize("reproduced", [{"client_id": "b"}, {}])
def test_required_context_that_differs_or_is_missing_does_not_decrypt(reproduced: dict[str, str]) -> None:
    ciphertext = encryption_sdk.encrypt(
        b"x",
        keyring(),
        context={"client_id": "a"},
        required_keys=("client_id",),
        suite=rules.COMMITTING_SUITE,
    )

    with pytest.raises(DecryptionFailed) as error:
        strict(ciphertext, reproduced_context=reproduced, required_keys=("client_id",))

    assert error.value.reason == "decrypt_failed"


@pytest.mark.parametrize("junk", [b"", b"\x02", b"\x02\x05\x78" + bytes(40), os.urandom(200), b"{}"])
def test_bytes_that_are_not_a_message_header_are_malformed(junk: bytes) -> None:
    with pytest.raises(DecryptionFailed) as error:
        encryption_sdk.read_header(junk)

    assert error.value.reason == "malformed_envelope"


def test_a_header_with_two_data_keys_is_refused_while_parsing() -> None:
    two = material_providers().create_multi_keyring(
        input=CreateMultiKeyringInput(generator=keyring(), child_keyrings=[keyring(os.urandom(32))])
    )
    ciphertext = sealed(b"x", sealing_keyring=two)

    with pytest.raises(DecryptionFailed) as error:
        encryption_sdk.read_header(ciphertext)

    assert error.value.reason == "data_key_count"


def test_a_wrapping_key_of_the_wrong_length_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as error:
        encryption_sdk.raw_aes_keyring(namespace="tests", name="key", key=bytes(7))

    assert error.value.reason == "envelope_keyring_invalid"


def test_our_own_encrypt_never_writes_two_data_keys() -> None:
    two = material_providers().create_multi_keyring(
        input=CreateMultiKeyringInput(generator=keyring(), child_keyrings=[keyring(os.urandom(32))])
    )

    with pytest.raises(ConfigurationError):
        encryption_sdk.encrypt(b"x", two, context={}, required_keys=(), suite=rules.COMMITTING_SUITE)


def test_an_unknown_suite_name_is_a_configuration_error_on_encrypt() -> None:
    with pytest.raises(ConfigurationError) as error:
        encryption_sdk.encrypt(b"x", keyring(), context={}, required_keys=(), suite="AES_128_NOT_A_SUITE")

    assert error.value.reason == "envelope_encrypt_failed"


def test_a_decryption_failure_message_carries_only_its_reason_code() -> None:
    secret = b"the plaintext must never appear"
    ciphertext = encryption_sdk.encrypt(
        secret, keyring(), context={}, required_keys=(), suite=rules.COMMITTING_SUITE
    )

    with pytest.raises(DecryptionFailed) as error:
        encryption_sdk.strict_decrypt(
            ciphertext,
            keyring(os.urandom(32)),
            reproduced_context={},
            required_keys=(),
            allow_signed=False,
            max_plaintext_bytes=4096,
        )

    assert str(error.value) == "decrypt_failed"


def test_a_decrypted_message_does_not_show_its_plaintext_when_printed() -> None:
    decrypted = strict(sealed(b"secret words"))

    assert "secret words" not in repr(decrypted)
    assert "<12 bytes>" in repr(decrypted)
