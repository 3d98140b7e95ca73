"""The text a client sees after JSON-decoding an answer: `https:\\/\\/evil` becomes `https://evil`.

A client may json-decode a string and then render it. Each JSON string escape (`\\/`, `\\"`,
`\\\\`, `\\n`, `\\uXXXX`, a surrogate pair as one) is decoded by the json module, one escape
at a time on a quoted copy, and maps back to the whole escape; nothing else is touched, and a
malformed escape stays as written.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Final

from secure_ai_gateway.screening.matching import Pattern, ScanTarget
from secure_ai_gateway.screening.normalise import OffsetMap

_JSON_ESCAPE: Final = Pattern(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\(?:[\"\\/bfnrt]|u[0-9a-fA-F]{4})"
)


def json_unescaped(text: str) -> tuple[str, OffsetMap] | None:
    """`text` with its JSON string escapes decoded, and the map back; None if it has none."""
    if "\\" not in text:
        return None
    pieces: list[str] = []
    offsets = OffsetMap()
    written = copied = 0
    for match in _JSON_ESCAPE.finditer(ScanTarget(text)):
        start, end = match.span()
        if start > copied:
            pieces.append(text[copied:start])
            offsets.add(written, copied, start, identity=True)
            written += start - copied
        decoded = _decoded(text[start:end])
        pieces.append(decoded)
        offsets.add(written, start, end, identity=False)
        written += len(decoded)
        copied = end
    if not pieces:
        return None
    if copied < len(text):
        pieces.append(text[copied:])
        offsets.add(written, copied, len(text), identity=True)
    return "".join(pieces), offsets


@lru_cache(maxsize=1024)
def _decoded(escape: str) -> str:
    return str(json.loads(f'"{escape}"'))
