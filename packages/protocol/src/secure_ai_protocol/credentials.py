"""The client credentials file: a key id and its secret, readable by its owner only.

Format (UTF-8 JSON, one object): `{"key_id": "<client_id>.<version>", "secret": "<base64>"}`,
the secret in standard base64 (RFC 4648 §4, padded). `secure-ai clients create|rotate
--secret-file PATH` writes it; clients load it with `read_credentials_file`.

The file is created with O_CREAT|O_EXCL and mode 0600: an existing file (or a symlink planted
at the path) is never overwritten or followed, and no other user can read it at any moment.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Self

from secure_ai_protocol.errors import SignatureRejected
from secure_ai_protocol.key_ids import parse_key_id

FILE_MODE: Final = 0o600
_SECRET_BYTES: Final = 32


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """What a client signs with: its key id and the 32-byte secret."""

    key_id: str
    secret: bytes = field(repr=False)

    def to_json(self) -> str:
        """The credentials file's content."""
        encoded = base64.b64encode(self.secret).decode("ascii")
        return json.dumps({"key_id": self.key_id, "secret": encoded}) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Parse a credentials file's content; raise ValueError (naming no value) if malformed."""
        try:
            document = json.loads(text)
            key_id, encoded = document["key_id"], document["secret"]
            parse_key_id(key_id)
            secret = base64.b64decode(encoded, validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error, SignatureRejected) as exc:
            raise ValueError("not a secure-ai credentials file") from exc
        # b64decode also takes bytes; parse_key_id only str (a non-str raises TypeError above).
        if not isinstance(encoded, str) or len(secret) != _SECRET_BYTES:
            raise ValueError("not a secure-ai credentials file")
        return cls(key_id=key_id, secret=secret)


class SecretFile:
    """A credentials file path reserved (created empty, mode 0600) before the secret exists."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self._descriptor: int | None = descriptor

    @classmethod
    def reserve(cls, path: Path) -> Self:
        """Create `path` exclusively with mode 0600; raise FileExistsError if anything is there."""
        flags = (
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        )
        descriptor = os.open(path, flags, FILE_MODE)
        try:
            # The umask can only remove bits; this makes it exactly owner read/write.
            os.fchmod(descriptor, FILE_MODE)
        except OSError:
            os.close(descriptor)
            path.unlink(missing_ok=True)
            raise
        return cls(path, descriptor)

    def write(self, credentials: ClientCredentials) -> None:
        """Write the credentials, flush them to disk and close the file."""
        descriptor = self._take()
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(credentials.to_json())
            handle.flush()
            os.fsync(handle.fileno())

    def abandon(self) -> None:
        """Close and delete the reserved file (nothing was issued)."""
        if self._descriptor is not None:
            os.close(self._take())
            self.path.unlink(missing_ok=True)

    def _take(self) -> int:
        if self._descriptor is None:
            raise RuntimeError("the secret file was already written or abandoned")
        descriptor, self._descriptor = self._descriptor, None
        return descriptor


def read_credentials_file(path: Path) -> ClientCredentials:
    """Load a credentials file; refuse one that group or others may read or write (like ssh)."""
    with path.open("r", encoding="utf-8") as handle:
        if stat.S_IMODE(os.fstat(handle.fileno()).st_mode) & 0o077:
            raise PermissionError(f"{path} is accessible by other users; chmod 600 it")
        return ClientCredentials.from_json(handle.read())
