"""Screening-specific errors, under the one exception root (secure_ai_protocol.errors)."""

from __future__ import annotations

from secure_ai_protocol.errors import (
    BadRequest,
    ConfigurationError,
    ProtocolError,
    UpstreamFailed,
    UpstreamTimeout,
)


class ModerationUnavailable(UpstreamFailed):
    """The moderation provider failed or answered something that is not a score per category."""


class ModerationTimeout(UpstreamTimeout):
    """The moderation provider did not answer within its timeout."""


class UnsafeSchema(BadRequest):
    """A JSON schema is too large or deep, refers outside itself, or uses an unsupported keyword."""


class WeakCanary(ConfigurationError):
    """A canary too short to be found reliably (and by chance) was supplied."""


class ValidationBudgetExceeded(UnsafeSchema):
    """Validating against the schema took more steps than allowed (an expensive schema)."""


class RenderBudgetExceeded(ProtocolError):
    """A text could not be rendered within its time budget or nesting limit: nothing about
    its links can be vouched for, so it is not released."""


class StreamEnded(ProtocolError):
    """A screened stream was fed or finished after it ended (finished, or blocked mid-stream)."""
