"""`run_demo`: what it prints and when it fails, with a fake client and fake AWS clients."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from secure_ai_client.demo import POLICY_PROMPT, QueueTarget, run_demo
from secure_ai_client.errors import RateLimited, SecureAIError
from secure_ai_client.results import ChatResult
from tests.client.fake_gateway import ALLOW_VERDICT, BLOCK_VERDICT

if TYPE_CHECKING:
    from secure_ai_client.client import SecureAIClient

REDACT_VERDICT: dict[str, Any] = ALLOW_VERDICT | {
    "decision": "redact",
    "findings": [
        {"type": "email", "detector": "pii", "action": "redact", "span": [0, 5], "confidence": 0.9},
        {"type": "phone", "detector": "pii", "action": "redact", "span": [6, 9], "confidence": 0.9},
    ],
}


def chat_result(verdict: dict[str, Any], text: str | None) -> ChatResult:
    return ChatResult.model_validate(
        {
            "req_id": "bm9uY2UtMTIzNDU2Nzg5MDEy",
            "text": text,
            "finish_reason": "stop" if text is not None else "content_filter",
            "completion": {},
            "verdict": verdict,
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    )


@dataclass
class StubbedClient:
    """Answers like the local stack's stub model and screening would; or raises `failure`."""

    failure: SecureAIError | None = None
    redact_decides: str = "redact"
    base_url: str = "http://127.0.0.1:3000/prod"
    key_id: str = "local-demo.1"
    mode: str = "server"
    # Which link the client's policy trusts: the demo client's default policy trusts none.
    policy: str = "default"

    def chat_completions(self, *, model: str, messages: list[dict[str, str]]) -> ChatResult:
        if self.failure is not None:
            raise self.failure
        prompt = messages[-1]["content"]
        if prompt == POLICY_PROMPT:
            if self.policy == "docs-links":
                return chat_result(ALLOW_VERDICT, prompt)
            return chat_result(BLOCK_VERDICT, None)
        if "[demo:block]" in prompt:
            return chat_result(BLOCK_VERDICT, None)
        if "[demo:redact]" in prompt:
            verdict = REDACT_VERDICT if self.redact_decides == "redact" else ALLOW_VERDICT
            return chat_result(verdict, "Reach us at [EMAIL] or [PHONE].")
        return chat_result(ALLOW_VERDICT, "Hello!")


@dataclass
class FakeEvents:
    failed_entries: int = 0
    error: ClientError | None = None
    sent: list[dict[str, Any]] = field(default_factory=list)

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        if self.error is not None:
            raise self.error
        self.sent += Entries
        return {"FailedEntryCount": self.failed_entries, "Entries": []}


@dataclass
class FakeDynamoDB:
    events: FakeEvents
    decision: str = "block"
    stored_after_polls: int = 2
    never: bool = False
    error: ClientError | None = None
    polls: int = 0

    def get_item(self, **request: Any) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        assert request["ConsistentRead"] is True
        self.polls += 1
        sent_id = json.loads(self.events.sent[0]["Detail"])["id"]
        if self.never or self.polls < self.stored_after_polls or request["Key"]["verdict_id"]["S"] != sent_id:
            return {}
        findings = [{"type": "aws_access_key"}, {"type": "aws_secret_key"}]
        return {"Item": {"decision": {"S": self.decision}, "findings": {"S": json.dumps(findings)}}}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def demo(
    client: StubbedClient | None = None,
    events: FakeEvents | None = None,
    dynamodb: FakeDynamoDB | None = None,
    *,
    queue: bool = True,
    policy_client: StubbedClient | None = None,
    policy: bool = True,
) -> tuple[bool, str]:
    events = events or FakeEvents()
    dynamodb = dynamodb or FakeDynamoDB(events)
    target = (
        QueueTarget("demo-bus", "demo-verdicts", cast("Any", events), cast("Any", dynamodb))
        if queue
        else None
    )
    out, clock = io.StringIO(), Clock()
    ok = run_demo(
        cast("SecureAIClient", client or StubbedClient()),
        target,
        out,
        setup_problem=None if queue else "local.json has no 'event_bus_name'",
        policy_client=cast(
            "SecureAIClient", policy_client or StubbedClient(key_id="local-docs.1", policy="docs-links")
        )
        if policy
        else None,
        policy_problem=None if policy else "local-docs.json not found",
        clock=clock,
        sleep=clock.sleep,
    )
    return ok, out.getvalue()


def test_a_demo_where_every_step_behaves_succeeds_and_says_what_each_showed() -> None:
    ok, printed = demo()

    assert ok
    assert "as local-demo.1 (server mode)" in printed
    assert "verdict     allow — no findings" in printed
    assert "verdict     redact — findings: email, phone" in printed
    assert "answer      (withheld by the gateway; finish_reason content_filter)" in printed
    assert "verdict     block — findings: aws_access_key, aws_secret_key  (stored after 0.5 s)" in printed
    assert "verdict     local-demo.1 (default): block" in printed
    assert "verdict     local-docs.1 (docs-links): allow — no findings" in printed
    assert "ok: the default policy withholds the link, docs-links releases it" in printed
    assert printed.rstrip().endswith("5 of 5 steps behaved as expected.")


def test_the_queued_text_carries_a_fake_key_pair_under_a_fresh_id_and_is_not_printed() -> None:
    events = FakeEvents()
    _, printed = demo(events=events)

    (entry,) = events.sent
    detail = json.loads(entry["Detail"])
    assert (entry["DetailType"], entry["EventBusName"]) == ("ValidateOutput", "demo-bus")
    assert detail["id"].startswith("demo-")
    assert "AKIA" in detail["text"]
    assert "AKIA" not in printed


def test_a_decision_other_than_expected_fails_the_demo() -> None:
    ok, printed = demo(StubbedClient(redact_decides="allow"))

    assert not ok
    assert "UNEXPECTED: the gateway decided allow, the demo expects redact" in printed
    assert "4 of 5 steps behaved as expected." in printed


def test_a_refused_request_is_reported_with_its_retry_time_and_fails_the_demo() -> None:
    ok, printed = demo(StubbedClient(failure=RateLimited(429, "too_many_requests", None, retry_after=2)))

    assert not ok
    assert "failed      429 too_many_requests; retry after 2 s" in printed
    assert "1 of 5 steps behaved as expected." in printed


def test_without_a_bus_step_4_is_skipped_with_the_reason_and_the_demo_fails() -> None:
    ok, printed = demo(queue=False)

    assert not ok
    assert "skipped     local.json has no 'event_bus_name'" in printed


def test_a_verdict_that_never_arrives_fails_after_the_bounded_wait() -> None:
    events = FakeEvents()
    dynamodb = FakeDynamoDB(events, never=True)

    ok, printed = demo(events=events, dynamodb=dynamodb)

    assert not ok
    assert "failed      no verdict stored within 20 s" in printed
    assert dynamodb.polls == 41  # every 0.5 s from 0 to 20 s


def test_aws_failures_are_reported_by_their_error_code() -> None:
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutEvents")
    ok, printed = demo(events=FakeEvents(error=denied))
    assert not ok
    assert "PutEvents failed (AccessDeniedException)" in printed

    events = FakeEvents()
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "GetItem")
    ok, printed = demo(events=events, dynamodb=FakeDynamoDB(events, error=throttled))
    assert not ok
    assert "GetItem failed (ThrottlingException)" in printed

    ok, printed = demo(events=FakeEvents(failed_entries=1))
    assert not ok
    assert "EventBridge rejected the event" in printed


def test_without_the_example_client_the_policy_step_is_skipped_with_the_reason_and_the_demo_fails() -> None:
    ok, printed = demo(policy=False)

    assert not ok
    assert "skipped     local-docs.json not found" in printed
    assert "4 of 5 steps behaved as expected." in printed


def test_a_policy_that_changes_nothing_fails_the_policy_step() -> None:
    ok, printed = demo(policy_client=StubbedClient(key_id="local-docs.1"))

    assert not ok
    assert "UNEXPECTED: the demo expects block under default and allow under docs-links" in printed
