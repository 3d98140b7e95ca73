"""Imports are a budget: the parsers load on the first render, not when the screen is imported."""

from __future__ import annotations

import json
import subprocess
import sys

PARSERS = ("markdown_it", "linkify_it", "selectolax", "tinycss2", "ada_url")


def loaded_after(code: str) -> list[str]:
    listed = f"[name for name in {PARSERS!r} if name in sys.modules]"
    probe = f"import json, sys\n{code}\nprint(json.dumps({listed}))\n"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)  # noqa: S603
    loaded: list[str] = json.loads(result.stdout)
    return loaded


def test_importing_the_screen_loads_no_parser() -> None:
    # Given a fresh interpreter that imports the screen and the exfiltration detector
    # Then none of the rendering libraries is loaded
    assert (
        loaded_after("import secure_ai_gateway.screening.screen, secure_ai_gateway.screening.exfiltration")
        == []
    )


def test_a_text_without_link_characters_loads_no_parser() -> None:
    code = "from secure_ai_gateway.screening.rendering.document import render\nrender('plain words 42')"
    assert loaded_after(code) == []


def test_a_render_loads_the_parsers_it_needs() -> None:
    code = (
        "from secure_ai_gateway.screening.rendering.document import render\nrender('![x](//e.example/p.png)')"
    )
    assert set(loaded_after(code)) >= {"markdown_it", "ada_url"}
