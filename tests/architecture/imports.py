"""The first-party import graph of the three packages, read from their source with `ast`."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Final

REPOSITORY: Final = Path(__file__).resolve().parents[2]
PACKAGES: Final = {
    "secure_ai_protocol": REPOSITORY / "packages/protocol/src",
    "secure_ai_gateway": REPOSITORY / "packages/gateway/src",
    "secure_ai_client": REPOSITORY / "packages/client/src",
}


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement's target, and whether only the type checker runs it."""

    importer: str
    imported: str
    type_checking_only: bool


def modules() -> dict[str, Path]:
    """Every module of the three packages, by dotted name."""
    found: dict[str, Path] = {}
    for top, source in PACKAGES.items():
        for path in sorted((source / top).rglob("*.py")):
            parts = path.relative_to(source).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> list[Import]:
    """The imports in `path` of anything (first-party or not), resolved to module names where known."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for statement in block.body
        for node in ast.walk(statement)
    }
    found: list[Import] = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import module` imports the module; `from module import name` the module.
            targets = [
                f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known else node.module
                for alias in node.names
            ]
        found.extend(Import(name, target, id(node) in guarded) for target in targets)
    return found


def import_graph() -> list[Import]:
    """Every import statement of every module of the three packages."""
    found = modules()
    known = set(found)
    return [edge for name, path in found.items() for edge in imports_of(name, path, known)]
