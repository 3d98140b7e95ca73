"""Secrets detector: each credential format is found; placeholders, code and prose are not."""

from __future__ import annotations

from typing import Final

import pytest

from secure_ai_gateway.screening.normalise import normalise
from secure_ai_gateway.screening.secrets import detect_secrets
from tests.gateway.screening.fakes import (
    AWS_ACCESS_KEY,
    AWS_SECRET_KEY,
    CONNECTION_STRING,
    GITHUB_TOKEN,
    PRIVATE_KEY,
    fake_jwt,
)

OPENAI_KEY = "sk-proj-" + "Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1eF3hJ5kL7nP9rS1uV3xY5"
ANTHROPIC_KEY = "sk-ant-api03-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0EdCbA_-" * 2 + "AA"
AZURE_STORAGE_KEY = (
    "Q2xlYXJseUZha2VBenVyZVN0b3JhZ2VLZXlGb3JUZXN0c09ubHkxMjM0NTY3ODkwYWJjZGVmZ2hpamtsbW5vcA" + "=="
)


def found(text: str) -> list[tuple[str, str]]:
    return [(hit.type, text[hit.start : hit.end]) for hit in detect_secrets(normalise(text))]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        (f"key {AWS_ACCESS_KEY} leaked", "aws_access_key", AWS_ACCESS_KEY),
        ("temp ASIAY34FZKBOKMUTVV7A here", "aws_access_key", "ASIAY34FZKBOKMUTVV7A"),
        (f"aws_secret_access_key = {AWS_SECRET_KEY}", "aws_secret_key", AWS_SECRET_KEY),
        (f'"SecretAccessKey": "{AWS_SECRET_KEY}"', "aws_secret_key", AWS_SECRET_KEY),
        (f"OPENAI_API_KEY={OPENAI_KEY}", "openai_api_key", OPENAI_KEY),
        (f"use {ANTHROPIC_KEY}", "anthropic_api_key", ANTHROPIC_KEY),
        (f"token {GITHUB_TOKEN} in CI", "github_token", GITHUB_TOKEN),
        (
            "pat github_pat_11ABCDEFG0123456789abc_" + "x1Y2z3" * 10,
            "github_token",
            "github_pat_11ABCDEFG0123456789abc_" + "x1Y2z3" * 10,
        ),
        ("CI_TOKEN=glpat-Xy9_Wv8-Ut7Sr6Qp5On4", "gitlab_token", "glpat-Xy9_Wv8-Ut7Sr6Qp5On4"),
        (
            "bot xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "slack_token",
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        ),
        ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe_secret_key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ("stripe rk_live_51HxYzAbCdEfGhIjKlMnOpQr", "stripe_secret_key", "rk_live_51HxYzAbCdEfGhIjKlMnOpQr"),
        (
            "maps AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
            "google_api_key",
            "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
        ),
        ("twilio SK0123456789abcdef0123456789abcdef", "twilio_api_key", "SK0123456789abcdef0123456789abcdef"),
        (
            "sendgrid SG.aBcDeFgHiJkLmNoPqRsTuV.wXyZ0123456789aBcDeFgHiJkLmNoPqRsTuVwXyZ012",
            "sendgrid_api_key",
            "SG.aBcDeFgHiJkLmNoPqRsTuV.wXyZ0123456789aBcDeFgHiJkLmNoPqRsTuVwXyZ012",
        ),
        (
            "//registry.npmjs.org/:_authToken=npm_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
            "npm_token",
            "npm_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
        ),
        (
            "AZURE_CLIENT_SECRET=abc8Q~Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0Ed",
            "azure_client_secret",
            "abc8Q~Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0Ed",
        ),
        (f"AccountName=acme;AccountKey={AZURE_STORAGE_KEY};", "azure_storage_key", AZURE_STORAGE_KEY),
        (f"DATABASE_URL={CONNECTION_STRING}.", "connection_string", CONNECTION_STRING),
        (
            "MONGO=mongodb+srv://svc:Pw9xK2qL7vT4@cluster0.example.net/prod",
            "connection_string",
            "mongodb+srv://svc:Pw9xK2qL7vT4@cluster0.example.net/prod",
        ),
        (f"key:\n{PRIVATE_KEY}\nthanks", "private_key", PRIVATE_KEY),
        ('password = "Xk9#mP2$vL8qR4nT"', "generic_secret", "Xk9#mP2$vL8qR4nT"),
        ("client_secret: Zq8vK2mW9pL4xR7tY3", "generic_secret", "Zq8vK2mW9pL4xR7tY3"),
        (
            "Authorization: Bearer Zq8vK2mW9pL4xR7tY3nB6cV1",
            "bearer_token",
            "Zq8vK2mW9pL4xR7tY3nB6cV1",
        ),
    ],
)
def test_a_credential_is_found_with_its_exact_span(text: str, kind: str, value: str) -> None:
    # Given a text with one credential
    # When the secrets detector runs
    # Then exactly that credential is found, typed by its format
    assert found(text) == [(kind, value)]


def test_a_jwt_is_found_whole_including_its_signature() -> None:
    # Given a bearer header with a JWT
    token = fake_jwt()
    # Then the JWT is found as a JWT (not as a generic bearer token), all three parts
    assert found(f"Authorization: Bearer {token}") == [("jwt", token)]


def test_a_long_jwt_is_found_beyond_the_pattern_bound() -> None:
    # Given a JWT whose payload is longer than the bounded regex prefix
    header, _, signature = fake_jwt().split(".")
    payload = "eyJ" + "a" * 3000
    token = f"{header}.{payload}.{signature}"
    # Then the whole token is one finding
    assert found(f"t={token} end") == [("jwt", token)]


def test_a_key_lookalike_inside_a_long_jwt_is_part_of_the_jwt() -> None:
    # Given a JWT whose payload (past the regex prefix) contains an AWS-key-shaped run
    header, _, signature = fake_jwt().split(".")
    token = f"{header}.eyJ{'a' * 1200}-{AWS_ACCESS_KEY}-{'b' * 10}.{signature}"
    # Then it is one JWT finding, not a JWT and a key
    assert found(token) == [("jwt", token)]


def test_a_truncated_private_key_block_is_still_a_private_key() -> None:
    # Given a key header and body without its END line
    block = PRIVATE_KEY.rsplit("\n", 1)[0]
    # Then the header and body are found
    assert found(block + "\n\n(rest omitted)") == [("private_key", block)]


def test_a_private_key_inside_service_account_json_is_found_with_the_key_id() -> None:
    # Given a GCP service-account JSON (escaped newlines in the key)
    key_id = "0123456789abcdef0123456789abcdef01234567"
    block = PRIVATE_KEY.replace("\n", "\\n")
    text = f'{{"type": "service_account", "private_key_id": "{key_id}", "private_key": "{block}\\n"}}'
    # Then both the key id and the key block are found (the assignment before the block does not hide it)
    assert found(text) == [("gcp_service_account_key", key_id), ("private_key", block)]


def test_a_value_assigned_to_a_key_name_is_reported_as_its_token_format() -> None:
    # Given an API key assigned to a secret-sounding name
    # Then it is one finding, typed by its format rather than as a generic secret
    assert found('api_key = "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"') == [
        ("google_api_key", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "commit a94a8fe5ccb19ba61c4c0873d391e987982fbbd3 fixed it",
        "Reset your password from the settings page.",
        "The password must be at least 12 characters long.",
        "password: ********",
        "password=${DB_PASSWORD}",
        "api_key = os.environ.get",
        "AUTH_TOKEN = settings.AUTH_TOKEN",
        "token_count: 12345678",
        "max_tokens=4096",
        "password: hunter2",
        "password = changeme",
        "secret=1234567890",
        "secret_santa = the_office_party_plan",
        "token_url = https://auth.example.com/oauth2/token",
        "password_reset_url=/accounts/password/reset/",
        "postgres://user:${DB_PASSWORD}@db.internal/app",
        "mysql://root:password@localhost/test",
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
        "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n-----END CERTIFICATE-----",
        "The file starts with -----BEGIN PRIVATE KEY----- and ends with the END line.",
        "pk_live_51HxYzAbCdEfGhIjKlMnOpQr is a publishable key",
        "GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "AWS key AKIAXXXXXXXXXXXXXXXX (placeholder)",
        "SLACK_BOT_TOKEN=xoxb-not-a-real-token",
        "eyJub3QiOiJhIGp3dCJ9.eyJhbGciOiJub25lIn0.sig is not a JWT header",
        "The bearer of this letter is trusted.",
        "GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}",
        "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWYextra is longer than a Google key",
        "eyJzzzzzzz.eyJzzzzzzz.signature has no JSON header",
        "api_key=/etc/secrets/api.key",
        "token: https://example.com/abc123XYZ",
    ],
)
def test_a_look_alike_is_not_a_secret(text: str) -> None:
    # Given a hash, a placeholder, code that reads a secret, or prose about passwords
    # When the secrets detector runs
    # Then nothing is found
    assert found(text) == []


def test_full_width_characters_do_not_hide_an_aws_key() -> None:
    # Given an AWS key written in full-width characters
    full_width = "".join(chr(ord(char) + 0xFEE0) for char in AWS_ACCESS_KEY)
    # Then NFKC turns it back into the key, and the span covers the original characters
    assert found(f"key {full_width} end") == [("aws_access_key", full_width)]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        # Cyrillic capital A in AKIA
        ("key \u0410KIA2G4JVXLWWQNTO4O2 end", "aws_access_key", "\u0410KIA2G4JVXLWWQNTO4O2"),
        # Greek capital alpha and Cherokee A in ASIA
        ("key \u0391SI\ua4eeY34FZKBOKMUTVV7A end", "aws_access_key", "\u0391SI\ua4eeY34FZKBOKMUTVV7A"),
        # Cyrillic small er in ghp_
        (f"token gh\u0440{GITHUB_TOKEN[3:]} end", "github_token", f"gh\u0440{GITHUB_TOKEN[3:]}"),
        # Cyrillic small dze and ka in sk-
        (f"use \u0455\u043a{OPENAI_KEY[2:]}", "openai_api_key", f"\u0455\u043a{OPENAI_KEY[2:]}"),
        # Cyrillic small ha and o in xoxb-
        (
            "bot \u0445\u043exb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
            "slack_token",
            "\u0445\u043exb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        ),
        # Cyrillic capital A and Greek capital iota in AIza
        (
            "maps \u0410\u0399zaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
            "google_api_key",
            "\u0410\u0399zaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
        ),
    ],
)
def test_look_alike_letters_do_not_hide_a_token_prefix(text: str, kind: str, value: str) -> None:
    # Given a token whose prefix is spelled with letters from another script
    # When the secrets detector runs
    # Then the token is found, spanning the look-alike characters as written
    assert found(text) == [(kind, value)]


def test_a_cyrillic_e_does_not_hide_a_private_key_header() -> None:
    # Given a private key whose BEGIN and END lines carry a Cyrillic capital IE
    block = PRIVATE_KEY.replace("BEGIN", "B\u0415GIN").replace("END", "\u0415ND")
    # Then the block is found whole
    assert found(f"key:\n{block}\n") == [("private_key", block)]


def test_a_token_spelled_in_tag_characters_is_found_spanning_the_tags() -> None:
    # Given an AWS key written in invisible tag characters
    hidden = "".join(chr(0xE0000 + ord(char)) for char in AWS_ACCESS_KEY)
    # Then it is found, and its span is the tag characters
    assert found(f"nothing to see {hidden} here") == [("aws_access_key", hidden)]


@pytest.mark.parametrize(
    "escaped",
    [
        "\\u0041KIA2G4JVXLWWQNTO4O2",
        "&#65;KIA2G4JVXLWWQNTO4O2",
        "&#x41;KIA2G4JVXLWWQNTO4O2",
    ],
)
def test_an_escaped_letter_does_not_hide_a_key(escaped: str) -> None:
    # Given a key whose first letter is a JSON escape or an HTML reference
    # Then the key is found, spanning the escape
    assert found(f"key {escaped} end") == [("aws_access_key", escaped)]


def test_a_markdown_escape_does_not_hide_a_token_prefix() -> None:
    # Given a token whose underscore is backslash-escaped, as markdown renders `ghp_…`
    escaped = GITHUB_TOKEN.replace("_", "\\_")
    # Then the token is found
    assert found(f"token {escaped} end") == [("github_token", escaped)]


@pytest.mark.parametrize(
    "text",
    [
        "For example AKIAIOSFODNN7EXAMPLE in the docs.",
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        '"SecretAccessKey": "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"',
        "temporary ASIAIOSFODNN7EXAMPLE and AKIAI44QH8DHBEXAMPLE",
        "Authorization: Bearer AKIAIOSFODNN7EXAMPLE",
        "key \u0410KIAIOSFODNN7EXAMPLE spelled with a Cyrillic A",
    ],
)
def test_documented_example_keys_are_not_secrets(text: str) -> None:
    # Given AWS's documentation example credentials, or keys in their style
    # When the secrets detector runs
    # Then nothing is found
    assert found(text) == []


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("key AKIAEXAMPLE2G4JVXLWW end", "aws_access_key", "AKIAEXAMPLE2G4JVXLWW"),
        ("key AKIA2G4JVXLWWEXAMPLQ end", "aws_access_key", "AKIA2G4JVXLWWEXAMPLQ"),
        (
            f"aws_secret_access_key = EXAMPLEKEY{AWS_SECRET_KEY[:30]}",
            "aws_secret_key",
            f"EXAMPLEKEY{AWS_SECRET_KEY[:30]}",
        ),
        (f"Not AKIAIOSFODNN7EXAMPLE but {AWS_ACCESS_KEY}.", "aws_access_key", AWS_ACCESS_KEY),
    ],
)
def test_a_key_that_merely_contains_example_is_still_a_secret(text: str, kind: str, value: str) -> None:
    # Given a real-looking key with EXAMPLE elsewhere than as its documented suffix, or a real key
    # beside a documented one
    # Then the real-looking key is found
    assert found(text) == [(kind, value)]


def test_a_documented_example_suffix_after_a_whole_key_does_not_excuse_it() -> None:
    # Given a real secret key followed by the example suffix, as one longer value
    value = f"{AWS_SECRET_KEY}EXAMPLEKEY"
    # Then the value is still reported (as an assigned secret: it is longer than the AWS format)
    assert found(f"aws_secret_access_key = {value}") == [("generic_secret", value)]


def test_tag_characters_inside_a_visible_key_do_not_hide_it_from_the_visual_view() -> None:
    # Given a visible AWS key with invisible tag characters inserted in the middle
    hidden = "".join(chr(0xE0000 + ord(char)) for char in "zz")
    text = f"key {AWS_ACCESS_KEY[:8]}{hidden}{AWS_ACCESS_KEY[8:]} end"
    view = normalise(text)
    visual = view.visual()
    assert visual is not None
    # Then the logical view reads the tags into the key, and the visual view, as a screen shows
    # it, finds the key spanning the tags too
    assert detect_secrets(view) == []
    assert [(hit.type, text[hit.start : hit.end]) for hit in detect_secrets(visual)] == [
        ("aws_access_key", f"{AWS_ACCESS_KEY[:8]}{hidden}{AWS_ACCESS_KEY[8:]}")
    ]


@pytest.mark.parametrize(
    "text",
    [
        f"the keyis{AWS_ACCESS_KEY}",  # glued after a word
        f"{AWS_ACCESS_KEY}thanks",  # glued before one
        f"ID:X{AWS_ACCESS_KEY}Y",  # between capitals
        f"0{AWS_ACCESS_KEY}9",  # between digits
        f"aws_access_key_id={AWS_ACCESS_KEY}_prod",
    ],
)
def test_an_aws_key_glued_to_the_text_around_it_is_still_found(text: str) -> None:
    # A word boundary on either side let "keyis" + key through, and a reader still sees the key.
    assert found(text) == [("aws_access_key", AWS_ACCESS_KEY)]


GLUED: Final = [
    ("github_token", GITHUB_TOKEN),
    ("anthropic_api_key", ANTHROPIC_KEY),
    ("openai_api_key", OPENAI_KEY),
    ("gitlab_token", "glpat-Xy9_Wv8-Ut7Sr6Qp5On4"),
    ("slack_token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
]


@pytest.mark.parametrize(("kind", "value"), GLUED, ids=[kind for kind, _ in GLUED])
def test_a_prefixed_token_glued_after_a_word_is_still_found(kind: str, value: str) -> None:
    # These prefixes are distinctive enough to need no word boundary before them.
    assert found(f"mytokenis{value} ok") == [(kind, value)]
