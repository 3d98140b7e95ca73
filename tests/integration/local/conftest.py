"""Fixtures for the local emulators: moto in its own process, the fake template provisioned in it,
the Lambda runtime running tests.integration.local.fake_handlers, and servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from secure_ai_local.api_definition import ApiDefinition
from secure_ai_local.api_gateway import ApiGatewayEmulator, ApiGatewayServer
from secure_ai_local.lambda_runtime import (
    InvocationResult,
    LambdaRuntime,
    functions_from_template,
    local_aws_environment,
)
from secure_ai_local.moto_server import MotoServer
from secure_ai_local.provision import LOCAL_ACCOUNT_ID, ProvisionedStack, provision_stack
from secure_ai_local.stack import aws_endpoint_environment
from secure_ai_local.stack_template import StackTemplate

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

DATA = Path(__file__).parent / "data"
REGION = "us-east-1"
ACCOUNT = LOCAL_ACCOUNT_ID


@dataclass
class RecordingInvoker:
    """Passes invocations to the runtime and remembers each (function, event)."""

    runtime: LambdaRuntime
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def submit(self, logical_id: str, event: Any) -> Future[InvocationResult]:
        self.calls.append((logical_id, event))
        return self.runtime.submit(logical_id, event)

    def events_for(self, logical_id: str) -> list[Any]:
        return [event for function, event in self.calls if function == logical_id]


@pytest.fixture(scope="package")
def moto_endpoint() -> Iterator[str]:
    """moto in server mode, in its own process, on 127.0.0.1."""
    with MotoServer() as server:
        yield server.endpoint_url


@pytest.fixture(scope="package")
def fake_template() -> StackTemplate:
    return StackTemplate.load(DATA / "fake-template.yaml")


@pytest.fixture(scope="package")
def aws_session() -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


@pytest.fixture(scope="package")
def fake_stack(
    fake_template: StackTemplate, moto_endpoint: str, aws_session: boto3.session.Session
) -> ProvisionedStack:
    """The fake template's resources, created in moto."""
    with aws_endpoint_environment(moto_endpoint):
        return provision_stack(fake_template, aws_session, stack_name="fake")


@pytest.fixture(scope="package")
def runtime(
    fake_template: StackTemplate, fake_stack: ProvisionedStack, moto_endpoint: str
) -> Iterator[LambdaRuntime]:
    """At most two execution environments per function."""
    functions = functions_from_template(fake_template, fake_stack, code_root=DATA)
    lambda_runtime = LambdaRuntime(
        functions, aws_environment=local_aws_environment(moto_endpoint, REGION), max_environments=2
    )
    yield lambda_runtime
    lambda_runtime.close()


@pytest.fixture
def invoker(runtime: LambdaRuntime) -> RecordingInvoker:
    return RecordingInvoker(runtime)


@pytest.fixture
def api(fake_template: StackTemplate, fake_stack: ProvisionedStack) -> ApiDefinition:
    return ApiDefinition.from_template(fake_template, fake_stack.references)


@pytest.fixture
def gateway(api: ApiDefinition, invoker: RecordingInvoker) -> Iterator[ApiGatewayServer]:
    """The emulator on a free port, with a 1 s integration timeout and a 10 MB payload limit."""
    emulator = ApiGatewayEmulator(
        api, invoker, region=REGION, account_id=ACCOUNT, integration_timeout_seconds=1.0
    )
    with ApiGatewayServer(emulator, port=0) as server:
        yield server


@pytest.fixture
def sqs(aws_session: boto3.session.Session, moto_endpoint: str) -> SQSClient:
    return aws_session.client("sqs", endpoint_url=moto_endpoint)
