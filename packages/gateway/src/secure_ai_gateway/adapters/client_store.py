"""The `clients` DynamoDB table: one item per client, key versions in a map.

Item shape (attribute → DynamoDB type):

    client_id S · status S ("active" | "revoked") · scopes L of S · allowed_models L of S
    max_tokens N · token_budget N · request_budget N · policy_id S · created_at N
    key_versions M: "<version>" → M {sealed_secret B, status S, not_before N, [not_after N], created_at N}
    [enrollment S]: the app's EnrollmentSettings as compact JSON (absent: no device enrollment)

Every write is conditional and touches only the map entries it means to change, so two admins
racing cannot overwrite each other's key versions: the loser gets a `ClientConflict` and retries.
Reads are strongly consistent, so a revocation is visible to the next read that misses the cache.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from secure_ai_gateway.adapters.aws_clients import dynamodb_client as default_dynamodb_client
from secure_ai_gateway.adapters.dynamodb_items import (
    CONDITION_FAILED,
    MalformedItem,
    binary,
    error_code,
    mapping,
    number,
    old_item,
    string,
    strings,
)
from secure_ai_gateway.client_registry.records import (
    ClientConflict,
    ClientRecord,
    EnrollmentSettings,
    KeyVersion,
)
from secure_ai_protocol.errors import DependencyUnavailable, NotFound

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

_VERSION_KEY = re.compile(r"[1-9][0-9]{0,5}")


class MalformedClientRecord(MalformedItem):
    """An item in the clients table does not have the shape this module writes."""


class ClientStore:
    """Reads and conditionally writes client records in the `clients` table."""

    def __init__(self, table_name: str, boto3_client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._dynamodb = boto3_client if boto3_client is not None else default_dynamodb_client()

    def get(self, client_id: str) -> ClientRecord | None:
        """The client's record (strongly consistent read), or None if there is none."""
        try:
            response = self._dynamodb.get_item(
                TableName=self._table, Key={"client_id": {"S": client_id}}, ConsistentRead=True
            )
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailable("clients_store_unavailable") from exc
        item = response.get("Item")
        return None if item is None else _checked_record(item)

    def create(self, record: ClientRecord) -> None:
        """Store a new client; raise ClientConflict("client_exists") if the id is taken."""
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item=record_to_item(record),
                ConditionExpression="attribute_not_exists(client_id)",
            )
        except ClientError as exc:
            if error_code(exc) == CONDITION_FAILED:
                raise ClientConflict("client_exists") from exc
            raise DependencyUnavailable("clients_store_unavailable") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable("clients_store_unavailable") from exc

    def add_key_version(
        self, client_id: str, key: KeyVersion, *, retire: Mapping[int, int] | None = None
    ) -> None:
        """Add `key` to an active client and, in the same write, set `not_after` on `retire`'s versions.

        `retire` maps version → new not_after; each of those versions must still be active.
        Raises NotFound("unknown_client") or ClientConflict ("client_revoked", "concurrent_update").
        """
        retire = dict(retire or {})
        names = {"#kv": "key_versions", "#new": str(key.version), "#st": "status"}
        values: dict[str, AttributeValueTypeDef] = {
            ":new": key_version_to_attribute(key),
            ":active": {"S": "active"},
        }
        updates = ["#kv.#new = :new"]
        conditions = ["attribute_exists(client_id)", "#st = :active", "attribute_not_exists(#kv.#new)"]
        for index, (version, not_after) in enumerate(sorted(retire.items())):
            # DynamoDB refuses names an expression does not use: #na only when retiring.
            names["#na"] = "not_after"
            names[f"#r{index}"] = str(version)
            values[f":r{index}"] = {"N": str(not_after)}
            updates.append(f"#kv.#r{index}.#na = :r{index}")
            conditions.append(f"#kv.#r{index}.#st = :active")
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"client_id": {"S": client_id}},
                UpdateExpression="SET " + ", ".join(updates),
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise DependencyUnavailable("clients_store_unavailable") from exc
            old = old_item(exc)
            if old is None:
                raise NotFound("unknown_client") from exc
            if old.get("status") != {"S": "active"}:
                raise ClientConflict("client_revoked") from exc
            raise ClientConflict("concurrent_update") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable("clients_store_unavailable") from exc

    def revoke_key(self, client_id: str, version: int) -> None:
        """Mark one key version revoked; raise NotFound ("unknown_client" or "unknown_key")."""
        self._set_status(
            client_id,
            path="#kv.#v.#st",
            names={"#kv": "key_versions", "#v": str(version), "#st": "status"},
            condition="attribute_exists(#kv.#v)",
            missing_reason="unknown_key",
        )

    def revoke_client(self, client_id: str) -> None:
        """Mark the client revoked, which refuses all its keys; raise NotFound("unknown_client")."""
        self._set_status(
            client_id,
            path="#st",
            names={"#st": "status"},
            condition="attribute_exists(client_id)",
            missing_reason="unknown_client",
        )

    def set_policy(self, client_id: str, policy_id: str) -> None:
        """Name `policy_id` as the client's screening policy; raise NotFound("unknown_client")."""
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"client_id": {"S": client_id}},
                UpdateExpression="SET #p = :policy",
                ConditionExpression="attribute_exists(client_id)",
                ExpressionAttributeNames={"#p": "policy_id"},
                ExpressionAttributeValues={":policy": {"S": policy_id}},
            )
        except ClientError as exc:
            if error_code(exc) == CONDITION_FAILED:
                raise NotFound("unknown_client") from exc
            raise DependencyUnavailable("clients_store_unavailable") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable("clients_store_unavailable") from exc

    def set_enrollment(self, client_id: str, settings: EnrollmentSettings | None) -> None:
        """Allow device enrollment under `settings`, or stop it (None); raise NotFound("unknown_client")."""
        try:
            if settings is None:
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key={"client_id": {"S": client_id}},
                    UpdateExpression="REMOVE #e",
                    ConditionExpression="attribute_exists(client_id)",
                    ExpressionAttributeNames={"#e": "enrollment"},
                )
            else:
                self._dynamodb.update_item(
                    TableName=self._table,
                    Key={"client_id": {"S": client_id}},
                    UpdateExpression="SET #e = :enrollment",
                    ConditionExpression="attribute_exists(client_id)",
                    ExpressionAttributeNames={"#e": "enrollment"},
                    ExpressionAttributeValues={":enrollment": {"S": settings.model_dump_json()}},
                )
        except ClientError as exc:
            if error_code(exc) == CONDITION_FAILED:
                raise NotFound("unknown_client") from exc
            raise DependencyUnavailable("clients_store_unavailable") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable("clients_store_unavailable") from exc

    def list_clients(self) -> Iterator[ClientRecord]:
        """Every client record, page by page (a Scan: for admin use, not request paths)."""
        start_key: dict[str, AttributeValueTypeDef] | None = None
        while True:
            try:
                if start_key is None:
                    page = self._dynamodb.scan(TableName=self._table, ConsistentRead=True)
                else:
                    page = self._dynamodb.scan(
                        TableName=self._table, ConsistentRead=True, ExclusiveStartKey=start_key
                    )
            except (BotoCoreError, ClientError) as exc:
                raise DependencyUnavailable("clients_store_unavailable") from exc
            for item in page.get("Items", []):
                yield _checked_record(item)
            start_key = page.get("LastEvaluatedKey")
            if not start_key:
                return

    def _set_status(
        self, client_id: str, *, path: str, names: dict[str, str], condition: str, missing_reason: str
    ) -> None:
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"client_id": {"S": client_id}},
                UpdateExpression=f"SET {path} = :revoked",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":revoked": {"S": "revoked"}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise DependencyUnavailable("clients_store_unavailable") from exc
            # No old item at all means the client itself is missing, whatever was asked.
            raise NotFound(missing_reason if old_item(exc) is not None else "unknown_client") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable("clients_store_unavailable") from exc


def record_to_item(record: ClientRecord) -> dict[str, AttributeValueTypeDef]:
    """The DynamoDB item for `record`."""
    item: dict[str, AttributeValueTypeDef] = {
        "client_id": {"S": record.client_id},
        "status": {"S": record.status},
        "scopes": {"L": [{"S": scope} for scope in record.scopes]},
        "allowed_models": {"L": [{"S": model} for model in record.allowed_models]},
        "max_tokens": {"N": str(record.max_tokens)},
        "token_budget": {"N": str(record.token_budget)},
        "request_budget": {"N": str(record.request_budget)},
        "policy_id": {"S": record.policy_id},
        "created_at": {"N": str(record.created_at)},
        "key_versions": {
            "M": {str(key.version): key_version_to_attribute(key) for key in record.key_versions}
        },
    }
    if record.enrollment is not None:
        item["enrollment"] = {"S": record.enrollment.model_dump_json()}
    return item


def key_version_to_attribute(key: KeyVersion) -> AttributeValueTypeDef:
    """The map value stored under `key_versions.<version>` (the version is the map key)."""
    attributes: dict[str, AttributeValueTypeDef] = {
        "sealed_secret": {"B": key.sealed_secret},
        "status": {"S": key.status},
        "not_before": {"N": str(key.not_before)},
        "created_at": {"N": str(key.created_at)},
    }
    if key.not_after is not None:
        attributes["not_after"] = {"N": str(key.not_after)}
    return {"M": attributes}


def item_to_record(item: Mapping[str, Any]) -> ClientRecord:
    """Parse a DynamoDB item; raise MalformedClientRecord if it is not one this module wrote."""
    try:
        keys = item_key_versions(item)
        return ClientRecord.model_validate(
            {
                "client_id": string(item, "client_id"),
                "status": string(item, "status"),
                "scopes": strings(item, "scopes"),
                "allowed_models": strings(item, "allowed_models"),
                "max_tokens": number(item, "max_tokens"),
                "token_budget": number(item, "token_budget"),
                "request_budget": number(item, "request_budget"),
                "policy_id": string(item, "policy_id"),
                "created_at": number(item, "created_at"),
                "key_versions": tuple(keys),
                "enrollment": (
                    EnrollmentSettings.model_validate_json(string(item, "enrollment"))
                    if "enrollment" in item
                    else None
                ),
            }
        )
    except (KeyError, TypeError, ValueError) as exc:
        # ValidationError is a ValueError. The message names no value: the item may hold a sealed secret.
        raise MalformedClientRecord("client record does not match the expected shape") from exc


def _checked_record(item: Mapping[str, Any]) -> ClientRecord:
    try:
        return item_to_record(item)
    except MalformedClientRecord as exc:
        # Fail closed: a record we cannot read authenticates nobody.
        raise DependencyUnavailable("client_record_malformed") from exc


def item_key_versions(item: Mapping[str, Any]) -> tuple[KeyVersion, ...]:
    """An item's `key_versions` map, parsed, in version order."""
    versions = mapping(item, "key_versions")
    return tuple(
        sorted(
            (item_key_version(name, value) for name, value in versions.items()), key=lambda key: key.version
        )
    )


def item_key_version(name: str, value: Any) -> KeyVersion:
    """Parse one `key_versions` map entry (the map key is the version number)."""
    if not _VERSION_KEY.fullmatch(name):
        raise MalformedClientRecord("key version number")
    attributes = mapping({name: value}, name)
    return KeyVersion.model_validate(
        {
            "version": int(name),
            "sealed_secret": binary(attributes, "sealed_secret"),
            "status": string(attributes, "status"),
            "not_before": number(attributes, "not_before"),
            "not_after": number(attributes, "not_after") if "not_after" in attributes else None,
            "created_at": number(attributes, "created_at"),
        }
    )
