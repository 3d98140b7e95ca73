"""PII detector: each kind is found, validated, and its look-alikes stay out."""

from __future__ import annotations

import pytest

from secure_ai_gateway.screening.findings import Detection
from secure_ai_gateway.screening.normalise import normalise
from secure_ai_gateway.screening.pii import canonical_value, detect_pii


def found(text: str) -> list[tuple[str, str]]:
    return [(hit.type, text[hit.start : hit.end]) for hit in detect_pii(normalise(text))]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("Reply to alice.smith@example.com today", "email", "alice.smith@example.com"),
        ("mail first.last+tag@sub.example.co.uk.", "email", "first.last+tag@sub.example.co.uk"),
        ("Write to o'brien@example.ie today", "email", "o'brien@example.ie"),
        ("Set EMAIL='alice@example.com' now", "email", "alice@example.com"),
        ("Call +44 20 7946 0958 now", "phone", "+44 20 7946 0958"),
        ("Call +1 (415) 555-0142 now", "phone", "+1 (415) 555-0142"),
        ("Call (415) 555-0199 now", "phone", "(415) 555-0199"),
        ("Call 1-800-555-0199 now", "phone", "1-800-555-0199"),
        ("Call 0044 20 7946 0777 now", "phone", "0044 20 7946 0777"),
        ("Appelez le 01 99 00 45 67", "phone", "01 99 00 45 67"),
        ("UK: +44 (0)20 7946 0991", "phone", "+44 (0)20 7946 0991"),
        ("Card 4111 1111 1111 1111 exp 12/29", "card", "4111 1111 1111 1111"),
        ("Card 5555-5555-5555-4444", "card", "5555-5555-5555-4444"),
        ("Amex 3782 822463 10005", "card", "3782 822463 10005"),
        ("Visa13 4222222222222", "card", "4222222222222"),
        ("IBAN GB82WEST12345698765432", "iban", "GB82WEST12345698765432"),
        ("IBAN DE89 3704 0044 0532 0130 00.", "iban", "DE89 3704 0044 0532 0130 00"),
        ("IBAN BE68 5390 0754 7034 1234 then text", "iban", "BE68 5390 0754 7034"),
        ("SSN 219-09-9999 on file", "ssn", "219-09-9999"),
        ("SSN 712 45 6789 on file", "ssn", "712 45 6789"),
        ("Resolver 8.8.4.4 is down", "ipv4", "8.8.4.4"),
        ("Subnet 1.1.1.0/24", "ipv4", "1.1.1.0"),
        ("Server 192.0.2.44 is down", "ip_internal", "192.0.2.44"),
        ("Host 2606:4700:4700::1111 up", "ipv6", "2606:4700:4700::1111"),
        ("Host 2001:db8:85a3::8a2e:370:7334 up", "ip_internal", "2001:db8:85a3::8a2e:370:7334"),
        ("Link-local fe80::1ff:fe23:4567:890a", "ip_internal", "fe80::1ff:fe23:4567:890a"),
    ],
)
def test_a_valid_value_is_found_with_its_exact_span(text: str, kind: str, value: str) -> None:
    # Given a text with one PII value
    # When the PII detector runs
    # Then exactly that value is found, with its type
    assert found(text) == [(kind, value)]


@pytest.mark.parametrize(
    "text",
    [
        "Use icon@2x.png for retina screens",
        "git clone git@github.com:acme/widgets.git",
        "Install lodash@4.17.21 today",
        "ssh://deploy@build-01/srv is the remote",
        "postgres://svc:s3cretPass@db.example.org/app",
        "Order #100234987 ships tomorrow",
        "Meeting on 2024-01-15 at 10:30",
        "ISBN 978-3-16-148410-0",
        "uuid 123e4567-e89b-12d3-a456-426614174000",
        "UPS tracking 1Z999AA10123456784",
        "USPS tracking 9400 1000 0000 0000 0000 00",
        "Reference 4111 1111 1111 1112 (Luhn fails)",
        "Number 9111111111111111 has no issuer",
        "4111 1111 1111 1111 2222 is a longer reference",
        "Rejected IBAN GB83WEST12345698765432",
        "Part DE12ABCD is out of stock",
        "SSN 000-12-3456 is invalid",
        "SSN 666-12-3456 is never issued",
        "ITIN 912-70-1234 is not an SSN",
        "Upgrade to version 1.2.3.4 today",
        "OID 1.3.6.1.4.1.311",
        "Netmask 255.255.255.0",
        "Invalid 300.1.2.3",
        "MAC 00:1A:2B:3C:4D:5E",
        "std::vector and a::b in C++",
        "Broadcast 255.255.255.255",
        "Timestamp 12:30:45",
        "Transaction 555-123-4567 was reversed",
        "Price 1,234,567.89 EUR",
        "x .alice@example.com and bob..smith@example.com",
        "Card 4111 1111-1111 1111 mixes separators",
        "BE685390075470341234 runs on without a gap",
        "Short +1 23 45 is not a number",
        "Code +44 20 7946 0958x runs into a letter",
    ],
)
def test_a_look_alike_is_not_pii(text: str) -> None:
    # Given an order number, date, version, invalid checksum or similar
    # When the PII detector runs
    # Then nothing is found
    assert found(text) == []


def test_full_width_digits_do_not_hide_a_phone_number() -> None:
    # Given a phone number in full-width characters
    text = "Call \uff0b\uff14\uff14 \uff12\uff10 \uff17\uff19\uff14\uff16 \uff10\uff19\uff15\uff18"
    # When detected, the span covers the original full-width characters
    assert found(text) == [("phone", text[5:])]


def test_zero_width_characters_do_not_hide_a_card_number() -> None:
    # Given a card number with zero-width spaces between its groups
    text = "card 4111\u200b1111\u200b1111\u200b1111 ok"
    # Then it is found, and the span includes the invisible characters
    assert found(text) == [("card", "4111\u200b1111\u200b1111\u200b1111")]


def test_an_international_phone_number_that_looks_like_a_card_run_is_a_phone() -> None:
    # Given a 0044 number (14 grouped digits, like a card candidate)
    # Then it is reported as a phone number
    assert found("0044 20 7946 0958") == [("phone", "0044 20 7946 0958")]


def test_a_trailing_number_is_not_swallowed_into_a_phone_number() -> None:
    # Given a phone number followed by a year
    # Then the phone number ends before the year
    assert found("+44 20 7946 0958 2024") == [("phone", "+44 20 7946 0958")]


def test_equal_values_share_one_canonical_form() -> None:
    # Given the same phone number written two ways and an address in two cases
    spaced, compact = detect_pii(normalise("+1 415 555 0142")), detect_pii(normalise("+14155550142"))
    upper, lower = detect_pii(normalise("ALICE@EXAMPLE.COM")), detect_pii(normalise("alice@example.com"))
    # Then their canonical values match
    assert canonical_value(spaced[0]) == canonical_value(compact[0])
    assert canonical_value(upper[0]) == canonical_value(lower[0])


@pytest.mark.parametrize("kind", ["ipv6", "ip_internal"])
def test_ip_addresses_have_one_canonical_spelling(kind: str) -> None:
    # Given an IPv6 address written in full
    detection = Detection(kind, "pii", 0, 0, 1.0, "2001:0db8:0000:0000:0000:0000:0000:0001")
    # Then its canonical form is the compressed one
    assert canonical_value(detection) == "2001:db8::1"
