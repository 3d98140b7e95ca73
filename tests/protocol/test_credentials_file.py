"""The credentials file: created exclusively, owner-only, and read back strictly."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from secure_ai_protocol.credentials import ClientCredentials, SecretFile, read_credentials_file

SECRET = bytes(range(32))


def test_credentials_written_to_a_reserved_file_read_back_equal(tmp_path: Path) -> None:
    # Given a reserved file / When credentials are written and read
    path = tmp_path / "acme.json"
    SecretFile.reserve(path).write(ClientCredentials("acme.1", SECRET))
    # Then the same key id and secret come back
    assert read_credentials_file(path) == ClientCredentials("acme.1", SECRET)


def test_a_reserved_file_is_owner_only_even_with_a_permissive_umask(tmp_path: Path) -> None:
    # Given a umask that would allow everyone to read / When a file is reserved
    previous = os.umask(0)
    reserved = tmp_path / "acme.json"
    try:
        SecretFile.reserve(reserved).write(ClientCredentials("acme.1", SECRET))
    finally:
        os.umask(previous)
    # Then it is mode 0600
    assert stat.S_IMODE(reserved.stat().st_mode) == 0o600


def test_a_file_whose_mode_cannot_be_set_is_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a file system refusing chmod
    def refuse(descriptor: int, mode: int) -> None:
        raise PermissionError("chmod refused")

    monkeypatch.setattr(os, "fchmod", refuse)
    # When a file is reserved / Then it raises and leaves no file behind
    path = tmp_path / "acme.json"
    with pytest.raises(PermissionError):
        SecretFile.reserve(path)
    assert not path.exists()


def test_reserving_an_existing_path_raises(tmp_path: Path) -> None:
    # Given an existing file / When reserved / Then FileExistsError and the file is untouched
    path = tmp_path / "acme.json"
    path.write_text("keep me")
    with pytest.raises(FileExistsError):
        SecretFile.reserve(path)
    assert path.read_text() == "keep me"


def test_an_abandoned_reservation_leaves_nothing_behind(tmp_path: Path) -> None:
    # Given a reserved file / When abandoned (twice, harmlessly) / Then the path is gone
    path = tmp_path / "acme.json"
    reserved = SecretFile.reserve(path)
    reserved.abandon()
    reserved.abandon()
    assert not path.exists()


def test_a_written_file_cannot_be_written_again(tmp_path: Path) -> None:
    # Given a file already written / When written again / Then RuntimeError
    reserved = SecretFile.reserve(tmp_path / "acme.json")
    reserved.write(ClientCredentials("acme.1", SECRET))
    with pytest.raises(RuntimeError, match="already written"):
        reserved.write(ClientCredentials("acme.1", SECRET))


def test_a_file_others_can_read_is_refused(tmp_path: Path) -> None:
    # Given a valid credentials file made group-readable / When read / Then PermissionError
    path = tmp_path / "acme.json"
    SecretFile.reserve(path).write(ClientCredentials("acme.1", SECRET))
    path.chmod(0o640)
    with pytest.raises(PermissionError, match="chmod 600"):
        read_credentials_file(path)


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        json.dumps({"key_id": "acme.1"}),
        json.dumps({"key_id": "acme.01", "secret": base64.b64encode(SECRET).decode()}),
        json.dumps({"key_id": 1, "secret": base64.b64encode(SECRET).decode()}),
        json.dumps({"key_id": "acme.1", "secret": base64.b64encode(SECRET[:16]).decode()}),
        json.dumps({"key_id": "acme.1", "secret": "not base64!"}),
        json.dumps({"key_id": "acme.1", "secret": 12}),
    ],
)
def test_malformed_content_is_refused_without_echoing_it(content: str) -> None:
    # Given malformed credentials / When parsed / Then one generic ValueError naming no value
    with pytest.raises(ValueError, match="not a secure-ai credentials file") as caught:
        ClientCredentials.from_json(content)
    assert base64.b64encode(SECRET).decode() not in str(caught.value)


def test_credentials_never_show_the_secret_in_repr() -> None:
    # Given credentials / When printed / Then the secret is absent
    assert repr(SECRET) not in repr(ClientCredentials("acme.1", SECRET))
