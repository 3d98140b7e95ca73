"""Typed results of the client SDK, parsed from what the gateway returns.

The verdict, the token usage and the public-key document are the protocol's own models
(secure_ai_protocol.wire), under the names the SDK has always given them; `ChatResult` is the
SDK's view of a chat answer. All ignore fields a newer gateway may add, and are strict about the
ones a caller relies on. Nothing here holds a key: the response key and the signing secret never
reach a result.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from secure_ai_protocol.wire.responses import PublicKeyDocument, TokenUsage
from secure_ai_protocol.wire.verdict import Decision, Finding, Verdict

# The protocol's models under the SDK's public names.
VerdictResult = Verdict
Usage = TokenUsage
PublicKeyInfo = PublicKeyDocument
__all__ = ["ChatResult", "Decision", "Finding", "PublicKeyInfo", "Usage", "VerdictResult"]


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ChatResult(_Result):
    """One decrypted, verified chat completion.

    `text` is the released answer: redacted when the verdict is `redact`, None when it is `block`
    (nothing of a blocked answer leaves the gateway). `completion` is the OpenAI-format document.
    """

    req_id: str
    text: str | None
    finish_reason: str | None
    completion: dict[str, Any]
    verdict: VerdictResult
    usage: Usage

    @property
    def blocked(self) -> bool:
        """True when screening withheld the answer."""
        return self.verdict.decision == "block"
