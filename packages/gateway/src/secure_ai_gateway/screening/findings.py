"""What a detector reports: a typed span of the original text, before the policy acts on it."""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

# A detector's name, as the registry (screening/registry.py) lists it and policies name it.
type DetectorName = str
Action = Literal["allow", "redact", "block"]
ACTION_RANK: Final[dict[Action, int]] = {"allow": 0, "redact": 1, "block": 2}

# Finding types of the detectors that have many. Policies may act on a detector as a whole or on one type.
# Personal data, pseudonymised on input and redacted on output by default.
PII_TYPES: Final = ("email", "phone", "card", "iban", "ssn", "ipv4", "ipv6")
# Addresses that identify no one (private, loopback, documentation ranges): reported, allowed by default.
INTERNAL_ADDRESS_TYPES: Final = ("ip_internal",)
SECRET_TYPES: Final = (
    "private_key",
    "aws_access_key",
    "aws_secret_key",
    "gcp_service_account_key",
    "azure_storage_key",
    "azure_client_secret",
    "azure_sas_signature",
    "openai_api_key",
    "anthropic_api_key",
    "github_token",
    "gitlab_token",
    "slack_token",
    "slack_webhook",
    "stripe_secret_key",
    "google_api_key",
    "twilio_api_key",
    "sendgrid_api_key",
    "npm_token",
    "jwt",
    "connection_string",
    "bearer_token",
    "generic_secret",
)
_PII_PLACEHOLDERS: Final = {
    "email": "EMAIL",
    "phone": "PHONE",
    "card": "CARD",
    "iban": "IBAN",
    "ssn": "SSN",
    "ipv4": "IP",
    "ipv6": "IP",
}
_OTHER_PLACEHOLDERS: Final = {
    "canary": "[CANARY]",
    "exfiltration_link": "[LINK]",
    "exfiltration_resource": "[LINK]",
    "deny_term": "[DENIED]",
    "bidi_control": "",
    "ip_internal": "[IP]",
}


class Detection(NamedTuple):
    """One hit: `start`/`end` index the ORIGINAL text; `value` is the normalised match.

    `value` never leaves the process: verdicts carry a masked sample only. A named tuple, not a
    dataclass: detectors make many, and a frozen dataclass costs five times more to build.
    """

    type: str
    detector: DetectorName
    start: int
    end: int
    confidence: float
    value: str
    label: str | None = None


def pii_tag(finding_type: str) -> str:
    """The upper-case tag a PII type is redacted or pseudonymised as (`EMAIL`, `IP`, …)."""
    return _PII_PLACEHOLDERS[finding_type]


def placeholder(finding_type: str) -> str:
    """The typed placeholder a redacted span becomes: `[EMAIL]`, `[SECRET:aws_access_key]`…"""
    if finding_type in _PII_PLACEHOLDERS:
        return f"[{_PII_PLACEHOLDERS[finding_type]}]"
    if finding_type in SECRET_TYPES:
        return f"[SECRET:{finding_type}]"
    return _OTHER_PLACEHOLDERS.get(finding_type, "[REDACTED]")


def mask_sample(value: str) -> str:
    """A hint of what matched that cannot reveal it: at most 4 characters and a quarter of it."""
    shown = min(4, len(value) // 4)
    return f"{value[:shown]}…[redacted]"


# The tags of the placeholders PII is pseudonymised as (`<EMAIL_1>`), as a regex alternation.
PLACEHOLDER_TAGS: Final = "(?:" + "|".join(sorted(set(_PII_PLACEHOLDERS.values()))) + ")"
