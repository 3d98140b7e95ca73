"""SnapStart hooks: nothing built or secret survives into a snapshot or is shared after a restore.

Lambda's `snapshot_restore_py` exists only in its Python runtimes, so these tests put a stand-in in
`sys.modules` that records what is registered, and call the registered hooks as the runtime would.
"""

from __future__ import annotations

import random
import ssl
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

from secure_ai_gateway.adapters.aws_clients import kms_client, reset_clients
from secure_ai_gateway.snapstart import register_snapshot_hooks
from secure_ai_gateway.wiring import ExecutionEnvironment

Hook = Callable[[], None]


class RuntimeHooks(types.ModuleType):
    """A stand-in for Lambda's snapshot_restore_py: keeps what was registered."""

    def __init__(self) -> None:
        super().__init__("snapshot_restore_py")
        self.before: list[Hook] = []
        self.after: list[Hook] = []

    def register_before_snapshot(self, hook: Hook) -> Hook:
        self.before.append(hook)
        return hook

    def register_after_restore(self, hook: Hook) -> Hook:
        self.after.append(hook)
        return hook


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[RuntimeHooks]:
    hooks = RuntimeHooks()
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", hooks)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    yield hooks
    reset_clients()  # no client of this test's region outlives it


def built_environment() -> tuple[ExecutionEnvironment[object], list[object]]:
    builds: list[object] = []

    def build() -> object:
        builds.append(object())
        return builds[-1]

    environment = ExecutionEnvironment(build)
    environment.get()
    return environment, builds


def test_without_the_runtime_library_no_hook_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import raises ImportError
    environment, builds = built_environment()
    assert register_snapshot_hooks(environment) is False
    assert environment.get() is builds[0]


def test_one_hook_is_registered_before_the_snapshot_and_one_after_the_restore(runtime: RuntimeHooks) -> None:
    assert register_snapshot_hooks(built_environment()[0]) is True
    assert (len(runtime.before), len(runtime.after)) == (1, 1)


def test_after_a_restore_the_next_invocation_builds_its_dependencies_again(runtime: RuntimeHooks) -> None:
    environment, builds = built_environment()
    register_snapshot_hooks(environment)
    (after_restore,) = runtime.after
    after_restore()
    assert environment.get() is not builds[0]
    assert len(builds) == 2


def test_after_a_restore_boto3_clients_and_their_connections_are_new(runtime: RuntimeHooks) -> None:
    register_snapshot_hooks(built_environment()[0])
    before = kms_client()
    (after_restore,) = runtime.after
    after_restore()
    assert kms_client() is not before


def test_after_a_restore_no_cached_secret_or_secrets_client_is_reused(
    runtime: RuntimeHooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_snapshot_hooks(built_environment()[0])
    # What get_secret leaves behind: the provider, with its boto3 client and its cache of values.
    monkeypatch.setitem(DEFAULT_PROVIDERS, "secrets", object())
    (after_restore,) = runtime.after
    after_restore()
    assert "secrets" not in DEFAULT_PROVIDERS


def test_after_a_restore_random_is_reseeded_so_environments_do_not_jitter_in_lockstep(
    runtime: RuntimeHooks,
) -> None:
    register_snapshot_hooks(built_environment()[0])
    (after_restore,) = runtime.after
    random.seed(12)
    as_snapshotted = random.random()
    random.seed(12)
    after_restore()
    assert random.random() != as_snapshotted


def test_after_a_restore_the_ssl_modules_openssl_generator_gets_fresh_kernel_entropy(
    runtime: RuntimeHooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_snapshot_hooks(built_environment()[0])
    added: list[bytes] = []
    monkeypatch.setattr(ssl, "RAND_add", lambda data, entropy: added.append(data))
    (after_restore,) = runtime.after
    after_restore()
    after_restore()
    assert [len(data) for data in added] == [32, 32]
    assert added[0] != added[1]


def test_before_the_snapshot_nothing_built_or_secret_is_kept_and_the_warm_up_runs(
    runtime: RuntimeHooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment, builds = built_environment()
    monkeypatch.setitem(DEFAULT_PROVIDERS, "secrets", object())
    warmed: list[bool] = []
    register_snapshot_hooks(environment, warm_up=lambda: warmed.append(True))
    (before_snapshot,) = runtime.before
    before_snapshot()
    assert warmed == [True]
    assert "secrets" not in DEFAULT_PROVIDERS
    assert environment.get() is not builds[0]


HANDLER_UNDER_SNAPSTART = """
import sys, types
registered = {"before": [], "after": []}
runtime = types.ModuleType("snapshot_restore_py")
runtime.register_before_snapshot = registered["before"].append
runtime.register_after_restore = registered["after"].append
sys.modules["snapshot_restore_py"] = runtime
import HANDLER as handler
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
from secure_ai_gateway.adapters import aws_clients
assert handler.environment._built is None, "init built dependencies: they would be in the snapshot"
assert aws_clients._session.cache_info().currsize == 0, "init created a boto3 session"
assert not DEFAULT_PROVIDERS, "init read a secret"
assert "markdown_it" not in sys.modules
(before,), (after,) = registered["before"], registered["after"]
before()
assert "markdown_it" in sys.modules and "selectolax" in sys.modules, "the parsers were not warmed"
handler.environment.use(object())
after()
assert handler.environment._built is None, "a restored environment kept dependencies"
print("ok")
"""


@pytest.mark.parametrize("handler", ["gateway_completion.app", "gateway_validator.app"])
def test_each_snapstart_handler_registers_hooks_that_warm_the_parsers_and_forget_its_dependencies(
    handler: str, tmp_path: Path
) -> None:
    code = HANDLER_UNDER_SNAPSTART.replace("HANDLER", handler)
    done = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
