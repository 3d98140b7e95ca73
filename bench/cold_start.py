"""Cold-start measurement shared by the benchmarks: statements timed in a fresh interpreter.

Each child gets a Lambda-like environment (the function's template settings, fake credentials, no
config files) and can import only what the layer ships: distributions installed in .venv that
layers/shared/requirements.txt does not list are hidden, so dev tools cannot inflate the figures.
Only the standard library is imported at module level: the children must start clean.
"""

from __future__ import annotations

import json
import os
import re
import subprocess  # nosec B404 - runs this interpreter on our own benchmark statements
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
LAYER_REQUIREMENTS = ROOT / "layers" / "shared" / "requirements.txt"
REGION = "us-east-1"
ACCOUNT = "123456789012"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-4000-8000-000000000001"
RSA_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-4000-8000-000000000002"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:model-api-key-AbCdEf"
DIGEST_KEY_SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:verdict-digest-key-AbCdEf"
TAG = "secure-ai-v1"
DEFAULT_MODEL = "gpt-4o-mini"

# What Lambda sets for every function; fake credentials, no config files.
LAMBDA_ENVIRONMENT = {
    "LANG": "en_US.UTF-8",
    "TZ": ":UTC",
    "LAMBDA_TASK_ROOT": "/var/task",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",  # nosec B105 - a fake credential for a process that calls no AWS
    "AWS_SESSION_TOKEN": "bench",  # nosec B105 - a fake credential for a process that calls no AWS
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "POWERTOOLS_METRICS_NAMESPACE": "SecureAiGateway",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "CORS_ALLOW_ORIGIN": "",
}
_MODEL_SETTINGS = {
    "MODEL_BASE_URL": "https://api.openai.com/v1",
    "MODEL_API_KEY_SECRET_ARN": SECRET_ARN,
    "MODEL_TIMEOUT_SECONDS": "20",
    "MODEL_MAX_RETRIES": "1",
}
_COMPLETION_SETTINGS = {
    "CLIENTS_TABLE": "clients",
    "USAGE_TABLE": "usage",
    "POLICIES_TABLE": "policies",
    "REQUEST_KEY_ARN": KEY_ARN,
    "RSA_KEY_ARN": RSA_KEY_ARN,
    "DEFAULT_MODEL": DEFAULT_MODEL,
    "VERDICT_DIGEST_KEY_SECRET_ARN": DIGEST_KEY_SECRET_ARN,
    **_MODEL_SETTINGS,
}
# What template.yaml sets per function (tests/infrastructure/test_bench_environment.py keeps the
# names in step with the template's), keyed by the template's function name without `Function`.
FUNCTION_SETTINGS: dict[str, dict[str, str]] = {
    "authorizer": {
        "CLIENTS_TABLE": "clients",
        "DEVICES_TABLE": "devices",
        "NONCES_TABLE": "nonces",
        "SECRETS_KEY_ARN": KEY_ARN,
        "SIGNATURE_TAG": TAG,
        "KEY_CACHE_SECONDS": "60",
    },
    "completion": _COMPLETION_SETTINGS,
    # The Lambda Web Adapter's settings (AWS_LWA_*, the exec wrapper) concern the adapter, not the app.
    "streaming": {
        **_COMPLETION_SETTINGS,
        "AWS_LWA_PORT": "8080",
        "AWS_LWA_INVOKE_MODE": "response_stream",
        "AWS_LWA_READINESS_CHECK_PATH": "/healthz",
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap",
    },
    "devices": {
        "CLIENTS_TABLE": "clients",
        "DEVICES_TABLE": "devices",
        "NONCES_TABLE": "nonces",
        "SECRETS_KEY_ARN": KEY_ARN,
        "SIGNATURE_TAG": TAG,
        "VERDICT_DIGEST_KEY_SECRET_ARN": DIGEST_KEY_SECRET_ARN,
        "DEVICE_KEY_LIFETIME_SECONDS": "86400",
        "DEVICE_MAX_AGE_SECONDS": "2592000",
        "COGNITO_ISSUER": f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_Bench0001",
        "OIDC_ISSUERS": "",
        "JWKS_ALLOW_HTTP_LOOPBACK": "false",
    },
    "validator": {
        "VERDICTS_TABLE": "verdicts",
        "IDEMPOTENCY_TABLE": "idempotency",
        "POLICIES_TABLE": "policies",
        "EVENT_BUS_NAME": "bus",
        "REQUEST_KEY_ARN": KEY_ARN,
        "RSA_KEY_ARN": RSA_KEY_ARN,
        "VERDICT_DIGEST_KEY_SECRET_ARN": DIGEST_KEY_SECRET_ARN,
        **_MODEL_SETTINGS,
    },
}


def function_environment(function: str) -> dict[str, str]:
    """The whole environment one function sees in Lambda."""
    return {
        **LAMBDA_ENVIRONMENT,
        **FUNCTION_SETTINGS[function],
        "AWS_LAMBDA_FUNCTION_NAME": f"secure-ai-{function}",
        "POWERTOOLS_SERVICE_NAME": function,
    }


# The child: hide what the layer does not ship, then time the statements (CPU and wall).
CHILD = """
import json, os, resource, sys, time
class _LayerOnly:
    def __init__(self, blocked):
        self.blocked = blocked
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
blocked = json.loads(os.environ.pop("BENCH_BLOCKED_MODULES", "[]"))
if blocked:
    sys.meta_path.insert(0, _LayerOnly(frozenset(blocked)))
namespace = {"__name__": "bench"}
exec(compile(os.environ.pop("BENCH_SETUP", ""), "<setup>", "exec"), namespace)
before = len(sys.modules)
wall, cpu = time.perf_counter(), time.process_time()
exec(compile(os.environ.pop("BENCH_STATEMENTS"), "<bench>", "exec"), namespace)
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux keeps the parent's across exec:
try:                                                         # VmHWM is this program's own peak
    peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    pass
print(json.dumps({"cpu": cpu, "wall": wall, "modules": len(sys.modules) - before, "maxrss_kb": peak}))
"""


@dataclass(frozen=True)
class Subject:
    """Statements timed in a fresh interpreter with one function's environment.

    `setup` runs first, untimed, in the same namespace (e.g. importing a helper from bench/).
    """

    label: str
    statements: str
    function: str = "authorizer"
    setup: str = ""


@dataclass
class ColdRun:
    """Best-of figures of one subject."""

    cpu: float = float("inf")
    wall: float = float("inf")
    modules: int = 0
    maxrss_kb: int = 0


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# Our own distributions the layer ships (layers/shared/ links their sources); the client is not one.
LAYER_DISTRIBUTIONS = ("secure-ai-gateway", "secure-ai-protocol")


def layer_blocked_modules() -> list[str]:
    """Top-level import names installed in .venv whose distributions the layer does not ship."""
    import importlib.metadata

    allowed = {
        _normalised(match.group(1))
        for line in LAYER_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
        if (match := re.match(r"^([A-Za-z0-9_.-]+)==", line))
    } | set(LAYER_DISTRIBUTIONS)
    return sorted(
        name
        for name, distributions in importlib.metadata.packages_distributions().items()
        if name not in sys.stdlib_module_names
        and not any(_normalised(distribution) in allowed for distribution in distributions)
    )


def run_child(subject: Subject, blocked: Sequence[str]) -> dict[str, Any]:
    """Run `subject` once in a fresh interpreter; its figures."""
    environment: Mapping[str, str] = {
        **function_environment(subject.function),
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(BENCH_DIR),
        "BENCH_SETUP": subject.setup,
        "BENCH_STATEMENTS": subject.statements,
        "BENCH_BLOCKED_MODULES": json.dumps(list(blocked)),
    }
    completed = subprocess.run(  # nosec B603 - fixed argv: this interpreter and CHILD
        [sys.executable, "-c", CHILD], env=dict(environment), capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{subject.label} failed in the child:\n{completed.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return figures


def best_cold_runs(subjects: Sequence[Subject], rounds: int, blocked: Sequence[str]) -> dict[str, ColdRun]:
    """Alternating rounds over `subjects` (all see the same noise), after one unmeasured warm-up
    each (the page cache); the best CPU and the best wall time of each."""
    for subject in subjects:
        run_child(subject, blocked)
    best = {subject.label: ColdRun() for subject in subjects}
    for _ in range(rounds):
        for subject in subjects:
            figures = run_child(subject, blocked)
            run = best[subject.label]
            run.cpu = min(run.cpu, figures["cpu"])
            run.wall = min(run.wall, figures["wall"])
            run.modules = figures["modules"]
            run.maxrss_kb = max(run.maxrss_kb, figures["maxrss_kb"])
    return best
