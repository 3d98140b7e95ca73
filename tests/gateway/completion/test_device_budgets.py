"""A device's call spends from its user's budget and its app's, both or neither."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace

import pytest

from secure_ai_gateway.api.authorized_call import AuthorizedCall
from secure_ai_gateway.client_registry.records import ClientRecord
from secure_ai_gateway.device_registry.user_refs import user_account
from secure_ai_gateway.ports import Budget
from secure_ai_gateway.screening.catalog import PolicyCatalog
from secure_ai_gateway.services.completion import CompletionService, budgets_for, reserve_all
from secure_ai_protocol.errors import DependencyUnavailable, Forbidden, QuotaExceeded
from secure_ai_protocol.signing.content_digest import compute_content_digest
from tests.gateway.completion.fakes import (
    CLIENT_ID,
    DIGEST_KEY,
    MODEL,
    FakeLedger,
    FakeModel,
    IdentityEnvelopes,
    chat,
    local_policy,
)
from tests.gateway.devices.fakes import enrollment_settings

DEVICE = "dev-" + "a" * 26
REF = "0123456789abcdef0123456789abcdef"
USER_ACCOUNT = user_account(CLIENT_ID, REF)


def app(*, enrolls: bool = True) -> ClientRecord:
    return ClientRecord(
        client_id=CLIENT_ID,
        status="active",
        scopes=("chat:complete",),
        allowed_models=(MODEL,),
        max_tokens=256,
        token_budget=100_000,
        request_budget=1_000,
        created_at=0,
        enrollment=enrollment_settings(user_token_budget=5_000, user_request_budget=10) if enrolls else None,
    )


def call(*, device: bool = True) -> AuthorizedCall:
    plaintext = json.dumps(
        {"resp_key": base64.b64encode(b"r" * 32).decode(), "request": chat("Say hello.")}
    ).encode()
    who = DEVICE if device else CLIENT_ID
    return AuthorizedCall(
        client_id=who,
        key_id=f"{who}.1",
        req_id="req-unit-1",
        content_digest=compute_content_digest(plaintext),
        scopes=frozenset({"chat:complete"}),
        body=base64.b64encode(plaintext).decode(),
        is_base64_encoded=True,
        app_id=CLIENT_ID,
        device_id=DEVICE if device else "",
        user_ref=REF if device else "",
    )


def service(ledger: FakeLedger, model: FakeModel, record: ClientRecord) -> CompletionService:
    return CompletionService(
        envelopes=IdentityEnvelopes(),
        clients=SimpleNamespace(get=lambda client_id: record if client_id == CLIENT_ID else None),
        ledger=ledger,
        model=lambda: model,
        moderation=lambda: SimpleNamespace(moderate=lambda text: {}),
        policies=PolicyCatalog({"default": local_policy()}),
        seal_response=lambda payload, **_: payload,
        digest_key=lambda: DIGEST_KEY,
        default_model=MODEL,
        clock=lambda: 1_700_000_000.0,
    )


def test_a_devices_call_reserves_from_its_user_and_its_app_and_settles_both() -> None:
    ledger, model = FakeLedger(), FakeModel()
    service(ledger, model, app()).complete(call())
    assert ledger.accounts == [USER_ACCOUNT, CLIENT_ID]
    assert len(ledger.settled) == 2
    assert ledger.cancelled == []
    assert len(model.requests) == 1


def test_a_clients_call_reserves_from_the_client_only() -> None:
    ledger = FakeLedger()
    service(ledger, FakeModel(), app()).complete(call(device=False))
    assert ledger.accounts == [CLIENT_ID]


def test_a_user_over_budget_reserves_nothing_from_the_app_and_never_reaches_the_model() -> None:
    # Given a user whose budget is spent
    ledger, model = FakeLedger(refuse={USER_ACCOUNT: QuotaExceeded("budget_spent", 60)}), FakeModel()
    # When the device calls / Then refused with the user's refusal
    with pytest.raises(QuotaExceeded) as refused:
        service(ledger, model, app()).complete(call())
    assert refused.value.retry_after_seconds == 60
    # And the app's budget was never touched, nothing settled, and the model never asked
    assert (ledger.accounts, ledger.settled, model.requests) == ([], [], [])


def test_an_app_over_budget_cancels_the_users_reservation_and_never_reaches_the_model() -> None:
    ledger, model = FakeLedger(refuse={CLIENT_ID: QuotaExceeded("budget_spent", 60)}), FakeModel()
    with pytest.raises(QuotaExceeded):
        service(ledger, model, app()).complete(call())
    assert ledger.accounts == [USER_ACCOUNT]
    assert ledger.cancelled == [USER_ACCOUNT]
    assert (ledger.settled, model.requests) == ([], [])


def test_a_failing_ledger_after_a_reservation_cancels_it_and_fails_closed() -> None:
    ledger = FakeLedger(refuse={CLIENT_ID: DependencyUnavailable("usage_unavailable")})
    with pytest.raises(DependencyUnavailable):
        service(ledger, FakeModel(), app()).complete(call())
    assert ledger.cancelled == [USER_ACCOUNT]


def test_a_device_of_an_app_that_stopped_enrolling_is_forbidden_before_any_reservation() -> None:
    ledger, model = FakeLedger(), FakeModel()
    with pytest.raises(Forbidden) as refused:
        service(ledger, model, app(enrolls=False)).complete(call())
    assert refused.value.reason == "enrollment_disabled"
    assert (ledger.accounts, model.requests) == ([], [])


def test_a_clients_call_needs_no_enrollment() -> None:
    assert budgets_for(call(device=False), app(enrolls=False)) == [
        (CLIENT_ID, Budget(tokens=100_000, requests=1_000))
    ]


def test_a_devices_budgets_are_the_apps_per_user_limits() -> None:
    assert budgets_for(call(), app()) == [
        (USER_ACCOUNT, Budget(tokens=5_000, requests=10)),
        (CLIENT_ID, Budget(tokens=100_000, requests=1_000)),
    ]


def test_users_of_one_app_have_different_accounts_and_never_the_apps() -> None:
    other = user_account(CLIENT_ID, "f" * 32)
    assert len({USER_ACCOUNT, other, CLIENT_ID, user_account("other-app", REF)}) == 4


def test_reserve_all_cancels_every_earlier_reservation_when_a_later_one_is_refused() -> None:
    ledger = FakeLedger(refuse={"c": QuotaExceeded("budget_spent", 1)})
    budget = Budget(tokens=10, requests=10)
    with pytest.raises(QuotaExceeded):
        reserve_all(ledger, [("a", budget), ("b", budget), ("c", budget), ("d", budget)], 1, 0.0)
    assert ledger.cancelled == ["a", "b"]


def test_a_cancellation_that_fails_still_raises_the_refusal() -> None:
    # Over, never under: the refusal wins; the reservation that could not be given back stays counted
    ledger = FakeLedger(refuse={"b": QuotaExceeded("budget_spent", 1)})

    def failing_cancel(reservation: object) -> None:
        raise DependencyUnavailable("usage_unavailable")

    ledger.cancel = failing_cancel  # type: ignore[method-assign]
    with pytest.raises(QuotaExceeded):
        reserve_all(ledger, [("a", Budget(10, 10)), ("b", Budget(10, 10))], 1, 0.0)
