"""What each event of a streamed answer decrypts to (secure_ai_protocol.stream seals and opens them).

`chunk` events carry released text: `{"delta": "..."}`, never text the screen has not passed. The
one `final` event carries the last delta (possibly empty), the verdict of the whole answer, the
usage and the finish reason; a stream blocked mid-way ends with a final event whose verdict says
`block` and why (finding types, never the text), and whose `finish_reason` is `content_filter`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from secure_ai_protocol.wire.responses import TokenUsage
from secure_ai_protocol.wire.verdict import Verdict

MAX_DELTA_CHARS = 64 * 1024


class StreamDelta(BaseModel):
    """A `chunk` event: the next piece of released text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delta: Annotated[str, Field(max_length=MAX_DELTA_CHARS)]


class StreamFinal(StreamDelta):
    """The `final` event: the last piece, and what the whole answer was judged."""

    req_id: str
    verdict: Verdict
    usage: TokenUsage | None = None
    finish_reason: str | None = None
