"""CI runs the README's test command, and Dependabot keeps every locked dependency set current."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from secure_ai_local.stack_template import REPOSITORY_ROOT

WORKFLOW = REPOSITORY_ROOT / ".github" / "workflows" / "ci.yml"
DEPENDABOT = REPOSITORY_ROOT / ".github" / "dependabot.yml"
# `uses: owner/action@<40 hex> # vX.Y.Z`: a tag can be moved to other code, a commit cannot.
PINNED_ACTION = re.compile(r"^\s*-?\s*uses:\s*[\w.-]+/[\w.-]+@[0-9a-f]{40}\s+#\s*v\d+(\.\d+)*\s*$")


def load(path: Path) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text())
    return document


def test_the_workflow_runs_the_ci_entry_point_on_pushes_and_pull_requests() -> None:
    workflow = load(WORKFLOW)
    # PyYAML reads the bare key `on` as True (YAML 1.1).
    triggers: dict[str, Any] = workflow.get("on", workflow.get(True)) or {}
    assert {"push", "pull_request"} <= set(triggers)
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-24.04"
    assert 0 < job["timeout-minutes"] <= 120
    assert [step["run"] for step in job["steps"] if "run" in step] == [".ci/run"]
    (setup,) = [step for step in job["steps"] if step.get("uses", "").startswith("actions/setup-python@")]
    assert setup["with"]["python-version"] == "3.13"
    assert "make test" in (REPOSITORY_ROOT / ".ci" / "run").read_text()


def test_the_workflow_may_only_read_the_repository() -> None:
    workflow = load(WORKFLOW)
    assert workflow["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in workflow["jobs"].values())


def test_every_action_is_pinned_by_commit_with_its_version_in_a_comment() -> None:
    uses = [line for line in WORKFLOW.read_text().splitlines() if re.match(r"^\s*-?\s*uses:", line)]
    assert uses
    for line in uses:
        assert PINNED_ACTION.match(line), line


def test_dependabot_updates_the_uv_lock_the_tool_locks_and_the_actions_weekly_and_grouped() -> None:
    updates = {(u["package-ecosystem"], u["directory"]): u for u in load(DEPENDABOT)["updates"]}
    assert set(updates) == {("uv", "/"), ("pip", "/tools"), ("github-actions", "/")}
    for update in updates.values():
        assert update["schedule"]["interval"] == "weekly"
        assert update["groups"], update["package-ecosystem"]
    assert (REPOSITORY_ROOT / "uv.lock").is_file()
    assert sorted((REPOSITORY_ROOT / "tools").glob("*-requirements.txt"))
