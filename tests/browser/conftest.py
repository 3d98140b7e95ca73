"""One local stack with the browser demo server on a free port, and the node drivers that test it.

The drivers live in clients/typescript/e2e/ (puppeteer-core, a dev dependency of the package) and
drive Debian's chromium (DevTools protocol) and firefox-esr (WebDriver BiDi), headless. Nothing here
skips: without the browsers, node_modules or the package's build the tests fail and say what to run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest

from secure_ai_local.stack import LocalStack, LocalStackOptions
from secure_ai_local.stack_template import REPOSITORY_ROOT

TS_DIR: Final = REPOSITORY_ROOT / "clients" / "typescript"
BROWSERS: Final = {"chromium": Path("/usr/bin/chromium"), "firefox": Path("/usr/bin/firefox-esr")}
INSTALL_HINT: Final = "run `make browsers ts-install ts-build` from the repository root"
KEY_CACHE_SECONDS: Final = 1.0
# A whole driver run (one browser, every check) is bounded; a hung browser fails, never hangs CI.
NODE_TIMEOUT_SECONDS: Final = 240
BUILT: Final = (
    TS_DIR / "node_modules" / "puppeteer-core" / "package.json",
    TS_DIR / "node_modules" / "esbuild" / "package.json",
    TS_DIR / "dist" / "src" / "index.js",
    TS_DIR / "dist" / "browser" / "secure-ai-client.min.js",
)


def require_tools() -> str:
    """The node executable; fail (not skip) naming what is missing and the command that installs it."""
    node = shutil.which("node")
    missing = [str(path) for path in (*BROWSERS.values(), *BUILT) if not path.exists()]
    if node is None:
        missing.insert(0, "node (Node.js 20 or later)")
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: {INSTALL_HINT}", pytrace=False)
    assert node is not None
    return node


@dataclass(frozen=True)
class NodeRun:
    """A driver's exit status, its output, and the checks it reported (`RESULTS <json>`)."""

    returncode: int
    output: str
    results: list[dict[str, Any]]

    def check(self, browser: str, name: str) -> dict[str, Any]:
        """One check's result, failing the test with the driver's output if it was not reported."""
        for result in self.results:
            if result["browser"] == browser and result["name"] == name:
                return result
        pytest.fail(f"{browser}: no result for {name!r}; driver output:\n{self.output}", pytrace=False)


@dataclass(frozen=True)
class BrowserStack:
    """The stack, where its state file is, and how the drivers revoke a device."""

    stack: LocalStack
    workdir: Path

    @property
    def environment(self) -> dict[str, str]:
        """What every driver reads: the demo's URL, the revoke command and the key cache's time."""
        cli = Path(sys.executable).parent / "secure-ai"
        return {
            **os.environ,
            "SECURE_AI_DEMO_URL": self.stack.info.demo_url,
            # `secure-ai devices revoke --local`, run where .secure-ai/local.json is: the operator's
            # own command, against this stack's moto.
            "SECURE_AI_REVOKE": json.dumps([str(cli), "devices", "revoke", "--local"]),
            "SECURE_AI_REVOKE_CWD": str(self.workdir),
            "SECURE_AI_KEY_CACHE_SECONDS": str(KEY_CACHE_SECONDS),
        }

    def revoke_all(self) -> None:
        """Revoke every device of the demo app (the demo user may hold three)."""
        env = self.environment
        subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
            [*json.loads(env["SECURE_AI_REVOKE"]), "--app", self.stack.info.demo_app_id],
            cwd=self.workdir,
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )

    def run_node(self, *arguments: str) -> NodeRun:
        """Run node in clients/typescript with `arguments`; bounded by NODE_TIMEOUT_SECONDS."""
        node = require_tools()
        try:
            completed = subprocess.run(  # noqa: S603 - node with our own scripts
                [node, *arguments],
                cwd=TS_DIR,
                env=self.environment,
                capture_output=True,
                text=True,
                timeout=NODE_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as expired:
            pytest.fail(f"node {' '.join(arguments)} timed out after {expired.timeout} s", pytrace=False)
        output = completed.stdout + completed.stderr
        results: list[dict[str, Any]] = []
        for line in completed.stdout.splitlines():
            if line.startswith("RESULTS "):
                results = json.loads(line.removeprefix("RESULTS "))
        return NodeRun(completed.returncode, output, results)


@pytest.fixture(scope="package")
def browser_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserStack]:
    """The whole API and the demo server, both on free ports; CORS and the demo app allow the demo's
    origin. The authorizer caches keys for 1 s, so a revocation shows without a minute's wait."""
    require_tools()
    workdir = tmp_path_factory.mktemp("browser-stack")
    options = LocalStackOptions(
        port=0, demo_port=0, state_dir=workdir / ".secure-ai", key_cache_seconds=KEY_CACHE_SECONDS
    )
    with LocalStack(options) as stack:
        yield BrowserStack(stack, workdir)


@pytest.fixture(scope="package")
def node_runs(browser_stack: BrowserStack) -> Callable[[str], NodeRun]:
    """Each driver run once per package (`key` names it), its result shared by the tests reading it."""
    cache: dict[str, NodeRun] = {}
    commands = {
        "package": ("e2e/package-tests.mjs", *BROWSERS),
        **{f"demo:{name}": ("e2e/demo.mjs", "--demo-url", "", name) for name in BROWSERS},
        "node": ("--test", "e2e/node-client.e2e.mjs"),
    }

    def run(key: str) -> NodeRun:
        if key not in cache:
            arguments = tuple(
                browser_stack.stack.info.demo_url if argument == "" else argument
                for argument in commands[key]
            )
            if key.startswith("demo:"):
                browser_stack.revoke_all()
            cache[key] = browser_stack.run_node(*arguments)
        return cache[key]

    return run
