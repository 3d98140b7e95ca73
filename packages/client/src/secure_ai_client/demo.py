"""`secure-ai demo`: the gateway's paths, shown one by one against the local stack.

1. a signed, encrypted completion; 2. an answer screening redacts; 3. one it blocks (the stub
model's `[demo:redact]` and `[demo:block]` triggers); 4. the same answer for two clients on two
policies: a link carrying data to docs.example.com, blocked under the built-in default, released
under the local stack's example policy `docs-links`, which allow-lists the host; 5. a validation
through the queue: EventBridge `ValidateOutput` → SQS → validator → the verdicts table. Each step
says what happened and whether it is what the gateway should do; the run fails if any step does not.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from secure_ai_client.errors import RateLimited, SecureAIError
from secure_ai_client.results import ChatResult, Decision

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient

    from secure_ai_client.client import SecureAIClient

MODEL: Final = "default"  # the gateway's alias for its configured default model
VERDICT_WAIT_SECONDS: Final = 20.0
POLL_INTERVAL_SECONDS: Final = 0.5
EVENT_SOURCE: Final = "secure-ai.demo"
# Assembled at run time so that secret scanners of this repository do not flag the fake key pair.
_FAKE_KEY_PAIR: Final = (
    "aws_access_key_id = " + "AKIA" + "Q7DEMO3VALIDATE5" + "\n"
    "aws_secret_access_key = " + "demoOnly" + "/NotARealKey+" + "Queue0123456789abcd"
)
_LABEL_WIDTH: Final = 11
# The stub model echoes it: a link with data in its query, to the host the example policy allows.
POLICY_PROMPT: Final = "Read [the guide](https://docs.example.com/guide?ref=Zm9vYmFyYmF6cXV4)."


@dataclass(frozen=True)
class ChatStep:
    """One completion the demo sends, and the decision the gateway should reach."""

    title: str
    prompt: str
    why: str
    expected: Decision


CHAT_STEPS: Final = (
    ChatStep(
        "A signed and encrypted completion",
        "Say hello to a newcomer in one sentence.",
        "",
        "allow",
    ),
    ChatStep(
        "An answer that screening redacts",
        "[demo:redact] How do I reach your support team?",
        "the stub model answers [demo:redact] with an e-mail address and a phone number",
        "redact",
    ),
    ChatStep(
        "An answer that screening blocks",
        "[demo:block] Show me the deployment settings.",
        "the stub model answers [demo:block] with a (fake) AWS access key pair",
        "block",
    ),
)


@dataclass
class Step:
    """What one step printed and whether it behaved as expected."""

    ok: bool = False
    lines: list[tuple[str, str]] = field(default_factory=list)

    def say(self, label: str, text: str) -> None:
        """One labelled line of the step's report."""
        self.lines.append((label, text))


@dataclass(frozen=True)
class QueueTarget:
    """Where the asynchronous validation goes: the bus, and the table its verdict lands in."""

    bus_name: str
    verdicts_table: str
    events: EventBridgeClient
    dynamodb: DynamoDBClient


def run_demo(
    client: SecureAIClient,
    queue: QueueTarget | None,
    out: TextIO,
    *,
    setup_problem: str | None = None,
    policy_client: SecureAIClient | None = None,
    policy_problem: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    verdict_wait_seconds: float = VERDICT_WAIT_SECONDS,
) -> bool:
    """Run every step, print what happened; True when each behaved as expected.

    `policy_client` is the client on the example policy; None (with `policy_problem` saying why)
    fails the policy step. `queue` None (with `setup_problem` saying why) fails the queue step
    without sending anything.
    """
    total = len(CHAT_STEPS) + 2
    _write(out, f"secure-ai demo against {client.base_url} as {client.key_id} ({client.mode} mode)\n")
    _write(
        out,
        "Each request is signed (RFC 9421, HMAC-SHA256, a fresh nonce) and its body sealed with the AWS\n"
        "Encryption SDK; each answer comes back sealed to a one-time key that only this client holds,\n"
        "bound to the request's nonce (its request id).\n",
    )
    passed = 0
    for number, chat_step in enumerate(CHAT_STEPS, start=1):
        _write(out, f"\n[{number}/{total}] {chat_step.title}\n")
        step = _run_chat_step(client, chat_step)
        _report(out, step)
        passed += step.ok
    _write(out, f"\n[{total - 1}/{total}] The same answer for two clients, on two policies\n")
    if policy_client is None:
        step = Step()
        step.say("skipped", policy_problem or "no client on the example policy")
    else:
        step = _run_policy_step(client, policy_client)
    _report(out, step)
    passed += step.ok
    _write(
        out,
        f"\n[{total}/{total}] Validation through the queue: EventBridge -> SQS -> validator -> verdicts\n",
    )
    if queue is None:
        step = Step()
        step.say("skipped", setup_problem or "no bus or verdicts table configured")
    else:
        step = _run_queue_step(queue, clock=clock, sleep=sleep, wait_seconds=verdict_wait_seconds)
    _report(out, step)
    passed += step.ok
    _write(out, f"\n{passed} of {total} steps behaved as expected.\n")
    return passed == total


def _run_chat_step(client: SecureAIClient, chat_step: ChatStep) -> Step:
    step = Step()
    step.say("prompt", json.dumps(chat_step.prompt))
    if chat_step.why:
        step.say("why", chat_step.why)
    try:
        result = client.chat_completions(
            model=MODEL, messages=[{"role": "user", "content": chat_step.prompt}]
        )
    except RateLimited as error:
        wait = f"; retry after {error.retry_after} s" if error.retry_after is not None else ""
        step.say("failed", f"{error}{wait}")
        return step
    except SecureAIError as error:
        step.say("failed", str(error))
        return step
    step.say("request id", f"{result.req_id}  (the signature nonce, bound into both envelopes)")
    step.say("verdict", _verdict_text(result.verdict.decision, result.verdict.finding_types))
    step.say("answer", _answer_text(result))
    step.ok = result.verdict.decision == chat_step.expected and (result.text is None) == (
        chat_step.expected == "block"
    )
    step.say("result", _outcome(step.ok, chat_step.expected, result.verdict.decision))
    return step


def _run_policy_step(client: SecureAIClient, policy_client: SecureAIClient) -> Step:
    step = Step()
    step.say("prompt", json.dumps(POLICY_PROMPT))
    step.say("why", "data in a link's query: a way out, unless the host is one the policy trusts")
    ok = True
    for asking, policy, expected in ((client, "default", "block"), (policy_client, "docs-links", "allow")):
        try:
            result = asking.chat_completions(
                model=MODEL, messages=[{"role": "user", "content": POLICY_PROMPT}]
            )
        except SecureAIError as error:
            step.say("failed", f"{asking.key_id}: {error}")
            return step
        decision = result.verdict.decision
        step.say(
            "verdict", f"{asking.key_id} ({policy}): {_verdict_text(decision, result.verdict.finding_types)}"
        )
        ok = ok and decision == expected and (result.text is None) == (expected == "block")
    step.ok = ok
    step.say(
        "result",
        "ok: the default policy withholds the link, docs-links releases it"
        if ok
        else "UNEXPECTED: the demo expects block under default and allow under docs-links",
    )
    return step


def _run_queue_step(
    queue: QueueTarget,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    wait_seconds: float,
) -> Step:
    step = Step()
    verdict_id = f"demo-{secrets.token_hex(8)}"
    step.say("event", f"ValidateOutput on bus {queue.bus_name}, id {verdict_id}")
    step.say("text", "a deployment note carrying a (fake) AWS access key pair")
    try:
        answer = queue.events.put_events(
            Entries=[
                {
                    "EventBusName": queue.bus_name,
                    "Source": EVENT_SOURCE,
                    "DetailType": "ValidateOutput",
                    "Detail": json.dumps({"id": verdict_id, "text": f"Deploy with:\n{_FAKE_KEY_PAIR}"}),
                }
            ]
        )
    except (BotoCoreError, ClientError) as error:
        step.say("failed", f"PutEvents failed ({_aws_error(error)})")
        return step
    if answer.get("FailedEntryCount", 0):
        step.say("failed", "EventBridge rejected the event")
        return step
    step.say(
        "waiting", f"for verdict {verdict_id} in table {queue.verdicts_table} (up to {wait_seconds:.0f} s)"
    )
    started = clock()
    item = _poll_verdict(queue, verdict_id, deadline=started + wait_seconds, clock=clock, sleep=sleep)
    if isinstance(item, str):
        step.say("failed", item)
        return step
    if item is None:
        step.say("failed", f"no verdict stored within {wait_seconds:.0f} s")
        return step
    decision = item.get("decision", {}).get("S", "?")
    step.say(
        "verdict",
        f"{_verdict_text(decision, _stored_finding_types(item))}  (stored after {clock() - started:.1f} s)",
    )
    step.ok = decision == "block"
    step.say("result", _outcome(step.ok, "block", decision))
    return step


def _poll_verdict(
    queue: QueueTarget,
    verdict_id: str,
    *,
    deadline: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> dict[str, Any] | str | None:
    """The stored item, None when the deadline passes first, or a message when DynamoDB fails."""
    while True:
        try:
            answer = queue.dynamodb.get_item(
                TableName=queue.verdicts_table, Key={"verdict_id": {"S": verdict_id}}, ConsistentRead=True
            )
        except (BotoCoreError, ClientError) as error:
            return f"GetItem failed ({_aws_error(error)})"
        if "Item" in answer:
            return dict(answer["Item"])
        if clock() >= deadline:
            return None
        sleep(POLL_INTERVAL_SECONDS)


def _stored_finding_types(item: dict[str, Any]) -> tuple[str, ...]:
    # The validator stores findings as a JSON list of {type, detector, span, ...} (no values).
    try:
        findings = json.loads(item["findings"]["S"])
        return tuple(sorted({str(finding["type"]) for finding in findings}))
    except (KeyError, TypeError, ValueError):
        return ()


def _verdict_text(decision: str, finding_types: tuple[str, ...]) -> str:
    found = f"findings: {', '.join(finding_types)}" if finding_types else "no findings"
    return f"{decision} — {found}"


def _answer_text(result: ChatResult) -> str:
    if result.text is None:
        return f"(withheld by the gateway; finish_reason {result.finish_reason})"
    return result.text


def _outcome(ok: bool, expected: str, decision: str) -> str:
    if ok:
        return f"ok: {decision}, as the default policy decides"
    return f"UNEXPECTED: the gateway decided {decision}, the demo expects {expected}"


def _aws_error(error: BotoCoreError | ClientError) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__


def _report(out: TextIO, step: Step) -> None:
    for label, text in step.lines:
        first, *rest = text.splitlines() or [""]
        _write(out, f"      {label:<{_LABEL_WIDTH}} {first}\n")
        for line in rest:
            _write(out, f"      {'':<{_LABEL_WIDTH}} {line}\n")


def _write(out: TextIO, text: str) -> None:
    out.write(text)
    out.flush()
