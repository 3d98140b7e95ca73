"""Secrets the caller pasted into a request, found before the model sees them.

A key pasted into a prompt would otherwise be sent to the model provider and may come back in the
answer. The same detector as the output screen (screening/secrets.py) reads the normalised
view, so a key split by invisible characters or written with look-alike letters is found too;
each is replaced by its typed placeholder (`[SECRET:aws_access_key]`).
"""

from __future__ import annotations

from typing import NamedTuple

from secure_ai_gateway.screening.findings import placeholder
from secure_ai_gateway.screening.normalise import normalise
from secure_ai_gateway.screening.redaction import redact
from secure_ai_gateway.screening.secrets import detect_secrets


class InputText(NamedTuple):
    """A caller's text with its secrets redacted, and how many there were."""

    text: str
    secrets: int


def redact_input_secrets(text: str) -> InputText:
    """`text` with every secret replaced by `[SECRET:<type>]`."""
    found = detect_secrets(normalise(text))
    if not found:
        return InputText(text, 0)
    return InputText(redact(text, ((hit.start, hit.end, placeholder(hit.type)) for hit in found)), len(found))
