"""Test doubles for screening: a clock that moves only when told, and moderation ports."""

from __future__ import annotations

import base64
import json
from typing import Final

from secure_ai_gateway.screening.policy import Policy


class FakeClock:
    """A perf_counter stand-in: time advances only through `advance`."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ScoringModeration:
    """Returns fixed scores and records what it was asked."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores
        self.calls: list[str] = []

    def moderate(self, text: str) -> dict[str, float]:
        self.calls.append(text)
        return dict(self.scores)


class SlowModeration:
    """Answers, but only after `seconds` have passed on the injected clock."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds

    def moderate(self, text: str) -> dict[str, float]:
        self.clock.advance(self.seconds)
        return {"violence": 0.0}


class FailingModeration:
    """Raises like a broken provider adapter would."""

    def moderate(self, text: str) -> dict[str, float]:
        raise RuntimeError("provider exploded")


def local_policy(**changes: object) -> Policy:
    """A policy with every local detector and no moderation (no port needed)."""
    fields: dict[str, object] = {
        "policy_id": "test",
        "version": 1,
        "detectors": frozenset({"pii", "secrets", "canary", "exfiltration", "bidi", "deny_terms", "schema"}),
    }
    fields.update(changes)
    return Policy.model_validate(fields)


def fake_jwt() -> str:
    """A structurally valid HS256 JWT with a made-up signature."""

    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    header, payload = part({"alg": "HS256", "typ": "JWT"}), part({"sub": "user-1", "name": "Test"})
    return f"{header}.{payload}.c2lnbmF0dXJlLW5vdC1yZWFs"


# Fake but format-valid values; none belongs to anyone.
EMAIL: Final = "alice.smith@example.com"
PHONE: Final = "+44 20 7946 0958"
CARD: Final = "4111 1111 1111 1111"
IBAN: Final = "GB82WEST12345698765432"
SSN: Final = "219-09-9999"
# Global addresses: documentation ranges (192.0.2.0/24, 2001:db8::/32) identify no one and are `ip_internal`.
IPV4: Final = "81.2.69.160"
IPV6: Final = "2a02:1388:85a3::8a2e:370:7334"
# Random, in AWS's formats: AWS's own documentation examples (…EXAMPLE) are not secrets.
AWS_ACCESS_KEY: Final = "AKIA2G4JVXLWWQNTO4O2"
AWS_SECRET_KEY: Final = "C2UzO1FCvKiz5hfU7N3slFk65X7iXRpfnY5NHQh8"
GITHUB_TOKEN: Final = "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
CONNECTION_STRING: Final = "postgres://app:Zq8vK2mW9pL4xR7t@db.example.internal:5432/app"
PRIVATE_KEY: Final = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAvZ3k8Fq2s9L0mXyQ7rT1uV4wB6nC8dE0fG2hI4jK6lM8nO0p\n"
    "Q2rS4tU6vW8xY0zA2bC4dE6fG8hI0jK2lM4nO6pQ8rS0tU2vW4xY6zA8bC0dE2f\n"
    "-----END RSA PRIVATE KEY-----"
)


class TickingClock(FakeClock):
    """A clock that moves `step` seconds every time it is read."""

    def __init__(self, step: float) -> None:
        super().__init__()
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now
