"""One function per fuzzed property: build the input, hand it to the real handler, check the property.

The fuzz tests call these with drawn inputs; the corpus replay (test_fuzz_corpus.py) calls them with
the inputs kept in tests/fuzz_corpus, so a kept input is always checked exactly as it was found.
Each returns a short label of the outcome (for the tally).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from typing import Any, Final

from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE
from secure_ai_protocol.routes import CHAT_ROUTE, PUBLIC_KEY_ROUTE, VALIDATE_ROUTE
from tests.gateway_events import authorizer_event, sqs_batch, sqs_record
from tests.security.harness import (
    Allowed,
    Gateway,
    Refused,
    SignedProxyCall,
    resigner,
    status_of,
)
from tests.security.mutations import Mutation, apply_mutations
from tests.security.properties import (
    check_acknowledged,
    check_authorizer,
    check_batch,
    check_proxy,
    document_kind,
    tampered,
)

CHAT_PROMPT: Final = "Summarise the audit findings."
VALIDATE_DOCUMENT: Final = {"text": "Ship it to jane.doe@example.com", "id": "fuzz-validate"}


# -- the authorizer ------------------------------------------------------------------------------


SIGNED_QUERY: Final = (("stream", "false"), ("tag", "a b"))


def authorizer_mutated_signed(gateway: Gateway, mutations: Sequence[Mutation], *, query: bool = False) -> str:
    """A request the client signed just now, changed: refused, or allowed once if nothing signed changed."""
    call = gateway.sign(
        resource=CHAT_ROUTE,
        body=b'{"sealed": "request"}',
        content_type=ENVELOPE_CONTENT_TYPE,
        query=SIGNED_QUERY if query else (),
    )
    signed = authorizer_event(call)
    outcome = check_authorizer(gateway, apply_mutations(signed, mutations, resigner(call)), signed)
    if not mutations:
        assert isinstance(outcome, Allowed), "the unmodified signed request must be allowed"
    return "allowed" if isinstance(outcome, Allowed) else "refused"


def authorizer_random_event(gateway: Gateway, event: Any) -> str:
    """An event no client signed: always the one refusal."""
    assert isinstance(check_authorizer(gateway, event, None), Refused), "an Allow for an unsigned event"
    return "refused"


# -- the completion function ---------------------------------------------------------------------


def completion_mutated_signed(gateway: Gateway, mutations: Sequence[Mutation]) -> str:
    """A sealed chat request changed in transit: never a 5xx, never a 200 for another body or binding."""
    signed = gateway.chat_call(CHAT_PROMPT).proxy_event(gateway.client)
    event = apply_mutations(signed, mutations)
    status = check_proxy(gateway.complete(event), tampered=tampered(event, signed, bound_context=True))
    if not mutations:
        assert status == 200, "the unmodified request must be answered"
    return str(status)


def completion_sealed_plaintext(
    gateway: Gateway,
    *,
    mutations: Sequence[Mutation] | None = None,
    document: Any = None,
    raw_base64: str | None = None,
) -> str:
    """A correctly sealed and signed envelope whose plaintext is anything: a 200 or a 4xx."""
    if raw_base64 is not None:
        plaintext = base64.b64decode(raw_base64)
    elif mutations is not None:
        template = json.loads(gateway.chat_plaintext(CHAT_PROMPT, max_tokens=10, temperature=0.5))
        plaintext = json.dumps(apply_mutations(template, mutations)).encode()
    else:
        plaintext = json.dumps(document).encode()
    response = gateway.complete(gateway.chat_call(plaintext=plaintext).proxy_event(gateway.client))
    return str(check_proxy(response, tampered=False))


def completion_random_event(gateway: Gateway, event: Any) -> str:
    """An event drawn at random: refused, never a 5xx, an answer or an exception."""
    status = check_proxy(gateway.complete(event), tampered=True)
    return str(status)


def completion_public_key(gateway: Gateway, mutations: Sequence[Mutation]) -> str:
    """GET /v1/keys/public, changed: never a 5xx; the key only for GET on its own path."""
    event = apply_mutations(gateway.public_key_event(), mutations)
    status = status_of(gateway.complete(event))
    assert status < 500, f"a {status} for a client's input"
    if status == 200:
        assert (event["httpMethod"], str(event["path"]).rstrip("/")) == ("GET", PUBLIC_KEY_ROUTE)
    if not mutations:
        assert status == 200
    return str(status)


# -- the validator -------------------------------------------------------------------------------


def validator_signed_document(gateway: Gateway, document: Any) -> str:
    """Any JSON document, correctly signed: a verdict if it is a valid request, a 4xx if not, never a 5xx."""
    response = gateway.validator(gateway.validate_json_call(document).proxy_event(gateway.client))
    status = check_proxy(response, tampered=False)
    kind = document_kind(document)
    if kind == "good":
        assert status == 200, "a valid screening request refused"
    elif kind == "bad":
        assert 400 <= status < 500, "an invalid screening request not refused"
    return str(status)


def validator_mutated_signed(gateway: Gateway, mutations: Sequence[Mutation], *, envelope: bool) -> str:
    """A signed validate request (JSON or sealed) changed in transit: a verdict only for what was signed."""
    call = (
        gateway.validate_envelope_call(VALIDATE_DOCUMENT)
        if envelope
        else gateway.validate_json_call(VALIDATE_DOCUMENT)
    )
    signed = call.proxy_event(gateway.client)
    event = apply_mutations(signed, mutations)
    status = check_proxy(gateway.validator(event), tampered=tampered(event, signed, bound_context=envelope))
    if not mutations:
        assert status == 200
    return str(status)


def validator_sealed_plaintext(gateway: Gateway, plaintext: Any) -> str:
    """A correctly sealed and signed validate envelope whose plaintext is any JSON: a 200 or a 4xx."""
    nonce = gateway.unique() + gateway.unique()
    sealed = gateway.seal(json.dumps(plaintext).encode(), req_id=nonce, route=VALIDATE_ROUTE)
    call = gateway.sign(resource=VALIDATE_ROUTE, body=sealed, content_type=ENVELOPE_CONTENT_TYPE, nonce=nonce)
    return str(
        check_proxy(gateway.validator(SignedProxyCall(call).proxy_event(gateway.client)), tampered=False)
    )


def validator_random_event(gateway: Gateway, event: Any) -> str:
    """An event drawn at random on the API path: refused, never a 5xx or an exception."""
    return str(check_proxy(gateway.validator(event), tampered=True))


def validator_batch(gateway: Gateway, bodies: Sequence[str]) -> str:
    """A batch as SQS delivers it: every bad record reported for a retry, no valid one."""
    records = [sqs_record(body, f"m-{index}-{gateway.unique()}") for index, body in enumerate(bodies)]
    reported = check_batch(gateway.validator(sqs_batch(records)), records)
    return (
        "none reported"
        if not reported
        else "all reported"
        if len(reported) == len(records)
        else "some reported"
    )


def validator_malformed_batch(gateway: Gateway, records: Sequence[Any]) -> str:
    """Records SQS would never deliver: a failed invocation (all retried) or no bad record acknowledged."""
    try:
        response = gateway.validator({"Records": list(records)})
    except Exception:  # noqa: BLE001 - the invocation fails: SQS retries the whole batch, nothing is lost
        return "invocation failed"
    check_acknowledged(response, records)
    return "answered"


def validator_other_trigger(gateway: Gateway, event: Any) -> str:
    """An event from a trigger the validator does not have (EventBridge directly): refused, no exception."""
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        return validator_malformed_batch(gateway, event["Records"])
    status = status_of(gateway.validator(event))
    assert status == 400, "an event from another trigger must be refused as malformed"
    return str(status)


SCENARIOS: Final[dict[str, Callable[..., str]]] = {
    "authorizer_mutated_signed": authorizer_mutated_signed,
    "authorizer_random_event": authorizer_random_event,
    "completion_mutated_signed": completion_mutated_signed,
    "completion_sealed_plaintext": completion_sealed_plaintext,
    "completion_random_event": completion_random_event,
    "completion_public_key": completion_public_key,
    "validator_signed_document": validator_signed_document,
    "validator_mutated_signed": validator_mutated_signed,
    "validator_sealed_plaintext": validator_sealed_plaintext,
    "validator_random_event": validator_random_event,
    "validator_batch": validator_batch,
    "validator_malformed_batch": validator_malformed_batch,
    "validator_other_trigger": validator_other_trigger,
}
