"""Device enrollment over HTTP on the local stack (issue #13's end-to-end): the demo user signs in to
the stack's Cognito (moto), enrolls, gets a completion attributed to them, renews, is revoked and
refused. Also the device limit, a replayed sign-in token, and CORS as a browser sees it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from secure_ai_client.cli import sign_in_demo_user
from secure_ai_client.client import SecureAIClient
from secure_ai_client.errors import DeviceLimitReached, Unauthorized
from secure_ai_client.local_state import read_local_state
from secure_ai_gateway.adapters.device_store import DeviceStore
from secure_ai_gateway.device_registry.admin import DeviceAdmin
from secure_ai_local.stack import DEMO_WEB_ORIGIN, LocalStack, LocalStackInfo
from secure_ai_protocol.routes import CHAT_ROUTE, DEVICES_ROUTE

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def enroll(state_path: Path, info: LocalStackInfo, device_file: Path | None = None) -> SecureAIClient:
    state = read_local_state(state_path)
    return SecureAIClient.enroll(
        info.api_url,
        app_id=info.demo_app_id,
        id_token=sign_in_demo_user(state),
        device_file=device_file,
        rsa_public_key_pem=info.rsa_public_key_pem,
        rsa_key_arn=info.rsa_key_arn,
    )


def device_admin(local_stack: LocalStack, info: LocalStackInfo) -> DeviceAdmin:
    return DeviceAdmin(DeviceStore(info.devices_table, local_stack.client("dynamodb")), clock=time.time)


def device_admin_for_state(state_path: Path) -> DeviceAdmin:
    """The devices of the local stack `state_path` describes, as an operator sees them."""
    state = read_local_state(state_path)
    dynamodb = state.session().client("dynamodb", endpoint_url=state.aws_endpoint_url)
    return DeviceAdmin(DeviceStore(state.require("devices_table"), dynamodb), clock=time.time)


@pytest.fixture(autouse=True)
def no_devices_left(local_stack: LocalStack, info: LocalStackInfo) -> None:
    """Each test starts with the demo user holding no device (the limit is 3)."""
    device_admin(local_stack, info).revoke_all(info.demo_app_id)


def test_sign_in_enroll_complete_renew_revoke_refused(
    local_stack: LocalStack, info: LocalStackInfo, state_path: Path, tmp_path: Path
) -> None:
    device_file = tmp_path / "device.json"
    # Given the demo user signed in and enrolled this device
    with enroll(state_path, info, device_file) as client:
        device = client.device_credentials
        assert device is not None
        assert device_file.stat().st_mode & 0o777 == 0o600
        assert device.key_id == f"{device.device_id}.1"
        # When it asks, sealed and signed by the device key
        first = client.chat_completions(model="default", messages=QUESTION)
        # Then the answer comes back, and the usage is metered for the user as well as the app
        assert first.verdict.decision == "allow"
        usage = local_stack.client("dynamodb").scan(TableName=local_stack.provisioned.ref("UsageTable"))[
            "Items"
        ]
        accounts = {item["client_id"]["S"] for item in usage}
        assert info.demo_app_id in accounts
        user_accounts = {account for account in accounts if account.startswith(f"user#{info.demo_app_id}#")}
        assert len(user_accounts) == 1
        # And the `sub` appears nowhere in the usage table
        listed = next(iter(device_admin(local_stack, info).list_devices(info.demo_app_id)))
        assert listed.user_sub not in str(usage)

        # When the device renews, without signing in again
        renewed = client.renew_device()
        assert (renewed.device_id, renewed.key_id) == (device.device_id, f"{device.device_id}.2")
        assert client.chat_completions(model="default", messages=QUESTION).verdict.decision == "allow"
        # And the device file holds the new key
        assert SecureAIClient.from_device_file(info.api_url, device_file).key_id == renewed.key_id

        # When an operator revokes the device, and the authorizer's key cache (1 s here) has passed
        device_admin(local_stack, info).revoke(device.device_id)
        time.sleep(1.5)
        # Then its requests are refused
        with pytest.raises(Unauthorized):
            client.chat_completions(model="default", messages=QUESTION)


def test_a_user_over_the_device_limit_gets_a_409_naming_it(info: LocalStackInfo, state_path: Path) -> None:
    clients = [enroll(state_path, info) for _ in range(3)]
    with pytest.raises(DeviceLimitReached) as refused:
        enroll(state_path, info)
    assert (refused.value.status, refused.value.limit) == (409, 3)
    for client in clients:
        client.close()


def test_a_sign_in_token_enrolls_one_device_only(info: LocalStackInfo, state_path: Path) -> None:
    token = sign_in_demo_user(read_local_state(state_path))
    SecureAIClient.enroll(info.api_url, app_id=info.demo_app_id, id_token=token).close()
    with pytest.raises(Unauthorized):
        SecureAIClient.enroll(info.api_url, app_id=info.demo_app_id, id_token=token)


def test_enrollment_refusals_are_the_gateway_s_401_whatever_the_cause(
    info: LocalStackInfo, state_path: Path
) -> None:
    token = sign_in_demo_user(read_local_state(state_path))
    bodies = set()
    with httpx.Client(base_url=info.api_url) as http:
        for app_id, authorization in (
            ("no-such-app", f"Bearer {token}"),
            (info.client_id, f"Bearer {token}"),  # a client that does not enroll devices
            (info.demo_app_id, "Bearer not.a.jwt"),
            (info.demo_app_id, None),
        ):
            headers = {"Content-Type": "application/json"}
            if authorization is not None:
                headers["Authorization"] = authorization
            response = http.post(DEVICES_ROUTE.lstrip("/"), json={"app_id": app_id}, headers=headers)
            assert response.status_code == 401
            bodies.add((response.content, response.headers.get("content-type")))
    assert len(bodies) == 1


def test_a_browser_preflight_needs_no_signature_and_names_only_the_configured_origin(
    info: LocalStackInfo,
) -> None:
    with httpx.Client(base_url=info.api_url) as http:
        preflight = http.options(
            CHAT_ROUTE.lstrip("/"),
            headers={"Origin": DEMO_WEB_ORIGIN, "Access-Control-Request-Method": "POST"},
        )
        refused = http.post(CHAT_ROUTE.lstrip("/"), content=b"x", headers={"Origin": DEMO_WEB_ORIGIN})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == DEMO_WEB_ORIGIN
    allowed = {name.strip().lower() for name in preflight.headers["access-control-allow-headers"].split(",")}
    assert {"signature", "signature-input", "content-digest", "authorization"} <= allowed
    # A refusal is readable by the browser too: the same origin, never a wildcard
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == DEMO_WEB_ORIGIN
    assert "access-control-allow-credentials" not in refused.headers
