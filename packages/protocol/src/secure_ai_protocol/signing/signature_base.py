"""The general RFC 9421 signature-base builder: components, their values, the base's lines.

It covers any derived component (`@method`, `@target-uri`, `@authority`, `@scheme`,
`@request-target`, `@path`, `@query`, `@query-param`, `@status`) and plain header fields, and
serialises `@signature-params` from the member as received, so it reproduces the RFC's Appendix B
bases byte for byte. The profile (`signing.profile`, docs/protocol.md §7) builds its bases here.
A rule failure raises `SignatureRejected` with a short fixed reason that never carries a value.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from http_sfv.item import InnerList, Item

from secure_ai_protocol.errors import SignatureRejected
from secure_ai_protocol.signing.canonical_query import form_encode, parse_form_query
from secure_ai_protocol.signing.content_digest import is_visible_ascii, parse_strict_dictionary

MAX_COMPONENT_LENGTH = 8192  # a covered value longer than this is refused, not hashed.

# RFC 9110 tchar: a field name is a token, so "@method" can never be a header.
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits)


def is_field_name(name: str) -> bool:
    """True when `name` is an RFC 9110 token, i.e. a possible header name (never "@method")."""
    return bool(name) and _TOKEN_CHARS.issuperset(name)


@dataclass(frozen=True, slots=True)
class HttpMessage:
    """A message as the general builder sees it.

    `authority` must be normalised (lower-case, no default port); `query` is the raw query string
    without '?', None when the target had none. `fields` are (name, value) lines in received
    order; repeated names are combined with ", " as RFC 9421 §2.1 says. A response sets `status`
    and leaves the request parts None.
    """

    method: str | None = None
    scheme: str | None = "https"
    authority: str | None = None
    path: str | None = None
    query: str | None = None
    status: int | None = None
    fields: tuple[tuple[str, str], ...] = ()


def _authority(message: HttpMessage) -> str | None:
    if message.authority is not None and message.authority != message.authority.lower():
        raise SignatureRejected("authority_not_normalised")
    return message.authority


def _path(message: HttpMessage) -> str | None:
    if message.path is None:
        return None
    return message.path or "/"


def _query(message: HttpMessage) -> str | None:
    if message.method is None:
        return None
    return f"?{message.query or ''}"


def _request_target(message: HttpMessage) -> str | None:
    path = _path(message)
    if path is None:
        return None
    return path if message.query is None else f"{path}?{message.query}"


def _target_uri(message: HttpMessage) -> str | None:
    authority = _authority(message)
    request_target = _request_target(message)
    if message.scheme is None or authority is None or request_target is None:
        return None
    return f"{message.scheme}://{authority}{request_target}"


def _status(message: HttpMessage) -> str | None:
    return None if message.status is None else str(message.status)


_DERIVED: dict[str, Callable[[HttpMessage], str | None]] = {
    "@method": lambda message: message.method,
    "@target-uri": _target_uri,
    "@authority": _authority,
    "@scheme": lambda message: message.scheme,
    "@request-target": _request_target,
    "@path": _path,
    "@query": _query,
    "@status": _status,
}


def _query_param(message: HttpMessage, item: Item) -> str | None:
    name = item.params.get("name")
    if type(name) is not str or len(item.params) != 1:
        raise SignatureRejected("component_parameters")
    if message.method is None:
        return None
    # RFC 9421 §2.2.8: decode as a form, re-encode with the form serializer, compare encoded names.
    values = [
        form_encode(value) for key, value in parse_form_query(message.query or "") if form_encode(key) == name
    ]
    if len(values) > 1:
        raise SignatureRejected("query_param_repeated")
    return values[0] if values else None


def _field(message: HttpMessage, name: str) -> str | None:
    values = [value.strip(" \t") for key, value in message.fields if key.lower() == name]
    return ", ".join(values) if values else None


def _component_value(message: HttpMessage, item: Item) -> str:
    name = item.value
    if type(name) is not str or not name:
        raise SignatureRejected("bad_component")
    value: str | None
    if name == "@query-param":
        value = _query_param(message, item)
    elif item.params:
        # sf, key, bs, req and tr are valid RFC 9421 parameters, but nothing here needs them.
        raise SignatureRejected("component_parameters")
    elif name.startswith("@"):
        resolve = _DERIVED.get(name)
        if resolve is None:
            raise SignatureRejected("unknown_component")
        value = resolve(message)
    elif is_field_name(name) and name == name.lower():
        value = _field(message, name)
    else:
        raise SignatureRejected("bad_component")
    if value is None:
        raise SignatureRejected("missing_component")
    if len(value) > MAX_COMPONENT_LENGTH:
        raise SignatureRejected("component_too_large")
    if not is_visible_ascii(value):
        # A CR/LF would let one covered value forge the next line of the base.
        raise SignatureRejected("component_value")
    return value


def build_signature_base(covered: Sequence[Item], signature_params: str, message: HttpMessage) -> bytes:
    """The RFC 9421 §2.5 signature base: a line per `covered` component, then `@signature-params`.

    `signature_params` is written verbatim, so the caller decides whether it is the member as
    received or as serialised.
    """
    if not all(is_field_name(name) for name, _ in message.fields):
        raise SignatureRejected("field_name")
    lines: list[str] = []
    seen: set[str] = set()
    for item in covered:
        identifier = str(item)
        if identifier in seen:
            raise SignatureRejected("duplicate_component")
        seen.add(identifier)
        lines.append(f"{identifier}: {_component_value(message, item)}")
    lines.append(f'"@signature-params": {signature_params}')
    return "\n".join(lines).encode("ascii")


def signature_base_for_label(signature_input: str, label: str, message: HttpMessage) -> bytes:
    """The RFC 9421 §2.5 signature base for member `label` of a `Signature-Input` field value.

    Covers any components in the received order; `@signature-params` is the member re-serialised,
    which equals the received text because non-canonical fields are refused.
    """
    inputs = parse_strict_dictionary(
        signature_input, malformed="bad_signature_input", not_canonical="signature_input_not_canonical"
    )
    member = inputs.get(label)
    if member is None:
        raise SignatureRejected("missing_label")
    if not isinstance(member, InnerList):
        raise SignatureRejected("bad_signature_input")
    return build_signature_base(list(member), str(member), message)
