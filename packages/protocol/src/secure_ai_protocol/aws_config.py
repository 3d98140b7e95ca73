"""The timeouts and retries every boto3 client of the project uses, gateway and SDK alike.

A Lambda invocation answers within seconds, and so should an SDK call that asks KMS for a data key:
a hung TCP connection must not eat the whole budget. Defined once so that the gateway's adapters
(secure_ai_gateway.adapters.aws_clients), the operator's commands and the SDK agree.
"""

from __future__ import annotations

from botocore.config import Config

CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"max_attempts": 3, "mode": "standard"},
)
