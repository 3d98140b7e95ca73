"""Lambda SnapStart runtime hooks: what a snapshot must not hold, what restored environments must not share.

With SnapStart, Lambda runs a function's init phase once, when a version is published, snapshots the
execution environment, and resumes every new environment of that version from the snapshot
(docs/performance.md, "SnapStart"). So whatever init leaves in memory is copied into many
environments. Ours leaves imports only: `ExecutionEnvironment` builds clients and reads secrets on the
first invocation, which comes after the restore. The hooks make that hold even if init changes:

- before the snapshot: forget the dependencies, the boto3 clients and the cached secrets (none should
  exist yet; a snapshot must never carry one), then run `warm_up` (imports that are safe to snapshot,
  so restored environments do not pay for them on their first request);
- after a restore: forget the same again (no connection pool or secret shared between environments),
  reseed the `ssl` module's OpenSSL generator, and reseed `random`. The X-Ray SDK creates botocore
  clients at import, and with them TLS contexts, which instantiates that OpenSSL's DRBG before the
  snapshot: without a reseed every restored environment would draw its TLS randomness from one state.
  (`secrets` and `os.urandom` ask the kernel on each call; the `cryptography` wheel's own OpenSSL is
  first seeded on first use, after the restore: docs/performance.md §4.) `random` holds no secret,
  but botocore's retry jitter and Powertools' log sampling use it, and identical jitter in every
  restored environment would retry in lockstep.

The runtime's `snapshot_restore_py` exists only in Lambda's Python runtimes: elsewhere (locally, under
pytest) no hook is registered, and nothing changes.
"""

from __future__ import annotations

import os
import random
import ssl
from collections.abc import Callable
from typing import Any

from secure_ai_gateway.adapters.aws_clients import reset_clients
from secure_ai_gateway.adapters.secrets_provider import forget_cached_secrets
from secure_ai_gateway.wiring import ExecutionEnvironment


def forget_execution_state(environment: ExecutionEnvironment[Any]) -> None:
    """Drop the function's dependencies, this process's boto3 clients and every cached secret."""
    environment.reset()
    reset_clients()
    forget_cached_secrets()


# What OpenSSL's DRBGs draw from the kernel for a (re)seed at 256-bit strength.
RESEED_BYTES = 32


def reseed_generators() -> None:
    """Fresh kernel entropy into the generators a snapshot copies: `ssl`'s OpenSSL DRBG and `random`."""
    # OpenSSL 3 turns RAND_add into a reseed of the primary DRBG (which also reads the kernel), and the
    # public and private DRBGs that TLS uses reseed from it on their next use.
    ssl.RAND_add(os.urandom(RESEED_BYTES), float(RESEED_BYTES))
    random.seed()  # nosec B311 - seeded from os.urandom; it serves jitter and sampling, never a secret


def register_snapshot_hooks(
    environment: ExecutionEnvironment[Any], warm_up: Callable[[], None] = lambda: None
) -> bool:
    """Register the hooks with Lambda's runtime; False where `snapshot_restore_py` is not installed."""
    try:
        import snapshot_restore_py  # type: ignore[import-not-found]  # noqa: PLC0415 - Lambda's runtime only
    except ImportError:
        return False

    def before_snapshot() -> None:
        forget_execution_state(environment)
        warm_up()

    def after_restore() -> None:
        forget_execution_state(environment)
        reseed_generators()

    snapshot_restore_py.register_before_snapshot(before_snapshot)
    snapshot_restore_py.register_after_restore(after_restore)
    return True
