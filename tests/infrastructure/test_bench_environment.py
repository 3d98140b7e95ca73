"""The cold-start benchmarks give each function the environment template.yaml gives it.

bench/cold_start.py times imports in children with a Lambda-like environment; a function whose
settings are read on first use fails there when the template gained a variable the benchmark
lacks (the authorizer's DEVICES_TABLE once did). The names must match, function by function.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from secure_ai_local.stack_template import StackTemplate

BENCH = Path(__file__).resolve().parents[2] / "bench" / "cold_start.py"


def cold_start() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_cold_start", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_cold_start", module)
    spec.loader.exec_module(module)
    return module


def template_functions() -> dict[str, set[str]]:
    """Each function's variables (Globals included), by name without `Function`, in lower case."""
    document = StackTemplate.load().document
    shared = set(document.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    return {
        logical_id.removesuffix("Function").lower(): shared
        | set(resource["Properties"].get("Environment", {}).get("Variables", {}))
        for logical_id, resource in document["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def test_the_benchmark_knows_every_function_of_the_template() -> None:
    assert set(cold_start().FUNCTION_SETTINGS) == set(template_functions())


@pytest.mark.parametrize("function", sorted(template_functions()))
def test_the_benchmark_sets_what_the_template_sets(function: str) -> None:
    bench = cold_start()
    assert set(bench.function_environment(function)) - set(bench.LAMBDA_ENVIRONMENT) - {
        "AWS_LAMBDA_FUNCTION_NAME"
    } == template_functions()[function] - set(bench.LAMBDA_ENVIRONMENT)
