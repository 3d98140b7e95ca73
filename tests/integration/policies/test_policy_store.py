"""The policies table: versions only grow, the head moves only from the version its writer read."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from botocore.stub import Stubber

from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.policy_store import PolicyStore
from secure_ai_gateway.policy_registry.admin import PolicyAdmin
from secure_ai_gateway.policy_registry.errors import PolicyConflict, PolicyInUse
from secure_ai_gateway.policy_registry.records import PolicyVersion
from secure_ai_gateway.screening.policy import Policy
from secure_ai_protocol.errors import DependencyUnavailable, NotFound
from tests.gateway.client_registry.fakes import START, FakeClock, client_record
from tests.integration.clients.aws_doubles import stub_dynamodb, unreachable_dynamodb
from tests.integration.policies.conftest import OPERATOR

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DOCS = {"allowed_hosts": ["docs.example.com"], "deny_terms": ["Project Falcon"]}


def version(policy_id: str, number: int, **fields: object) -> PolicyVersion:
    return PolicyVersion(
        policy=Policy.model_validate({"policy_id": policy_id, "version": number, **fields}),
        written_by=OPERATOR,
        written_at=int(START),
    )


# ------------------------------------------------------------------------------------ the store


def test_a_written_version_reads_back_as_the_version_and_as_current(policy_store: PolicyStore) -> None:
    written = version("docs", 1, **DOCS)
    policy_store.write_version(written, read_current=None)
    assert policy_store.version("docs", 1) == written
    assert policy_store.head("docs") == written
    assert policy_store.current("docs") == written.policy


def test_an_unknown_policy_reads_as_none(policy_store: PolicyStore) -> None:
    assert policy_store.current("nobody") is None
    assert policy_store.history("nobody") == []
    assert policy_store.latest_version("nobody") == 0


def test_a_second_writer_of_the_same_new_policy_loses(policy_store: PolicyStore) -> None:
    # Given two operators who both read "no such policy" / When both write version 1
    policy_store.write_version(version("docs", 1, deny_terms=["first"]), read_current=None)
    with pytest.raises(PolicyConflict) as raised:
        policy_store.write_version(version("docs", 1, deny_terms=["second"]), read_current=None)
    # Then the second is refused and the first stands
    assert raised.value.reason == "concurrent_update"
    assert policy_store.current("docs") == version("docs", 1, deny_terms=["first"]).policy


def test_the_head_moves_only_from_the_version_the_writer_read(policy_store: PolicyStore) -> None:
    # Given versions 1 and 2, 2 current
    policy_store.write_version(version("docs", 1), read_current=None)
    policy_store.write_version(version("docs", 2), read_current=1)
    # When a writer who read version 1 as current writes version 3
    with pytest.raises(PolicyConflict):
        policy_store.write_version(version("docs", 3, deny_terms=["stale"]), read_current=1)
    # Then nothing was written: version 3 does not exist and 2 is still current
    assert policy_store.version("docs", 3) is None
    assert policy_store.current("docs") == version("docs", 2).policy


def test_an_existing_version_is_never_overwritten(policy_store: PolicyStore) -> None:
    policy_store.write_version(version("docs", 1), read_current=None)
    policy_store.write_version(version("docs", 2), read_current=1)
    with pytest.raises(PolicyConflict):
        policy_store.write_version(version("docs", 2, deny_terms=["overwrite"]), read_current=2)
    assert policy_store.version("docs", 2) == version("docs", 2)


def test_history_lists_every_version_oldest_first_without_the_head(policy_store: PolicyStore) -> None:
    for number in (1, 2, 3):
        policy_store.write_version(version("docs", number), read_current=number - 1 or None)
    assert [stored.version for stored in policy_store.history("docs")] == [1, 2, 3]
    assert policy_store.latest_version("docs") == 3


def test_deleting_the_head_keeps_the_versions(policy_store: PolicyStore) -> None:
    policy_store.write_version(version("docs", 1), read_current=None)
    policy_store.delete_head("docs", read_current=1)
    assert policy_store.current("docs") is None
    assert [stored.version for stored in policy_store.history("docs")] == [1]


def test_deleting_a_head_that_moved_is_refused(policy_store: PolicyStore) -> None:
    policy_store.write_version(version("docs", 1), read_current=None)
    policy_store.write_version(version("docs", 2), read_current=1)
    with pytest.raises(PolicyConflict):
        policy_store.delete_head("docs", read_current=1)
    assert policy_store.current("docs") is not None


def test_the_stored_items_have_the_documented_shape(
    policy_store: PolicyStore, dynamodb: DynamoDBClient, policies_table: str
) -> None:
    policy_store.write_version(version("docs", 1, **DOCS), read_current=None)
    items = dynamodb.scan(TableName=policies_table)["Items"]
    by_version = {item["version"]["N"]: item for item in items}
    assert set(by_version) == {"0", "1"}
    assert set(by_version["1"]) == {"policy_id", "version", "document", "written_by", "written_at"}
    assert by_version["0"]["current"] == {"N": "1"}
    assert by_version["0"]["document"] == by_version["1"]["document"]
    assert by_version["1"]["written_by"] == {"S": OPERATOR}


@pytest.mark.parametrize(
    "change",
    [
        {"document": {"S": "{not json"}},
        {"document": {"S": '{"policy_id": "docs", "version": 1, "detectors": ["no-such-detector"]}'}},
        {"current": {"N": "7"}},  # the head names a version its document is not
        {"policy_id": {"S": "other"}},
        {"written_at": {"S": "yesterday"}},
    ],
)
def test_a_malformed_stored_policy_fails_closed(
    policy_store: PolicyStore, dynamodb: DynamoDBClient, policies_table: str, change: dict[str, object]
) -> None:
    # Given a head tampered with in the table
    policy_store.write_version(version("docs", 1), read_current=None)
    item = dynamodb.get_item(
        TableName=policies_table, Key={"policy_id": {"S": "docs"}, "version": {"N": "0"}}
    )
    tampered = {**item["Item"], **change}
    dynamodb.put_item(TableName=policies_table, Item=tampered)  # type: ignore[arg-type]
    # When it is read as current / Then it is refused, not served
    with pytest.raises(DependencyUnavailable) as raised:
        policy_store.current(str(tampered["policy_id"]["S"]))  # type: ignore[index]
    assert raised.value.reason == "policy_malformed"


def test_an_unreachable_table_is_a_dependency_failure() -> None:
    store = PolicyStore("policies", unreachable_dynamodb())
    for call in (
        lambda: store.current("docs"),
        lambda: store.history("docs"),
        lambda: list(store.heads()),
        lambda: store.write_version(version("docs", 1), read_current=None),
        lambda: store.delete_head("docs", read_current=1),
    ):
        with pytest.raises(DependencyUnavailable) as raised:
            call()
        assert raised.value.reason == "policies_store_unavailable"


def test_a_throttled_transaction_is_a_dependency_failure_not_a_conflict() -> None:
    client = stub_dynamodb()
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "transact_write_items",
            service_error_code="TransactionCanceledException",
            response_meta={},
        )
        with pytest.raises(DependencyUnavailable):
            PolicyStore("policies", client).write_version(version("docs", 1), read_current=None)


# ------------------------------------------------------------------------------------ administration


def test_put_writes_the_next_version_with_its_writer_and_time(
    policy_admin: PolicyAdmin, clock: FakeClock
) -> None:
    first = policy_admin.put("docs", DOCS, written_by=OPERATOR)
    clock.advance(60)
    second = policy_admin.put(
        "docs", {"deny_terms": ["other"]}, written_by="arn:aws:iam::123456789012:user/bob"
    )
    assert (first.version, second.version) == (1, 2)
    assert policy_admin.get("docs") == second
    assert (second.written_by, second.written_at) == ("arn:aws:iam::123456789012:user/bob", int(START) + 60)
    assert policy_admin.get("docs", 1) == first


def test_put_of_an_edit_started_from_an_older_version_is_refused(policy_admin: PolicyAdmin) -> None:
    # Given alice read version 1, and bob wrote version 2 meanwhile
    policy_admin.put("docs", DOCS, written_by=OPERATOR)
    policy_admin.put("docs", {"deny_terms": ["bob"]}, written_by=OPERATOR)
    # When alice writes her edit of version 1 / Then it is refused and bob's version stays current
    with pytest.raises(PolicyConflict) as raised:
        policy_admin.put("docs", {**DOCS, "version": 1}, written_by=OPERATOR)
    assert raised.value.reason == "stale_version"
    assert policy_admin.get("docs").policy.deny_terms == ("bob",)


def test_put_of_an_edit_of_the_current_version_is_written(policy_admin: PolicyAdmin) -> None:
    policy_admin.put("docs", DOCS, written_by=OPERATOR)
    assert (
        policy_admin.put("docs", {**DOCS, "version": 1, "deny_terms": []}, written_by=OPERATOR).version == 2
    )


def test_an_invalid_policy_is_refused_before_anything_is_written(
    policy_admin: PolicyAdmin, policy_store: PolicyStore
) -> None:
    with pytest.raises(ValueError, match="allowed host"):
        policy_admin.put("docs", {"allowed_hosts": ["https://docs.example.com/"]}, written_by=OPERATOR)
    assert policy_store.history("docs") == []


def test_rollback_writes_the_old_version_as_a_new_one(policy_admin: PolicyAdmin) -> None:
    # Given version 1 without the host and version 2 with it
    policy_admin.put("docs", {"deny_terms": ["Project Falcon"]}, written_by=OPERATOR)
    policy_admin.put("docs", DOCS, written_by=OPERATOR)
    # When rolled back to 1
    restored = policy_admin.rollback("docs", 1, written_by=OPERATOR)
    # Then version 3 is current, equal to 1 but for its number, and says where it came from
    assert (restored.version, restored.rolled_back_from) == (3, 1)
    assert policy_admin.get("docs").policy == policy_admin.get("docs", 1).policy.model_copy(
        update={"version": 3}
    )
    assert [stored.version for stored in policy_admin.history("docs")[1]] == [1, 2, 3]


def test_rollback_to_what_is_already_current_is_refused(policy_admin: PolicyAdmin) -> None:
    policy_admin.put("docs", DOCS, written_by=OPERATOR)
    with pytest.raises(PolicyConflict) as raised:
        policy_admin.rollback("docs", 1, written_by=OPERATOR)
    assert raised.value.reason == "already_current"


def test_rollback_to_a_version_that_does_not_exist_is_not_found(policy_admin: PolicyAdmin) -> None:
    policy_admin.put("docs", DOCS, written_by=OPERATOR)
    with pytest.raises(NotFound) as raised:
        policy_admin.rollback("docs", 9, written_by=OPERATOR)
    assert raised.value.reason == "unknown_version"


def test_delete_is_refused_while_a_client_names_the_policy(
    policy_admin: PolicyAdmin, client_store: ClientStore
) -> None:
    policy_admin.put("docs", DOCS, written_by=OPERATOR)
    client_store.create(client_record("acme").model_copy(update={"policy_id": "docs"}))
    with pytest.raises(PolicyInUse) as raised:
        policy_admin.delete("docs")
    assert raised.value.client_ids == ("acme",)
    assert policy_admin.get("docs").version == 1


def test_delete_of_an_unused_policy_stops_serving_it(
    policy_admin: PolicyAdmin, policy_store: PolicyStore
) -> None:
    policy_admin.put("docs", DOCS, written_by=OPERATOR)
    policy_admin.delete("docs")
    assert policy_store.current("docs") is None
    with pytest.raises(NotFound):
        policy_admin.get("docs")


def test_a_deleted_policy_put_again_continues_its_numbering(policy_admin: PolicyAdmin) -> None:
    policy_admin.put("docs", DOCS, written_by=OPERATOR)
    policy_admin.delete("docs")
    assert policy_admin.put("docs", DOCS, written_by=OPERATOR).version == 2


def test_set_client_policy_requires_the_policy_to_exist(
    policy_admin: PolicyAdmin, client_store: ClientStore
) -> None:
    client_store.create(client_record("acme"))
    with pytest.raises(NotFound) as raised:
        policy_admin.set_client_policy("acme", "docs")
    assert raised.value.reason == "unknown_policy"
    policy_admin.put("docs", DOCS, written_by=OPERATOR)
    policy_admin.set_client_policy("acme", "docs")
    stored = client_store.get("acme")
    assert stored is not None
    assert stored.policy_id == "docs"
    # ...and the built-in default always exists
    policy_admin.set_client_policy("acme", "default")


def test_set_client_policy_of_an_unknown_client_is_not_found(policy_admin: PolicyAdmin) -> None:
    policy_admin.put("docs", DOCS, written_by=OPERATOR)
    with pytest.raises(NotFound) as raised:
        policy_admin.set_client_policy("nobody", "docs")
    assert raised.value.reason == "unknown_client"
