"""`.secure-ai/local.json`, written by the local stack (`python -m secure_ai_local`), as the SDK reads it.

The file holds the demo client's secret and is readable by its owner only; nothing read from it is
ever printed. AWS calls to the local stack (KMS for server-mode sealing, EventBridge and DynamoDB
for the demo) go to its moto endpoint with fixed fake credentials, so real AWS credentials are
never sent to it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import boto3

from secure_ai_client.errors import LocalStateError
from secure_ai_protocol.aws_config import CLIENT_CONFIG
from secure_ai_protocol.envelope.rules import EnvelopeMode

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

DEFAULT_LOCAL_STATE: Final = Path(".secure-ai") / "local.json"
# Beside it, the same document for the local stack's second client, on the example policy.
EXAMPLE_LOCAL_STATE_NAME: Final = "local-docs.json"
# Fixed fake credentials for the local moto endpoint (as `secure-ai clients --local` uses).
LOCAL_ACCESS_KEY: Final = "secure-ai-local"
_REQUIRED: Final = (
    "api_url",
    "key_id",
    "secret",
    "tag",
    "region",
    "aws_endpoint_url",
    "kms_key_arn",
    "rsa_key_arn",
    "rsa_public_key_pem",
)


@dataclass(frozen=True)
class LocalState:
    """The local stack's description: its API, the demo client and moto's endpoint."""

    path: Path
    api_url: str
    key_id: str
    secret: bytes = field(repr=False)
    tag: str = field(default="secure-ai-v1")
    region: str = field(default="us-east-1")
    aws_endpoint_url: str = field(default="")
    kms_key_arn: str = field(default="")
    rsa_key_arn: str = field(default="")
    rsa_public_key_pem: str = field(default="", repr=False)
    other: Mapping[str, str] = field(default_factory=dict, repr=False)

    def require(self, name: str) -> str:
        """A field beyond the client's own (e.g. a table name); LocalStateError if absent."""
        value = self.other.get(name)
        if not value:
            raise LocalStateError(
                f"{self.path} has no {name!r}: this local stack does not describe it "
                "(restart it with a version of secure_ai_local that writes it)"
            )
        return value

    def session(self) -> boto3.session.Session:
        """A boto3 session for moto: fixed fake credentials, the stack's region."""
        return boto3.session.Session(
            aws_access_key_id=LOCAL_ACCESS_KEY,
            aws_secret_access_key=LOCAL_ACCESS_KEY,
            region_name=self.region,
        )

    def kms_client(self) -> KMSClient:
        """A KMS client talking to the local stack's moto."""
        return self.session().client("kms", endpoint_url=self.aws_endpoint_url, config=CLIENT_CONFIG)

    def client_arguments(self, mode: EnvelopeMode) -> dict[str, Any]:
        """Keyword arguments for `SecureAIClient`/`AsyncSecureAIClient` in `mode`."""
        arguments: dict[str, Any] = {
            "base_url": self.api_url,
            "key_id": self.key_id,
            "secret": self.secret,
            "mode": mode,
            "tag": self.tag,
            # Both pinned from the file: mobile mode needs no fetch of the public key.
            "rsa_public_key_pem": self.rsa_public_key_pem,
            "rsa_key_arn": self.rsa_key_arn,
        }
        if mode == "server":
            arguments["kms_key_arn"] = self.kms_key_arn
            arguments["kms_client"] = self.kms_client()
        return arguments


def read_local_state(path: Path | str = DEFAULT_LOCAL_STATE) -> LocalState:
    """Load local.json; LocalStateError (naming no value) when it is missing or incomplete."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LocalStateError(
            f"{path} not found: start the local stack first (make run, or python -m secure_ai_local)"
        ) from None
    except (OSError, ValueError) as exc:
        raise LocalStateError(f"cannot read {path}: {type(exc).__name__}") from None
    if not isinstance(document, dict):
        raise LocalStateError(f"{path} is not a JSON object")
    strings = {name: value for name, value in document.items() if isinstance(value, str) and value}
    missing = [name for name in _REQUIRED if name not in strings]
    if missing:
        raise LocalStateError(f"{path} lacks {', '.join(missing)}; is the local stack running?")
    try:
        secret = base64.b64decode(strings["secret"], validate=True)
    except (binascii.Error, ValueError):
        raise LocalStateError(f"{path}: the secret is not base64") from None
    return LocalState(
        path=path,
        api_url=strings["api_url"],
        key_id=strings["key_id"],
        secret=secret,
        tag=strings["tag"],
        region=strings["region"],
        aws_endpoint_url=strings["aws_endpoint_url"],
        kms_key_arn=strings["kms_key_arn"],
        rsa_key_arn=strings["rsa_key_arn"],
        rsa_public_key_pem=strings["rsa_public_key_pem"],
        other={name: value for name, value in strings.items() if name not in _REQUIRED},
    )
