"""ExecutionEnvironment: built once on first use, replaced by `use`, rebuilt after `reset`."""

from __future__ import annotations

import threading

from secure_ai_gateway.wiring import ExecutionEnvironment


def counting() -> tuple[ExecutionEnvironment[int], list[int]]:
    builds: list[int] = []

    def build() -> int:
        builds.append(len(builds) + 1)
        return builds[-1]

    return ExecutionEnvironment(build), builds


def test_nothing_is_built_until_first_used_and_then_only_once() -> None:
    environment, builds = counting()
    assert builds == []
    assert (environment.get(), environment.get()) == (1, 1)
    assert builds == [1]


def test_reset_makes_the_next_use_build_again_as_a_cold_start_would() -> None:
    environment, _ = counting()
    environment.get()
    environment.reset()
    assert environment.get() == 2


def test_use_serves_dependencies_built_elsewhere_without_building() -> None:
    environment, builds = counting()
    environment.use(42)
    assert environment.get() == 42
    assert builds == []


def test_concurrent_first_uses_build_once() -> None:
    environment, builds = counting()
    threads = [threading.Thread(target=environment.get) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == [1]
