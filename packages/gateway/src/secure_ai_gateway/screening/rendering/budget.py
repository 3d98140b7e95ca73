"""The time budget of one render, read on an injected clock.

markdown-it-py is linear but costs microseconds per markup character, so a megabyte of `[` or
`<a ` takes seconds. Rather than guess the cost up front, every parser step spends from the
budget, and the clock is read every few steps; past the deadline the render stops with
`RenderBudgetExceeded`, which fails closed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from secure_ai_gateway.screening.errors import RenderBudgetExceeded

_STEPS_PER_CLOCK_READ: Final = 64


class RenderBudget:
    """A deadline on `clock`, checked every few `spend()` calls and at every `check()`."""

    __slots__ = ("_clock", "_deadline", "_steps")

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._deadline = clock() + seconds
        self._steps = 0

    def spend(self) -> None:
        """Count one step; reading the clock on each would cost more than most steps."""
        self._steps += 1
        if self._steps % _STEPS_PER_CLOCK_READ == 0:
            self.check()

    def check(self) -> None:
        """Raise `RenderBudgetExceeded` once the deadline has passed."""
        if self._clock() > self._deadline:
            raise RenderBudgetExceeded("render_budget_exceeded")
