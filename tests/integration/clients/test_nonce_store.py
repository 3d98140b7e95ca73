"""The replay store: one conditional write per (key id, nonce); every store failure fails closed."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest
from botocore.stub import Stubber

from secure_ai_gateway.adapters.replay import RETENTION_MARGIN_SECONDS, NonceStore
from secure_ai_local.provision import ProvisionedStack
from secure_ai_protocol.errors import DependencyUnavailable, ReplayDetected, SignatureRejected
from tests.integration.clients.aws_doubles import stub_dynamodb, unreachable_dynamodb

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

NONCE = "q8Vb0Xw1cYk3JmZ2pT4rUA"
EXPIRES = 1_800_000_120


def stored_items(dynamodb: DynamoDBClient, aws_stack: ProvisionedStack) -> list[dict[str, object]]:
    return list(dynamodb.scan(TableName=aws_stack.ref("NoncesTable"))["Items"])  # type: ignore[arg-type]


def test_a_first_nonce_is_recorded_until_past_the_signature_window(
    nonce_store: NonceStore, dynamodb: DynamoDBClient, aws_stack: ProvisionedStack
) -> None:
    # Given an empty replay store / When a nonce is remembered
    nonce_store.remember("acme.1", NONCE, EXPIRES)
    # Then one item holds "<keyid>#<nonce>" with a TTL past the signature's expiry by the margin
    [item] = stored_items(dynamodb, aws_stack)
    assert item["nonce_key"] == {"S": f"acme.1#{NONCE}"}
    assert item["expires_at"] == {"N": str(EXPIRES + RETENTION_MARGIN_SECONDS)}
    assert RETENTION_MARGIN_SECONDS >= 300


def test_the_same_nonce_twice_is_a_replay(nonce_store: NonceStore) -> None:
    # Given a remembered nonce / When remembered again / Then ReplayDetected("replay")
    nonce_store.remember("acme.1", NONCE, EXPIRES)
    with pytest.raises(ReplayDetected) as caught:
        nonce_store.remember("acme.1", NONCE, EXPIRES)
    assert caught.value.reason == "replay"


def test_the_same_nonce_under_another_key_is_not_a_replay(nonce_store: NonceStore) -> None:
    # Given a nonce remembered for acme.1 / When the same nonce arrives for acme.2 / Then accepted
    nonce_store.remember("acme.1", NONCE, EXPIRES)
    nonce_store.remember("acme.2", NONCE, EXPIRES)


@pytest.mark.usefixtures("atomic_dynamodb_items")
def test_of_fifty_concurrent_uses_of_one_nonce_exactly_one_is_accepted(nonce_store: NonceStore) -> None:
    # Given 50 threads released together with the same key id and nonce
    start = threading.Barrier(50)
    accepted: list[int] = []
    replays: list[int] = []
    other: list[BaseException] = []

    def attempt(index: int) -> None:
        start.wait()
        try:
            nonce_store.remember("acme.1", NONCE, EXPIRES)
        except ReplayDetected:
            replays.append(index)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            other.append(exc)
        else:
            accepted.append(index)

    threads = [threading.Thread(target=attempt, args=(index,)) for index in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then exactly one was accepted and 49 were replays
    assert other == []
    assert (len(accepted), len(replays)) == (1, 49)


def test_a_retried_write_that_meets_its_own_first_attempt_is_not_a_replay(
    nonce_store: NonceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a write that reached DynamoDB but whose answer was lost, so botocore sends it again
    # (simulated: the same call's writer token already stored)
    monkeypatch.setattr("secrets.token_hex", lambda _=16: "same-call")
    nonce_store.remember("acme.1", NONCE, EXPIRES)
    # When the retry meets the stored item / Then it is accepted as the write it is
    nonce_store.remember("acme.1", NONCE, EXPIRES)


def test_a_replay_is_detected_even_if_the_stored_item_lacks_a_writer(
    nonce_store: NonceStore, dynamodb: DynamoDBClient, aws_stack: ProvisionedStack
) -> None:
    # Given a nonce stored without a writer token (e.g. by an older release)
    dynamodb.put_item(
        TableName=aws_stack.ref("NoncesTable"),
        Item={"nonce_key": {"S": f"acme.1#{NONCE}"}, "expires_at": {"N": str(EXPIRES)}},
    )
    # When remembered / Then ReplayDetected
    with pytest.raises(ReplayDetected):
        nonce_store.remember("acme.1", NONCE, EXPIRES)


def test_a_replay_is_detected_even_if_the_stored_writer_is_not_a_string(
    nonce_store: NonceStore, dynamodb: DynamoDBClient, aws_stack: ProvisionedStack
) -> None:
    # Given a nonce stored with a writer attribute of another type
    dynamodb.put_item(
        TableName=aws_stack.ref("NoncesTable"),
        Item={"nonce_key": {"S": f"acme.1#{NONCE}"}, "expires_at": {"N": str(EXPIRES)}, "writer": {"N": "1"}},
    )
    # When remembered / Then ReplayDetected
    with pytest.raises(ReplayDetected):
        nonce_store.remember("acme.1", NONCE, EXPIRES)


@pytest.mark.parametrize("key_id", ["acme", "acme.01", "acme#1.1", ""])
def test_an_impossible_key_id_is_refused_before_any_write(nonce_store: NonceStore, key_id: str) -> None:
    # Given a key id that no verified signature could carry / When remembered / Then refused
    with pytest.raises(SignatureRejected) as caught:
        nonce_store.remember(key_id, NONCE, EXPIRES)
    assert caught.value.reason == "keyid"


@pytest.mark.parametrize("nonce", ["", "n" * 513])
def test_an_empty_or_oversized_nonce_is_refused_before_any_write(nonce_store: NonceStore, nonce: str) -> None:
    # Given an empty or oversized nonce / When remembered / Then SignatureRejected("nonce")
    with pytest.raises(SignatureRejected) as caught:
        nonce_store.remember("acme.1", nonce, EXPIRES)
    assert caught.value.reason == "nonce"


@pytest.mark.parametrize(
    "code",
    [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "AccessDeniedException",
        "ResourceNotFoundException",
        "InternalServerError",
        "RequestLimitExceeded",
    ],
)
def test_a_store_error_fails_closed(code: str) -> None:
    # Given DynamoDB answering an error other than a failed condition
    dynamodb = stub_dynamodb()
    stubber = Stubber(dynamodb)
    stubber.add_client_error("put_item", service_error_code=code)
    # When a nonce is remembered / Then DependencyUnavailable, never silent acceptance
    with stubber, pytest.raises(DependencyUnavailable) as caught:
        NonceStore("nonces", dynamodb).remember("acme.1", NONCE, EXPIRES)
    assert caught.value.reason == "nonce_store_unavailable"


def test_a_failed_condition_without_the_old_item_is_a_replay() -> None:
    # Given DynamoDB refusing the condition without returning the stored item
    dynamodb = stub_dynamodb()
    stubber = Stubber(dynamodb)
    stubber.add_client_error("put_item", service_error_code="ConditionalCheckFailedException")
    # When a nonce is remembered / Then it is a replay (never assumed to be our own write)
    with stubber, pytest.raises(ReplayDetected):
        NonceStore("nonces", dynamodb).remember("acme.1", NONCE, EXPIRES)


def test_an_unreachable_store_fails_closed() -> None:
    # Given DynamoDB cannot be reached / When a nonce is remembered / Then DependencyUnavailable
    with pytest.raises(DependencyUnavailable):
        NonceStore("nonces", unreachable_dynamodb()).remember("acme.1", NONCE, EXPIRES)


def test_a_missing_table_fails_closed(dynamodb: DynamoDBClient) -> None:
    # Given a table that does not exist / When a nonce is remembered / Then DependencyUnavailable
    with pytest.raises(DependencyUnavailable):
        NonceStore("no-such-table", dynamodb).remember("acme.1", NONCE, EXPIRES)


def test_the_default_client_comes_from_the_shared_factory(aws_stack: ProvisionedStack) -> None:
    # Given no injected client (moto is active) / When the same nonce is remembered twice
    store = NonceStore(aws_stack.ref("NoncesTable"))
    store.remember("acme.1", NONCE, EXPIRES)
    # Then the second is a replay
    with pytest.raises(ReplayDetected):
        store.remember("acme.1", NONCE, EXPIRES)


# ------------------------------------------------------------------------ enrollment tokens

DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def test_a_spent_enrollment_token_is_kept_until_it_expires_plus_the_margin(
    nonce_store: NonceStore, dynamodb: DynamoDBClient, aws_stack: ProvisionedStack
) -> None:
    nonce_store.remember_enrollment("acme-app", DIGEST, EXPIRES)
    [item] = stored_items(dynamodb, aws_stack)
    assert item["nonce_key"] == {"S": f"enroll#acme-app#{DIGEST}"}
    assert item["expires_at"] == {"N": str(EXPIRES + RETENTION_MARGIN_SECONDS)}


def test_the_same_enrollment_token_twice_is_a_replay(nonce_store: NonceStore) -> None:
    nonce_store.remember_enrollment("acme-app", DIGEST, EXPIRES)
    with pytest.raises(ReplayDetected) as caught:
        nonce_store.remember_enrollment("acme-app", DIGEST, EXPIRES)
    assert caught.value.reason == "replay"


def test_the_same_token_at_another_app_is_not_a_replay(nonce_store: NonceStore) -> None:
    nonce_store.remember_enrollment("acme-app", DIGEST, EXPIRES)
    nonce_store.remember_enrollment("other-app", DIGEST, EXPIRES)


def test_an_enrollment_token_never_collides_with_a_signature_nonce(nonce_store: NonceStore) -> None:
    # A key id always has `.<version>` before the `#`, so no nonce key starts `enroll#`
    nonce_store.remember_enrollment("acme-app", DIGEST, EXPIRES)
    nonce_store.remember("enroll.1", f"acme-app#{DIGEST}"[:512], EXPIRES)
    with pytest.raises(SignatureRejected):
        nonce_store.remember("enroll", f"acme-app#{DIGEST}", EXPIRES)


@pytest.mark.usefixtures("atomic_dynamodb_items")
def test_of_twenty_concurrent_enrollments_with_one_token_exactly_one_is_accepted(
    nonce_store: NonceStore,
) -> None:
    start = threading.Barrier(20)
    outcomes: list[str] = []

    def attempt() -> None:
        start.wait()
        try:
            nonce_store.remember_enrollment("acme-app", DIGEST, EXPIRES)
        except ReplayDetected:
            outcomes.append("replay")
        else:
            outcomes.append("accepted")

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (outcomes.count("accepted"), outcomes.count("replay")) == (1, 19)


def test_an_unavailable_replay_store_refuses_the_enrollment() -> None:
    with pytest.raises(DependencyUnavailable):
        NonceStore("nonces", unreachable_dynamodb()).remember_enrollment("acme-app", DIGEST, EXPIRES)
