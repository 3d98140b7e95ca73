"""The fault matrix: every dependency, failing four ways (error, throttling, timeout, malformed answer).

For each cell: what the client sees (the authorizer refuses; the completion function answers 503 for
KMS, DynamoDB and Secrets Manager, 502/429/504 for the model, and a blocked verdict when moderation
fails; the validator's API answers 503 when it cannot keep or announce a verdict), that nothing is
allowed or answered that should not be, and that no queued message is lost: a record whose screening
hits a fault is reported in batchItemFailures, SQS redelivers it, and once the dependency recovers it
is screened, stored and announced exactly once; a record that keeps failing goes to the DLQ.

The streaming route (`POST /v1/chat/completions/stream`) is in the matrix too, its function called
over HTTP as the Lambda Web Adapter calls it (tests/security/harness.py). Every failure before the
model's first piece is a refusal with the completion function's status and body, byte for byte, for
the same request under the same failure (both are sent). After the first byte the status is gone:
moderation failing, the model failing mid-stream (an error event, a read timing out, a chunk that is
not JSON, the connection reset, the stream ending without its finish reason, after 1, 3 or 30
pieces) end the stream with its one final event, `block`, with `unavailable: moderation` or a
`model_failed` finding, and the text shown is only screened text (a secret the model was writing
when it broke is never released); a lost settlement still streams the allowed answer. Each
streaming cell also reads the usage table: a reservation is untouched (refused before it), settled
(at zero when the model refused, at the provider's usage, or at the whole reservation when no usage
came), or kept when its settlement is lost; never lost.

One cell is not a 503 by design: a KMS Decrypt answering a plaintext that is not a data key (31 bytes)
is a 400. What KMS decrypts under the request keys is what the client wrapped (a server client calls
KMS itself; RSA wraps whatever the client chose), so the gateway cannot tell that answer from an
envelope the client built wrong; it refuses the envelope, as it must.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import boto3
import pytest

from secure_ai_protocol.envelope.responses import open_response
from tests.fake_provider import USAGE, FakeProvider
from tests.gateway_events import sqs_batch, sqs_record
from tests.security.faults import (
    CLIENTS_TABLE,
    EVENTBRIDGE,
    FAULT_KINDS,
    IDEMPOTENCY_TABLE,
    KMS_REQUEST_KEY,
    KMS_RSA_KEY,
    KMS_SEALING,
    MID_STREAM_FAULTS,
    MODEL,
    MODERATION,
    NONCES_TABLE,
    POLICIES_TABLE,
    SECRETS_MANAGER,
    SQS_DELETE,
    USAGE_RESERVE,
    USAGE_SETTLE,
    VERDICT_DIGEST_KEY,
    VERDICTS_TABLE,
    AwsDependency,
    AwsFaults,
    FaultKind,
    MidStreamFault,
    ProviderFaults,
    answer_json,
)
from tests.security.harness import (
    CLIENT_MAX_TOKENS,
    EnvelopeMode,
    Gateway,
    QueueTrigger,
    Refused,
    SecurityStack,
    SignedProxyCall,
    Streamed,
    Usage,
    status_of,
)
from tests.security.tally import count_fault

SERVICE_UNAVAILABLE: Final = 503
BLOCKED: Final = "a blocked verdict"
RETRIED: Final = "reported for a retry"


@dataclass(frozen=True)
class Cell:
    """One cell of the matrix: a dependency, how it fails, and what the table expects then."""

    dependency: Any
    fault: FaultKind
    expected: Any

    @property
    def name(self) -> str:
        return self.dependency.name if isinstance(self.dependency, AwsDependency) else str(self.dependency)


def cells(dependencies: tuple[Any, ...], expected: Callable[[Any, FaultKind], Any]) -> list[Any]:
    """One test parameter per (dependency, fault), carrying the outcome the table expects."""
    matrix = [Cell(each, fault, expected(each, fault)) for each in dependencies for fault in FAULT_KINDS]
    return [pytest.param(cell, id=f"{cell.name}-{cell.fault}") for cell in matrix]


@dataclass
class Faults:
    """A test's injectors: the AWS dependencies and the model provider's endpoints."""

    aws: AwsFaults
    model: ProviderFaults
    provider: FakeProvider

    def inject(self, cell: Cell) -> None:
        """Make the cell's dependency fail the cell's way, from now on."""
        if isinstance(cell.dependency, AwsDependency):
            self.aws.inject(cell.dependency, cell.fault)
        else:
            self.model.inject(cell.dependency, cell.fault)

    @property
    def delivered(self) -> int:
        """How many faults reached the code under test."""
        return self.aws.delivered + self.model.delivered


@pytest.fixture
def faults(gateway: Gateway, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> Faults:
    """Fault injectors for the module's stack and the fake provider."""
    return Faults(AwsFaults(monkeypatch, gateway.stack), ProviderFaults(provider), provider)


# -- the authorizer ------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", cells((CLIENTS_TABLE, KMS_SEALING, NONCES_TABLE), lambda *_: Refused()))
def test_the_authorizer_refuses_a_valid_signature_whenever_a_dependency_fails(
    gateway: Gateway, faults: Faults, cell: Cell
) -> None:
    # Given a request the client signed just now, and a dependency of the authorizer failing
    call = gateway.chat_call()
    faults.inject(cell)

    # When the authorizer sees it
    outcome = gateway.authorize(call.authorizer_event())

    # Then it fails closed: the one refusal, never an Allow
    assert outcome == cell.expected
    assert faults.delivered >= 1


# -- the completion function ---------------------------------------------------------------------


def completion_status(dependency: Any, fault: FaultKind) -> int | str:
    """What a client of the completion route sees when `dependency` fails with `fault`."""
    if dependency is MODEL:
        return {"error": 502, "throttling": 429, "timeout": 504, "malformed": 502}[fault]
    if dependency is MODERATION:
        return BLOCKED
    if dependency is USAGE_SETTLE:
        return 200  # the answer exists; a lost settlement leaves the reservation counted (over, not under)
    if dependency in (KMS_REQUEST_KEY, KMS_RSA_KEY) and fault == "malformed":
        return 400  # see the module docstring
    return SERVICE_UNAVAILABLE


BEFORE_THE_MODEL: Final = (
    CLIENTS_TABLE,
    POLICIES_TABLE,
    USAGE_RESERVE,
    KMS_REQUEST_KEY,
    KMS_RSA_KEY,
    SECRETS_MANAGER,
    VERDICT_DIGEST_KEY,
)


@pytest.mark.parametrize(
    "cell", cells((*BEFORE_THE_MODEL, USAGE_SETTLE, MODEL, MODERATION), completion_status)
)
def test_the_completion_function_answers_each_dependency_failure_with_its_status(
    gateway: Gateway, faults: Faults, cell: Cell
) -> None:
    # Given a sealed chat request (server mode when the symmetric key is the one failing)
    call = gateway.chat_call(mode="server" if cell.dependency is KMS_REQUEST_KEY else "mobile")
    faults.inject(cell)

    # When the completion function handles it
    response = gateway.complete(call.proxy_event(gateway.client))

    # Then the client sees the table's status, and nothing it should not
    assert faults.delivered >= 1
    if cell.expected == BLOCKED:
        verdict = opened(response, call)["verdict"]
        assert (verdict["decision"], "moderation" in verdict["unavailable"]) == ("block", True)
        return
    assert status_of(response) == cell.expected
    assert "UPSTREAM-DETAIL" not in response["body"]
    if cell.expected == 429:
        headers = {name.lower(): value for name, value in response["multiValueHeaders"].items()}
        assert headers["retry-after"] == ["7"]
    if cell.dependency in BEFORE_THE_MODEL:
        assert faults.provider.chat_requests == [], "the model was called for a request not admitted"


def opened(response: dict[str, Any], call: SignedProxyCall) -> dict[str, Any]:
    """The sealed answer, opened as the client would."""
    assert status_of(response) == 200
    assert call.resp_key is not None
    plaintext = open_response(base64.b64decode(response["body"]), resp_key=call.resp_key, req_id=call.nonce)
    payload: dict[str, Any] = json.loads(plaintext)
    return payload


# -- the streaming function ----------------------------------------------------------------------

ALLOWED: Final = "an allowed stream"
# The incremental mode: moderation judges sentence windows, so a stream releases text while the model
# writes (the default buffers for moderation and releases everything at the end).
INCREMENTAL: Final = {"stream_modes": {"moderation": "incremental"}}
# A long answer of short sentences, streamed in pieces of PIECE characters.
PROSE: Final = "".join(f"Sentence {n} of the answer tells of the weather over the hills. " for n in range(80))
PIECE: Final = 40
# The stub model's fake AWS access key id (secure_ai_local/stub_model.py), assembled as it assembles it.
HELD_BACK_SECRET: Final = "AKIA" + "STUBDEMOKEY7Q4XP"
# After 0 pieces the model fails before the first byte (a refusal); after 1, 3 or 30 (1200
# characters, some released under the incremental mode) it fails mid-stream.
MID_STREAM_POINTS: Final = (1, 3, 30)
# The fault of the buffered call that fails as a stream failing before its first piece does.
BUFFERED_TWIN: Final[dict[MidStreamFault, FaultKind]] = {
    "error": "error",
    "timeout": "timeout",
    "malformed": "malformed",
    "cut": "error",
    "truncated": "malformed",
}
# What the fake provider reports using for an answer it finished (tests/fake_provider.py).
PROVIDER_TOKENS: Final = USAGE["total_tokens"]

UNTOUCHED: Final = Usage(0, 0, 0)
# Reserved, then settled at zero: the request counted, no tokens.
SETTLED_AT_ZERO: Final = Usage(0, 0, 1)


def streaming_outcome(dependency: Any, fault: FaultKind) -> int | str:
    """What a client of the stream route sees: the completion function's refusal for every failure
    before the model's first piece, a final event that blocks when moderation fails, and an allowed
    stream when only the settlement is lost (the answer exists; the reservation stays counted)."""
    return ALLOWED if dependency is USAGE_SETTLE else completion_status(dependency, fault)


def settled(spent: Usage) -> bool:
    """One request whose tokens were settled: at the provider's usage, or (when none came: a stream
    cut short) at the whole reservation, which holds at least the completion limit."""
    return (
        spent.requests == 1
        and spent.settled == spent.counted
        and (spent.counted == PROVIDER_TOKENS or spent.counted >= CLIENT_MAX_TOKENS)
    )


def kept(spent: Usage) -> bool:
    """One request whose settlement was lost: the whole reservation stays counted (over, not under)."""
    return spent.requests == 1 and spent.settled == 0 and spent.counted >= CLIENT_MAX_TOKENS


def budget_after(cell: Cell, spent: Usage) -> bool:
    """Whether `spent` is what the cell's failure must leave in the usage table: untouched when the
    call is refused before its reservation, settled at zero when the model refuses it, settled or
    kept (never lost) once the model answered."""
    if cell.dependency in BEFORE_THE_MODEL:
        return spent == UNTOUCHED
    if cell.dependency is MODEL:
        return spent == SETTLED_AT_ZERO
    if cell.dependency is USAGE_SETTLE:
        return kept(spent)
    return settled(spent)


def stream_ended(streamed: Streamed, call: SignedProxyCall) -> tuple[str, dict[str, Any]]:
    """The text a client was shown, and the final event: the stream opened in order, whole."""
    assert streamed.is_stream, f"a {streamed.status} where a stream was due"
    events = streamed.events(call)
    return "".join(event["delta"] for event in events), events[-1]


def finding_types(verdict: Mapping[str, Any]) -> list[str]:
    return [finding["type"] for finding in verdict["findings"]]


def retry_after(response: Mapping[str, Any]) -> list[str] | None:
    headers = {name.lower(): value for name, value in response["multiValueHeaders"].items()}
    value = headers.get("retry-after")
    return None if value is None else list(value)


@pytest.mark.parametrize("cell", cells((CLIENTS_TABLE, KMS_SEALING, NONCES_TABLE), lambda *_: Refused()))
def test_the_authorizer_refuses_a_streamed_call_whenever_a_dependency_fails(
    gateway: Gateway, faults: Faults, cell: Cell
) -> None:
    # Given a streamed-answer request the client signed just now, and a dependency of the authorizer failing
    call = gateway.stream_call()
    faults.inject(cell)

    # When the authorizer sees it (the stream route has the same REQUEST authorizer)
    outcome = gateway.authorize(call.authorizer_event())

    # Then it fails closed: the one refusal, never an Allow
    assert outcome == cell.expected
    assert faults.delivered >= 1


@pytest.mark.parametrize(
    "cell", cells((*BEFORE_THE_MODEL, USAGE_SETTLE, MODEL, MODERATION), streaming_outcome)
)
def test_the_streaming_function_answers_each_dependency_failure_as_the_completion_function_does(
    gateway: Gateway, faults: Faults, cell: Cell
) -> None:
    # Given a sealed request for a streamed answer (server mode when the symmetric key is the one failing)
    mode: EnvelopeMode = "server" if cell.dependency is KMS_REQUEST_KEY else "mobile"
    call = gateway.stream_call(mode=mode)
    before = gateway.usage()
    faults.inject(cell)

    # When the streaming function handles it (over HTTP, as the Lambda Web Adapter calls it)
    streamed = gateway.stream(call)
    spent = gateway.usage() - before
    model_called = faults.provider.chat_requests != []
    # ... and the completion function handles the same request, unstreamed, under the same failure
    unstreamed = gateway.chat_call(mode=mode)
    buffered = gateway.complete(unstreamed.proxy_event(gateway.client))

    # Then the client sees what the buffered route shows it, and the budget is untouched, settled or kept
    assert faults.delivered >= 2
    assert budget_after(cell, spent), f"the budget was left at {spent}"
    if cell.expected in (BLOCKED, ALLOWED):
        text, final = stream_ended(streamed, call)
        answer = opened(buffered, unstreamed)
        assert final["verdict"]["decision"] == answer["verdict"]["decision"]
        assert final["verdict"]["unavailable"] == answer["verdict"]["unavailable"]
        assert finding_types(final["verdict"]) == finding_types(answer["verdict"])
        assert text == (answer["completion"]["choices"][0]["message"]["content"] or "")
        if cell.expected == BLOCKED:
            assert (final["verdict"]["decision"], "moderation" in final["verdict"]["unavailable"]) == (
                "block",
                True,
            )
            assert (text, final["finish_reason"]) == ("", "content_filter"), "unscreened text released"
        else:
            assert final["verdict"]["decision"] == "allow"
        return
    # A refusal before the first byte: the same status, the same body, byte for byte, the same Retry-After
    assert streamed.status == cell.expected == status_of(buffered)
    assert streamed.json() == json.loads(buffered["body"])
    assert streamed.body == buffered["body"].encode()
    assert streamed.headers.get("retry-after") == (None if cell.expected != 429 else "7")
    assert retry_after(buffered) == (None if cell.expected != 429 else ["7"])
    assert b"UPSTREAM-DETAIL" not in streamed.body
    if cell.dependency in BEFORE_THE_MODEL:
        assert not model_called, "the model was called for a request not admitted"


@pytest.mark.parametrize("fault", MID_STREAM_FAULTS)
def test_a_model_failing_before_its_first_piece_is_refused_as_the_completion_function_refuses(
    gateway: Gateway, faults: Faults, fault: MidStreamFault
) -> None:
    # Given the model accepting a streamed request (200), then failing before its first piece
    faults.provider.answer = PROSE
    faults.model.inject_mid_stream(fault, after=0)
    call = gateway.stream_call()
    before = gateway.usage()

    # When the streaming function handles it, and the completion function a request whose model fails alike
    streamed = gateway.stream(call)
    spent = gateway.usage() - before
    faults.model.inject(MODEL, BUFFERED_TWIN[fault])
    buffered = gateway.complete(gateway.chat_call().proxy_event(gateway.client))

    # Then nothing was streamed: the buffered route's refusal, byte for byte, and the budget settled at zero
    assert streamed.status == status_of(buffered) == (504 if fault == "timeout" else 502)
    assert streamed.body == buffered["body"].encode()
    assert spent == SETTLED_AT_ZERO


@pytest.mark.parametrize("after", MID_STREAM_POINTS)
@pytest.mark.parametrize("fault", MID_STREAM_FAULTS)
def test_a_model_failing_mid_stream_ends_the_stream_blocked_releasing_no_held_back_text(
    gateway: Gateway, faults: Faults, fault: MidStreamFault, after: int
) -> None:
    # Given a policy that releases text while the model writes, and a model that breaks after `after`
    # pieces, the last of which completes a secret the screen has not let through yet
    gateway.use_policy("stream-incremental", INCREMENTAL)
    sent = PROSE[: after * PIECE - len(HELD_BACK_SECRET) - 1] + " " + HELD_BACK_SECRET
    faults.provider.answer, faults.provider.stream_piece_chars = sent + PROSE, PIECE
    faults.model.inject_mid_stream(fault, after=after)
    call = gateway.stream_call()
    before = gateway.usage()

    # When the streaming function streams the answer
    streamed = gateway.stream(call)
    spent = gateway.usage() - before

    # Then the stream opens, in order, and ends with its one final event: blocked as the model's failure
    text, final = stream_ended(streamed, call)
    assert faults.delivered == 1
    assert (final["verdict"]["decision"], finding_types(final["verdict"])) == ("block", ["model_failed"])
    assert (final["delta"], final["finish_reason"], final.get("usage")) == ("", "content_filter", None)
    # ... having shown only screened text the model had sent, never the text held back when it broke
    assert sent.startswith(text)
    assert HELD_BACK_SECRET[:4] not in text
    if after == MID_STREAM_POINTS[-1]:
        assert text, "no text had been released: the failure did not strike after released text"
    # ... and the budget settled at the whole reservation (the provider's usage never came)
    assert settled(spent), f"the budget was left at {spent}"
    assert spent.counted >= CLIENT_MAX_TOKENS


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_moderation_failing_mid_stream_ends_the_stream_blocked_as_unavailable(
    gateway: Gateway, faults: Faults, fault: FaultKind
) -> None:
    # Given a policy that moderates sentence windows while the model writes, and moderation failing
    gateway.use_policy("stream-incremental", INCREMENTAL)
    faults.provider.answer = PROSE
    faults.inject(Cell(MODERATION, fault, BLOCKED))
    call = gateway.stream_call()
    before = gateway.usage()

    # When the streaming function streams the answer
    streamed = gateway.stream(call)
    spent = gateway.usage() - before

    # Then the 200 is gone when moderation is first asked: the final event blocks, moderation unavailable
    text, final = stream_ended(streamed, call)
    assert faults.delivered >= 1
    assert final["verdict"]["decision"] == "block"
    assert "moderation" in final["verdict"]["unavailable"]
    assert final["finish_reason"] == "content_filter"
    # ... nothing unmoderated was shown, and the budget is settled
    assert text == ""
    assert settled(spent), f"the budget was left at {spent}"


# -- the validator's API route -------------------------------------------------------------------


def validator_api_status(dependency: Any, fault: FaultKind) -> int | str:
    """What a client of the validate route sees when `dependency` fails with `fault`."""
    if dependency in (MODERATION, SECRETS_MANAGER):
        return BLOCKED  # moderation fetches the key when it runs: either failure blocks, visibly
    if dependency in (KMS_REQUEST_KEY, KMS_RSA_KEY) and fault == "malformed":
        return 400
    return SERVICE_UNAVAILABLE


VALIDATOR_API_DEPENDENCIES: Final = (
    POLICIES_TABLE,
    VERDICTS_TABLE,
    EVENTBRIDGE,
    KMS_REQUEST_KEY,
    KMS_RSA_KEY,
    SECRETS_MANAGER,
    VERDICT_DIGEST_KEY,
    MODERATION,
)


@pytest.mark.parametrize("cell", cells(VALIDATOR_API_DEPENDENCIES, validator_api_status))
def test_the_validator_api_answers_each_dependency_failure_with_its_status(
    gateway: Gateway, faults: Faults, cell: Cell
) -> None:
    # Given a validate request (sealed when a KMS key is the one failing, JSON otherwise)
    document = {"text": "Ship it to jane.doe@example.com", "id": f"api-{gateway.unique()}"}
    if cell.dependency in (KMS_REQUEST_KEY, KMS_RSA_KEY):
        mode: EnvelopeMode = "server" if cell.dependency is KMS_REQUEST_KEY else "mobile"
        call = gateway.validate_envelope_call(document, mode=mode)
    else:
        call = gateway.validate_json_call(document)
    faults.inject(cell)

    # When the validator's API route handles it
    response = gateway.validator(call.proxy_event(gateway.client))

    # Then the client sees the table's status: a verdict it cannot keep or announce is a 503
    assert faults.delivered >= 1
    if cell.expected == BLOCKED:
        verdict = answer_json(response)
        assert status_of(response) == 200
        assert (verdict["decision"], "moderation" in verdict["unavailable"]) == ("block", True)
    else:
        assert status_of(response) == cell.expected


# -- the validator's queue -----------------------------------------------------------------------


@dataclass
class Observer:
    """Every event published on the validation bus, read from an observer queue the bus feeds."""

    url: str
    seen: list[dict[str, Any]]

    def published_for(self, verdict_id: str) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        while messages := sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            self.seen += [json.loads(message["Body"]) for message in messages]
            for message in messages:
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return [event for event in self.seen if event["detail"]["id"] == verdict_id]


@pytest.fixture(scope="module")
def observer(security_stack: SecurityStack) -> Observer:
    """An observer queue subscribed to every verdict event of the module's bus."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="fault-matrix-observer")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = security_stack.stack.ref("ValidationBus")
    pattern = json.dumps({"detail-type": ["OutputScreened", "OutputBlocked"]})
    events.put_rule(Name="fault-matrix-observer", EventBusName=bus, EventPattern=pattern)
    events.put_targets(
        Rule="fault-matrix-observer", EventBusName=bus, Targets=[{"Id": "observer", "Arn": arn}]
    )
    return Observer(url, [])


def verdict_row(gateway: Gateway, verdict_id: str) -> dict[str, Any] | None:
    table = gateway.stack.ref("VerdictsTable")
    item = (
        boto3.client("dynamodb").get_item(TableName=table, Key={"verdict_id": {"S": verdict_id}}).get("Item")
    )
    return dict(item) if item else None


def queue_outcome(dependency: Any, fault: FaultKind) -> str:
    """What becomes of a queued message whose screening meets `dependency` failing with `fault`."""
    return BLOCKED if dependency in (SECRETS_MANAGER, MODERATION) else RETRIED


QUEUE_DEPENDENCIES: Final = (
    POLICIES_TABLE,
    VERDICTS_TABLE,
    EVENTBRIDGE,
    IDEMPOTENCY_TABLE,
    SECRETS_MANAGER,
    VERDICT_DIGEST_KEY,
    MODERATION,
)


@pytest.mark.parametrize("cell", cells(QUEUE_DEPENDENCIES, queue_outcome))
def test_a_queued_message_that_meets_a_failing_dependency_is_retried_and_screened_once(
    gateway: Gateway, faults: Faults, observer: Observer, cell: Cell
) -> None:
    # Given a queued screening request, delivered while a dependency fails
    verdict_id = f"queued-{gateway.unique()}"
    message_id = f"m-{verdict_id}"
    record = sqs_record(json.dumps({"text": "Ship it to jane.doe@example.com", "id": verdict_id}), message_id)
    faults.inject(cell)

    # When the validator processes the batch, and SQS delivers the message again once it recovered
    first = gateway.validator(sqs_batch([record]))
    faults.aws.clear()
    again = gateway.validator(sqs_batch([record]))

    # Then a fault it cannot screen through is reported (SQS keeps the message); nothing lost or doubled
    assert faults.delivered >= 1
    assert again == {"batchItemFailures": []}
    row = verdict_row(gateway, verdict_id)
    assert row is not None, "the message was lost: no verdict was ever stored"
    assert len(observer.published_for(verdict_id)) == 1, "a verdict announced more or less than once"
    if cell.expected == RETRIED:
        assert first == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    else:
        assert first == {"batchItemFailures": []}
        assert row["decision"] == {"S": "block"}
        assert "moderation" in json.loads(row["unavailable"]["S"])


@pytest.mark.parametrize("fault", [fault for fault in FAULT_KINDS if fault != "malformed"])
def test_a_message_whose_delete_fails_is_redelivered_and_screened_once(
    gateway: Gateway, faults: Faults, observer: Observer, fault: FaultKind
) -> None:
    # Given a screening request on the validation queue, and SQS failing to delete processed messages
    sqs = boto3.client("sqs")
    queue = QueueTrigger(gateway, gateway.stack.ref("ValidationQueue"), sqs)
    verdict_id = f"delete-{gateway.unique()}"
    sqs.send_message(
        QueueUrl=gateway.stack.ref("ValidationQueue"),
        MessageBody=json.dumps({"text": "ok", "id": verdict_id}),
    )
    faults.aws.inject(SQS_DELETE, fault)

    # When the trigger delivers it, the delete is lost, and SQS delivers it again after recovering
    _, kept = queue.poll()
    faults.aws.clear()
    received, kept_again = queue.poll()

    # Then the redelivery is answered from the stored result: one verdict, one event, then gone
    assert (len(kept), received, kept_again) == (1, kept, [])
    assert len(observer.published_for(verdict_id)) == 1
    assert queue.poll() == ([], [])


def test_a_delete_answered_with_every_entry_failed_redelivers_the_message_once(
    gateway: Gateway, faults: Faults, observer: Observer
) -> None:
    # Given SQS answering DeleteMessageBatch with every entry failed (a malformed answer for a success)
    sqs = boto3.client("sqs")
    queue = QueueTrigger(gateway, gateway.stack.ref("ValidationQueue"), sqs)
    verdict_id = f"delete-{gateway.unique()}"
    sqs.send_message(
        QueueUrl=gateway.stack.ref("ValidationQueue"),
        MessageBody=json.dumps({"text": "ok", "id": verdict_id}),
    )
    faults.aws.inject(SQS_DELETE, "malformed")

    # When the trigger delivers it twice (the second time after SQS recovered)
    _, kept = queue.poll()
    faults.aws.clear()
    _, kept_again = queue.poll()

    # Then it was screened and announced once, and is gone
    assert (len(kept), kept_again) == (1, [])
    assert len(observer.published_for(verdict_id)) == 1


def test_a_message_that_keeps_failing_is_moved_to_the_dead_letter_queue_not_lost(
    gateway: Gateway, faults: Faults
) -> None:
    # Given a screening request on the queue whose verdict can never be stored (maxReceiveCount is 3)
    sqs = boto3.client("sqs")
    queue_url, dead_letters = (
        gateway.stack.ref("ValidationQueue"),
        gateway.stack.ref("ValidationDeadLetterQueue"),
    )
    body = json.dumps({"text": "Ship it to jane.doe@example.com", "id": f"poison-{gateway.unique()}"})
    sent = sqs.send_message(QueueUrl=queue_url, MessageBody=body)["MessageId"]
    faults.aws.inject(VERDICTS_TABLE, "error")
    queue = QueueTrigger(gateway, queue_url, sqs)

    # When the trigger keeps delivering it
    deliveries = [queue.poll() for _ in range(4)]

    # Then it was retried three times, then SQS's redrive moved it, whole, to the dead-letter queue
    assert deliveries == [([sent], [sent])] * 3 + [([], [])]
    (dead,) = sqs.receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=10).get("Messages", [])
    assert (dead["MessageId"], dead["Body"]) == (sent, body)


def test_a_malformed_record_is_reported_for_a_retry(gateway: Gateway) -> None:
    # Given a batch holding a record whose body is not a screening request, among valid ones
    good = [sqs_record(json.dumps({"text": "fine"}), f"m-good-{gateway.unique()}") for _ in range(2)]
    bad = sqs_record('{"text": ', f"m-bad-{gateway.unique()}")

    # When the validator processes it
    response = gateway.validator(sqs_batch([good[0], bad, good[1]]))

    # Then only the malformed record is reported
    count_fault("SQS (a delivered record)", "malformed")
    assert response == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
