"""The identity a function reads from the authorizer context: a device's must be whole and agree."""

from __future__ import annotations

from typing import Any

import pytest

from secure_ai_gateway.api.authorized_call import AuthorizedCall
from secure_ai_protocol.errors import Unauthenticated
from secure_ai_protocol.signing.content_digest import compute_content_digest

DEVICE = "dev-" + "a" * 26
REF = "0123456789abcdef0123456789abcdef"
BODY = '{"hello": "world"}'


def event(**authorizer: Any) -> dict[str, Any]:
    """A proxy event whose authorizer context is a client's, with `authorizer` on top (None removes)."""
    context: dict[str, Any] = {
        "client_id": "acme-app",
        "key_id": "acme-app.1",
        "nonce": "bm9uY2UtMTIzNDU2Nzg5MDEyMzQ1Ng",
        "content_digest": compute_content_digest(BODY.encode()),
        "scopes": "chat:complete output:validate",
    } | authorizer
    return {
        "httpMethod": "POST",
        "path": "/v1/chat/completions",
        "body": BODY,
        "isBase64Encoded": False,
        "requestContext": {
            "authorizer": {name: value for name, value in context.items() if value is not None}
        },
    }


def device_event(**changes: Any) -> dict[str, Any]:
    """A device's call: client_id and device_id the device, app_id its app, user_ref its user."""
    values: dict[str, Any] = {
        "client_id": DEVICE,
        "key_id": f"{DEVICE}.1",
        "app_id": "acme-app",
        "device_id": DEVICE,
        "user_ref": REF,
    }
    return event(**(values | changes))


def test_a_clients_call_without_an_app_is_its_own_app() -> None:
    call = AuthorizedCall.from_proxy_event(event())
    assert (call.client_id, call.app_id, call.device_id, call.user_ref) == ("acme-app", "acme-app", "", "")
    assert call.is_device is False
    assert call.scopes == frozenset({"chat:complete", "output:validate"})


def test_a_clients_call_with_the_fields_the_authorizer_writes_for_a_client_is_accepted() -> None:
    # The authorizer writes app_id = client_id and empty device fields for a client
    call = AuthorizedCall.from_proxy_event(event(app_id="acme-app", device_id="", user_ref=""))
    assert (call.app_id, call.is_device) == ("acme-app", False)


def test_a_devices_call_carries_its_app_device_and_user() -> None:
    call = AuthorizedCall.from_proxy_event(device_event())
    assert (call.client_id, call.app_id, call.device_id, call.user_ref) == (DEVICE, "acme-app", DEVICE, REF)
    assert call.is_device is True


def test_a_call_built_directly_without_an_app_is_its_own_app() -> None:
    call = AuthorizedCall(
        client_id="acme-app",
        key_id="acme-app.1",
        req_id="r",
        content_digest="d",
        scopes=frozenset(),
        body=None,
        is_base64_encoded=False,
    )
    assert call.app_id == "acme-app"


@pytest.mark.parametrize(
    "changes",
    [
        {"app_id": None},
        {"app_id": ""},
        {"user_ref": None},
        {"user_ref": ""},
        {"device_id": None},
        {"device_id": ""},
        {"device_id": "dev-" + "b" * 26},
        {"app_id": "dev-" + "b" * 26},
        {"app_id": DEVICE},
    ],
)
def test_a_devices_call_missing_or_contradicting_its_identity_is_refused(changes: dict[str, Any]) -> None:
    # Without its app and user a device's call could not be held to the user's budget
    with pytest.raises(Unauthenticated) as refused:
        AuthorizedCall.from_proxy_event(device_event(**changes))
    assert refused.value.reason == "no_authorizer_context"


@pytest.mark.parametrize(
    "changes",
    [
        {"device_id": "acme-app"},
        {"device_id": DEVICE},
        {"device_id": "acme-app", "app_id": "other-app", "user_ref": REF},
        {"app_id": "other-app"},
        {"user_ref": REF},
    ],
)
def test_a_clients_call_claiming_a_device_another_app_or_a_user_is_refused(changes: dict[str, Any]) -> None:
    # A client naming another app would spend that app's budget under that app's permissions
    with pytest.raises(Unauthenticated) as refused:
        AuthorizedCall.from_proxy_event(event(**changes))
    assert refused.value.reason == "no_authorizer_context"


@pytest.mark.parametrize("field", ["app_id", "device_id", "user_ref"])
@pytest.mark.parametrize("value", [1, ["acme-app"], {"S": "acme-app"}, True])
def test_identity_fields_that_are_not_strings_are_refused(field: str, value: object) -> None:
    with pytest.raises(Unauthenticated):
        AuthorizedCall.from_proxy_event(device_event(**{field: value}))
    with pytest.raises(Unauthenticated):
        AuthorizedCall.from_proxy_event(event(**{field: value}))


@pytest.mark.parametrize("field", ["client_id", "key_id", "nonce", "content_digest"])
def test_a_context_without_a_required_field_is_refused(field: str) -> None:
    with pytest.raises(Unauthenticated):
        AuthorizedCall.from_proxy_event(device_event(**{field: None}))


def test_an_event_without_an_authorizer_is_refused() -> None:
    with pytest.raises(Unauthenticated):
        AuthorizedCall.from_proxy_event({"requestContext": {}})
    with pytest.raises(Unauthenticated):
        AuthorizedCall.from_proxy_event({"requestContext": {"authorizer": "client_id=x"}})


def test_a_client_whose_id_merely_starts_with_dev_is_a_client() -> None:
    call = AuthorizedCall.from_proxy_event(event(client_id="dev-backend", key_id="dev-backend.1"))
    assert (call.app_id, call.is_device) == ("dev-backend", False)
