"""The replay store: each (key id, nonce) pair is accepted once, by a DynamoDB conditional write.

The authorizer calls `remember` after the signature verifies. The item's key is
`<keyid>#<nonce>` (a key id never contains `#`, so the split is unambiguous) and its TTL attribute
`expires_at` is the signature's `expires` plus `RETENTION_MARGIN_SECONDS`. After `expires` the
time window alone refuses the signature; the margin (one full signature window, 300 s) keeps the
nonce past that point even if the authorizers' clocks disagree by minutes, and DynamoDB's TTL only
deletes items after their time, never before.

A conditional failure is a replay. Any other failure (throttling, timeouts, access denied, a
missing table) fails closed with DependencyUnavailable: a nonce that could not be recorded is
never accepted.

botocore retries a PutItem whose answer was lost (a timeout after DynamoDB wrote the item); the
retry then fails its condition. Each call writes a random `writer` token and asks for the old item
on failure, so a retry that meets its own earlier write is recognised and not called a replay.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from secure_ai_gateway.adapters.aws_clients import dynamodb_client as default_dynamodb_client
from secure_ai_protocol.errors import DependencyUnavailable, ReplayDetected, SignatureRejected
from secure_ai_protocol.key_ids import parse_key_id

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RETENTION_MARGIN_SECONDS: Final = 300
# DynamoDB caps a partition key at 2048 bytes; the signing profile's nonces are far shorter.
MAX_NONCE_LENGTH: Final = 512
_CONDITION_FAILED: Final = "ConditionalCheckFailedException"


def nonce_key(key_id: str, nonce: str) -> str:
    """The replay store's partition key for a signature's key id and nonce."""
    return f"{key_id}#{nonce}"


class NonceStore:
    """Records nonces in the `nonces` table; a nonce seen before is a replay."""

    def __init__(self, table_name: str, boto3_client: DynamoDBClient | None = None) -> None:
        self._table = table_name
        self._dynamodb = boto3_client if boto3_client is not None else default_dynamodb_client()

    def remember(self, key_id: str, nonce: str, expires_at: int) -> None:
        """Record `nonce` for `key_id` until the signature's `expires_at` plus the margin.

        Raises ReplayDetected("replay") if the pair was recorded before, SignatureRejected
        ("keyid" or "nonce") for values that cannot be a verified signature's, and
        DependencyUnavailable if the write fails for any other reason.
        """
        parse_key_id(key_id)
        if not nonce or len(nonce) > MAX_NONCE_LENGTH:
            raise SignatureRejected("nonce")
        self._record(nonce_key(key_id, nonce), expires_at)

    def remember_enrollment(self, app_id: str, token_digest: str, expires_at: int) -> None:
        """Record that an OIDC token (by its digest) enrolled a device at `app_id`, until it expires.

        Raises ReplayDetected("replay") when the same token enrolls a second time.
        """
        self._record(f"enroll#{app_id}#{token_digest}", expires_at)

    def _record(self, item_key: str, expires_at: int) -> None:
        writer = secrets.token_hex(16)
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    "nonce_key": {"S": item_key},
                    "expires_at": {"N": str(int(expires_at) + RETENTION_MARGIN_SECONDS)},
                    "writer": {"S": writer},
                },
                ConditionExpression="attribute_not_exists(nonce_key)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _error_code(exc) != _CONDITION_FAILED:
                raise DependencyUnavailable("nonce_store_unavailable") from exc
            if _written_by(exc, writer):
                return
            raise ReplayDetected("replay") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable("nonce_store_unavailable") from exc


def _written_by(exc: ClientError, writer: str) -> bool:
    response: Mapping[str, Any] = exc.response
    item = response.get("Item")
    if not isinstance(item, Mapping):
        return False
    stored = item.get("writer")
    if not isinstance(stored, Mapping) or not isinstance(stored.get("S"), str):
        return False
    return hmac.compare_digest(stored["S"].encode(), writer.encode())


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
