"""The devices table: the per-user limit holds under races, renewals and revocations move the count."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from secure_ai_gateway.adapters.device_store import (
    RETENTION_SECONDS,
    DeviceStore,
    device_to_item,
    item_to_device,
    user_item_id,
)
from secure_ai_gateway.adapters.dynamodb_items import MalformedItem
from secure_ai_gateway.client_registry.records import ClientConflict
from secure_ai_gateway.device_registry.records import DeviceRecord, new_device_id
from secure_ai_protocol.errors import DependencyUnavailable, DeviceLimitReached, NotFound
from tests.conftest import REGION
from tests.gateway.client_registry.fakes import FakeClock
from tests.gateway.devices.fakes import APP_ID, NOW, SUB, device_key, device_record
from tests.integration.clients.aws_doubles import unreachable_dynamodb

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LIMIT = 3


def new_device(sub: str = SUB, *, app_id: str = APP_ID, at: int = NOW, lifetime: int = 3600) -> DeviceRecord:
    """A device enrolled `at`: key version 1 from then for `lifetime` seconds."""
    return device_record(
        new_device_id(),
        app_id=app_id,
        sub=sub,
        keys=(device_key(1, not_before=at, not_after=at + lifetime),),
        created_at=at,
    )


def user_item(dynamodb: DynamoDBClient, table: str, device: DeviceRecord) -> dict[str, Any]:
    item: dict[str, Any] = dynamodb.get_item(
        TableName=table, Key={"id": {"S": user_item_id(device.app_id, device.user_ref)}}, ConsistentRead=True
    )["Item"]
    return item


def counted(dynamodb: DynamoDBClient, table: str, device: DeviceRecord) -> dict[str, int]:
    """The user's device count as the table holds it: device id → the expiry it counts until."""
    devices = user_item(dynamodb, table, device)["devices"]["M"]
    return {device_id: int(value["N"]) for device_id, value in devices.items()}


def before_next_transaction(client: DynamoDBClient, action: Callable[[], object]) -> None:
    """Run `action` once, just before `client` sends its next TransactWriteItems (an interleaving)."""

    def run_once(**_: Any) -> None:
        client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", run_once)
        action()

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", run_once)


# ------------------------------------------------------------------------------------ enrollment


def test_a_device_enrolled_under_the_limit_reads_back_equal(device_store: DeviceStore) -> None:
    device = new_device()
    device_store.enroll(device, limit=LIMIT, now=NOW)
    assert device_store.get(device.device_id) == device


def test_the_device_item_has_the_documented_shape(
    device_store: DeviceStore, dynamodb: DynamoDBClient, devices_table: str
) -> None:
    device = new_device()
    device_store.enroll(device, limit=LIMIT, now=NOW)
    item = dynamodb.get_item(TableName=devices_table, Key={"id": {"S": device.device_id}})["Item"]
    assert item["kind"] == {"S": "device"}
    assert item["app_id"] == {"S": APP_ID}
    assert item["user_sub"] == {"S": SUB}
    assert item["expires_at"] == {"N": str(NOW + 3600 + RETENTION_SECONDS)}
    # And the user's count names the device with its key's end, never the sub
    user = user_item(dynamodb, devices_table, device)
    assert user["kind"] == {"S": "user"}
    assert counted(dynamodb, devices_table, device) == {device.device_id: NOW + 3600}
    assert SUB not in str(user)


def test_an_unknown_device_reads_as_none(device_store: DeviceStore) -> None:
    assert device_store.get(new_device_id()) is None


def test_a_user_at_the_limit_is_refused_with_the_limit_and_nothing_is_stored(
    device_store: DeviceStore, devices_table: str, dynamodb: DynamoDBClient
) -> None:
    # Given a user with three live devices
    for _ in range(LIMIT):
        device_store.enroll(new_device(), limit=LIMIT, now=NOW)
    # When a fourth enrolls
    fourth = new_device()
    with pytest.raises(DeviceLimitReached) as refused:
        device_store.enroll(fourth, limit=LIMIT, now=NOW)
    # Then it is refused with the limit, and neither the device nor the count changed
    assert (refused.value.reason, refused.value.limit) == ("device_limit", LIMIT)
    assert device_store.get(fourth.device_id) is None
    assert len(counted(dynamodb, devices_table, fourth)) == LIMIT


def test_the_limit_is_per_user_and_per_app(device_store: DeviceStore) -> None:
    for _ in range(LIMIT):
        device_store.enroll(new_device(), limit=LIMIT, now=NOW)
    # Another user of the app, and the same user at another app, each have their own slots
    device_store.enroll(new_device("user-0002"), limit=LIMIT, now=NOW)
    device_store.enroll(new_device(app_id="other-app"), limit=LIMIT, now=NOW)


def test_expired_devices_free_their_slots_at_their_expiry(
    device_store: DeviceStore, clock: FakeClock
) -> None:
    # Given three devices whose keys end at NOW + 3600
    for _ in range(LIMIT):
        device_store.enroll(new_device(at=int(clock())), limit=LIMIT, now=int(clock()))
    # When a fourth enrolls one second before then / Then refused
    clock.advance(3599)
    with pytest.raises(DeviceLimitReached):
        device_store.enroll(new_device(at=int(clock())), limit=LIMIT, now=int(clock()))
    # And at the expiry itself it is stored
    clock.advance(1)
    device_store.enroll(new_device(at=int(clock())), limit=LIMIT, now=int(clock()))


def test_a_revoked_device_frees_its_slot(
    device_store: DeviceStore, dynamodb: DynamoDBClient, devices_table: str
) -> None:
    devices = [new_device() for _ in range(LIMIT)]
    for device in devices:
        device_store.enroll(device, limit=LIMIT, now=NOW)
    # When one is revoked
    revoked = device_store.revoke(devices[0].device_id)
    # Then it is returned as it was, is stored revoked, and no longer counts
    assert revoked == devices[0]
    stored = device_store.get(devices[0].device_id)
    assert stored is not None
    assert stored.status == "revoked"
    assert devices[0].device_id not in counted(dynamodb, devices_table, devices[0])
    device_store.enroll(new_device(), limit=LIMIT, now=NOW)


def test_revoking_an_unknown_device_is_not_found(device_store: DeviceStore) -> None:
    with pytest.raises(NotFound) as refused:
        device_store.revoke(new_device_id())
    assert refused.value.reason == "unknown_device"


def test_revoking_twice_keeps_the_device_revoked(device_store: DeviceStore) -> None:
    device = new_device()
    device_store.enroll(device, limit=LIMIT, now=NOW)
    device_store.revoke(device.device_id)
    device_store.revoke(device.device_id)
    stored = device_store.get(device.device_id)
    assert stored is not None
    assert stored.status == "revoked"


def test_a_revocation_between_an_enrollments_read_and_write_still_frees_the_slot(
    device_store: DeviceStore, dynamodb: DynamoDBClient, devices_table: str
) -> None:
    # Given a user with two of three slots taken
    first, second = new_device(), new_device()
    device_store.enroll(first, limit=LIMIT, now=NOW)
    device_store.enroll(second, limit=LIMIT, now=NOW)
    # When the first is revoked after a third enrollment has read the count, before it writes
    other_store = DeviceStore(devices_table, boto3.client("dynamodb", region_name=REGION))
    before_next_transaction(dynamodb, lambda: other_store.revoke(first.device_id))
    device_store.enroll(new_device(), limit=LIMIT, now=NOW)
    # Then the enrollment did not write the revoked device back into the count: a slot is free
    assert first.device_id not in counted(dynamodb, devices_table, first)
    device_store.enroll(new_device(), limit=LIMIT, now=NOW)


def test_a_device_whose_user_count_ttl_removed_can_still_be_revoked(
    device_store: DeviceStore, dynamodb: DynamoDBClient, devices_table: str
) -> None:
    # Given a device whose user-count item is gone (DynamoDB TTL)
    device = new_device()
    device_store.enroll(device, limit=LIMIT, now=NOW)
    dynamodb.delete_item(TableName=devices_table, Key={"id": {"S": user_item_id(APP_ID, device.user_ref)}})
    # When it is revoked / Then it is, and no count without a `devices` map was created
    device_store.revoke(device.device_id)
    stored = device_store.get(device.device_id)
    assert stored is not None
    assert stored.status == "revoked"
    assert "Item" not in dynamodb.get_item(
        TableName=devices_table, Key={"id": {"S": user_item_id(APP_ID, device.user_ref)}}
    )
    # And the user enrolls again as before
    device_store.enroll(new_device(), limit=LIMIT, now=NOW)


@pytest.mark.usefixtures("atomic_dynamodb_items")
def test_of_twenty_concurrent_enrollments_of_one_user_exactly_the_limit_are_stored(
    device_store: DeviceStore, dynamodb: DynamoDBClient, devices_table: str
) -> None:
    # Given 20 devices of one user released together against a limit of 3
    devices = [new_device() for _ in range(20)]
    start = threading.Barrier(len(devices))

    def attempt(device: DeviceRecord) -> str:
        start.wait()
        try:
            device_store.enroll(device, limit=LIMIT, now=NOW)
        except DeviceLimitReached:
            return "limit"
        return "stored"

    with ThreadPoolExecutor(max_workers=len(devices)) as pool:
        outcomes = list(pool.map(attempt, devices))
    # Then exactly three were stored, the rest refused with the limit (none lost to contention)
    assert (outcomes.count("stored"), outcomes.count("limit")) == (LIMIT, 20 - LIMIT)
    stored = [device for device in devices if device_store.get(device.device_id) is not None]
    assert len(stored) == LIMIT
    assert set(counted(dynamodb, devices_table, devices[0])) == {device.device_id for device in stored}
    assert len(list(device_store.list_devices(APP_ID, SUB))) == LIMIT


# --------------------------------------------------------------------------------------- renewal


def test_a_renewal_adds_the_key_retires_the_old_one_and_moves_the_users_count(
    device_store: DeviceStore, dynamodb: DynamoDBClient, devices_table: str
) -> None:
    # Given a device whose key 1 ends at NOW + 3600
    device = new_device()
    device_store.enroll(device, limit=LIMIT, now=NOW)
    # When renewed at NOW + 2700 with key 2 ending at NOW + 6300, key 1 retiring 300 s later
    key = device_key(2, not_before=NOW + 2700, not_after=NOW + 6300)
    device_store.add_key_version(device, key, retire_at=NOW + 3000)
    # Then the device has both, the old ending at the retirement, and it counts until the new end
    stored = device_store.get(device.device_id)
    assert stored is not None
    assert [(k.version, k.not_after) for k in stored.key_versions] == [(1, NOW + 3000), (2, NOW + 6300)]
    assert stored.key_version(2) == key
    assert stored.expires_at == NOW + 6300
    assert counted(dynamodb, devices_table, device) == {device.device_id: NOW + 6300}
    item = dynamodb.get_item(TableName=devices_table, Key={"id": {"S": device.device_id}})["Item"]
    assert item["expires_at"] == {"N": str(NOW + 6300 + RETENTION_SECONDS)}


def test_a_renewed_device_keeps_its_slot_past_its_first_keys_end(
    device_store: DeviceStore, clock: FakeClock
) -> None:
    # Given three devices, one of them renewed to NOW + 6300
    devices = [new_device() for _ in range(LIMIT)]
    for device in devices:
        device_store.enroll(device, limit=LIMIT, now=NOW)
    device_store.add_key_version(
        devices[0], device_key(2, not_before=NOW + 2700, not_after=NOW + 6300), retire_at=NOW + 3000
    )
    # When the others have expired / Then two slots are free, not three
    clock.advance(3600)
    device_store.enroll(new_device(at=int(clock())), limit=LIMIT, now=int(clock()))
    device_store.enroll(new_device(at=int(clock())), limit=LIMIT, now=int(clock()))
    with pytest.raises(DeviceLimitReached):
        device_store.enroll(new_device(at=int(clock())), limit=LIMIT, now=int(clock()))


def test_a_renewal_between_an_enrollments_read_and_write_keeps_its_new_expiry(
    device_store: DeviceStore, dynamodb: DynamoDBClient, devices_table: str, clock: FakeClock
) -> None:
    # Given a user with one device (key ending at NOW + 3600)
    device = new_device()
    device_store.enroll(device, limit=LIMIT, now=NOW)
    # When it renews to NOW + 6300 after a second enrollment read the count, before it writes
    other_store = DeviceStore(devices_table, boto3.client("dynamodb", region_name=REGION))
    renewal = device_key(2, not_before=NOW, not_after=NOW + 6300)
    before_next_transaction(
        dynamodb, lambda: other_store.add_key_version(device, renewal, retire_at=NOW + 300)
    )
    device_store.enroll(new_device(), limit=LIMIT, now=NOW)
    # Then the count keeps the renewed end: the device still holds its slot after its first key
    assert counted(dynamodb, devices_table, device)[device.device_id] == NOW + 6300
    clock.advance(3600)
    device_store.enroll(new_device(at=int(clock())), limit=LIMIT, now=int(clock()))
    device_store.enroll(new_device(at=int(clock())), limit=LIMIT, now=int(clock()))
    with pytest.raises(DeviceLimitReached):
        device_store.enroll(new_device(at=int(clock())), limit=LIMIT, now=int(clock()))


def test_a_racing_renewal_of_the_same_version_is_a_conflict(device_store: DeviceStore) -> None:
    # Given a device renewed to version 2 from the record both renewals read
    device = new_device()
    device_store.enroll(device, limit=LIMIT, now=NOW)
    device_store.add_key_version(
        device, device_key(2, not_before=NOW, not_after=NOW + 7200), retire_at=NOW + 300
    )
    # When a second renewal from the same read also adds version 2 / Then it loses
    other = device_key(2, not_before=NOW, not_after=NOW + 7200, sealed_secret=b"attacker's")
    with pytest.raises(ClientConflict) as refused:
        device_store.add_key_version(device, other, retire_at=NOW + 300)
    assert refused.value.reason == "concurrent_update"
    # And the first renewal's key is the one kept
    stored = device_store.get(device.device_id)
    assert stored is not None
    key = stored.key_version(2)
    assert key is not None
    assert key.sealed_secret == b"sealed-dev-2"


def test_a_revoked_device_cannot_be_renewed(device_store: DeviceStore) -> None:
    device = new_device()
    device_store.enroll(device, limit=LIMIT, now=NOW)
    device_store.revoke(device.device_id)
    with pytest.raises(ClientConflict):
        device_store.add_key_version(
            device, device_key(2, not_before=NOW, not_after=NOW + 7200), retire_at=NOW
        )
    stored = device_store.get(device.device_id)
    assert stored is not None
    assert stored.key_version(2) is None


def test_an_unknown_device_cannot_be_renewed(device_store: DeviceStore) -> None:
    with pytest.raises(ClientConflict):
        device_store.add_key_version(new_device(), device_key(2, not_after=NOW + 7200), retire_at=NOW)


def test_a_renewal_key_without_an_end_is_refused_before_any_write(device_store: DeviceStore) -> None:
    device = new_device()
    device_store.enroll(device, limit=LIMIT, now=NOW)
    with pytest.raises(ValueError, match="always expires"):
        device_store.add_key_version(device, device_key(2, not_after=None), retire_at=NOW)
    assert device_store.get(device.device_id) == device


# --------------------------------------------------------------------------------------- listing


def test_devices_are_listed_per_app_and_per_user(device_store: DeviceStore) -> None:
    mine = [new_device(), new_device()]
    theirs = new_device("user-0002")
    elsewhere = new_device(app_id="other-app")
    for device in (*mine, theirs, elsewhere):
        device_store.enroll(device, limit=LIMIT, now=NOW)
    # The app's listing has its devices only (no user-count items); a user's listing has theirs
    assert {d.device_id for d in device_store.list_devices(APP_ID)} == {
        *(d.device_id for d in mine),
        theirs.device_id,
    }
    assert {d.device_id for d in device_store.list_devices(APP_ID, SUB)} == {d.device_id for d in mine}
    assert list(device_store.list_devices(APP_ID, "nobody")) == []
    assert [d.device_id for d in device_store.list_devices("other-app")] == [elsewhere.device_id]


def test_listing_pages_through_every_device(device_store: DeviceStore) -> None:
    devices = [new_device(f"user-{index:04d}") for index in range(30)]
    for device in devices:
        device_store.enroll(device, limit=LIMIT, now=NOW)
    assert len(list(device_store.list_devices(APP_ID))) == 30


# ------------------------------------------------------------------------------- failing closed


def raw_device_item(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = dict(device_to_item(new_device()))
    item.update(changes)
    return {name: value for name, value in item.items() if value is not None}


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": {"S": "user"}},
        {"kind": None},
        {"status": {"S": "paused"}},
        {"created_at": {"N": "1.5"}},
        {"user_ref": {"S": "not-a-ref"}},
        {"user_sub": {"N": "1"}},
        {"key_versions": {"M": {}}},
        {"key_versions": {"M": {"01": {"M": {}}}}},
        {
            "key_versions": {
                "M": {
                    "1": {
                        "M": {
                            "sealed_secret": {"B": b"x"},
                            "status": {"S": "active"},
                            "not_before": {"N": "1"},
                            "created_at": {"N": "1"},
                        }
                    }
                }
            }
        },
    ],
)
def test_a_malformed_device_item_fails_closed(
    changes: dict[str, Any], device_store: DeviceStore, dynamodb: DynamoDBClient, devices_table: str
) -> None:
    # Given a device item someone edited by hand (the last one: a key without an end)
    item = raw_device_item(**changes)
    dynamodb.put_item(TableName=devices_table, Item=item)
    with pytest.raises(MalformedItem):
        item_to_device(item)
    # When it is read or listed / Then DependencyUnavailable, never a record with a default
    with pytest.raises(DependencyUnavailable) as refused:
        device_store.get(item["id"]["S"])
    assert refused.value.reason == "device_record_malformed"
    if "app_id" in item and "user_sub" in item and "S" in item["user_sub"]:
        with pytest.raises(DependencyUnavailable):
            list(device_store.list_devices(APP_ID))


def test_a_user_count_item_read_as_a_device_fails_closed(
    device_store: DeviceStore, dynamodb: DynamoDBClient, devices_table: str
) -> None:
    device = new_device()
    device_store.enroll(device, limit=LIMIT, now=NOW)
    with pytest.raises(DependencyUnavailable):
        device_store.get(user_item_id(device.app_id, device.user_ref))
    with pytest.raises(DependencyUnavailable):
        device_store.revoke(user_item_id(device.app_id, device.user_ref))


@pytest.mark.parametrize(
    "changes",
    [
        {"revision": None},
        {"revision": {"S": "1"}},
        {"devices": None},
        {"devices": {"M": {"dev-x": {"S": "soon"}}}},
    ],
)
def test_a_malformed_user_count_refuses_enrollment(
    changes: dict[str, Any], device_store: DeviceStore, dynamodb: DynamoDBClient, devices_table: str
) -> None:
    device = new_device()
    device_store.enroll(device, limit=LIMIT, now=NOW)
    item = user_item(dynamodb, devices_table, device) | changes
    dynamodb.put_item(TableName=devices_table, Item={k: v for k, v in item.items() if v is not None})
    with pytest.raises(DependencyUnavailable) as refused:
        device_store.enroll(new_device(), limit=LIMIT, now=NOW)
    assert refused.value.reason == "device_record_malformed"


def test_an_unreachable_table_fails_closed_on_every_operation() -> None:
    store = DeviceStore("devices", unreachable_dynamodb())
    device = new_device()
    operations: list[Callable[[], object]] = [
        lambda: store.get(device.device_id),
        lambda: store.enroll(device, limit=LIMIT, now=NOW),
        lambda: store.add_key_version(device, device_key(2, not_after=NOW + 7200), retire_at=NOW),
        lambda: store.revoke(device.device_id),
        lambda: list(store.list_devices(APP_ID)),
    ]
    for operation in operations:
        with pytest.raises(DependencyUnavailable):
            operation()
