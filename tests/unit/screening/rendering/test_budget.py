"""RenderBudget: a deadline on an injected clock, read every few steps."""

from __future__ import annotations

import pytest

from secure_ai.screening.errors import RenderBudgetExceeded
from secure_ai.screening.rendering.budget import RenderBudget


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


def test_steps_within_the_deadline_pass() -> None:
    clock = FakeClock()
    budget = RenderBudget(1.0, clock)
    for _ in range(1000):
        budget.spend()
    budget.check()


def test_a_check_past_the_deadline_raises() -> None:
    clock = FakeClock()
    budget = RenderBudget(1.0, clock)
    clock.now += 1.5
    with pytest.raises(RenderBudgetExceeded):
        budget.check()


def test_spending_past_the_deadline_raises_within_a_few_steps() -> None:
    clock = FakeClock()
    budget = RenderBudget(1.0, clock)
    for _ in range(63):
        budget.spend()
    clock.now += 1.5
    with pytest.raises(RenderBudgetExceeded):
        budget.spend()


def test_the_clock_is_not_read_on_every_step() -> None:
    clock = FakeClock()
    budget = RenderBudget(1.0, clock)
    for _ in range(640):
        budget.spend()
    assert clock.reads == 1 + 10  # once to start, then once every 64 steps
