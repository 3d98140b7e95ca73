"""Read the signed parts of a request out of an API Gateway REST event, strictly.

Built for the REQUEST authorizer event; `single_header` and `query_from_event` read the same keys
of a proxy-integration event, so the completion and validator functions can use them too.
Every failure is a `SignatureRejected` with a fixed reason: the caller answers one generic 401.
"""

from __future__ import annotations

from collections.abc import Mapping

from secure_ai_protocol.errors import SignatureRejected
from secure_ai_protocol.signing.canonical_query import canonical_query
from secure_ai_protocol.signing.profile import SignedRequest
from secure_ai_protocol.signing.signature_base import is_field_name


def _optional_mapping(container: Mapping[str, object], key: str) -> Mapping[str, object] | None:
    value = container.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(name, str) for name in value):
        raise SignatureRejected("bad_event")
    return value


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise SignatureRejected("bad_event")
    return value


def _strings(value: object) -> list[str]:
    if not isinstance(value, list) or not value:
        raise SignatureRejected("bad_event")
    return [_string(item) for item in value]


def single_header(event: Mapping[str, object], name: str) -> str:
    """The value of header `name` (lower-case), which must occur exactly once.

    Looks in `headers` and `multiValueHeaders` case-insensitively. Two entries in the list, the
    same name in two spellings, or the two maps disagreeing is `duplicate_header`: API Gateway
    keeps only the last copy in `headers`, so a first copy could otherwise hide behind it.
    """
    headers = _optional_mapping(event, "headers")
    multi = _optional_mapping(event, "multiValueHeaders")
    singles = [_string(value) for key, value in (headers or {}).items() if key.lower() == name]
    multiples = [
        item for key, value in (multi or {}).items() if key.lower() == name for item in _strings(value)
    ]
    if len(singles) > 1 or len(multiples) > 1:
        raise SignatureRejected("duplicate_header")
    if headers is not None and multi is not None and len(singles) != len(multiples):
        raise SignatureRejected("bad_event")
    if singles and multiples and singles != multiples:
        raise SignatureRejected("duplicate_header")
    values = singles or multiples
    if not values:
        raise SignatureRejected("missing_header")
    return values[0]


def query_from_event(event: Mapping[str, object]) -> str:
    """The canonical query (see `canonical_query`) rebuilt from the event's decoded parameters.

    REST events carry only decoded parameters, never the raw query string, which is why the
    profile signs the canonical form. `multiValueQueryStringParameters` is preferred so that
    repeated parameters all count.
    """
    multi = _optional_mapping(event, "multiValueQueryStringParameters")
    if multi is not None:
        pairs = [(name, value) for name, values in multi.items() for value in _strings(values)]
    else:
        single = _optional_mapping(event, "queryStringParameters") or {}
        pairs = [(name, _string(value)) for name, value in single.items()]
    try:
        return canonical_query(pairs)
    except ValueError:  # a lone surrogate cannot be UTF-8 encoded
        raise SignatureRejected("bad_query") from None


def check_query_maps_agree(event: Mapping[str, object]) -> None:
    """Refuse a single-value query map that API Gateway could not have built from the signed one.

    The signature covers the query as rebuilt from `multiValueQueryStringParameters`; API Gateway
    builds `queryStringParameters` from the same query string, keeping each name's last value. A
    function reading the single-value map must see that query, not another one riding along.
    Raises `SignatureRejected("query_mismatch")`.
    """
    multi = _optional_mapping(event, "multiValueQueryStringParameters")
    if multi is None:
        return  # the signed query was rebuilt from the single-value map itself
    single = _optional_mapping(event, "queryStringParameters") or {}
    derived = {name: _strings(values)[-1] for name, values in multi.items()}
    if {name: _string(value) for name, value in single.items()} != derived:
        raise SignatureRejected("query_mismatch")


def _check_header_names(event: Mapping[str, object]) -> None:
    for key in ("headers", "multiValueHeaders"):
        if not all(is_field_name(name) for name in _optional_mapping(event, key) or {}):
            raise SignatureRejected("header_name")


def _method(event: Mapping[str, object], context: Mapping[str, object]) -> str:
    methods = [
        _string(value) for value in (event.get("httpMethod"), context.get("httpMethod")) if value is not None
    ]
    if not methods:
        raise SignatureRejected("bad_event")
    if len(set(methods)) != 1:
        raise SignatureRejected("method_mismatch")
    return methods[0]


def request_from_authorizer_event(event: Mapping[str, object]) -> tuple[SignedRequest, str, str]:
    """(SignedRequest, Signature-Input value, Signature value) from a REST REQUEST authorizer event.

    @method is requestContext.httpMethod (and httpMethod; they must agree); @path is
    requestContext.path, the path the client sent including any stage or base-path prefix;
    @authority is the Host header lower-cased, equal to requestContext.domainName when present;
    @query is the canonical query rebuilt from the decoded parameters.
    """
    context = _optional_mapping(event, "requestContext")
    if context is None:
        raise SignatureRejected("bad_event")
    _check_header_names(event)
    path = _string(context.get("path"))
    if not path.startswith("/"):
        raise SignatureRejected("bad_event")
    authority = single_header(event, "host").lower()
    domain_name = context.get("domainName")
    if domain_name is not None and _string(domain_name).lower() != authority:
        raise SignatureRejected("authority_mismatch")
    request = SignedRequest(
        method=_method(event, context),
        authority=authority,
        path=path,
        query=query_from_event(event),
        content_type=single_header(event, "content-type"),
        content_digest=single_header(event, "content-digest"),
    )
    return request, single_header(event, "signature-input"), single_header(event, "signature")
