"""What the security suite exercised: fuzz cases per entry point (by outcome) and faults injected.

Printed at the end of the run (tests/security/conftest.py) so that a report can quote the numbers.
"""

from __future__ import annotations

from collections import Counter

FUZZ_CASES: Counter[str] = Counter()
FUZZ_OUTCOMES: Counter[tuple[str, str]] = Counter()
FAULTS_INJECTED: Counter[str] = Counter()


def count_case(entry_point: str, outcome: object) -> None:
    """One fuzz input handed to `entry_point`, and what came of it (a status, allowed, refused...)."""
    FUZZ_CASES[entry_point] += 1
    FUZZ_OUTCOMES[entry_point, str(outcome)] += 1


def note_outcome(subject: str, outcome: object) -> None:
    """An outcome inside a case (a record of a batch), tallied without counting another case."""
    FUZZ_OUTCOMES[subject, str(outcome)] += 1


def count_fault(dependency: str, fault: str) -> None:
    """One fault delivered to the code under test."""
    FAULTS_INJECTED[f"{dependency} / {fault}"] += 1
