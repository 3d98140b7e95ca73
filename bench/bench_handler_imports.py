"""Cold import of each handler, now and at an earlier commit, as ratios measured in one run.

Run: .venv/bin/python bench/bench_handler_imports.py [REV] [--rounds N]   (about 1-2 min; no network)

REV (default: the first parent of the issue's work, `9ce1e73`) is checked out into a temporary git
worktree; each child interpreter puts that tree's layer and function folder first on sys.path, so
"then" and "now" import the same installed packages and differ only in our code. Children
alternate (then, now, then, now…) so both see the same noise; the figure is the best CPU time of
each. Besides the bare import, each handler is timed through its first screening of a 1 KB
markdown answer with a link, an image and an e-mail address, in the same fresh interpreter, so a
cost moved from import time to the first request is visible too.

Only the standard library is imported at module level: the children must start clean.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess  # nosec B404 - git on our own repository
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cold_start import ROOT, Subject, best_cold_runs, layer_blocked_modules

DEFAULT_BASE = "9ce1e73"
HANDLERS = ("authorizer", "completion", "validator")
ANSWER = (
    "## Result\n\nSee [the docs](https://docs.example.org/guide) or write to alice@example.com.\n\n"
    "![chart](https://cdn.example.net/chart.png)\n\n" + "Plain prose follows here. " * 30
)
FIRST_SCREEN = (
    "from secure_ai_gateway.screening.policy import DEFAULT_POLICY\n"
    "from secure_ai_gateway.screening.screen import screen_text\n"
    f"screen_text({ANSWER!r}, DEFAULT_POLICY)\n"
)


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
            statements = f"import gateway_{function}.app\n{FIRST_SCREEN}"
            found.append(Subject(f"{function}+screen@{label}", statements, function, setup))
    return found


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", nargs="?", default=DEFAULT_BASE)
    parser.add_argument("--rounds", type=int, default=7)
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
