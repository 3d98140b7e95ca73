"""`accepts_envelope`: API Gateway's rule for a binary answer, the first Accept type, applied strictly."""

from __future__ import annotations

import pytest

from secure_ai_protocol.media_types import accepts_envelope, first_accepted


@pytest.mark.parametrize(
    "accept",
    [
        "application/vnd.secure-ai.envelope",
        "Application/Vnd.Secure-AI.Envelope",
        " application/vnd.secure-ai.envelope ; q=0.9",
        "application/vnd.secure-ai.envelope, application/json",
    ],
)
def test_the_envelope_type_first_is_accepted(accept: str) -> None:
    assert accepts_envelope(accept)


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "",
        "*/*",
        "application/*",
        "application/json",
        "application/json, application/vnd.secure-ai.envelope",
    ],
)
def test_anything_else_first_is_not(accept: str | None) -> None:
    assert not accepts_envelope(accept)


def test_the_first_media_range_is_read_without_parameters() -> None:
    assert first_accepted("Text/HTML;level=1, */*") == "text/html"
