"""The key-id grammar, defined once: `<client_id>.<version>`, the RFC 9421 `keyid` parameter.

The signature profile, the client registry, the credentials file and the SDK all read and write key
ids through this module, so a key id the SDK accepts is one the gateway can look up. Explicit ASCII
classes (not \\d or \\w, which match other scripts' digits and letters) and no leading zeros: each
key id has exactly one spelling, and so one replay-store key. See docs/protocol.md.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from secure_ai_protocol.errors import SignatureRejected

MAX_KEY_VERSION: Final = 999_999
CLIENT_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{1,64}$"
# Device ids are client ids in a reserved namespace: `dev-` and 26 lower-case base32 letters (130
# random bits). No operator-created client may start with `dev-` (client_registry.admin refuses it).
DEVICE_ID_PREFIX: Final = "dev-"
DEVICE_ID_PATTERN: Final = r"^dev-[a-z2-7]{26}$"
_DEVICE_ID: Final = re.compile(DEVICE_ID_PATTERN.removeprefix("^").removesuffix("$"))
_KEY_ID: Final = re.compile(r"([A-Za-z0-9_-]{1,64})\.([1-9][0-9]{0,5})")
MAX_KEY_ID_LENGTH: Final = 64 + 1 + len(str(MAX_KEY_VERSION))


class KeyId(NamedTuple):
    """A parsed key id: which client, which of its key versions."""

    client_id: str
    version: int

    def __str__(self) -> str:
        return f"{self.client_id}.{self.version}"


def parse_key_id(key_id: str) -> KeyId:
    """Split `<client_id>.<version>`; raise SignatureRejected("keyid") unless it is canonical."""
    # The length test first: no regex work on attacker-sized input.
    match = _KEY_ID.fullmatch(key_id) if len(key_id) <= MAX_KEY_ID_LENGTH else None
    if match is None:
        raise SignatureRejected("keyid")
    return KeyId(match[1], int(match[2]))


def is_device_id(client_id: str) -> bool:
    """Whether `client_id` names an enrolled device rather than an operator-created client.

    The whole id must have a device id's shape, not just its prefix: a client created before
    devices existed may be called `dev-backend`, and must still resolve as the client it is.
    """
    return _DEVICE_ID.fullmatch(client_id) is not None


def format_key_id(client_id: str, version: int) -> str:
    """The key id clients sign with; the inverse of `parse_key_id`. ValueError if not canonical."""
    key_id = f"{client_id}.{version}"
    if isinstance(version, bool) or _KEY_ID.fullmatch(key_id) is None:
        raise ValueError("not a valid client id and key version")
    return key_id
