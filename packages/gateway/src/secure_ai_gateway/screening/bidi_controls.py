"""The bidi detector: each run of embedding, override or isolate controls is a finding.

What the controls do to the order a reader sees is screening/bidi.py's; this module only reports
where they are, so that normalise.py (which builds the visual order) and the detector do not
import each other.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from secure_ai_gateway.screening.bidi import CONTROL_RUN
from secure_ai_gateway.screening.findings import Detection
from secure_ai_gateway.screening.normalise import NormalisedText

_NAMED_CONTROLS: Final = 8  # a finding's value names at most this many controls of its run


def detect_bidi_controls(view: NormalisedText) -> list[Detection]:
    """Each run of embedding, override or isolate controls, spanning them in the original text.

    Controls spelled as escapes (`&#x202E;`, `\\u202e`) count: a browser or a JSON reader
    applies them, so the span covers the escape.
    """
    decoded = view.decoded
    return [
        Detection(
            "bidi_control",
            "bidi",
            *decoded.original_span(*match.span()),
            1.0,
            _spelling(match.group()[: _NAMED_CONTROLS + 1]),
        )
        for match in CONTROL_RUN.finditer(decoded.text)
    ]


@lru_cache(maxsize=1024)
def _spelling(controls: str) -> str:
    """The first controls of a run by code point; `…` if there are more (given one more)."""
    # Named, not copied: a raw override in a verdict would reorder whatever displays it.
    named = " ".join(f"U+{ord(char):04X}" for char in controls[:_NAMED_CONTROLS])
    return named if len(controls) <= _NAMED_CONTROLS else f"{named} …"
