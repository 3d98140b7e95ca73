"""IP addresses: public ones are personal (`ipv4`/`ipv6`), the rest `ip_internal`; versions are neither."""

from __future__ import annotations

import pytest

from secure_ai_gateway.screening.normalise import normalise
from secure_ai_gateway.screening.pii import detect_pii
from secure_ai_gateway.screening.pseudonymise import Pseudonymiser


def found(text: str) -> list[tuple[str, str]]:
    return [(hit.type, text[hit.start : hit.end]) for hit in detect_pii(normalise(text))]


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("8.8.8.8", "ipv4"),
        ("203.0.114.1", "ipv4"),  # just past the documentation range
        ("100.128.0.1", "ipv4"),  # just past CGNAT
        ("2606:4700:4700::1111", "ipv6"),
        ("::ffff:8.8.8.8", "ipv6"),
    ],
)
def test_a_public_address_is_personal(address: str, kind: str) -> None:
    # Given an address on the public internet
    # Then it is reported as the personal type of its version
    assert found(f"Client {address} connected") == [(kind, address)]


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",  # RFC 1918
        "172.16.254.3",
        "192.168.1.23",
        "127.0.0.1",  # loopback
        "0.0.0.0",  # noqa: S104 - unspecified, as text to screen
        "169.254.1.1",  # link-local
        "100.64.0.1",  # CGNAT
        "100.127.255.254",
        "192.0.2.44",  # documentation
        "198.51.100.7",
        "203.0.113.250",
        "224.0.0.251",  # multicast
        "240.0.0.1",  # reserved
        "2001:db8::1",  # documentation
        "fc00::1",  # unique local
        "fd12:3456:789a::1",
        "fe80::1ff:fe23:4567:890a",  # link-local
        "ff02::1",  # multicast
        "::1",  # loopback
        "::ffff:10.0.0.1",  # a private IPv4 address in IPv6 form
    ],
)
def test_a_non_public_address_is_internal(address: str) -> None:
    # Given an address that locates no one on the public internet
    # Then it is `ip_internal`, with its whole span
    assert found(f"Client {address} connected") == [("ip_internal", address)]


@pytest.mark.parametrize(
    "text",
    [
        "Upgrade to v1.2.3.4 today",
        "Upgrade to version 10.0.0.1 today",
        "Version: 10.0.0.1",
        "Mozilla/5.0 Chrome/120.0.0.1 Safari/537.36",
        "Requires node 18.17.1.0 or later",
        "Fixed in build 1.2.3.4",
        "Run pip install toolkit==3.10.12.1 first",
        'PackageReference Version="8.0.36.1"',
        "Netmask 255.255.255.0",
        "OID 1.3.6.1.4.1.311",
    ],
)
def test_a_dotted_version_is_not_an_address(text: str) -> None:
    # Given a dotted number in a version context (or a netmask, an OID)
    # Then no address is found
    assert found(text) == []


def test_an_address_at_the_end_of_a_sentence_keeps_its_span() -> None:
    # Given an IPv6 address followed by a full stop
    # Then the full stop is not part of it
    assert found("The host is 2001:db8::1.") == [("ip_internal", "2001:db8::1")]


def test_an_internal_address_is_not_pseudonymised() -> None:
    # Given a prompt with a private and a public address
    # When it is pseudonymised
    pseudonyms = Pseudonymiser(["Route 10.0.0.5 via 8.8.8.8"])
    # Then only the public (personal) address becomes a placeholder
    assert pseudonyms.texts == ("Route 10.0.0.5 via <IP_1>",)
