"""The local stack, started once for this package and stopped after it, and what the tests need.

Real HTTP to the API Gateway emulator on 127.0.0.1, real handlers in worker processes, moto in
its own process, the stub model. Every wait is bounded.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from secure_ai_client.client import SecureAIClient
from secure_ai_client.httpx_auth import SignatureAuth, new_nonce
from secure_ai_local.stack import LocalStack, LocalStackInfo, LocalStackOptions
from secure_ai_protocol.envelope.requests import seal_request_server
from secure_ai_protocol.envelope.rules import new_resp_key
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE
from secure_ai_protocol.routes import CHAT_ROUTE

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@pytest.fixture(scope="package")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The whole API on 127.0.0.1 (free port), local.json in a temporary directory; the authorizer
    caches keys for 1 s (60 s deployed), so a revocation is seen without a minute's wait. No browser
    demo server (tests/browser starts its own stack with one): CORS names DEMO_WEB_ORIGIN."""
    options = LocalStackOptions(
        port=0, state_dir=tmp_path_factory.mktemp("local-stack"), key_cache_seconds=1.0, demo_port=None
    )
    with LocalStack(options) as stack:
        yield stack


@pytest.fixture(scope="package")
def info(local_stack: LocalStack) -> LocalStackInfo:
    """Endpoints, ARNs and the demo client, as local.json describes them."""
    return local_stack.info


@pytest.fixture(scope="package")
def state_path(local_stack: LocalStack) -> Path:
    """The local.json the stack wrote."""
    assert local_stack.options.state_dir is not None
    return local_stack.options.state_dir / "local.json"


@pytest.fixture(scope="package")
def demo_state_path(state_path: Path) -> Path:
    """The stack's own local.json: it names the validation bus and verdicts table the demo needs."""
    return state_path


@pytest.fixture
def sdk_client(state_path: Path) -> Iterator[SecureAIClient]:
    """A server-mode client of the demo client, from local.json."""
    with SecureAIClient.from_local_state(state_path) as client:
        yield client


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A plain HTTP client for raw requests (no retries, no redirects)."""
    with httpx.Client(timeout=30) as client:
        yield client


@dataclass(frozen=True)
class RawCall:
    """A signed, sealed chat request built by hand, with what opens its answer."""

    request: httpx.Request
    nonce: str
    resp_key: bytes


@pytest.fixture
def signed_chat(local_stack: LocalStack, info: LocalStackInfo) -> Callable[[str], RawCall]:
    """Build one signed chat request (server mode) with the protocol's own pieces, without sending it."""
    kms = local_stack.client("kms")

    def build(prompt: str) -> RawCall:
        nonce, resp_key = new_nonce(), new_resp_key()
        plaintext = json.dumps(
            {
                "resp_key": base64.b64encode(resp_key).decode(),
                "request": {"model": "default", "messages": [{"role": "user", "content": prompt}]},
            }
        ).encode()
        body = seal_request_server(
            plaintext,
            kms_key_arn=info.kms_key_arn,
            client_id=info.client_id,
            req_id=nonce,
            route=CHAT_ROUTE,
            kms_client=kms,
        )
        request = httpx.Request(
            "POST",
            f"{info.api_url}{CHAT_ROUTE}",
            content=body,
            headers={"Content-Type": ENVELOPE_CONTENT_TYPE, "Accept": ENVELOPE_CONTENT_TYPE},
        )
        SignatureAuth(key_id=info.key_id, secret=info.secret, tag=info.tag, nonce_factory=lambda: nonce).sign(
            request
        )
        return RawCall(request, nonce, resp_key)

    return build


def wait_for[T](probe: Callable[[], T | None], *, seconds: float, interval: float = 0.25) -> T | None:
    """Call `probe` until it returns something, for at most `seconds`; None if it never does."""
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def queue_bodies(sqs: SQSClient, queue_url: str) -> list[str]:
    """Bodies visible in a queue now, without consuming them (visibility timeout 0)."""
    answer = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0
    )
    return [message["Body"] for message in answer.get("Messages", [])]


def event_detail(body: str) -> dict[str, Any]:
    """The `detail` of an EventBridge event delivered to SQS (an object, or its JSON text)."""
    detail = json.loads(body).get("detail", {})
    return json.loads(detail) if isinstance(detail, str) else dict(detail)
