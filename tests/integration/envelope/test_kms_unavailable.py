"""KMS failing under a real SDK call: 503 (DependencyUnavailable), never a 400 (DecryptionFailed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from secure_ai_protocol.envelope import encryption_sdk, rules
from secure_ai_protocol.envelope.requests import RequestEnvelopes, seal_request_mobile, seal_request_server
from secure_ai_protocol.errors import DecryptionFailed, DependencyUnavailable
from tests.integration.envelope.conftest import PLAINTEXT, ROUTE, Keys

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

OPEN_AS = {"client_id": "client-a", "req_id": "nonce-1", "route": ROUTE}


def client_error(code: str, operation: str = "Decrypt") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, operation)


def failing(error: Exception) -> Any:
    def call(**_: Any) -> Any:
        raise error

    return call


UNAVAILABLE = [
    EndpointConnectionError(endpoint_url="https://kms.us-east-1.amazonaws.com"),
    ConnectTimeoutError(endpoint_url="https://kms.us-east-1.amazonaws.com"),
    client_error("ThrottlingException"),
    client_error("AccessDeniedException"),
    client_error("KMSInternalException"),
    client_error("DisabledException"),
]


def failure_id(failure: Exception) -> str:
    return failure.response["Error"]["Code"] if isinstance(failure, ClientError) else type(failure).__name__


@pytest.fixture
def server_envelope(keys: Keys, kms: KMSClient) -> bytes:
    return seal_request_server(
        PLAINTEXT,
        kms_key_arn=keys.symmetric_arn,
        client_id="client-a",
        req_id="nonce-1",
        route=ROUTE,
        kms_client=kms,
    )


@pytest.fixture
def mobile_envelope(keys: Keys) -> bytes:
    return seal_request_mobile(
        PLAINTEXT,
        rsa_public_key_pem=keys.rsa_public_pem,
        rsa_key_arn=keys.rsa_arn,
        client_id="client-a",
        req_id="nonce-1",
        route=ROUTE,
    )


@pytest.mark.parametrize("failure", UNAVAILABLE, ids=failure_id)
def test_kms_failing_while_opening_a_server_envelope_is_unavailable(
    kms: KMSClient,
    envelopes: RequestEnvelopes,
    server_envelope: bytes,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
) -> None:
    monkeypatch.setattr(kms, "decrypt", failing(failure))

    with pytest.raises(DependencyUnavailable) as error:
        envelopes.open(server_envelope, **OPEN_AS)

    assert error.value.reason == "kms_unavailable"
    assert error.value.__cause__ is failure


@pytest.mark.parametrize("failure", UNAVAILABLE, ids=failure_id)
def test_kms_failing_while_opening_a_mobile_envelope_is_unavailable(
    kms: KMSClient,
    envelopes: RequestEnvelopes,
    mobile_envelope: bytes,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
) -> None:
    monkeypatch.setattr(kms, "decrypt", failing(failure))

    with pytest.raises(DependencyUnavailable):
        envelopes.open(mobile_envelope, **OPEN_AS)


@pytest.mark.parametrize("code", ["InvalidCiphertextException", "IncorrectKeyException"])
def test_kms_refusing_the_wrapped_key_is_a_decryption_failure(
    kms: KMSClient,
    envelopes: RequestEnvelopes,
    server_envelope: bytes,
    monkeypatch: pytest.MonkeyPatch,
    code: str,
) -> None:
    monkeypatch.setattr(kms, "decrypt", failing(client_error(code)))

    with pytest.raises(DecryptionFailed):
        envelopes.open(server_envelope, **OPEN_AS)


def test_kms_failing_while_a_server_client_seals_is_unavailable(
    keys: Keys, kms: KMSClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        kms, "generate_data_key", failing(client_error("ThrottlingException", "GenerateDataKey"))
    )

    with pytest.raises(DependencyUnavailable):
        seal_request_server(
            PLAINTEXT, kms_key_arn=keys.symmetric_arn, client_id="c", req_id="n", route=ROUTE, kms_client=kms
        )


def test_the_mpl_keeps_no_kms_error_code_so_the_client_is_observed_instead(
    keys: Keys, kms: KMSClient, server_envelope: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given KMS answering with an error code the KMS model knows
    monkeypatch.setattr(kms, "decrypt", failing(client_error("KMSInternalException")))

    # When the SDK decrypts without our classification
    with pytest.raises(DecryptionFailed) as error:
        encryption_sdk.strict_decrypt(
            server_envelope,
            encryption_sdk.kms_keyring(keys.symmetric_arn, kms),
            reproduced_context={"client_id": "client-a", "req_id": "nonce-1"},
            required_keys=rules.REQUIRED_CONTEXT_KEYS,
            allow_signed=True,
            max_plaintext_bytes=rules.DEFAULT_MAX_PLAINTEXT_BYTES,
        )

    # Then neither the botocore error nor its code survives in what the SDK raised
    # (if this starts failing, the MPL began keeping KMS errors: the observer may be simplified)
    chain: list[BaseException] = []
    pending: list[object] = [error.value.__cause__]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or any(current is seen for seen in chain):
            continue
        chain.append(current)
        pending += [current.__cause__, current.__context__, *getattr(current, "list", []), *current.args]
    assert not any(isinstance(item, ClientError) for item in chain)
    assert "KMSInternalException" not in " ".join(repr(item) for item in chain)
    assert "ComAmazonawsKms" in {type(item).__name__ for item in chain}
