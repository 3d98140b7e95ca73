"""One moto stack per security module, the real handlers on it, and the closing tally."""

from __future__ import annotations

import time
from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from secure_ai_gateway.adapters.aws_clients import kms_client, reset_clients
from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.secret_sealing import SecretSealer
from secure_ai_gateway.client_registry.admin import ClientAdmin
from secure_ai_local.provision import provision_stack
from secure_ai_local.stack_template import StackTemplate
from secure_ai_protocol.envelope.kms import public_key_pem
from secure_ai_protocol.key_ids import format_key_id
from tests.conftest import REGION, TEST_MODEL, Client
from tests.fake_provider import FakeProvider
from tests.leak_sentinel import LeakRegistry
from tests.security.harness import CLIENT_MAX_TOKENS, Gateway, SecurityStack, cold_start
from tests.security.tally import FAULTS_INJECTED, FUZZ_CASES, FUZZ_OUTCOMES


@pytest.fixture(scope="module")
def security_stack(stack_template: StackTemplate) -> Iterator[SecurityStack]:
    """moto with the template's resources, for a whole module: fuzzing shares it across examples."""
    with mock_aws():
        reset_clients()
        stack = provision_stack(stack_template, boto3.session.Session(region_name=REGION))
        admin = ClientAdmin(
            ClientStore(stack.ref("ClientsTable")),
            SecretSealer(stack.attribute("RequestKey", "Arn")),
            clock=time.time,
        )
        record, secret = admin.create_client(
            client_id="fuzz-app",
            scopes=("chat:complete", "output:validate"),
            allowed_models=(TEST_MODEL,),
            max_tokens=CLIENT_MAX_TOKENS,
            token_budget=10**12,
            request_budget=10**9,
        )
        client = Client(record.client_id, format_key_id(record.client_id, record.latest_version), secret)
        pem = public_key_pem(stack.attribute("RsaRequestKey", "Arn"), kms_client()).pem
        yield SecurityStack(stack, client, pem)
    reset_clients()


@pytest.fixture
def gateway(
    security_stack: SecurityStack,
    provider: FakeProvider,
    leak_registry: LeakRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Gateway]:
    """The real handlers, cold, on the module's stack, with the fake provider as the model."""
    cold_start()
    # Powertools keeps fetched secrets for minutes: each test reads the model key afresh.
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    gateway = Gateway(
        security_stack.stack,
        security_stack.client,
        leak_registry,
        monkeypatch,
        security_stack.rsa_public_key_pem,
    )
    yield gateway
    gateway.close()
    cold_start()
    parameters.clear_caches()  # type: ignore[no-untyped-call]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Quote what the security suite exercised."""
    if not FUZZ_CASES and not FAULTS_INJECTED:
        return
    terminalreporter.section("security suite")
    for subject in sorted({entry for entry, _ in FUZZ_OUTCOMES}):
        outcomes = ", ".join(
            f"{outcome} {count}"
            for (entry, outcome), count in sorted(FUZZ_OUTCOMES.items())
            if entry == subject
        )
        # Subjects tallied by outcome only (records inside batches) are not cases of their own.
        cases = FUZZ_CASES.get(subject, "")
        terminalreporter.write_line(f"fuzz cases  {subject:<48} {cases:>6}  ({outcomes})")
    terminalreporter.write_line(f"fuzz cases  {'total':<48} {sum(FUZZ_CASES.values()):>6}")
    for fault, count in sorted(FAULTS_INJECTED.items()):
        terminalreporter.write_line(f"faults      {fault:<48} {count:>6}")
    terminalreporter.write_line(f"faults      {'total injected':<48} {sum(FAULTS_INJECTED.values()):>6}")
