"""The built layer's size and each handler's cold import, now and at an earlier commit, as ratios.

Run: .venv/bin/python bench/bench_handler_imports.py [REV] [--rounds N] [--no-layer]
     (about 2-3 min; `sam build` of the layer reads the package index or pip's cache)

REV (default: the last commit before the three-package workspace, `90cf3e6`) is checked out into
a temporary git worktree. Its layer and the work tree's are built with `sam build SharedLayer` for
this host's architecture, and their sizes compared: on disk (Lambda's 250 MB limit) and zipped
(what is uploaded). Then each child interpreter puts that tree's layer and function folder first
on sys.path, so
"then" and "now" import the same installed packages and differ only in our code. Children
alternate (then, now, then, now…) so both see the same noise; the figure is the best CPU time of
each. Besides the bare import, each handler is timed through its first screening of a 1 KB
markdown answer with a link, an image and an e-mail address, in the same fresh interpreter, so a
cost moved from import time to the first request is visible too.

Only the standard library is imported at module level: the children must start clean.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import subprocess  # nosec B404 - git on our own repository
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from cold_start import ROOT, Subject, best_cold_runs, layer_blocked_modules

DEFAULT_BASE = "90cf3e6"
HANDLERS = ("authorizer", "completion", "validator")
ANSWER = (
    "## Result\n\nSee [the docs](https://docs.example.org/guide) or write to alice@example.com.\n\n"
    "![chart](https://cdn.example.net/chart.png)\n\n" + "Plain prose follows here. " * 30
)


def first_screen(tree: Path) -> str:
    """The first screening of ANSWER, in the tree's own module names (renamed with the packages)."""
    package = "secure_ai" if (tree / "layers" / "shared" / "secure_ai").is_dir() else "secure_ai_gateway"
    return (
        f"from {package}.screening.policy import DEFAULT_POLICY\n"
        f"from {package}.screening.screen import screen_text\n"
        f"screen_text({ANSWER!r}, DEFAULT_POLICY)\n"
    )


class LayerSize(NamedTuple):
    files: int
    unzipped: int
    zipped: int


def built_layer(tree: Path, build_dir: Path) -> LayerSize:
    """`sam build SharedLayer` of `tree` for this host; the layer's file count and sizes."""
    sam = ROOT / ".tools" / "sam" / "bin" / "sam"
    python = subprocess.run(  # nosec B603 - our own script
        [str(ROOT / "tools" / "find-python313")], capture_output=True, text=True, check=True
    ).stdout.strip()
    architecture = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    environment = {**os.environ, "PATH": f"{Path(python).parent}:{os.environ.get('PATH', '')}"}
    options = ("--template-file", str(tree / "template.yaml"), "--build-dir", str(build_dir))
    overrides = ("--parameter-overrides", f"Architecture={architecture}")
    subprocess.run(  # nosec B603 - sam with fixed arguments on our own template
        [str(sam), "build", "SharedLayer", *options, *overrides],
        cwd=tree,
        env=environment,
        check=True,
        capture_output=True,
    )
    files = [path for path in (build_dir / "SharedLayer").rglob("*") if path.is_file()]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in files:
            zipped.write(path, path.relative_to(build_dir / "SharedLayer"))
    return LayerSize(len(files), sum(path.stat().st_size for path in files), archive.tell())


def print_layers(then: LayerSize, now: LayerSize) -> None:
    print("built layer (sam build SharedLayer, this host's architecture)")
    print(f"{'':12} {'then':>10} {'now':>10} {'now/then':>9}")
    for name, unit, scale in (("files", "", 1), ("unzipped", " MB", 1e6), ("zipped", " MB", 1e6)):
        before, after = getattr(then, name), getattr(now, name)
        print(f"{name + unit:12} {before / scale:10.1f} {after / scale:10.1f} {after / before:9.2f}")
    print()


def tree_setup(tree: Path, function: str) -> str:
    """Child setup: `tree`'s layer and function folder ahead of everything else on sys.path."""
    paths = [str(tree / "layers" / "shared"), str(tree / "functions" / function)]
    return f"import sys\nsys.path[:0] = {paths!r}\n"


def subjects(label: str, tree: Path) -> list[Subject]:
    """The import (and, where the handler screens, import + first screen) of every handler."""
    found = []
    for function in HANDLERS:
        setup = tree_setup(tree, function)
        found.append(Subject(f"{function}@{label}", f"import gateway_{function}.app", function, setup))
        if function != "authorizer":
            statements = f"import gateway_{function}.app\n{first_screen(tree)}"
            found.append(Subject(f"{function}+screen@{label}", statements, function, setup))
    return found


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", nargs="?", default=DEFAULT_BASE)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-layer", action="store_true", help="skip building and sizing the layers")
    options = parser.parse_args(argv)
    git = shutil.which("git")
    if git is None:
        raise SystemExit("git is needed to check out the earlier commit")
    with tempfile.TemporaryDirectory(prefix="bench-base-") as scratch:
        base_tree = Path(scratch) / "tree"
        subprocess.run(  # nosec B603 - git with fixed arguments on this repository
            [git, "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(base_tree), options.base],
            check=True,
        )
        try:
            if not options.no_layer:
                layers = Path(scratch) / "layers"
                print_layers(built_layer(base_tree, layers / "then"), built_layer(ROOT, layers / "now"))
            then, now = subjects("then", base_tree), subjects("now", ROOT)
            interleaved = [subject for pair in zip(then, now, strict=True) for subject in pair]
            runs = best_cold_runs(interleaved, options.rounds, layer_blocked_modules())
        finally:
            subprocess.run(  # nosec B603 - git with fixed arguments on this repository
                [git, "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)], check=False
            )
    print(f"cold import, best CPU of {options.rounds} alternating rounds")
    print(f"then = {options.base}, now = the work tree")
    print(f"{'subject':28} {'then ms':>9} {'now ms':>9} {'now/then':>9} {'modules then/now':>17}")
    for before, after in zip(then, now, strict=True):
        name = before.label.removesuffix("@then")
        first, second = runs[before.label], runs[after.label]
        print(
            f"{name:28} {first.cpu * 1000:9.0f} {second.cpu * 1000:9.0f} {second.cpu / first.cpu:9.2f}"
            f" {first.modules:>8}/{second.modules:<8}"
        )


if __name__ == "__main__":
    main()
