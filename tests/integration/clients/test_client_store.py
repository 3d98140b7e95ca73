"""The clients table: records round trip, and every write is conditional."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from botocore.stub import Stubber

from secure_ai_gateway.adapters.client_store import (
    ClientStore,
    item_to_record,
    record_to_item,
)
from secure_ai_gateway.client_registry.records import ClientConflict, ClientRecord
from secure_ai_protocol.errors import DependencyUnavailable, NotFound
from tests.gateway.client_registry.fakes import START, client_record, key_version
from tests.integration.clients.aws_doubles import stub_dynamodb, unreachable_dynamodb

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

NOW = int(START)


def two_key_record(client_id: str = "acme-mobile") -> ClientRecord:
    return client_record(
        client_id,
        keys=(
            key_version(1, not_after=NOW + 600, sealed_secret=b"\x00\x01sealed-one"),
            key_version(2, sealed_secret=b"\xffsealed-two"),
        ),
    )


# ------------------------------------------------------------------------------------ reads


def test_a_created_record_reads_back_equal(store: ClientStore) -> None:
    # Given a record with two key versions, one with not_after / When created and read
    record = two_key_record()
    store.create(record)
    # Then every field, sealed bytes included, comes back unchanged
    stored = store.get("acme-mobile")
    assert stored == record
    assert stored is not None
    assert [key.sealed_secret for key in stored.key_versions] == [b"\x00\x01sealed-one", b"\xffsealed-two"]


def test_an_unknown_client_reads_as_none(store: ClientStore) -> None:
    # Given an empty table / When a client is read / Then None
    assert store.get("nobody") is None


def test_the_stored_item_has_the_documented_shape(
    store: ClientStore, dynamodb: DynamoDBClient, clients_table: str
) -> None:
    # Given a created record / When its raw item is read
    store.create(two_key_record())
    item = dynamodb.get_item(TableName=clients_table, Key={"client_id": {"S": "acme-mobile"}})["Item"]
    # Then it uses the attribute names and types other functions read
    assert item["status"] == {"S": "active"}
    assert item["scopes"] == {"L": [{"S": "chat:complete"}, {"S": "output:validate"}]}
    assert item["allowed_models"] == {"L": [{"S": "gpt-4o-mini"}]}
    assert item["max_tokens"] == {"N": "1024"}
    assert item["policy_id"] == {"S": "default"}
    versions = item["key_versions"]["M"]
    assert set(versions) == {"1", "2"}
    assert versions["1"]["M"]["not_after"] == {"N": str(NOW + 600)}
    assert "not_after" not in versions["2"]["M"]
    assert versions["2"]["M"]["sealed_secret"] == {"B": b"\xffsealed-two"}


def test_versions_are_ordered_numerically_not_as_text(store: ClientStore) -> None:
    # Given versions 2 and 10 / When read back / Then ordered 2, 10
    store.create(client_record(keys=(key_version(10), key_version(2))))
    stored = store.get("acme-mobile")
    assert stored is not None
    assert [key.version for key in stored.key_versions] == [2, 10]


def test_a_malformed_item_fails_closed(
    store: ClientStore, dynamodb: DynamoDBClient, clients_table: str
) -> None:
    # Given an item with max_tokens stored as a string
    item: dict[str, Any] = dict(record_to_item(client_record()))
    item["max_tokens"] = {"S": "1024"}
    dynamodb.put_item(TableName=clients_table, Item=item)
    # When read / Then DependencyUnavailable("client_record_malformed"), not a half-read record
    with pytest.raises(DependencyUnavailable) as caught:
        store.get("acme-mobile")
    assert caught.value.reason == "client_record_malformed"


# ------------------------------------------------------------------------------------ create


def test_creating_an_existing_client_is_a_conflict_and_changes_nothing(store: ClientStore) -> None:
    # Given a stored client
    original = two_key_record()
    store.create(original)
    # When a record with the same id but other keys is created
    with pytest.raises(ClientConflict) as caught:
        store.create(client_record(keys=(key_version(1, sealed_secret=b"attacker"),)))
    # Then it is refused and the original stays
    assert caught.value.reason == "client_exists"
    assert store.get("acme-mobile") == original


# ------------------------------------------------------------------------------------ key versions


def test_adding_a_key_version_retires_the_named_versions_in_the_same_write(store: ClientStore) -> None:
    # Given a client with version 1
    store.create(client_record())
    # When version 2 is added, retiring version 1 at NOW + 3600
    store.add_key_version("acme-mobile", key_version(2, not_before=NOW), retire={1: NOW + 3600})
    # Then both are stored, version 1 with its new end
    stored = store.get("acme-mobile")
    assert stored is not None
    assert [(key.version, key.not_after) for key in stored.key_versions] == [(1, NOW + 3600), (2, None)]


def test_two_admins_adding_the_same_version_cannot_overwrite_each_other(store: ClientStore) -> None:
    # Given a client to which the first admin added version 2
    store.create(client_record())
    first = key_version(2, sealed_secret=b"first-admin")
    store.add_key_version("acme-mobile", first)
    # When a second admin, working from the same old read, adds its own version 2
    with pytest.raises(ClientConflict) as caught:
        store.add_key_version("acme-mobile", key_version(2, sealed_secret=b"second-admin"))
    # Then it is told to retry, and the first admin's key is intact
    assert caught.value.reason == "concurrent_update"
    stored = store.get("acme-mobile")
    assert stored is not None
    assert stored.key_version(2) == first


def test_retiring_a_version_revoked_meanwhile_is_a_conflict(store: ClientStore) -> None:
    # Given version 1 revoked after the rotating admin read the record
    store.create(client_record())
    store.revoke_key("acme-mobile", 1)
    # When version 2 is added retiring version 1 / Then conflict, and version 2 was not added
    with pytest.raises(ClientConflict) as caught:
        store.add_key_version("acme-mobile", key_version(2), retire={1: NOW})
    assert caught.value.reason == "concurrent_update"
    stored = store.get("acme-mobile")
    assert stored is not None
    assert stored.key_version(2) is None


def test_a_revoked_client_gets_no_new_key_version(store: ClientStore) -> None:
    # Given a revoked client / When a version is added / Then ClientConflict("client_revoked")
    store.create(client_record())
    store.revoke_client("acme-mobile")
    with pytest.raises(ClientConflict) as caught:
        store.add_key_version("acme-mobile", key_version(2))
    assert caught.value.reason == "client_revoked"


def test_adding_a_key_to_an_unknown_client_is_not_found(store: ClientStore) -> None:
    # Given no such client / When a version is added / Then NotFound("unknown_client")
    with pytest.raises(NotFound) as caught:
        store.add_key_version("nobody", key_version(1))
    assert caught.value.reason == "unknown_client"


# ------------------------------------------------------------------------------------ revocation


def test_revoking_a_key_marks_only_that_version(store: ClientStore) -> None:
    # Given versions 1 and 2 / When version 1 is revoked / Then 1 is revoked and 2 untouched
    store.create(two_key_record())
    store.revoke_key("acme-mobile", 1)
    stored = store.get("acme-mobile")
    assert stored is not None
    assert [(key.version, key.status) for key in stored.key_versions] == [(1, "revoked"), (2, "active")]


def test_revoking_an_unknown_version_is_not_found(store: ClientStore) -> None:
    # Given a client with version 1 / When version 5 is revoked / Then NotFound("unknown_key")
    store.create(client_record())
    with pytest.raises(NotFound) as caught:
        store.revoke_key("acme-mobile", 5)
    assert caught.value.reason == "unknown_key"


def test_revoking_a_key_of_an_unknown_client_is_not_found(store: ClientStore) -> None:
    # Given no such client / When a key is revoked / Then NotFound("unknown_client")
    with pytest.raises(NotFound) as caught:
        store.revoke_key("nobody", 1)
    assert caught.value.reason == "unknown_client"


def test_revoking_a_client_marks_the_client(store: ClientStore) -> None:
    # Given an active client / When revoked / Then its status is revoked
    store.create(client_record())
    store.revoke_client("acme-mobile")
    stored = store.get("acme-mobile")
    assert stored is not None
    assert stored.status == "revoked"


def test_revoking_an_unknown_client_is_not_found(store: ClientStore) -> None:
    # Given no such client / When revoked / Then NotFound("unknown_client"), and nothing is created
    with pytest.raises(NotFound) as caught:
        store.revoke_client("nobody")
    assert caught.value.reason == "unknown_client"
    assert store.get("nobody") is None


# ------------------------------------------------------------------------------------ listing


def test_listing_returns_every_client(store: ClientStore) -> None:
    # Given three clients / When listed / Then all three come back
    for name in ("alpha", "bravo", "charlie"):
        store.create(client_record(name))
    assert sorted(record.client_id for record in store.list_clients()) == ["alpha", "bravo", "charlie"]


def test_listing_follows_every_page() -> None:
    # Given a scan answered in two pages
    dynamodb = stub_dynamodb()
    stubber = Stubber(dynamodb)
    first, second = record_to_item(client_record("alpha")), record_to_item(client_record("bravo"))
    stubber.add_response("scan", {"Items": [first], "LastEvaluatedKey": {"client_id": {"S": "alpha"}}})
    stubber.add_response(
        "scan",
        {"Items": [second]},
        {"TableName": "clients", "ConsistentRead": True, "ExclusiveStartKey": {"client_id": {"S": "alpha"}}},
    )
    # When listed / Then both pages' clients are returned, and the second scan resumed after the first
    with stubber:
        listed = [record.client_id for record in ClientStore("clients", dynamodb).list_clients()]
    assert listed == ["alpha", "bravo"]
    stubber.assert_no_pending_responses()


# ------------------------------------------------------------------------------------ failures


OPERATIONS: dict[str, Callable[[ClientStore], object]] = {
    "get": lambda store: store.get("acme-mobile"),
    "create": lambda store: store.create(client_record()),
    "add_key_version": lambda store: store.add_key_version("acme-mobile", key_version(2)),
    "revoke_key": lambda store: store.revoke_key("acme-mobile", 1),
    "revoke_client": lambda store: store.revoke_client("acme-mobile"),
    "list_clients": lambda store: list(store.list_clients()),
}
API_CALLS = {
    "get": "get_item",
    "create": "put_item",
    "add_key_version": "update_item",
    "revoke_key": "update_item",
    "revoke_client": "update_item",
    "list_clients": "scan",
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "AccessDeniedException"])
def test_dynamodb_errors_are_dependency_failures(operation: str, code: str) -> None:
    # Given DynamoDB answering an error / When the store operation runs / Then DependencyUnavailable
    dynamodb = stub_dynamodb()
    stubber = Stubber(dynamodb)
    stubber.add_client_error(API_CALLS[operation], service_error_code=code)
    with stubber, pytest.raises(DependencyUnavailable) as caught:
        OPERATIONS[operation](ClientStore("clients", dynamodb))
    assert caught.value.reason == "clients_store_unavailable"


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_an_unreachable_dynamodb_is_a_dependency_failure(operation: str) -> None:
    # Given DynamoDB cannot be reached / When the store operation runs / Then DependencyUnavailable
    with pytest.raises(DependencyUnavailable):
        OPERATIONS[operation](ClientStore("clients", unreachable_dynamodb()))


def test_a_missing_table_is_a_dependency_failure(dynamodb: DynamoDBClient) -> None:
    # Given a table name that does not exist in the account / When read / Then DependencyUnavailable
    with pytest.raises(DependencyUnavailable):
        ClientStore("no-such-table", dynamodb).get("acme-mobile")


def test_the_default_client_comes_from_the_shared_factory(clients_table: str) -> None:
    # Given no injected client (moto is active) / When a record is created and read / Then it works
    store = ClientStore(clients_table)
    store.create(client_record())
    assert store.get("acme-mobile") == client_record()


# ------------------------------------------------------------------------------------ item parsing


def _item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = dict(record_to_item(two_key_record()))
    for name, value in changes.items():
        if value is None:
            del item[name]
        else:
            item[name] = value
    return item


@pytest.mark.parametrize(
    "item",
    [
        _item(client_id=None),
        _item(status={"S": "paused"}),
        _item(scopes={"SS": ["chat:complete"]}),
        _item(scopes={"L": [{"N": "1"}]}),
        _item(scopes={"L": "chat:complete"}),
        _item(max_tokens={"N": "1.5"}),
        _item(max_tokens={"N": "1e3"}),
        _item(max_tokens={"N": 1024}),
        _item(created_at={"S": "yesterday"}),
        _item(policy_id={"S": ""}),
        _item(key_versions={"L": []}),
        _item(key_versions={"M": {"01": {"M": {}}}}),
        _item(key_versions={"M": {"1": {"S": "x"}}}),
        _item(key_versions={"M": {"1": {"M": {"status": {"S": "active"}}}}}),
        _item(
            key_versions={
                "M": {
                    "1": {
                        "M": {
                            "sealed_secret": {"S": "not-binary"},
                            "status": {"S": "active"},
                            "not_before": {"N": "1"},
                            "created_at": {"N": "1"},
                        }
                    }
                }
            }
        ),
        _item(
            key_versions={
                "M": {
                    "1": {
                        "M": {
                            "sealed_secret": {"B": "text, not bytes"},
                            "status": {"S": "active"},
                            "not_before": {"N": "1"},
                            "created_at": {"N": "1"},
                        }
                    }
                }
            }
        ),
        _item(key_versions={"M": ["not", "a", "map"]}),
        _item(status={"S": 1}),
        _item(status={"S": "active", "N": "1"}),
    ],
)
def test_an_item_not_of_the_documented_shape_is_refused(item: dict[str, Any]) -> None:
    # Given an item that breaks the shape / When parsed / Then ValueError (MalformedClientRecord)
    with pytest.raises(ValueError, match="expected shape"):
        item_to_record(item)


def test_an_item_with_unknown_extra_attributes_still_parses() -> None:
    # Given an item carrying an attribute a later version may add / When parsed / Then it is read
    item = _item(note={"S": "added by a later release"})
    assert item_to_record(item) == two_key_record()
