"""`ValidationService` on fakes: what it keeps and announces, and how it fails, with no AWS at all."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Final

import pytest

from secure_ai_gateway.screening.catalog import PolicyCatalog
from secure_ai_gateway.screening.moderation import ModerationPort
from secure_ai_gateway.services.validator import ValidationService
from secure_ai_protocol.errors import BadRequest, DependencyUnavailable
from secure_ai_protocol.wire.validation import ValidationRequest
from secure_ai_protocol.wire.verdict import Verdict
from tests.gateway.completion.fakes import DIGEST_KEY, hmac_digest

NOW: Final = 1_800_000_000.0
SECRET_LOOKING: Final = "key AKIAZ7ZQ4T5XWV6YB3NM and wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEZ"


@dataclass
class FakeRecords:
    """Keeps records in memory; fails when told to."""

    kept: list[tuple[dict[str, Any], float]] = field(default_factory=list)
    failure: Exception | None = None

    def put(self, record: dict[str, Any], now: float) -> None:
        if self.failure is not None:
            raise self.failure
        self.kept.append((record, now))


@dataclass
class FakeEvents:
    published: list[dict[str, Any]] = field(default_factory=list)

    def publish(self, record: dict[str, Any]) -> None:
        self.published.append(record)


@dataclass
class FakeModeration:
    """Scores every text harmless, recording what it was sent."""

    sent: list[str] = field(default_factory=list)

    def moderate(self, text: str) -> dict[str, float]:
        self.sent.append(text)
        return {"violence": 0.0}


def no_moderation() -> ModerationPort:
    return FakeModeration()


def service(records: FakeRecords, events: FakeEvents) -> ValidationService:
    return ValidationService(
        policies=PolicyCatalog(),
        moderation=no_moderation,
        store=records,
        publisher=events,
        clock=lambda: NOW,
        digest_key=lambda: DIGEST_KEY,
    )


def validate(text: str, records: FakeRecords, events: FakeEvents, **request: Any) -> Any:
    return service(records, events).validate(
        ValidationRequest(text=text, **request), verdict_id="v-1", client_id="app-1", source="api"
    )


def test_an_allowed_text_is_kept_and_announced_by_its_keyed_digest_only() -> None:
    records, events = FakeRecords(), FakeEvents()
    verdict = validate("The meeting is at noon.", records, events)
    assert verdict.decision == "allow"
    (record, stored_at) = records.kept[0]
    assert stored_at == NOW
    assert events.published == [record]
    assert record["content_digest"] == hmac_digest("The meeting is at noon.")
    assert "noon" not in json.dumps(record)


def test_a_blocked_text_is_kept_without_a_digest_and_without_its_secret() -> None:
    records, events = FakeRecords(), FakeEvents()
    verdict = validate(SECRET_LOOKING, records, events)
    assert verdict.decision == "block"
    record = events.published[0]
    assert (record["decision"], record["content_digest"], record["client_id"]) == ("block", None, "app-1")
    assert "AKIA" not in json.dumps(record)
    assert {finding["type"] for finding in record["findings"]} >= {"aws_access_key"}


def test_an_unknown_policy_is_the_callers_mistake_and_nothing_is_kept() -> None:
    records, events = FakeRecords(), FakeEvents()
    with pytest.raises(BadRequest) as refused:
        validate("Hello.", records, events, policy_id="no-such-policy")
    assert refused.value.reason == "unknown_policy"
    assert (records.kept, events.published) == ([], [])


def test_a_store_that_fails_fails_the_validation_and_nothing_is_announced() -> None:
    records, events = FakeRecords(failure=DependencyUnavailable("verdicts_unavailable")), FakeEvents()
    with pytest.raises(DependencyUnavailable):
        validate("Hello.", records, events)
    assert events.published == []


def test_every_kept_verdict_is_handed_to_on_verdict_after_it_is_announced() -> None:
    records, events, seen = FakeRecords(), FakeEvents(), list[Verdict]()
    validation = dataclasses.replace(service(records, events), on_verdict=seen.append)
    verdict = validation.validate(
        ValidationRequest(text="Hello."), verdict_id="v-1", client_id=None, source="queue"
    )
    assert seen == [verdict]
    assert len(events.published) == 1
