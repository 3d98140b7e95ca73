"""The `devices` DynamoDB table: enrolled devices, and each user's count of live devices.

Two kinds of item share the table (HASH key `id`):

    device: id S (the device id) · kind S "device" · app_id S · user_sub S · user_ref S · status S
            created_at N · key_versions M (as in the clients table) · expires_at N (TTL)
    user:   id S "user#<app_id>#<user_ref>" · kind S "user" · devices M: device id → N (its expiry)
            · revision N · expires_at N (TTL)

The index `app_user` (HASH app_id, RANGE user_sub) holds device items only (user items have no
`app_id`), for listing an app's or a user's devices. The device limit is enforced by the user
item: an enrollment writes the device and the user item in one transaction, conditional on the
user item's `revision`, so two concurrent enrollments cannot both take the last slot. Renewal and
revocation update both items in one transaction too, and move the `revision` as well: an
enrollment that counted before them must count again, or it would write back the old state.
Device items outlive their keys by `RETENTION_SECONDS` (for `secure-ai devices list`), then TTL
removes them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from secure_ai_gateway.adapters.aws_clients import dynamodb_client as default_dynamodb_client
from secure_ai_gateway.adapters.client_store import item_key_versions, key_version_to_attribute
from secure_ai_gateway.adapters.dynamodb_items import (
    TRANSACTION_CANCELED,
    MalformedItem,
    error_code,
    mapping,
    number,
    string,
)
from secure_ai_gateway.client_registry.records import ClientConflict, KeyVersion
from secure_ai_gateway.device_registry.records import DeviceRecord
from secure_ai_protocol.errors import DependencyUnavailable, DeviceLimitReached, NotFound

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

RETENTION_SECONDS: Final = 30 * 24 * 60 * 60
APP_USER_INDEX: Final = "app_user"
_ATTEMPTS: Final = 4


def user_item_id(app_id: str, user_ref: str) -> str:
    """The id of the item that counts one user's devices at one app."""
    return f"user#{app_id}#{user_ref}"


class DeviceStore:
    """Reads and transactionally writes devices and their users' device counts."""

    def __init__(self, table_name: str, boto3_client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._dynamodb = boto3_client if boto3_client is not None else default_dynamodb_client()

    def get(self, device_id: str) -> DeviceRecord | None:
        """The device's record (strongly consistent read), or None."""
        item = self._get_item(device_id)
        return None if item is None else _checked_device(item)

    def enroll(self, device: DeviceRecord, *, limit: int, now: int) -> None:
        """Store `device` unless its user already has `limit` live devices at its app.

        Raises DeviceLimitReached(limit); DependencyUnavailable when DynamoDB fails or the user's
        count keeps changing under us.
        """
        user_id = user_item_id(device.app_id, device.user_ref)
        for _ in range(_ATTEMPTS):
            user = self._get_item(user_id)
            revision = 0 if user is None else _user_revision(user)
            live = {} if user is None else _live_devices(user, now)
            if len(live) >= limit:
                raise DeviceLimitReached(limit)
            live[device.device_id] = device.expires_at
            try:
                self._dynamodb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": device_to_item(device),
                                "ConditionExpression": "attribute_not_exists(id)",
                            }
                        },
                        self._user_write(user_id, live, revision),
                    ]
                )
            except ClientError as exc:
                if error_code(exc) == TRANSACTION_CANCELED:
                    continue  # another enrollment of this user moved the revision first: count again
                raise DependencyUnavailable("devices_store_unavailable") from exc
            except BotoCoreError as exc:
                raise DependencyUnavailable("devices_store_unavailable") from exc
            return
        raise DependencyUnavailable("devices_contended")

    def add_key_version(self, device: DeviceRecord, key: KeyVersion, *, retire_at: int) -> None:
        """Add `key` to an active device, end its current key at `retire_at`, move the user's count.

        Raises ClientConflict("concurrent_update") when the device changed since it was read (a
        racing renewal or a revocation), DependencyUnavailable when DynamoDB fails.
        """
        current = device.latest.version
        if key.not_after is None:
            raise ValueError("a device key always expires")
        user_id = user_item_id(device.app_id, device.user_ref)
        items: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"id": {"S": device.device_id}},
                    "UpdateExpression": "SET #kv.#new = :new, #kv.#old.#na = :retire, #exp = :expires",
                    "ConditionExpression": (
                        "#st = :active AND attribute_exists(#kv.#old) AND attribute_not_exists(#kv.#new)"
                    ),
                    "ExpressionAttributeNames": {
                        "#kv": "key_versions",
                        "#new": str(key.version),
                        "#old": str(current),
                        "#na": "not_after",
                        "#st": "status",
                        "#exp": "expires_at",
                    },
                    "ExpressionAttributeValues": {
                        ":new": key_version_to_attribute(key),
                        ":retire": {"N": str(retire_at)},
                        ":active": {"S": "active"},
                        ":expires": {"N": str(key.not_after + RETENTION_SECONDS)},
                    },
                }
            },
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"id": {"S": user_id}},
                    # The revision moves too: an enrollment that read the count before this
                    # would otherwise write the old expiry back (and free the slot too early).
                    "UpdateExpression": "SET #d.#dev = :expiry, #exp = :expires ADD #rev :one",
                    "ConditionExpression": "attribute_exists(#d.#dev)",
                    "ExpressionAttributeNames": {
                        "#d": "devices",
                        "#dev": device.device_id,
                        "#exp": "expires_at",
                        "#rev": "revision",
                    },
                    "ExpressionAttributeValues": {
                        ":expiry": {"N": str(key.not_after)},
                        ":expires": {"N": str(key.not_after + RETENTION_SECONDS)},
                        ":one": {"N": "1"},
                    },
                }
            },
        ]
        try:
            self._dynamodb.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if error_code(exc) == TRANSACTION_CANCELED:
                raise ClientConflict("concurrent_update") from exc
            raise DependencyUnavailable("devices_store_unavailable") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable("devices_store_unavailable") from exc

    def revoke(self, device_id: str) -> DeviceRecord:
        """Revoke one device and free its user's slot; return it as it was. NotFound("unknown_device")."""
        for _ in range(_ATTEMPTS):
            device = self.get(device_id)
            if device is None:
                raise NotFound("unknown_device")
            user_id = user_item_id(device.app_id, device.user_ref)
            items: list[TransactWriteItemTypeDef] = [
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"id": {"S": device_id}},
                        "UpdateExpression": "SET #st = :revoked",
                        "ConditionExpression": "attribute_exists(id)",
                        "ExpressionAttributeNames": {"#st": "status"},
                        "ExpressionAttributeValues": {":revoked": {"S": "revoked"}},
                    }
                }
            ]
            # A user count that TTL already removed holds no slot to free: revoke the device alone
            # (an update of the missing item would create a count without its `devices` map).
            if self._get_item(user_id) is not None:
                items.append(
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"id": {"S": user_id}},
                            # The revision moves: an enrollment that read the count before this
                            # would otherwise write the revoked device back into it.
                            "UpdateExpression": "REMOVE #d.#dev ADD #rev :one",
                            "ConditionExpression": "attribute_exists(id)",
                            "ExpressionAttributeNames": {
                                "#d": "devices",
                                "#dev": device_id,
                                "#rev": "revision",
                            },
                            "ExpressionAttributeValues": {":one": {"N": "1"}},
                        }
                    }
                )
            try:
                self._dynamodb.transact_write_items(TransactItems=items)
            except ClientError as exc:
                if error_code(exc) == TRANSACTION_CANCELED:
                    continue  # the device or its count changed under us: read both again
                raise DependencyUnavailable("devices_store_unavailable") from exc
            except BotoCoreError as exc:
                raise DependencyUnavailable("devices_store_unavailable") from exc
            return device
        raise DependencyUnavailable("devices_contended")

    def list_devices(self, app_id: str, user_sub: str | None = None) -> Iterator[DeviceRecord]:
        """An app's devices, or one user's there, page by page (an index Query: for operators)."""
        condition = "app_id = :app" + ("" if user_sub is None else " AND user_sub = :sub")
        values: dict[str, AttributeValueTypeDef] = {":app": {"S": app_id}}
        if user_sub is not None:
            values[":sub"] = {"S": user_sub}
        start_key: Mapping[str, AttributeValueTypeDef] | None = None
        while True:
            query: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": APP_USER_INDEX,
                "KeyConditionExpression": condition,
                "ExpressionAttributeValues": values,
            }
            if start_key is not None:
                query["ExclusiveStartKey"] = start_key
            try:
                page = self._dynamodb.query(**query)
            except (BotoCoreError, ClientError) as exc:
                raise DependencyUnavailable("devices_store_unavailable") from exc
            for item in page.get("Items", []):
                yield _checked_device(item)
            start_key = page.get("LastEvaluatedKey")
            if not start_key:
                return

    def _get_item(self, item_id: str) -> Mapping[str, Any] | None:
        try:
            response = self._dynamodb.get_item(
                TableName=self._table, Key={"id": {"S": item_id}}, ConsistentRead=True
            )
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailable("devices_store_unavailable") from exc
        return response.get("Item")

    def _user_write(self, user_id: str, live: Mapping[str, int], revision: int) -> TransactWriteItemTypeDef:
        expires = max(live.values()) + RETENTION_SECONDS
        item: dict[str, AttributeValueTypeDef] = {
            "id": {"S": user_id},
            "kind": {"S": "user"},
            "devices": {"M": {device_id: {"N": str(expiry)} for device_id, expiry in live.items()}},
            "revision": {"N": str(revision + 1)},
            "expires_at": {"N": str(expires)},
        }
        if revision == 0:
            return {
                "Put": {
                    "TableName": self._table,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(id)",
                }
            }
        return {
            "Put": {
                "TableName": self._table,
                "Item": item,
                "ConditionExpression": "revision = :seen",
                "ExpressionAttributeValues": {":seen": {"N": str(revision)}},
            }
        }


def device_to_item(device: DeviceRecord) -> dict[str, AttributeValueTypeDef]:
    """The DynamoDB item for `device`."""
    return {
        "id": {"S": device.device_id},
        "kind": {"S": "device"},
        "app_id": {"S": device.app_id},
        "user_sub": {"S": device.user_sub},
        "user_ref": {"S": device.user_ref},
        "status": {"S": device.status},
        "created_at": {"N": str(device.created_at)},
        "key_versions": {
            "M": {str(key.version): key_version_to_attribute(key) for key in device.key_versions}
        },
        "expires_at": {"N": str(device.expires_at + RETENTION_SECONDS)},
    }


def item_to_device(item: Mapping[str, Any]) -> DeviceRecord:
    """Parse a device item; raise MalformedItem if it is not one this module wrote."""
    try:
        if string(item, "kind") != "device":
            raise MalformedItem("not a device item")
        keys = item_key_versions(item)
        return DeviceRecord.model_validate(
            {
                "device_id": string(item, "id"),
                "app_id": string(item, "app_id"),
                "user_sub": string(item, "user_sub"),
                "user_ref": string(item, "user_ref"),
                "status": string(item, "status"),
                "created_at": number(item, "created_at"),
                "key_versions": tuple(keys),
            }
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedItem("device record does not match the expected shape") from exc


def _checked_device(item: Mapping[str, Any]) -> DeviceRecord:
    try:
        return item_to_device(item)
    except MalformedItem as exc:
        # Fail closed: a record we cannot read authenticates nobody.
        raise DependencyUnavailable("device_record_malformed") from exc


def _user_revision(item: Mapping[str, Any]) -> int:
    try:
        return number(item, "revision")
    except (KeyError, MalformedItem) as exc:
        raise DependencyUnavailable("device_record_malformed") from exc


def _live_devices(item: Mapping[str, Any], now: int) -> dict[str, int]:
    """The user's devices whose keys have not expired at `now` (revoked ones were removed)."""
    try:
        devices = mapping(item, "devices")
        expiries = {device_id: number(devices, device_id) for device_id in devices}
    except (KeyError, MalformedItem) as exc:
        raise DependencyUnavailable("device_record_malformed") from exc
    return {device_id: expiry for device_id, expiry in expiries.items() if expiry > now}
