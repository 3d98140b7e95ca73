"""Every input kept in tests/fuzz_corpus, replayed against the real handlers under its property.

An entry names the scenario (tests/security/scenarios.py) that found it and the input to give it;
inputs that once broke something say what broke and which fix holds it, the others are the hardest
valid-looking mutants the fuzzers drew. Signed inputs are kept as a base plus mutations and signed
afresh on every replay, so they never expire.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import pytest

from tests.security import scenarios
from tests.security.harness import Gateway
from tests.security.tally import count_case

CORPUS: Final = Path(__file__).resolve().parents[1] / "fuzz_corpus"
ENTRIES: Final = sorted(CORPUS.glob("*/*.json"))


def test_the_corpus_is_not_empty_and_every_entry_names_a_known_scenario() -> None:
    entries = [json.loads(path.read_text(encoding="utf-8")) for path in ENTRIES]
    assert len(entries) >= 10
    assert {entry["scenario"] for entry in entries} <= set(scenarios.SCENARIOS)
    assert all(entry["finding"] for entry in entries)


@pytest.mark.parametrize("path", ENTRIES, ids=[f"{path.parent.name}/{path.stem}" for path in ENTRIES])
def test_a_kept_input_still_keeps_its_property(gateway: Gateway, path: Path) -> None:
    # Given an input the fuzzers once found
    entry: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))

    # When it is replayed against the real handler, Then its property holds (the scenario asserts it)
    outcome = scenarios.SCENARIOS[entry["scenario"]](gateway, **entry["input"])
    count_case(f"corpus: {path.parent.name}", outcome)
