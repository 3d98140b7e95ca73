"""The `policies` DynamoDB table: every version of every screening policy, and a head per policy.

Item shapes (hash key `policy_id` S, range key `version` N):

    version ≥ 1, one per version, never changed:
        document S (the Policy as JSON) · written_by S (an ARN) · written_at N · [rolled_back_from N]
    version 0, the head: which version is current, with a copy of it (so a function reads one item):
        current N · document S · written_by S · written_at N · [rolled_back_from N]

A new version and the head move together in one transaction, each conditional: the version is
written only if it does not exist yet, and the head moves only from the version the writer read.
Two operators racing cannot lose an update: the loser gets `PolicyConflict("concurrent_update")`.
Deleting a policy deletes its head only (conditional in the same way); its versions stay for audit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from secure_ai_gateway.adapters.aws_clients import dynamodb_client as default_dynamodb_client
from secure_ai_gateway.policy_registry.errors import PolicyConflict
from secure_ai_gateway.policy_registry.records import PolicyVersion
from secure_ai_gateway.screening.policy import Policy
from secure_ai_protocol.errors import DependencyUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        PutTypeDef,
        TransactWriteItemTypeDef,
    )

HEAD_VERSION: Final = 0
UNAVAILABLE: Final = "policies_store_unavailable"
MALFORMED: Final = "policy_malformed"
_CONDITION_FAILED: Final = "ConditionalCheckFailedException"
# What DynamoDB answers when a transaction's condition failed or another transaction held an item.
_TRANSACTION_CANCELED: Final = "TransactionCanceledException"
_LOST_RACE: Final = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
_NUMBER = re.compile(r"[0-9]{1,15}")


class PolicyStore:
    """Reads and conditionally writes policy versions in the `policies` table."""

    def __init__(self, table_name: str, boto3_client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._dynamodb = boto3_client if boto3_client is not None else default_dynamodb_client()

    def current(self, policy_id: str) -> Policy | None:
        """The current version of `policy_id` (one strongly consistent read), or None if there is none.

        Raises DependencyUnavailable on any AWS failure, or when the stored item is malformed.
        """
        head = self.head(policy_id)
        return None if head is None else head.policy

    def head(self, policy_id: str) -> PolicyVersion | None:
        """The current version with its provenance, or None."""
        return self.version(policy_id, HEAD_VERSION)

    def version(self, policy_id: str, version: int) -> PolicyVersion | None:
        """One stored version (0: the head), or None."""
        try:
            response = self._dynamodb.get_item(
                TableName=self._table, Key=_key(policy_id, version), ConsistentRead=True
            )
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailable(UNAVAILABLE) from exc
        item = response.get("Item")
        return None if item is None else _checked(item, policy_id)

    def history(self, policy_id: str) -> list[PolicyVersion]:
        """Every version of `policy_id`, oldest first (the head excluded)."""
        return list(self._query(policy_id, newest_first=False, limit=None))

    def latest_version(self, policy_id: str) -> int:
        """The highest version number ever written for `policy_id`, 0 if none."""
        latest = list(self._query(policy_id, newest_first=True, limit=1))
        return latest[0].version if latest else 0

    def heads(self) -> Iterator[PolicyVersion]:
        """The current version of every policy (a Scan: for operators, not for request paths)."""
        scan: dict[str, Any] = {
            "TableName": self._table,
            "ConsistentRead": True,
            "FilterExpression": "#v = :head",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":head": {"N": str(HEAD_VERSION)}},
        }
        for item in self._items(self._dynamodb.scan, scan, one_page=False):
            yield _checked(item, None)

    def write_version(self, new: PolicyVersion, *, read_current: int | None) -> None:
        """Store `new` and make it current, in one transaction.

        `read_current` is the version the writer read as current (None: the policy had no head).
        Raises PolicyConflict("concurrent_update") if `new.version` exists already or the head has
        moved since; DependencyUnavailable on any other failure.
        """
        head: PutTypeDef = {
            "TableName": self._table,
            "Item": {**_item(new, HEAD_VERSION), "current": {"N": str(new.version)}},
            "ConditionExpression": "attribute_not_exists(policy_id)",
        }
        if read_current is not None:
            head["ConditionExpression"] = "#c = :read"
            head["ExpressionAttributeNames"] = {"#c": "current"}
            head["ExpressionAttributeValues"] = {":read": {"N": str(read_current)}}
        writes: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _item(new, new.version),
                    "ConditionExpression": "attribute_not_exists(policy_id)",
                }
            },
            {"Put": head},
        ]
        try:
            self._dynamodb.transact_write_items(TransactItems=writes)
        except ClientError as exc:
            if _lost_race(exc):
                raise PolicyConflict("concurrent_update") from exc
            raise DependencyUnavailable(UNAVAILABLE) from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable(UNAVAILABLE) from exc

    def delete_head(self, policy_id: str, *, read_current: int) -> None:
        """Remove the policy's head (it stops being served); its versions stay.

        Raises PolicyConflict("concurrent_update") if the head moved or went since it was read.
        """
        try:
            self._dynamodb.delete_item(
                TableName=self._table,
                Key=_key(policy_id, HEAD_VERSION),
                ConditionExpression="#c = :read",
                ExpressionAttributeNames={"#c": "current"},
                ExpressionAttributeValues={":read": {"N": str(read_current)}},
            )
        except ClientError as exc:
            if _error_code(exc) == _CONDITION_FAILED:
                raise PolicyConflict("concurrent_update") from exc
            raise DependencyUnavailable(UNAVAILABLE) from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable(UNAVAILABLE) from exc

    def _query(self, policy_id: str, *, newest_first: bool, limit: int | None) -> Iterator[PolicyVersion]:
        query: dict[str, Any] = {
            "TableName": self._table,
            "ConsistentRead": True,
            "KeyConditionExpression": "policy_id = :id AND #v > :head",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {
                ":id": {"S": policy_id},
                ":head": {"N": str(HEAD_VERSION)},
            },
            "ScanIndexForward": not newest_first,
        }
        if limit is not None:
            query["Limit"] = limit
        for item in self._items(self._dynamodb.query, query, one_page=limit is not None):
            yield _checked(item, policy_id)

    def _items(
        self, read: Callable[..., Any], request: dict[str, Any], *, one_page: bool
    ) -> Iterator[dict[str, AttributeValueTypeDef]]:
        """The items of a Scan or Query, page after page (or the first page only)."""
        while True:
            try:
                page = read(**request)
            except (BotoCoreError, ClientError) as exc:
                raise DependencyUnavailable(UNAVAILABLE) from exc
            yield from page.get("Items", [])
            start_key = page.get("LastEvaluatedKey")
            if one_page or not start_key:
                return
            request = {**request, "ExclusiveStartKey": start_key}


def _key(policy_id: str, version: int) -> dict[str, AttributeValueTypeDef]:
    return {"policy_id": {"S": policy_id}, "version": {"N": str(version)}}


def _item(stored: PolicyVersion, version: int) -> dict[str, AttributeValueTypeDef]:
    item: dict[str, AttributeValueTypeDef] = {
        **_key(stored.policy_id, version),
        "document": {"S": stored.policy.model_dump_json()},
        "written_by": {"S": stored.written_by},
        "written_at": {"N": str(stored.written_at)},
    }
    if stored.rolled_back_from is not None:
        item["rolled_back_from"] = {"N": str(stored.rolled_back_from)}
    return item


def _checked(item: Mapping[str, Any], policy_id: str | None) -> PolicyVersion:
    """Parse an item; a malformed one fails closed: no policy is served from it."""
    try:
        stored = _parse(item)
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        # The message names nothing from the item.
        raise DependencyUnavailable(MALFORMED) from exc
    if policy_id is not None and stored.policy_id != policy_id:
        raise DependencyUnavailable(MALFORMED)
    return stored


def _parse(item: Mapping[str, Any]) -> PolicyVersion:
    policy = Policy.model_validate_json(_typed(item, "document", "S"))
    version = _number(item, "version")
    # The head names its version in `current`; a version item, by its key.
    expected = _number(item, "current") if version == HEAD_VERSION else version
    if policy.version != expected or policy.policy_id != _typed(item, "policy_id", "S"):
        raise ValueError("the document does not match its key")
    return PolicyVersion(
        policy=policy,
        written_by=_typed(item, "written_by", "S"),
        written_at=_number(item, "written_at"),
        rolled_back_from=_number(item, "rolled_back_from") if "rolled_back_from" in item else None,
    )


def _typed(item: Mapping[str, Any], name: str, kind: str) -> str:
    value = item[name]
    if not isinstance(value, Mapping) or set(value) != {kind} or not isinstance(value[kind], str):
        raise TypeError(f"attribute {name} is not of type {kind}")
    return str(value[kind])


def _number(item: Mapping[str, Any], name: str) -> int:
    value = _typed(item, name, "N")
    if not _NUMBER.fullmatch(value):
        raise ValueError(f"attribute {name}")
    return int(value)


def _lost_race(exc: ClientError) -> bool:
    if _error_code(exc) != _TRANSACTION_CANCELED:
        return False
    reasons: Any = exc.response.get("CancellationReasons") or []
    return any(isinstance(reason, Mapping) and reason.get("Code") in _LOST_RACE for reason in reasons)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
