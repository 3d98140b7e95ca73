"""Character statistics used to tell random-looking values from words and identifiers."""

from __future__ import annotations

import math
from typing import Final

_DIGITS: Final = frozenset("0123456789")


def shannon_entropy(value: str) -> float:
    """Bits per character of `value` under its own character frequencies (0.0 when empty)."""
    if not value:
        return 0.0
    length = len(value)
    # H = log2(n) - sum(c * log2(c)) / n: characters seen once (most, in a random value) add 0.
    # str.count per distinct character beats building a Counter for these short values.
    counts = [value.count(char) for char in set(value)]
    repeated = sum(count * math.log2(count) for count in counts if count > 1)
    return math.log2(length) - repeated / length


def looks_random(value: str, *, min_length: int = 8) -> bool:
    """True for values that look generated (keys, tokens) rather than written (words, names).

    A value must mix character kinds the way generated secrets do (a digit, both cases or a
    symbol other than the identifier joiners `_-.`) and carry enough entropy for its length.
    """
    distinct = set(value)
    if len(value) < min_length or len(distinct) < 4:
        return False
    has_digit = not distinct.isdisjoint(_DIGITS)
    has_upper = value != value.lower()
    has_lower = value != value.upper()
    has_symbol = any(not char.isalnum() and char not in "_-." for char in distinct)
    if not (has_digit or (has_upper and has_lower) or has_symbol):
        return False  # snake_case or kebab-case words
    if value.isdigit():
        return False  # numbers (ids, ports, amounts) are not secrets
    threshold = 2.6 if len(value) < 12 else 3.0
    return shannon_entropy(value) >= threshold
