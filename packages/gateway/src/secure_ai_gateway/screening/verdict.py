"""What the screen adds to the verdict (secure_ai_protocol.wire.verdict): its bounds and digest.

The verdict's shape is the protocol's; here are the cap on findings reported, the reasons a
detector can be unavailable, and the keyed digest of the released text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final, Literal

UnavailableReason = Literal["error", "timeout", "not_configured"]
MAX_VERDICT_FINDINGS: Final = 200


def keyed_digest(key: bytes, data: bytes) -> str:
    """`hmac-sha256=:<base64>:` of `data` under `key`.

    Keyed, because a plain hash next to a redacted text lets anyone confirm a guess of what was
    redacted; without the deployment's key no one can compute one.
    """
    mac = hmac.new(key, data, hashlib.sha256).digest()
    return f"hmac-sha256=:{base64.b64encode(mac).decode()}:"
