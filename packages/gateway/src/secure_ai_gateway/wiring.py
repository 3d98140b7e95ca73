"""One execution environment's dependencies: built on first use, once, and replaceable in tests.

Each function's app.py has a `build_dependencies(settings)` that constructs everything its routes
use (adapters on this environment's AWS clients, services on those adapters) and an
`ExecutionEnvironment` holding the result. Nothing is built at import, so a cold start pays only for
imports and moto can be active before the first AWS client exists. Tests `reset()` it (the next
invocation builds from the process environment, as a new execution environment would) or `use()`
dependencies they built themselves. See docs/architecture.md.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class ExecutionEnvironment[T]:
    """The dependencies of one function in this process, built by `build` on first use."""

    __slots__ = ("_build", "_built", "_lock")

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._built: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        """The dependencies, built now if this is the first call since start or `reset()`."""
        with self._lock:
            if self._built is None:
                self._built = self._build()
            return self._built

    def use(self, dependencies: T) -> None:
        """Serve the next invocations with `dependencies` (tests: fakes, or another environment)."""
        with self._lock:
            self._built = dependencies

    def reset(self) -> None:
        """Forget the dependencies: the next invocation builds them again, as after a cold start."""
        with self._lock:
            self._built = None
