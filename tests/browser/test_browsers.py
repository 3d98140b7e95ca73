"""The TypeScript client and the browser demo in headless Chromium (DevTools protocol) and Firefox ESR
(WebDriver BiDi) from Debian's packages, against one local stack; and the package end to end in Node.

- the package's own unit and vector tests, bundled for the browser, pass in both browsers;
- the demo's flow in both: sign in to the stack's Cognito, enroll (the key stays non-extractable),
  an answer shown with its verdict and the proof that what left the page was ciphertext, a redacted
  and a blocked answer shown as such, and a device revoked with `secure-ai devices revoke` refused;
- the package in Node: enroll, chat, validate, renew, tampered body (401), revocation, device
  limit (409), the model's rate limit (429) for a buffered and a streamed call, a streamed answer
  equal to the buffered one, and a stream blocked mid-way.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.browser.conftest import BROWSERS, NodeRun

pytestmark = pytest.mark.e2e

DEMO_CHECKS = (
    "sign in and enroll with a non-extractable key",
    "chat: an answer with verdict allow and proof the body was ciphertext",
    "a redacted answer names what was redacted",
    "a blocked answer is shown as blocked",
    "after revocation the device is refused",
)


@pytest.mark.parametrize("browser", BROWSERS)
def test_the_package_tests_pass_in_the_browser(node_runs: Callable[[str], NodeRun], browser: str) -> None:
    run = node_runs("package")
    mine = [result for result in run.results if result["browser"] == browser]
    failed = [f"{result['name']}: {result.get('error')}" for result in mine if not result["ok"]]
    assert mine, f"no test ran in {browser}:\n{run.output}"
    assert not failed, "\n".join(failed)
    # As many as node runs (test/*.test.ts): none was lost in the browser build.
    assert len(mine) >= 51


@pytest.mark.parametrize("check", DEMO_CHECKS)
@pytest.mark.parametrize("browser", BROWSERS)
def test_the_demo_in_the_browser(node_runs: Callable[[str], NodeRun], browser: str, check: str) -> None:
    result = node_runs(f"demo:{browser}").check(browser, check)
    assert result["ok"], f"{browser}: {check}: {result.get('error')}"


def test_the_package_end_to_end_in_node(node_runs: Callable[[str], NodeRun]) -> None:
    run = node_runs("node")
    assert run.returncode == 0, run.output
    assert "# fail 0" in run.output
    assert "# pass 9" in run.output
