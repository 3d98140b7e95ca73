"""Pseudonymiser: per-request placeholders for input PII, restored in the answer."""

from __future__ import annotations

import pytest

from secure_ai.errors import PayloadTooLarge
from secure_ai.screening.pseudonymise import MAX_PSEUDONYMISE_CHARS, Pseudonymiser
from tests.unit.screening.fakes import CARD, EMAIL, IBAN, IPV4, PHONE, SSN


def test_pii_is_replaced_by_numbered_placeholders() -> None:
    pseudonymiser = Pseudonymiser()
    text = f"I am {EMAIL}, call {PHONE}, card {CARD}, IBAN {IBAN}, SSN {SSN}, from {IPV4}."
    assert pseudonymiser.pseudonymise(text) == (
        "I am <EMAIL_1>, call <PHONE_1>, card <CARD_1>, IBAN <IBAN_1>, SSN <SSN_1>, from <IP_1>."
    )


def test_the_same_value_gets_the_same_placeholder_however_it_is_written() -> None:
    pseudonymiser = Pseudonymiser()
    text = "alice@example.com, ALICE@EXAMPLE.COM, bob@example.com, +1 415 555 0142, +14155550142"
    assert pseudonymiser.pseudonymise(text) == "<EMAIL_1>, <EMAIL_1>, <EMAIL_2>, <PHONE_1>, <PHONE_1>"


def test_numbering_continues_across_calls_of_one_request() -> None:
    pseudonymiser = Pseudonymiser()
    pseudonymiser.pseudonymise("alice@example.com")
    assert pseudonymiser.pseudonymise("bob@example.com and alice@example.com") == "<EMAIL_2> and <EMAIL_1>"


def test_an_answer_is_restored_with_the_values_as_first_written() -> None:
    pseudonymiser = Pseudonymiser()
    masked = pseudonymiser.pseudonymise(f"Write to {EMAIL} about card {CARD}.")
    answer = "I have drafted a note to <EMAIL_1> about <CARD_1>; <EMAIL_1> will get it."
    assert masked == "Write to <EMAIL_1> about card <CARD_1>."
    assert (
        pseudonymiser.restore(answer)
        == f"I have drafted a note to {EMAIL} about {CARD}; {EMAIL} will get it."
    )


def test_a_placeholder_the_model_invents_stays_a_placeholder() -> None:
    pseudonymiser = Pseudonymiser()
    pseudonymiser.pseudonymise(EMAIL)
    assert (
        pseudonymiser.restore("<EMAIL_1> and <EMAIL_7> and <PHONE_1>")
        == f"{EMAIL} and <EMAIL_7> and <PHONE_1>"
    )


def test_one_requests_placeholders_never_restore_another_requests_values() -> None:
    # Given two requests that both produced <EMAIL_1>
    first, second = Pseudonymiser(), Pseudonymiser()
    first.pseudonymise("alice@example.com")
    second.pseudonymise("mallory@example.org")
    # When each restores the same answer
    # Then each sees only its own value
    assert first.restore("to <EMAIL_1>") == "to alice@example.com"
    assert second.restore("to <EMAIL_1>") == "to mallory@example.org"


def test_a_fresh_instance_restores_nothing() -> None:
    assert Pseudonymiser().restore("to <EMAIL_1>") == "to <EMAIL_1>"


def test_only_the_chosen_types_are_pseudonymised() -> None:
    pseudonymiser = Pseudonymiser(types={"email"})
    assert pseudonymiser.pseudonymise(f"{EMAIL} {PHONE}") == f"<EMAIL_1> {PHONE}"


def test_a_value_hidden_with_zero_width_characters_is_replaced_whole() -> None:
    pseudonymiser = Pseudonymiser()
    assert pseudonymiser.pseudonymise("mail ali\u200bce@example.com!") == "mail <EMAIL_1>!"
    assert pseudonymiser.restore("<EMAIL_1>") == "ali\u200bce@example.com"


def test_restoring_copes_with_text_that_is_not_valid_unicode() -> None:
    pseudonymiser = Pseudonymiser()
    pseudonymiser.pseudonymise(EMAIL)
    assert pseudonymiser.restore("\ud800 <EMAIL_1> \u00e9") == f"\ud800 {EMAIL} \u00e9"


def test_oversized_input_is_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        Pseudonymiser().pseudonymise("a" * (MAX_PSEUDONYMISE_CHARS + 1))
