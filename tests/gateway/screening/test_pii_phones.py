"""Phone numbers: libphonenumber's rules for the policy's regions, and look-alikes kept out."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

import phonenumbers
import pytest

from secure_ai_gateway.screening import pii
from secure_ai_gateway.screening.normalise import normalise
from secure_ai_gateway.screening.pii import DEFAULT_PHONE_REGIONS, detect_pii

# Numbers from the ranges set aside for fiction where a regulator has one (Ofcom, ACMA, ARCEP,
# NANP 555-01xx); the others are the brief's examples of each national format.
NATIONAL = [
    ("GB", "020 7946 0958"),
    ("GB", "0113 496 0999"),
    ("AU", "(02) 9374 4000"),
    ("AU", "0412 345 678"),
    ("AU", "0491 570 156"),
    ("DE", "030 12345678"),
    ("DE", "030/12345678"),
    ("FR", "01 23 45 67 89"),
    ("FR", "01.99.00.45.67"),
    ("IN", "098765 43210"),
    ("IN", "98765 43210"),
    ("JP", "03-1234-5678"),
    ("US", "(415) 555-0142"),
    ("US", "(415)555-0142"),
    ("US", "415-555-0142"),
    ("US", "415.555.0142"),
    ("US", "1-800-555-0199"),
    ("CA", "(613) 555-0142"),
]
INTERNATIONAL = [
    "+44 20 7946 0958",
    "+44-20-7946-0958",
    "+44 (0)20 7946 0991",
    "+44 (0) 20 7946 0991",
    "+1 (415) 555-0142",
    "+14155550142",
    "+33 1 99 00 12 34",
    "+61 2 5550 1234",
    "+447700900123",  # Ofcom's drama range: a length the UK dials, though no operator's
]
# Dialled out of a country: found when a configured region dials out with that prefix.
DIALLED_OUT = [("GB", "0044 20 7946 0958"), ("US", "011 44 20 7946 0958"), ("AU", "0011 44 20 7946 0958")]


def found(text: str, regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> list[tuple[str, str]]:
    return [
        (hit.type, text[hit.start : hit.end]) for hit in detect_pii(normalise(text), phone_regions=regions)
    ]


@pytest.mark.parametrize(("region", "number"), NATIONAL)
def test_a_national_number_of_a_configured_region_is_found_whole(region: str, number: str) -> None:
    # Given a sentence with a number written the way its country writes it
    text = f"Call {number} after six."
    # When only that region is configured
    # Then the number is found, brackets and all
    assert found(text, [region]) == [("phone", number)]


@pytest.mark.parametrize("number", INTERNATIONAL)
def test_an_international_number_is_found_whatever_the_regions(number: str) -> None:
    # Given a number written with its country code
    text = f"Call {number} after six."
    # When the policy's regions do not include that country
    # Then it is found all the same
    assert found(text, ["JP"]) == [("phone", number)]


@pytest.mark.parametrize(("region", "number"), DIALLED_OUT)
def test_a_number_dialled_out_of_a_configured_region_is_found(region: str, number: str) -> None:
    # Given a number behind the international prefix of the configured region
    text = f"Call {number} after six."
    # Then it is found, prefix included
    assert found(text, [region]) == [("phone", number)]


def test_a_number_behind_another_regions_international_prefix_is_not_found() -> None:
    # Given a number behind 00, which Japan does not dial out with (it uses 010)
    # When only Japan is configured, Then it is not a number
    assert found("Call 0044 20 7946 0958 after six.", ["JP"]) == []


def test_ofcoms_drama_mobile_range_is_found_with_the_default_regions() -> None:
    # Given a UK mobile number from the range Ofcom keeps for drama (invalid for libphonenumber's GB)
    # Then the default regions find it all the same: its digits are a valid German and Indian number
    assert found("Call 07700 900123 after six.") == [("phone", "07700 900123")]


def test_without_regions_only_international_numbers_count() -> None:
    # Given a policy with no phone regions
    text = "Call +44 20 7946 0958 or 020 7946 0958"
    # Then the number with its country code is found, the national one is not
    assert found(text, []) == [("phone", "+44 20 7946 0958")]


def test_a_national_number_of_a_region_not_configured_is_not_found() -> None:
    # Given an Australian mobile number written nationally
    text = "Call 0412 345 678 after six."
    # When only the US is configured, Then nothing is found
    assert found(text, ["US"]) == []


def test_a_national_number_without_the_trunk_prefix_its_region_requires_is_not_found() -> None:
    # Given the Australian mobile number without its leading 0 (libphonenumber's VALID rule)
    # Then it is not taken for a phone number
    assert found("Call 412 345 678 after six.", ["AU"]) == []


@pytest.mark.parametrize(
    "text",
    [
        "Meeting on 2024-01-15 at 10:30",
        "Due 15/01/2024, paid 01/15/2024",
        "Deadline 03.02.2024 at noon",
        "Order #100234987 ships tomorrow",
        "Order number 02079460958 ships",
        "Invoice no. 020 7946 0958 is overdue",
        "Upgrade to version 10.0.19045.3803",
        "Mozilla/5.0 Chrome/120.0.6099.109 Safari/537.36",
        "ISBN 978-3-16-148410-0",
        "ISBN 0-306-40615-2",
        "ISBN 9780306406157",
        "uuid 123e4567-e89b-12d3-a456-426614174000",
        "Price 1,234,567.89 EUR",
        "Price 1 234 567,89 EUR",
        "Total €0207946095 due",
        "See https://shop.example.com/item?id=02079460958&ref=4155550142",
        "See www.example.com/users/02079460958",
        "Population 4155550142 people",
        "Confirmation code 168784802",
        "Voucher 029031042 expires soon",
        "Reference 5531 0320 0886 2287 (not a card)",
        "Rejected IBAN DE90 3704 0044 0532 0130 00 (checksum)",
        "Scores 12 34 56 78 90 across five rounds",
        "Transaction 555-123-4567 was reversed",
        "Short +1 23 45 is not a number",
        "Code +44 20 7946 0958x runs into a letter",
        "Growth of 020 7946 0958% is impossible",
        "OID 1.2.840.113549.1.1.1",
    ],
)
def test_a_look_alike_is_not_a_phone_number(text: str) -> None:
    # Given a date, an id, a version, an ISBN, a price, a URL id or digits in a row
    # When the PII detector runs with the default regions
    # Then no phone number is found
    assert found(text) == []


@pytest.mark.parametrize(
    ("label", "number"), [("Call", "4155550142"), ("Tel:", "029031042"), ("Phone no.", "41 55 55 01 42")]
)
def test_bare_digits_after_a_phone_label_are_a_phone_number(label: str, number: str) -> None:
    # Given digits that alone would be an id, after a word that says what they are
    text = f"{label} {number} please"
    # Then they are a phone number
    assert found(text) == [("phone", number)]


def test_a_trailing_number_is_not_swallowed_into_a_phone_number() -> None:
    # Given a phone number followed by a year
    # Then the phone number ends before the year
    assert found("+44 20 7946 0958 2024") == [("phone", "+44 20 7946 0958")]


def test_two_numbers_side_by_side_are_two_findings() -> None:
    # Given two London numbers separated by a space only
    # Then each is found on its own
    assert found("020 7946 0958 020 7946 0959") == [("phone", "020 7946 0958"), ("phone", "020 7946 0959")]


def test_a_number_after_a_reference_is_found() -> None:
    # Given a reference and then a number starting with its trunk prefix
    # Then the number is found without the reference
    assert found("Ref 12345 020 7946 0958") == [("phone", "020 7946 0958")]


def test_a_tel_link_is_a_phone_number() -> None:
    # Given a markdown link to a phone number
    text = "[Call us](tel:+442079460958)"
    # Then the number in the link is found
    assert found(text) == [("phone", "+442079460958")]


def test_separators_a_reader_takes_for_spaces_do_not_hide_a_number() -> None:
    # Given a number grouped with narrow no-break spaces and en dashes
    text = "Call +44\u202f20\u202f7946\u202f0958 or 020\u20137946\u20130958"
    # Then both are found, separators included
    assert found(text) == [("phone", "+44\u202f20\u202f7946\u202f0958"), ("phone", "020\u20137946\u20130958")]


def test_every_region_libphonenumber_knows_can_be_configured() -> None:
    # Given a policy listing every region libphonenumber supports
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    # When a text with a London number is screened
    # Then the prefilter built from all their patterns lets it through
    assert found("Call 020 7946 0958 today", regions) == [("phone", "020 7946 0958")]


def test_an_unknown_region_is_refused() -> None:
    # Given a policy naming a region libphonenumber does not know
    # When a phone-shaped text is screened, Then the configuration error surfaces
    with pytest.raises(ValueError, match="unknown phone region"):
        found("Call 020 7946 0958", ["XX"])


@pytest.mark.parametrize("number", [number for _, number in NATIONAL + DIALLED_OUT] + INTERNATIONAL)
def test_past_the_libphonenumber_budget_no_number_is_lost(
    number: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a text that has already used up libphonenumber's budget
    monkeypatch.setattr(pii, "_PHONE_CHECKS", 0)
    # When a number follows
    # Then it is still found (the RE2 prefilter decides, more findings rather than fewer)
    assert found(f"Call {number} after six.") == [("phone", number)]


def test_past_the_libphonenumber_budget_the_prefilter_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a text that has already used up libphonenumber's budget
    monkeypatch.setattr(pii, "_PHONE_CHECKS", 0)
    # When an Australian number lacks the trunk prefix libphonenumber would insist on
    # Then it is reported: its digits match Australia's mobile pattern
    assert found("Call 412 345 678 after six.", ["AU"]) == [("phone", "412 345 678")]


@pytest.mark.parametrize("text", ["Scores 12 34 56 78 90 across five rounds", "Population 4155550142 people"])
def test_past_the_libphonenumber_budget_bare_digits_still_need_evidence(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a text that has already used up libphonenumber's budget
    monkeypatch.setattr(pii, "_PHONE_CHECKS", 0)
    # When digits without a trunk prefix come neither labelled nor grouped as a number
    # Then they are still not a phone number
    assert found(text) == []


def _example_numbers(regions: Sequence[str]) -> list[tuple[str, phonenumbers.PhoneNumber]]:
    types = [getattr(phonenumbers.PhoneNumberType, name) for name in ("FIXED_LINE", "MOBILE", "TOLL_FREE")]
    examples = [
        (region, phonenumbers.example_number_for_type(region, kind)) for region in regions for kind in types
    ]
    return [(region, number) for region, number in examples if number is not None]


@pytest.mark.parametrize(("region", "number"), _example_numbers(DEFAULT_PHONE_REGIONS))
def test_libphonenumbers_example_numbers_of_the_default_regions_are_found_written_nationally(
    region: str, number: phonenumbers.PhoneNumber
) -> None:
    # Given libphonenumber's own example number, formatted the national way, after a label
    written = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    # Then it is found with its region configured
    assert found(f"Tel: {written}", [region]) == [("phone", written)]


def test_libphonenumbers_example_numbers_of_every_region_are_found_written_internationally() -> None:
    # Given every region's example numbers of seven digits or more, in international format
    written = [
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        for _, number in _example_numbers(sorted(phonenumbers.SUPPORTED_REGIONS))
        if len(phonenumbers.national_significant_number(number)) + len(str(number.country_code)) >= 7
    ]
    # When each is screened
    missed = [number for number in written if found(f"Tel: {number}") != [("phone", number)]]
    # Then none is missed (the RE2 prefilter lets every valid number through)
    assert len(written) > 500
    assert missed == []


def test_libphonenumber_is_loaded_only_for_a_text_with_a_digit_run() -> None:
    # Given a fresh interpreter that screens prose, then a phone number
    code = (
        "import sys\n"
        "from secure_ai_gateway.screening.normalise import normalise\n"
        "from secure_ai_gateway.screening.pii import detect_pii\n"
        "detect_pii(normalise('Write to alice@example.com today.'))\n"
        "print('phonenumbers' in sys.modules)\n"
        "detect_pii(normalise('Call 020 7946 0958 today.'))\n"
        "print('phonenumbers' in sys.modules)\n"
    )
    # When it runs
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    # Then libphonenumber (~50 ms to import) was loaded only by the second text
    assert result.stdout.split() == ["False", "True"]
