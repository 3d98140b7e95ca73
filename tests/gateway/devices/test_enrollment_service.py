"""EnrollmentService on fakes: one token, one device, under the limit; renewal by the newest key only."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from secure_ai_gateway.api.authorized_call import AuthorizedCall
from secure_ai_gateway.client_registry.records import ClientConflict, ClientRecord
from secure_ai_gateway.device_registry.records import RENEWAL_OVERLAP_SECONDS
from secure_ai_gateway.device_registry.user_refs import user_ref
from secure_ai_gateway.services.enrollment import (
    MAX_AUTHORIZATION_LENGTH,
    MAX_ENROLLMENT_BODY_BYTES,
    EnrollmentService,
    bearer_token,
    renew_after,
    token_digest,
)
from secure_ai_protocol.errors import (
    BadRequest,
    DependencyUnavailable,
    DeviceLimitReached,
    Forbidden,
    ProtocolError,
    ReplayDetected,
    Unauthenticated,
)
from secure_ai_protocol.key_ids import DEVICE_ID_PATTERN
from secure_ai_protocol.signing.content_digest import compute_content_digest
from tests.gateway.client_registry.fakes import FakeClock, FakeStore
from tests.gateway.devices.fakes import (
    APP_ID,
    DEVICE_ID,
    NOW,
    REF_KEY,
    SUB,
    FakeDevices,
    FakeReplays,
    FakeSealing,
    FakeTokens,
    FakeUser,
    app_record,
    device_key,
    device_record,
    enrollment_settings,
)

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTAwMDEifQ.c2lnbmF0dXJl"
LIFETIME = 86_400
MAX_AGE = 30 * 86_400
TAG = "secure-ai-v1"
BODY = json.dumps({"app_id": APP_ID}).encode()
ORIGIN = "https://app.example.com"


@dataclass
class Harness:
    """An EnrollmentService on fakes, and what each fake saw."""

    clients: FakeStore = field(default_factory=lambda: FakeStore(app_record()))
    devices: FakeDevices = field(default_factory=FakeDevices)
    tokens: FakeTokens = field(
        default_factory=lambda: FakeTokens({TOKEN: FakeUser(subject=SUB, expires_at=NOW + 600)})
    )
    replays: FakeReplays = field(default_factory=FakeReplays)
    sealer: FakeSealing = field(default_factory=FakeSealing)
    clock: FakeClock = field(default_factory=lambda: FakeClock(float(NOW)))

    def service(self) -> EnrollmentService:
        return EnrollmentService(
            clients=self.clients,
            devices=self.devices,
            tokens=self.tokens,
            replays=self.replays,
            sealer=self.sealer,
            user_ref_key=lambda: REF_KEY,
            signature_tag=TAG,
            key_lifetime_seconds=LIFETIME,
            device_max_age_seconds=MAX_AGE,
            clock=self.clock,
        )

    def enroll(
        self, authorization: str | None = f"Bearer {TOKEN}", body: bytes = BODY, origin: str | None = None
    ) -> Any:
        return self.service().enroll(authorization, body, origin=origin)

    def refusal(self, **kwargs: Any) -> ProtocolError:
        try:
            self.enroll(**kwargs)
        except ProtocolError as error:
            return error
        raise AssertionError("the enrollment was accepted")


def renewal_call(
    key_id: str = f"{DEVICE_ID}.1", body: bytes = b"{}", *, device: bool = True
) -> AuthorizedCall:
    client_id = key_id.split(".", maxsplit=1)[0]
    return AuthorizedCall(
        client_id=client_id,
        key_id=key_id,
        req_id="req-renew-1",
        content_digest=compute_content_digest(body),
        scopes=frozenset({"chat:complete"}),
        body=base64.b64encode(body).decode(),
        is_base64_encoded=True,
        app_id=APP_ID,
        device_id=client_id if device else "",
        user_ref=user_ref(REF_KEY, APP_ID, SUB) if device else "",
    )


# ------------------------------------------------------------------------------------ enrollment


def test_an_enrollment_returns_the_devices_first_key_and_stores_the_device() -> None:
    harness = Harness()
    credentials = harness.enroll()
    # The credentials name a fresh device of the app, key version 1, valid for the key lifetime
    assert credentials.app_id == APP_ID
    assert (credentials.issued_at, credentials.expires_at) == (NOW, NOW + LIFETIME)
    assert credentials.renew_after == NOW + LIFETIME * 3 // 4
    assert credentials.key_id == f"{credentials.device_id}.1"
    assert credentials.signature_tag == TAG
    assert re.fullmatch(DEVICE_ID_PATTERN, credentials.device_id)
    # And the stored device is the user's, by sub and by ref, active, with that key only
    stored = harness.devices.devices[credentials.device_id]
    assert (stored.app_id, stored.user_sub, stored.status, stored.created_at) == (APP_ID, SUB, "active", NOW)
    assert stored.user_ref == user_ref(REF_KEY, APP_ID, SUB)
    [key] = stored.key_versions
    assert (key.version, key.not_before, key.not_after) == (1, NOW, NOW + LIFETIME)


def test_the_store_keeps_the_sealed_secret_and_the_device_gets_the_plaintext() -> None:
    harness = Harness()
    credentials = harness.enroll()
    [(sealed_for, version, plaintext)] = harness.sealer.sealed
    stored_key = harness.devices.devices[credentials.device_id].key_versions[0]
    # Sealed under the device's own id and version; the store holds only the sealed blob
    assert (sealed_for, version) == (credentials.device_id, 1)
    assert FakeSealing.plaintext(stored_key.sealed_secret) == plaintext
    assert stored_key.sealed_secret != plaintext
    # And the device's secret is that plaintext, 32 bytes, never in a repr
    assert credentials.secret_bytes == plaintext
    assert len(plaintext) == 32
    assert credentials.secret not in repr(credentials)


def test_every_enrollment_gets_a_new_device_and_a_new_secret() -> None:
    harness = Harness(tokens=FakeTokens({f"t{i}": FakeUser(SUB, NOW + 600) for i in range(3)}))
    issued = [harness.enroll(f"Bearer t{i}") for i in range(3)]
    assert len({c.device_id for c in issued}) == 3
    assert len({c.secret for c in issued}) == 3


def test_the_token_is_verified_against_the_apps_settings_at_the_clocks_time() -> None:
    harness = Harness()
    harness.enroll()
    [(token, settings, now)] = harness.tokens.verified
    assert (token, settings, now) == (TOKEN, enrollment_settings(), NOW)


def test_the_replay_store_gets_a_digest_of_the_token_never_the_token() -> None:
    harness = Harness()
    harness.enroll()
    [(app_id, digest, expires_at)] = harness.replays.spent
    assert (app_id, digest, expires_at) == (APP_ID, token_digest(TOKEN), NOW + 600)
    assert TOKEN not in digest


@pytest.mark.parametrize(
    "clients",
    [
        FakeStore(),
        FakeStore(app_record(status="revoked")),
        FakeStore(app_record(enrolls=False)),
        FakeStore(app_record("other-app")),
    ],
    ids=["unknown app", "revoked app", "app without enrollment", "another app"],
)
def test_an_app_that_cannot_enroll_is_refused_like_a_bad_token(clients: FakeStore) -> None:
    harness = Harness(clients=clients)
    refused = harness.refusal()
    bad_token = Harness().refusal(authorization="Bearer not-the-token")
    # The same type (the handler makes the same 401 body of it), and nothing verified, spent or stored
    assert type(refused) is type(bad_token) is Unauthenticated
    assert harness.tokens.verified == []
    assert (harness.replays.spent, harness.devices.devices, harness.sealer.sealed) == ([], {}, [])


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Bearer  {TOKEN}",
        f"Bearer {TOKEN} ",
        f" Bearer {TOKEN}",
        f"Basic {TOKEN}",
        f"Bearer\t{TOKEN}",
        f"Bearer {TOKEN}\n",
        f"Bearer {TOKEN},Bearer {TOKEN}",
        "Bearer " + "a" * (MAX_AUTHORIZATION_LENGTH - 6),
        f"Token {TOKEN}",
        f"Bearer {TOKEN}\u00e9",
    ],
)
def test_a_malformed_bearer_header_is_refused_before_any_lookup(authorization: str | None) -> None:
    harness = Harness()
    refused = harness.refusal(authorization=authorization)
    assert type(refused) is Unauthenticated
    assert refused.reason == "no_token"
    assert (harness.clients.reads, harness.tokens.verified) == (0, [])


def test_the_bearer_scheme_is_case_insensitive_and_the_longest_token_fits() -> None:
    assert bearer_token(f"bEaReR {TOKEN}") == TOKEN
    longest = "a" * (MAX_AUTHORIZATION_LENGTH - len("Bearer "))
    assert bearer_token(f"Bearer {longest}") == longest


def test_a_token_the_verifier_refuses_propagates_and_nothing_is_spent() -> None:
    harness = Harness()
    harness.tokens.failure = Unauthenticated("token_expired")
    refused = harness.refusal()
    assert (type(refused), refused.reason) == (Unauthenticated, "token_expired")
    assert (harness.replays.spent, harness.devices.devices) == ([], {})


def test_an_unavailable_issuer_propagates() -> None:
    harness = Harness()
    harness.tokens.failure = DependencyUnavailable("jwks_unavailable")
    assert isinstance(harness.refusal(), DependencyUnavailable)


def test_a_replayed_token_enrolls_nothing_more() -> None:
    # Given a token that enrolled one device
    harness = Harness()
    harness.enroll()
    # When the same token is presented again / Then refused, and still one device, one sealing
    assert isinstance(harness.refusal(), ReplayDetected)
    assert len(harness.devices.devices) == 1
    assert len(harness.sealer.sealed) == 1


def test_a_token_already_spent_elsewhere_stores_no_device() -> None:
    harness = Harness()
    harness.replays.spent.append((APP_ID, token_digest(TOKEN), NOW + 600))
    assert isinstance(harness.refusal(), ReplayDetected)
    assert (harness.devices.devices, harness.sealer.sealed) == ({}, [])


def test_a_browser_origin_the_app_does_not_list_is_forbidden_and_the_token_is_not_spent() -> None:
    harness = Harness()
    refused = harness.refusal(origin="https://evil.example")
    assert (type(refused), refused.reason) == (Forbidden, "origin_not_allowed")
    assert (harness.replays.spent, harness.devices.devices) == ([], {})
    # And the token still enrolls from the app's own origin
    harness.enroll(origin=ORIGIN)


@pytest.mark.parametrize("origin", ["https://app.example.com/", "https://APP.example.com", "null", ""])
def test_an_origin_that_only_resembles_a_listed_one_is_forbidden(origin: str) -> None:
    assert isinstance(Harness().refusal(origin=origin), Forbidden)


def test_an_origin_is_judged_only_after_the_token_so_it_reveals_no_app() -> None:
    # An anonymous caller with a bad origin learns nothing about which app ids enroll
    enrolling = Harness().refusal(authorization="Bearer forged", origin="https://evil.example")
    unknown = Harness(clients=FakeStore()).refusal(
        authorization="Bearer forged", origin="https://evil.example"
    )
    assert type(enrolling) is type(unknown) is Unauthenticated


def test_a_request_without_an_origin_is_not_a_browser_and_is_allowed() -> None:
    Harness(clients=FakeStore(app_record(enrollment=enrollment_settings(allowed_origins=())))).enroll()


def test_a_user_at_the_device_limit_is_refused_with_the_limit() -> None:
    harness = Harness(tokens=FakeTokens({f"t{i}": FakeUser(SUB, NOW + 600) for i in range(4)}))
    for i in range(3):
        harness.enroll(f"Bearer t{i}")
    refused = harness.refusal(authorization="Bearer t3")
    assert isinstance(refused, DeviceLimitReached)
    assert refused.limit == 3
    assert len(harness.devices.devices) == 3


@pytest.mark.parametrize("subject", ["", "x" * 256])
def test_a_sub_the_device_table_cannot_hold_is_refused_before_the_token_is_spent(subject: str) -> None:
    harness = Harness(tokens=FakeTokens({TOKEN: FakeUser(subject, NOW + 600)}))
    refused = harness.refusal()
    assert type(refused) is Unauthenticated
    assert (harness.replays.spent, harness.devices.devices) == ([], {})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{" + b" " * MAX_ENROLLMENT_BODY_BYTES + b"}", "body_too_large"),
        (json.dumps({"app_id": APP_ID, "device_name": "x"}).encode(), "request_invalid"),
        (json.dumps({"app_id": 7}).encode(), "request_invalid"),
        (json.dumps({"app_id": "../other"}).encode(), "request_invalid"),
        (json.dumps([APP_ID]).encode(), "request_invalid"),
        (b"", "request_invalid"),
        (b"\xff\xfe", "request_invalid"),
        (b"{}", "request_invalid"),
    ],
)
def test_a_malformed_body_is_a_bad_request_before_the_token_is_read(body: bytes, reason: str) -> None:
    harness = Harness()
    refused = harness.refusal(body=body)
    assert isinstance(refused, BadRequest)
    assert refused.reason == reason
    assert (harness.clients.reads, harness.tokens.verified) == (0, [])


def test_a_deeply_nested_body_is_a_bad_request() -> None:
    assert isinstance(Harness().refusal(body=b"[" * 200 + b"]" * 200), BadRequest)


def test_the_lifetime_must_fit_the_maximum_age() -> None:
    with pytest.raises(ValueError, match="maximum age"):
        EnrollmentService(
            clients=FakeStore(),
            devices=FakeDevices(),
            tokens=FakeTokens(),
            replays=FakeReplays(),
            sealer=FakeSealing(),
            user_ref_key=lambda: REF_KEY,
            signature_tag=TAG,
            key_lifetime_seconds=MAX_AGE + 1,
            device_max_age_seconds=MAX_AGE,
            clock=FakeClock(),
        )


def test_renew_after_is_three_quarters_of_the_life() -> None:
    assert renew_after(1000, 1000 + 86_400) == 1000 + 64_800
    assert renew_after(0, 3) == 2


# --------------------------------------------------------------------------------------- renewal


def renewal_harness(device: Any = None, app: ClientRecord | None = None) -> Harness:
    return Harness(
        clients=FakeStore(app if app is not None else app_record()),
        devices=FakeDevices(
            {DEVICE_ID: device if device is not None else device_record(created_at=NOW - 3600)}
        ),
    )


def test_a_renewal_issues_the_next_version_and_retires_the_old_key_shortly() -> None:
    # Given a device whose key 1 ends at NOW + 3600
    harness = renewal_harness()
    credentials = harness.service().renew(renewal_call())
    # Then key 2 for the full lifetime, and key 1 retired 300 s from now (its end was later)
    assert credentials.key_id == f"{DEVICE_ID}.2"
    assert (credentials.device_id, credentials.app_id) == (DEVICE_ID, APP_ID)
    assert (credentials.issued_at, credentials.expires_at) == (NOW, NOW + LIFETIME)
    [(device_id, key, retire_at)] = harness.devices.renewals
    assert (device_id, key.version, retire_at) == (DEVICE_ID, 2, NOW + RENEWAL_OVERLAP_SECONDS)
    assert FakeSealing.plaintext(key.sealed_secret) == credentials.secret_bytes
    assert harness.sealer.sealed[0][:2] == (DEVICE_ID, 2)


def test_an_old_key_ending_before_the_overlap_keeps_its_own_end() -> None:
    harness = renewal_harness(device_record(keys=(device_key(1, not_after=NOW + 60),), created_at=NOW - 3600))
    harness.service().renew(renewal_call())
    assert harness.devices.renewals[0][2] == NOW + 60


def test_a_renewed_key_never_outlives_the_devices_maximum_age() -> None:
    # Given a device created almost MAX_AGE ago
    created = NOW - MAX_AGE + 1000
    harness = renewal_harness(device_record(created_at=created))
    credentials = harness.service().renew(renewal_call())
    assert credentials.expires_at == created + MAX_AGE == NOW + 1000


def test_a_device_past_its_maximum_age_cannot_renew() -> None:
    harness = renewal_harness(device_record(created_at=NOW - MAX_AGE))
    with pytest.raises(Unauthenticated) as refused:
        harness.service().renew(renewal_call())
    assert refused.value.reason == "device_expired"
    assert harness.devices.renewals == []


def test_a_client_cannot_renew() -> None:
    harness = renewal_harness()
    with pytest.raises(Forbidden) as refused:
        harness.service().renew(renewal_call(f"{APP_ID}.1", device=False))
    assert refused.value.reason == "not_a_device"


def test_an_older_key_cannot_renew_even_while_it_still_verifies() -> None:
    # Given a device renewed to key 2 whose key 1 still verifies for the overlap
    device = device_record(keys=(device_key(1, not_after=NOW + 300), device_key(2)), created_at=NOW - 3600)
    harness = renewal_harness(device)
    # When key 1 (perhaps stolen) asks for key 3 / Then refused: it cannot fork the chain
    with pytest.raises(Unauthenticated) as refused:
        harness.service().renew(renewal_call(f"{DEVICE_ID}.1"))
    assert refused.value.reason == "stale_key"
    assert harness.devices.renewals == []


@pytest.mark.parametrize(
    ("device", "app", "error", "reason"),
    [
        (device_record(status="revoked"), None, Unauthenticated, "unknown_key"),
        (None, app_record(status="revoked"), Forbidden, "enrollment_disabled"),
        (None, app_record(enrolls=False), Forbidden, "enrollment_disabled"),
    ],
)
def test_a_revoked_device_or_an_app_that_stopped_enrolling_cannot_renew(
    device: Any, app: ClientRecord | None, error: type[ProtocolError], reason: str
) -> None:
    harness = renewal_harness(device, app)
    with pytest.raises(error) as refused:
        harness.service().renew(renewal_call())
    assert refused.value.reason == reason
    assert harness.devices.renewals == []


def test_an_unknown_device_cannot_renew() -> None:
    harness = Harness(devices=FakeDevices())
    with pytest.raises(Unauthenticated):
        harness.service().renew(renewal_call())


@pytest.mark.parametrize("body", [b'{"version": 9}', b"[]", b"null", b"", b'{"not_after": 9999999999}'])
def test_a_renewal_body_other_than_an_empty_object_is_a_bad_request(body: bytes) -> None:
    harness = renewal_harness()
    with pytest.raises(BadRequest):
        harness.service().renew(renewal_call(body=body))
    assert harness.devices.renewals == []


def test_a_renewal_racing_another_from_the_same_read_is_a_conflict() -> None:
    # Given two renewals that both read the device while its newest key was 1
    harness = renewal_harness()
    before = harness.devices.devices[DEVICE_ID]
    harness.service().renew(renewal_call())
    harness.devices.get = lambda device_id: before  # type: ignore[method-assign]
    # When the second writes key 2 too / Then it loses, and the first renewal's key stands
    with pytest.raises(ClientConflict):
        harness.service().renew(renewal_call())
    assert len(harness.devices.renewals) == 1


def test_a_key_id_naming_another_device_cannot_renew_this_one() -> None:
    # Given a context whose key id names device B at this device's newest version
    harness = renewal_harness()
    other = "dev-" + "b" * 26
    call = renewal_call()
    forged = AuthorizedCall(
        client_id=call.client_id,
        key_id=f"{other}.1",
        req_id=call.req_id,
        content_digest=call.content_digest,
        scopes=call.scopes,
        body=call.body,
        is_base64_encoded=True,
        app_id=call.app_id,
        device_id=call.device_id,
        user_ref=call.user_ref,
    )
    # When it renews / Then refused: only this device's own newest key renews it
    with pytest.raises(Unauthenticated):
        harness.service().renew(forged)
    assert harness.devices.renewals == []
