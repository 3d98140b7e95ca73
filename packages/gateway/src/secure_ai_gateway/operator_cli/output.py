"""What the `clients` actions print: JSON documents on stdout, failure messages for stderr."""

from __future__ import annotations

import json
import sys
from typing import Final

from botocore.exceptions import ClientError
from pydantic import ValidationError

from secure_ai_protocol.errors import DependencyUnavailable, ProtocolError

_FAILURE_MESSAGES: Final = {
    "unknown_client": "no such client",
    "unknown_key": "no such key version",
    "client_exists": "a client with this id already exists",
    "client_revoked": "the client is revoked",
    "concurrent_update": "the client was changed by someone else meanwhile; run the command again",
    "version_exhausted": "the client has used every key version number",
    "client_record_malformed": "the client record in the table is malformed",
}


def print_json(document: object) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True) + "\n")


def validation_message(exc: ValidationError) -> str:
    # Field locations and pydantic's messages only: never the rejected input.
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}" for error in exc.errors()
    )
    return f"invalid client settings: {problems}"


def failure_message(exc: ProtocolError, client_id: str | None) -> str:
    subject = f"{client_id}: " if client_id else ""
    if isinstance(exc, DependencyUnavailable):
        cause = exc.__cause__
        detail = type(cause).__name__
        if isinstance(cause, ClientError):
            detail = str(cause.response.get("Error", {}).get("Code", detail))
        return (
            f"{subject}AWS request failed ({exc.reason}: {detail}); "
            "check the region, endpoint, credentials, table and key"
        )
    return subject + _FAILURE_MESSAGES.get(exc.reason, exc.reason)
