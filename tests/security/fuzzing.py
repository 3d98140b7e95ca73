"""Hypothesis settings and the template events the fuzz strategies draw their paths from.

Bounded for a 2-core CI machine (the whole security suite stays within minutes), derandomized so that
every run draws the same inputs, and without an example database: what once broke something is kept,
readable, in tests/fuzz_corpus instead.
"""

from __future__ import annotations

from typing import Any, Final

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE
from secure_ai_protocol.routes import CHAT_ROUTE
from tests.gateway_events import SignedCall, authorizer_event, proxy_event
from tests.security.harness import SCOPES
from tests.security.mutations import HEADER_NAMES, HOSTILE_STRINGS, hostile_text, json_values


def fuzz_settings(max_examples: int) -> settings:
    """Bounded, reproducible settings; the handlers share one moto stack across examples."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


_TEMPLATE_CALL: Final = SignedCall(
    secret=bytes(32),
    key_id="fuzz-app.1",
    created=1_800_000_000,
    body=b"{}",
    content_type=ENVELOPE_CONTENT_TYPE,
)
# The shapes every signed event shares: mutation paths are drawn from these.
AUTHORIZER_TEMPLATE: Final = authorizer_event(_TEMPLATE_CALL)
PROXY_TEMPLATE: Final = proxy_event(
    _TEMPLATE_CALL,
    {"client_id": "a", "key_id": "a.1", "nonce": "n", "content_digest": "d", "scopes": SCOPES},
    binary=True,
)

_METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123defg/prod/POST" + CHAT_ROUTE


def _string_maps(multi: bool) -> st.SearchStrategy[Any]:
    values = st.lists(hostile_text(), min_size=1, max_size=2) if multi else hostile_text()
    return st.one_of(st.none(), st.dictionaries(st.sampled_from(HEADER_NAMES), values, max_size=6))


def random_authorizer_events() -> st.SearchStrategy[Any]:
    """Events shaped like API Gateway's REQUEST authorizer events, every value drawn at random."""
    shaped = st.fixed_dictionaries(
        {
            "type": st.sampled_from(["REQUEST", "TOKEN"]),
            "methodArn": st.one_of(st.just(_METHOD_ARN), hostile_text()),
            "httpMethod": st.one_of(st.sampled_from(["POST", "GET"]), hostile_text()),
            "headers": _string_maps(multi=False),
            "multiValueHeaders": _string_maps(multi=True),
            "queryStringParameters": st.one_of(
                st.none(), st.dictionaries(hostile_text(), hostile_text(), max_size=2)
            ),
            "requestContext": st.fixed_dictionaries(
                {
                    "httpMethod": st.sampled_from(["POST", "GET"]),
                    "path": st.one_of(st.sampled_from(HOSTILE_STRINGS), hostile_text()),
                    "domainName": hostile_text(),
                }
            ),
        }
    )
    return st.one_of(shaped, json_values(), st.builds(dict, st.dictionaries(hostile_text(), json_values())))


def _or_anything(proper: st.SearchStrategy[Any], confused: bool) -> st.SearchStrategy[Any]:
    """The value API Gateway would send or, when `confused`, sometimes any JSON value instead."""
    return st.one_of(proper, proper, json_values(max_leaves=4)) if confused else proper


def _proxy_events(path: str, method: str, *, confused: bool) -> st.SearchStrategy[dict[str, Any]]:
    def field(proper: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return _or_anything(proper, confused)

    authorizer = st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {
                "client_id": field(st.one_of(st.just("fuzz-app"), hostile_text())),
                "key_id": field(st.one_of(st.just("fuzz-app.1"), hostile_text())),
                "nonce": field(hostile_text()),
                "content_digest": field(hostile_text()),
                "scopes": field(st.one_of(st.just(SCOPES), hostile_text())),
            }
        ),
    )
    return st.fixed_dictionaries(
        {
            "resource": field(st.just(path)),
            "path": field(st.one_of(st.just(path), hostile_text())),
            "httpMethod": field(st.sampled_from([method, "GET", "PUT", "OPTIONS", "HEAD"])),
            "headers": field(_string_maps(multi=False)),
            "multiValueHeaders": field(_string_maps(multi=True)),
            "queryStringParameters": field(st.none()),
            "multiValueQueryStringParameters": field(st.none()),
            "pathParameters": field(st.none()),
            "stageVariables": field(st.none()),
            "requestContext": field(
                st.fixed_dictionaries(
                    {"stage": st.just("prod"), "requestId": st.just("r"), "authorizer": authorizer}
                )
            ),
            "body": field(st.one_of(st.none(), hostile_text())),
            "isBase64Encoded": field(st.booleans()),
        }
    )


def random_proxy_events(path: str, method: str = "POST") -> st.SearchStrategy[Any]:
    """REST proxy events with random values, ones with type-confused fields, and non-events."""
    proper = _proxy_events(path, method, confused=False)
    return st.one_of(
        proper,
        proper,
        _proxy_events(path, method, confused=True),
        json_values(),
        st.dictionaries(hostile_text(), json_values()),
    )
