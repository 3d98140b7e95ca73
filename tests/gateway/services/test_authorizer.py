"""The authorizer's decision, with fake key and nonce stores: order of checks and what is allowed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from secure_ai_gateway.api.signed_request import request_from_authorizer_event
from secure_ai_gateway.services.authorizer import Authorization, RequestAuthorizer, allow_policy
from secure_ai_protocol.errors import (
    DependencyUnavailable,
    ReplayDetected,
    SignatureRejected,
    Unauthenticated,
)
from secure_ai_protocol.signing.profile import parse_signature_headers, verify_signature
from tests.gateway_events import SignedCall, authorizer_event, method_arn

SECRET = bytes(range(32))
NOW = 1_800_000_000


@dataclass(frozen=True)
class FakeKey:
    secret: bytes
    client_id: str
    scopes: tuple[str, ...]
    app_id: str = ""
    device_id: str = ""
    user_ref: str = ""


@dataclass
class FakeKeys:
    keys: dict[str, FakeKey]
    failure: Exception | None = None

    def resolve(self, key_id: str) -> FakeKey:
        if self.failure:
            raise self.failure
        if key_id not in self.keys:
            raise Unauthenticated("unknown_key")
        return self.keys[key_id]


@dataclass
class FakeNonces:
    seen: list[tuple[str, str, int]] = field(default_factory=list)
    failure: Exception | None = None

    def remember(self, key_id: str, nonce: str, expires_at: int) -> None:
        if self.failure:
            raise self.failure
        if any(k == key_id and n == nonce for k, n, _ in self.seen):
            raise ReplayDetected("replay")
        self.seen.append((key_id, nonce, expires_at))


def make_authorizer(keys: FakeKeys | None = None, nonces: FakeNonces | None = None) -> RequestAuthorizer:
    return RequestAuthorizer(
        keys=keys or FakeKeys({"app-1.1": FakeKey(SECRET, "app-1", ("chat:complete",))}),
        nonces=nonces or FakeNonces(),
        expected_tag="secure-ai-v1",
        clock=lambda: NOW,
    )


def test_a_valid_signature_is_authorized_with_its_client_key_nonce_digest_and_scopes() -> None:
    call = SignedCall(secret=SECRET, key_id="app-1.1", created=NOW)
    authorization = make_authorizer().authorize(authorizer_event(call))
    assert authorization == Authorization(
        client_id="app-1",
        key_id="app-1.1",
        nonce=call.nonce,
        content_digest=dict(call.headers())["Content-Digest"],
        scopes=("chat:complete",),
    )


def test_a_device_signature_is_attributed_to_its_app_user_and_device() -> None:
    device = "dev-" + "a" * 26
    keys = FakeKeys({f"{device}.2": FakeKey(SECRET, device, ("chat:complete",), "app-1", device, "f" * 32)})
    call = SignedCall(secret=SECRET, key_id=f"{device}.2", created=NOW)
    context = make_authorizer(keys=keys).authorize(authorizer_event(call)).context()
    assert (context["client_id"], context["app_id"], context["device_id"], context["user_ref"]) == (
        device,
        "app-1",
        device,
        "f" * 32,
    )


def test_the_nonce_is_recorded_with_the_signature_expiry() -> None:
    nonces = FakeNonces()
    call = SignedCall(secret=SECRET, key_id="app-1.1", created=NOW)
    make_authorizer(nonces=nonces).authorize(authorizer_event(call))
    assert nonces.seen == [("app-1.1", call.nonce, NOW + call.lifetime)]


def test_a_wrong_mac_is_refused_before_the_nonce_is_written() -> None:
    nonces = FakeNonces()
    call = SignedCall(secret=bytes(32), key_id="app-1.1", created=NOW)
    with pytest.raises(SignatureRejected) as refused:
        make_authorizer(nonces=nonces).authorize(authorizer_event(call))
    assert refused.value.reason == "mac_mismatch"
    assert nonces.seen == []


def test_a_stale_signature_is_refused_before_any_key_lookup() -> None:
    keys = FakeKeys({}, failure=AssertionError("key store must not be asked"))
    call = SignedCall(secret=SECRET, key_id="app-1.1", created=NOW - 301)
    with pytest.raises(SignatureRejected):
        make_authorizer(keys=keys).authorize(authorizer_event(call))


def test_the_second_identical_request_is_a_replay() -> None:
    authorizer = make_authorizer()
    event = authorizer_event(SignedCall(secret=SECRET, key_id="app-1.1", created=NOW))
    authorizer.authorize(event)
    with pytest.raises(ReplayDetected):
        authorizer.authorize(event)


def test_a_failing_replay_store_fails_closed() -> None:
    nonces = FakeNonces(failure=DependencyUnavailable("dynamodb_unavailable"))
    with pytest.raises(DependencyUnavailable):
        make_authorizer(nonces=nonces).authorize(
            authorizer_event(SignedCall(secret=SECRET, key_id="app-1.1", created=NOW))
        )


def test_a_failing_key_store_fails_closed() -> None:
    keys = FakeKeys({}, failure=DependencyUnavailable("kms_unavailable"))
    with pytest.raises(DependencyUnavailable):
        make_authorizer(keys=keys).authorize(
            authorizer_event(SignedCall(secret=SECRET, key_id="app-1.1", created=NOW))
        )


def test_the_allow_policy_names_exactly_the_method_arn_and_carries_the_context() -> None:
    authorization = Authorization("app-1", "app-1.1", "n" * 22, "sha-256=:AAAA:", ("a", "b"))
    arn = method_arn("POST", "/v1/chat/completions")
    policy = allow_policy(authorization, arn)
    assert policy["policyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": arn}],
    }
    assert policy["principalId"] == "app-1"
    assert policy["context"] == {
        "client_id": "app-1",
        "key_id": "app-1.1",
        "nonce": "n" * 22,
        "content_digest": "sha-256=:AAAA:",
        "scopes": "a b",
        "app_id": "app-1",
        "device_id": "",
        "user_ref": "",
    }


@pytest.mark.parametrize(
    ("digest", "reason"),
    [
        ("md5=:rL0Y20zC+Fzt72VPzMSk2A==:", "digest_algorithm"),
        ("sha-256=:AAAA:, sha-512=:AAAA:", "digest_members"),
    ],
)
def test_verification_refuses_a_digest_outside_the_profile_even_under_a_valid_mac(
    digest: str, reason: str
) -> None:
    # The functions trust the digest value the authorizer verified, so verification itself must
    # hold the Content-Digest rule, not only the MAC (the authorizer no longer parses it separately).
    call = SignedCall(secret=SECRET, key_id="app-1.1", created=NOW)
    request, signature_input, signature = request_from_authorizer_event(authorizer_event(call))
    parsed = parse_signature_headers(signature_input, signature, expected_tag="secure-ai-v1")
    with pytest.raises(SignatureRejected) as refused:
        verify_signature(parsed, dataclasses.replace(request, content_digest=digest), SECRET)
    assert refused.value.reason == reason
