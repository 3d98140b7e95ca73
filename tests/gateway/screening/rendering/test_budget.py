"""RenderBudget: a deadline on an injected clock, read every few steps."""

from __future__ import annotations

import pytest

from secure_ai_gateway.screening.errors import RenderBudgetExceeded
from secure_ai_gateway.screening.rendering.budget import RenderBudget


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


@pytest.mark.parametrize(
    ("module", "factory"),
    [
        ("markdown", "markdown_parser"),
        ("plain_text", "linkifier"),
        ("plain_text", "bare_url_pattern"),
        ("html", "lexbor_parser_class"),
        ("css", "css_tokenizer"),
    ],
)
def test_loading_a_parser_is_not_charged_to_the_first_render(
    monkeypatch: pytest.MonkeyPatch, module: str, factory: str
) -> None:
    # Given a process that has not loaded this parser yet, on a machine so busy that loading it
    # takes longer than a whole render budget
    from secure_ai_gateway.screening.rendering import css, document, html, markdown, plain_text

    modules = {"markdown": markdown, "plain_text": plain_text, "html": html, "css": css}
    clock = FakeClock()
    load = getattr(modules[module], factory)
    loaded: list[bool] = []

    def slow_first_load() -> object:
        if not loaded:
            loaded.append(True)
            clock.now += 5.0
        return load()

    monkeypatch.setattr(modules[module], factory, slow_first_load)
    text = '<p style="background:url(https://cdn.example/a.png)">see https://example.com/docs</p> [a](b)'
    # When the first render runs, on a one-second budget
    rendered = document.render(text, budget_seconds=1.0, clock=clock)
    # Then it completes: the load happened before the budget started
    assert rendered.resources
