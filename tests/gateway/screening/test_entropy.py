"""Character statistics that tell generated values from words."""

from __future__ import annotations

import pytest

from secure_ai_gateway.screening.entropy import looks_random, shannon_entropy


def test_entropy_is_zero_for_nothing_and_for_one_repeated_character() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0


def test_entropy_of_distinct_characters_is_the_log_of_their_count() -> None:
    assert shannon_entropy("abcd") == 2.0


@pytest.mark.parametrize("value", ["Xk9#mP2$vL8qR4nT", "Zq8vK2mW9pL4xR7t", "3f2b9c1e-8d4a-4e6f-9b7c"])
def test_generated_values_look_random(value: str) -> None:
    assert looks_random(value)


@pytest.mark.parametrize(
    "value",
    ["short1", "abababab12", "read_write_access", "the-office-party", "1234567890123", "Passwordpassword"],
)
def test_words_numbers_and_repetition_do_not_look_random(value: str) -> None:
    assert not looks_random(value)
