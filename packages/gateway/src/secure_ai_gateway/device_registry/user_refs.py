"""The keyed hash that stands for a user wherever a user must be told apart but not named.

`user_ref(key, app_id, sub)` is 128 bits of HMAC-SHA256 under a key derived (HKDF-SHA256, its own
`info` label) from the deployment's verdict-digest secret: stable for one user of one app, the same
`sub` at two apps gives two refs, and without the deployment's secret a ref cannot be matched to a
`sub` by guessing. Logs, metric dimensions, budgets and the authorizer context carry the ref; only
the device table keeps the `sub`, so operators can find a user's devices.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO: Final = b"secure-ai-gateway user-ref v1"
REF_BYTES: Final = 16


def user_ref_key(deployment_secret: bytes) -> bytes:
    """The HMAC key for user refs, derived from (never equal to) the deployment's digest secret."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(deployment_secret)


def user_ref(key: bytes, app_id: str, sub: str) -> str:
    """The ref of user `sub` of app `app_id`: 32 lower-case hex digits."""
    message = app_id.encode() + b"\x00" + sub.encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).digest()[:REF_BYTES].hex()


def user_account(app_id: str, user_ref: str) -> str:
    """The budget account (usage table) of one user of one app."""
    return f"user#{app_id}#{user_ref}"
