"""Cards and SSNs however their digit groups are separated, and bare SSNs only with a label."""

from __future__ import annotations

import pytest

from secure_ai_gateway.screening.normalise import normalise
from secure_ai_gateway.screening.pii import detect_pii

SEPARATORS = {
    "space": " ",
    "hyphen": "-",
    "en dash": "\u2013",
    "em dash": "\u2014",
    "non-breaking hyphen": "\u2011",
    "minus sign": "\u2212",
    "no-break space": "\u00a0",
    "thin space": "\u2009",
    "narrow no-break space": "\u202f",
    "dot": ".",
    "line break": "\n",
    "Windows line break": "\r\n",
    "markdown hard break": "  \n",
}


def found(text: str) -> list[tuple[str, str]]:
    return [(hit.type, text[hit.start : hit.end]) for hit in detect_pii(normalise(text))]


@pytest.mark.parametrize("separator", SEPARATORS.values(), ids=SEPARATORS.keys())
def test_a_card_is_found_whole_whatever_separates_its_groups(separator: str) -> None:
    # Given a card number whose groups are separated by something a reader takes for a gap
    card = separator.join(["4111", "1111", "1111", "1111"])
    # When the PII detector runs
    # Then the whole card is found, separators included
    assert found(f"Pay with {card} today") == [("card", card)]


@pytest.mark.parametrize(
    "separator", ["\u2013", "\u00a0", "\n"], ids=["en dash", "no-break space", "line break"]
)
def test_an_amex_card_in_four_six_five_groups_is_found_whole(separator: str) -> None:
    # Given an American Express number in its 4-6-5 grouping
    card = separator.join(["3782", "822463", "10005"])
    # Then the whole card is found
    assert found(f"Amex {card} on file") == [("card", card)]


def test_a_line_wrap_inside_a_spaced_card_number_does_not_hide_it() -> None:
    # Given a spaced card number wrapped after its second group
    card = "4111 1111\n1111 1111"
    # Then it is still one card
    assert found(f"card {card} ok") == [("card", card)]


@pytest.mark.parametrize(
    "text",
    [
        "Part ranges 5100-5199 5200-5293",  # dashes and spaces: two ranges, not one card (Luhn-valid)
        "Readings 4111.1111 1111.1111",  # dots and spaces: two decimals, not one card
        "Columns 4111\t1111\t1111\t1111",  # tabs: a row of a table
        "Card 4111 1111-1111 1111 mixes separators",
    ],
)
def test_a_number_mixing_separator_kinds_is_not_a_card(text: str) -> None:
    # Given groups joined by separators of different kinds
    # Then no card is found
    assert [kind for kind, _ in found(text)] == []


@pytest.mark.parametrize("separator", ["-", "\u2013", "\u2014", " ", "\u00a0", ".", "\n"])
def test_an_ssn_in_its_three_groups_needs_no_label(separator: str) -> None:
    # Given an SSN in its 3-2-4 groups, whatever separates them, and no label
    ssn = separator.join(["219", "09", "9999"])
    # Then it is found whole
    assert found(f"Employee {ssn} on file") == [("ssn", ssn)]


@pytest.mark.parametrize(
    ("label", "ssn"),
    [
        ("SSN", "123456789"),
        ("SSN#", "123456789"),
        ("ssn=", "123456789"),
        ("S.S.N.", "123456789"),
        ("Social Security No.", "123456789"),
        ("social security number:", "123456789"),
        ("Soc. Sec.", "123456789"),
    ],
)
def test_nine_bare_digits_after_an_ssn_label_are_an_ssn(label: str, ssn: str) -> None:
    # Given nine digits right after an SSN label
    text = f"{label} {ssn} on file"
    # Then they are an SSN
    assert found(text) == [("ssn", ssn)]


@pytest.mark.parametrize(
    "text",
    [
        "Order 123456789 ships",
        "Build 123.45.6789 is out",  # a version, though shaped like an SSN
        "Assn 123456789 is a member id",  # `ssn` inside a word is no label
        "SSN rules say 3 parts; order 123456789",  # a number stands between the label and the digits
        "SSN 666456789 is never issued",
        "SSN 912456789 is an ITIN",
    ],
)
def test_nine_digits_without_an_ssn_label_are_not_an_ssn(text: str) -> None:
    # Given nine bare digits without an SSN label, a version, or numbers the SSA never issues
    # Then no SSN is found
    assert [kind for kind, _ in found(text) if kind == "ssn"] == []


def test_an_ssn_shape_inside_an_international_phone_number_is_not_an_ssn() -> None:
    # Given a Bolivian toll-free number, whose last groups look like a spaced SSN
    # Then the phone number is found, and no SSN
    assert found("Tel: +591 800 17 1234") == [("phone", "+591 800 17 1234")]
