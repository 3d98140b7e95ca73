"""Every test the docs name exists: the README's security claims and the threat model point at tests
by `path::name`, and a renamed or deleted test must fail here rather than leave a claim unbacked.

A backticked `tests/…` or `clients/…` path must exist; a `path::name` must name a function defined
in that file; a bare `::name` refers to the last path named before it on the same line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[1]
DOCUMENTS: Final = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
TOKEN: Final = re.compile(r"`((?:tests|clients)/[^`\s]*|::\w+)`")


def references() -> list[tuple[str, int, str, str | None]]:
    """(document, line number, path, test name or None) for every test reference."""
    found = []
    for document in DOCUMENTS:
        for number, line in enumerate(document.read_text(encoding="utf-8").splitlines(), start=1):
            last: str | None = None
            for token in TOKEN.findall(line):
                if token.startswith("::"):
                    if last is not None:
                        found.append((document.name, number, last, token[2:]))
                    continue
                path, _, name = token.partition("::")
                last = path
                found.append((document.name, number, path, name or None))
    return found


REFERENCES: Final = references()


def test_the_docs_name_tests() -> None:
    assert len(REFERENCES) > 100


@pytest.mark.parametrize(
    ("document", "line", "path", "name"), REFERENCES, ids=[f"{d}:{n}" for d, n, _, _ in REFERENCES]
)
def test_a_named_test_exists(document: str, line: int, path: str, name: str | None) -> None:
    target = ROOT / path
    assert target.exists(), f"{document}:{line} names {path}, which does not exist"
    if name is not None:
        source = target.read_text(encoding="utf-8")
        assert re.search(rf"^\s*(?:async )?def {re.escape(name)}\b", source, re.MULTILINE), (
            f"{document}:{line} names {path}::{name}, which is not defined there"
        )
