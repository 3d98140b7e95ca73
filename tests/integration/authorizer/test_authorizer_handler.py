"""The real authorizer handler against moto: what is allowed, what is refused, and how refusals look."""

from __future__ import annotations

import base64
import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from secure_ai_gateway.adapters.aws_clients import dynamodb_client, kms_client
from secure_ai_gateway.client_registry.admin import ClientAdmin
from tests.conftest import Client
from tests.gateway_events import SignedCall, authorizer_event, method_arn, with_changes

Authorize = Callable[[Any], dict[str, object]]


def signed(client: Client, **changes: Any) -> SignedCall:
    return SignedCall(secret=client.secret, key_id=client.key_id, created=int(time.time()), **changes)


def assert_refused(authorize: Authorize, event: Any) -> None:
    with pytest.raises(PermissionError) as refused:
        authorize(event)
    # API Gateway maps exactly this message to 401; every refusal must look the same.
    assert str(refused.value) == "Unauthorized"
    assert refused.value.__cause__ is None


def test_a_valid_signature_is_allowed_for_exactly_its_method_arn(
    authorize: Authorize, client: Client
) -> None:
    call = signed(client)
    response = authorize(authorizer_event(call))
    assert response["principalId"] == "app-1"
    assert response["policyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Action": "execute-api:Invoke",
                "Effect": "Allow",
                "Resource": method_arn("POST", "/v1/chat/completions"),
            }
        ],
    }
    assert response["context"] == {
        "client_id": "app-1",
        "key_id": client.key_id,
        "nonce": call.nonce,
        "content_digest": dict(call.headers())["Content-Digest"],
        "scopes": "chat:complete output:validate",
        # An operator-created client is its own app, with no device and no user
        "app_id": "app-1",
        "device_id": "",
        "user_ref": "",
    }


def test_an_identical_request_replayed_is_refused(authorize: Authorize, client: Client) -> None:
    event = authorizer_event(signed(client))
    authorize(event)
    assert_refused(authorize, event)


def test_the_same_nonce_under_a_fresh_signature_is_refused(authorize: Authorize, client: Client) -> None:
    first = signed(client)
    authorize(authorizer_event(first))
    again = dataclasses.replace(first, created=first.created - 1, body=b'{"other": 1}')
    assert_refused(authorize, authorizer_event(again))


@pytest.mark.parametrize(
    "moved",
    [
        {"method": "PUT"},
        {"resource": "/v1/validate"},
        {"query": (("model", "x"),)},
        {"stage": "dev"},
        {"host": "evil.example.com"},
    ],
    ids=["method", "path", "query", "stage", "authority"],
)
def test_a_signature_moved_to_another_request_is_refused(
    authorize: Authorize, client: Client, moved: dict[str, Any]
) -> None:
    original = signed(client)
    target = dataclasses.replace(original, **moved)
    # The headers (signature included) of the original, on the target request.
    event = authorizer_event(target, headers=original.headers())
    if "host" in moved:
        event["requestContext"]["domainName"] = moved["host"]
    assert_refused(authorize, event)


def test_a_duplicate_signature_header_is_refused(authorize: Authorize, client: Client) -> None:
    call = signed(client)
    signature = dict(call.headers())["Signature"]
    assert_refused(authorize, authorizer_event(call, headers=[*call.headers(), ("Signature", signature)]))


def test_an_unknown_key_id_is_refused(authorize: Authorize, client: Client) -> None:
    assert_refused(authorize, authorizer_event(signed(dataclasses.replace(client, key_id="nobody.1"))))


def test_another_clients_key_id_is_refused(
    authorize: Authorize, client: Client, new_client: Callable[[str], Client]
) -> None:
    other = new_client("app-2")
    assert_refused(authorize, authorizer_event(signed(dataclasses.replace(client, key_id=other.key_id))))


def test_a_revoked_key_is_refused(authorize: Authorize, client: Client, admin: ClientAdmin) -> None:
    admin.revoke(client.client_id, 1)
    assert_refused(authorize, authorizer_event(signed(client)))


def test_a_key_of_a_revoked_client_is_refused(
    authorize: Authorize, client: Client, admin: ClientAdmin
) -> None:
    admin.revoke(client.client_id)
    assert_refused(authorize, authorizer_event(signed(client)))


def test_during_rotation_the_old_and_new_keys_are_both_allowed(
    authorize: Authorize, client: Client, admin: ClientAdmin
) -> None:
    version, secret = admin.rotate_key(client.client_id, overlap_seconds=3600)
    new = dataclasses.replace(client, key_id=f"{client.client_id}.{version}", secret=secret)
    authorize(authorizer_event(signed(client)))
    authorize(authorizer_event(signed(new, nonce="bmV3LWtleS1ub25jZS0xMjM0NTY3OA")))


def test_after_the_rotation_overlap_the_old_key_is_refused(
    authorize: Authorize, client: Client, admin: ClientAdmin
) -> None:
    admin.rotate_key(client.client_id, overlap_seconds=0)
    assert_refused(authorize, authorizer_event(signed(client)))


def test_a_wrong_tag_is_refused(authorize: Authorize, client: Client) -> None:
    assert_refused(authorize, authorizer_event(signed(client, tag="other-profile")))


@pytest.mark.parametrize(
    "event",
    [None, [], "x", {}, {"methodArn": "not-an-arn"}, {"methodArn": 7}],
    ids=["none", "list", "string", "empty", "bad-arn", "arn-type"],
)
def test_malformed_events_are_refused(authorize: Authorize, event: Any) -> None:
    assert_refused(authorize, event)


def test_a_missing_request_context_is_refused(authorize: Authorize, client: Client) -> None:
    assert_refused(authorize, with_changes(authorizer_event(signed(client)), requestContext=None))


@pytest.mark.parametrize(
    "header",
    [("Signature", "x" * 10_240), ("Signature-Input", "sig=(\r\n)"), ("Signature", "sig=:é:")],
    ids=["10kb", "crlf", "non-ascii"],
)
def test_hostile_header_values_are_refused(
    authorize: Authorize, client: Client, header: tuple[str, str]
) -> None:
    call = signed(client)
    headers = [(name, value) for name, value in call.headers() if name != header[0]] + [header]
    assert_refused(authorize, authorizer_event(call, headers=headers))


def test_an_unavailable_nonce_table_denies(
    authorize: Authorize, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    failure = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem")
    monkeypatch.setattr(dynamodb_client(), "put_item", raiser(failure))
    assert_refused(authorize, authorizer_event(signed(client)))


def test_an_unavailable_clients_table_denies(
    authorize: Authorize, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dynamodb_client(), "get_item", raiser(EndpointConnectionError(endpoint_url="x")))
    assert_refused(authorize, authorizer_event(signed(client)))


def test_an_unavailable_kms_denies(
    authorize: Authorize, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kms_client(), "decrypt", raiser(EndpointConnectionError(endpoint_url="x")))
    assert_refused(authorize, authorizer_event(signed(client)))


@pytest.mark.usefixtures("atomic_dynamodb_items")
def test_fifty_threads_sending_the_same_signed_request_get_exactly_one_allow(
    authorize: Authorize, client: Client
) -> None:
    event = authorizer_event(signed(client))
    authorize(authorizer_event(signed(client, nonce="d2FybS11cC1ub25jZS0xMjM0NTY3OA")))  # warm: key cached
    start = threading.Barrier(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        start.wait()
        try:
            authorize(event)
            outcome = "allowed"
        except PermissionError:
            outcome = "refused"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["allowed"] + ["refused"] * 49


def test_refusals_are_counted_by_reason_and_the_secret_is_never_logged(
    authorize: Authorize, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    authorize(authorizer_event(signed(client)))
    assert_refused(
        authorize, authorizer_event(signed(client, body=b"tampered"), headers=signed(client).headers())
    )
    assert_refused(authorize, authorizer_event(signed(dataclasses.replace(client, secret=bytes(32)))))
    output = capsys.readouterr().out
    assert '"reason": "mac_mismatch"' in output or '"reason":"mac_mismatch"' in output
    assert "AuthorizationRefused" in output
    for form in (
        client.secret.hex(),
        base64.b64encode(client.secret).decode(),
        dict(signed(client).headers())["Signature"],
    ):
        assert form not in output


def raiser(error: Exception) -> Callable[..., Any]:
    def fail(*_: Any, **__: Any) -> Any:
        raise error

    return fail
