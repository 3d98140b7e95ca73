"""RFC 9421 HTTP Message Signatures: a general signature-base builder and the gateway's profile.

The general builder (`signature_base_for_label`) covers any derived component (`@method`,
`@target-uri`, `@authority`, `@scheme`, `@request-target`, `@path`, `@query`, `@query-param`,
`@status`) and plain header fields, and serialises `@signature-params` from the member as
received, so it reproduces the RFC's Appendix B bases byte for byte.

The profile (DESIGN §2, written down for client authors in docs/protocol.md) narrows that to one
shape: the six covered components below, the six parameters below, `hmac-sha256`, one label.
Every rule failure raises `SignatureRejected` with a short fixed reason; no reason or message
ever carries the secret, the signature or the signature base.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from http_sfv.dictionary import Dictionary
from http_sfv.item import InnerList, Item

from secure_ai_protocol.errors import SignatureRejected
from secure_ai_protocol.key_ids import parse_key_id
from secure_ai_protocol.signing.content_digest import (
    is_visible_ascii,
    parse_content_digest,
    parse_strict_dictionary,
)

PROFILE_ALGORITHM = "hmac-sha256"
PROFILE_TAG = "secure-ai-v1"
# The order sign_request emits; verifiers accept any order.
PROFILE_COMPONENTS: tuple[str, ...] = (
    "@method",
    "@authority",
    "@path",
    "@query",
    "content-type",
    "content-digest",
)
PROFILE_PARAMETERS: tuple[str, ...] = ("created", "expires", "nonce", "keyid", "alg", "tag")

MAX_CREATED_AGE = 300  # created may be at most this many seconds in the past...
MAX_CLOCK_SKEW = 60  # ...or this many in the future (client clocks drift).
MAX_LIFETIME = 300  # expires - created; also bounds how long the replay store must remember a nonce.
SIGNATURE_LENGTH = 32  # HMAC-SHA256 output.
MIN_SECRET_LENGTH = 32  # DESIGN §2: 32 random bytes per key version.
MAX_COMPONENT_LENGTH = 8192  # a covered value longer than this is refused, not hashed.

# nonce: 22..128 characters of the base64 or base64url alphabet, optionally '='-padded.
# 22 base64 characters carry 132 bits, the shortest text that can hold the 128 random bits the
# profile requires; the syntax cannot prove randomness, so clients MUST draw >= 16 bytes from a CSPRNG.
_NONCE = re.compile(r"[A-Za-z0-9+/_-]{22,128}={0,2}")
_ALPHANUMERIC = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# RFC 3986 §2.3 unreserved: the only bytes the canonical query leaves unescaped.
_UNRESERVED = frozenset(_ALPHANUMERIC + b"-._~")
# WHATWG URL application/x-www-form-urlencoded serializer: what RFC 9421 §2.2.8 re-encodes with.
_FORM_SAFE = frozenset(_ALPHANUMERIC + b"*-._")
_HEX_DIGITS = frozenset(b"0123456789ABCDEFabcdef")
# RFC 9110 tchar: a field name is a token, so "@method" can never be a header.
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~" + _ALPHANUMERIC.decode("ascii"))


def is_field_name(name: str) -> bool:
    """True when `name` is an RFC 9110 token, i.e. a possible header name (never "@method")."""
    return bool(name) and _TOKEN_CHARS.issuperset(name)


# --- the canonical query (profile rule; see docs/protocol.md) ------------------------------------


def _percent_encode(text: str, safe: frozenset[int], *, space_as_plus: bool = False) -> str:
    out: list[str] = []
    for byte in text.encode("utf-8"):
        if byte in safe:
            out.append(chr(byte))
        elif space_as_plus and byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def _percent_decode(text: str, *, strict: bool) -> str:
    # '+' is a space in application/x-www-form-urlencoded, the convention httpx and browsers use.
    data = text.replace("+", " ").encode("utf-8")
    out = bytearray()
    index = 0
    while index < len(data):
        byte = data[index]
        if byte == 0x25:  # '%'
            escape = data[index + 1 : index + 3]
            if len(escape) == 2 and _HEX_DIGITS.issuperset(escape):
                out.append(int(escape, 16))
                index += 3
                continue
            if strict:
                raise ValueError("malformed percent-escape in query")
        out.append(byte)
        index += 1
    return out.decode("utf-8", errors="strict" if strict else "replace")


def _query_pairs(query: str, *, strict: bool) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for segment in query.split("&"):
        if segment:  # WHATWG URL §5.1 skips empty sequences ("a=1&&b=2")
            name, _, value = segment.partition("=")
            pairs.append((_percent_decode(name, strict=strict), _percent_decode(value, strict=strict)))
    return pairs


def parse_query(query: str) -> list[tuple[str, str]]:
    """Decode a raw query string (no leading '?') into (name, value) pairs, in order.

    '+' decodes to a space and %XX to its byte; the bytes must be UTF-8. A '%' not followed by
    two hex digits, or invalid UTF-8, raises `ValueError`.
    """
    return _query_pairs(query, strict=True)


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """The profile's canonical query: what `@query` covers (after its leading '?').

    Each name and value is UTF-8 encoded and percent-encoded per RFC 3986 (unreserved
    A-Z a-z 0-9 - . _ ~ literal, every other byte %XX with upper-case hex); pairs are sorted by
    encoded name, then encoded value (byte order), and joined as `name=value` with '&'.
    No pairs gives ''. API Gateway REST hands the authorizer only decoded parameters, so this
    is the one form both sides can rebuild.
    """
    encoded = sorted(
        (_percent_encode(name, _UNRESERVED), _percent_encode(value, _UNRESERVED)) for name, value in pairs
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def is_canonical_query(query: str) -> bool:
    """True when `query` is already in the form `canonical_query` produces."""
    try:
        return canonical_query(parse_query(query)) == query
    except ValueError:
        return False


# --- the general signature-base builder ----------------------------------------------------------


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
        _percent_encode(value, _FORM_SAFE, space_as_plus=True)
        for key, value in _query_pairs(message.query or "", strict=False)
        if _percent_encode(key, _FORM_SAFE, space_as_plus=True) == name
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


def _build_base(covered: Sequence[Item], signature_params: str, message: HttpMessage) -> bytes:
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
    return _build_base(list(member), str(member), message)


# --- the profile ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """The covered parts of a request under the profile.

    `authority` lower-case host[:port]; `path` as sent (with any stage or base-path prefix);
    `query` the canonical query without '?' ('' when none); header values as received.
    """

    method: str
    authority: str
    path: str
    query: str
    content_type: str
    content_digest: str


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    """One profile signature, parsed and checked for shape (not yet for time or MAC).

    `signature_params` is the member exactly as received (component and parameter order kept):
    it is the value of the `@signature-params` line.
    """

    label: str
    components: tuple[str, ...]
    signature_params: str
    created: int
    expires: int
    nonce: str
    key_id: str
    alg: str
    tag: str
    signature: bytes = field(repr=False)


def _profile_components(member: InnerList) -> tuple[str, ...]:
    names: list[str] = []
    for item in member:
        if type(item.value) is not str:
            raise SignatureRejected("bad_component")
        if item.params:
            raise SignatureRejected("component_parameters")
        if item.value in names:
            raise SignatureRejected("duplicate_component")
        if item.value not in PROFILE_COMPONENTS:
            raise SignatureRejected("unknown_component")
        names.append(item.value)
    if len(names) != len(PROFILE_COMPONENTS):
        raise SignatureRejected("missing_component")
    return tuple(names)


def _signature_value(member: object) -> bytes:
    if not isinstance(member, Item) or type(member.value) is not bytes or member.params:
        raise SignatureRejected("bad_signature")
    if len(member.value) != SIGNATURE_LENGTH:
        raise SignatureRejected("signature_length")
    return member.value


def parse_signature_headers(signature_input: str, signature: str, *, expected_tag: str) -> ParsedSignature:
    """Parse `Signature-Input` and `Signature` under the profile.

    Exactly one member in each, same label; components exactly `PROFILE_COMPONENTS` (any order,
    no parameters); parameters exactly `PROFILE_PARAMETERS` (any order); `alg` hmac-sha256,
    `tag` == `expected_tag`, a valid nonce and keyid; a 32-byte signature.
    Does not check the time window (`check_window`) or the MAC (`verify_signature`).
    """
    inputs = parse_strict_dictionary(
        signature_input, malformed="bad_signature_input", not_canonical="signature_input_not_canonical"
    )
    signatures = parse_strict_dictionary(
        signature, malformed="bad_signature", not_canonical="signature_not_canonical"
    )
    if len(inputs) != 1:
        raise SignatureRejected("signature_input_members")
    if len(signatures) != 1:
        raise SignatureRejected("signature_members")
    ((label, member),) = inputs.items()
    ((signature_label, signature_member),) = signatures.items()
    if label != signature_label:
        raise SignatureRejected("label_mismatch")
    if not isinstance(member, InnerList):
        raise SignatureRejected("bad_signature_input")
    signature_bytes = _signature_value(signature_member)
    components = _profile_components(member)

    params = member.params
    if not params.keys() <= set(PROFILE_PARAMETERS):
        raise SignatureRejected("unknown_param")
    if len(params) != len(PROFILE_PARAMETERS):
        raise SignatureRejected("missing_param")
    created, expires = params["created"], params["expires"]
    nonce, key_id, alg, tag = params["nonce"], params["keyid"], params["alg"], params["tag"]
    # `type(...) is` rather than isinstance: bool is an int, and http_sfv's Token is a str.
    if type(created) is not int or type(expires) is not int or created < 0 or expires < 0:
        raise SignatureRejected("param_type")
    if not all(type(value) is str for value in (nonce, key_id, alg, tag)):
        raise SignatureRejected("param_type")
    if alg != PROFILE_ALGORITHM:
        raise SignatureRejected("alg")
    if tag != expected_tag:
        raise SignatureRejected("tag")
    if _NONCE.fullmatch(nonce) is None:
        raise SignatureRejected("nonce")
    parse_key_id(key_id)
    return ParsedSignature(
        label=label,
        components=components,
        # The whole field equals its canonical serialisation `<label>=<member>` (checked above), so
        # the member's text as received is the @signature-params value; no need to re-serialise it.
        signature_params=signature_input.strip(" ")[len(label) + 1 :],
        created=created,
        expires=expires,
        nonce=nonce,
        key_id=key_id,
        alg=alg,
        tag=tag,
        signature=signature_bytes,
    )


def check_window(parsed: ParsedSignature, now: int) -> None:
    """Enforce now-300 <= created <= now+60, created < expires <= created+300, expires >= now.

    Raises `SignatureRejected("window_created")` or `SignatureRejected("window_expires")`.
    """
    if not now - MAX_CREATED_AGE <= parsed.created <= now + MAX_CLOCK_SKEW:
        raise SignatureRejected("window_created")
    if not parsed.created < parsed.expires <= parsed.created + MAX_LIFETIME or parsed.expires < now:
        raise SignatureRejected("window_expires")


def _message_of(request: SignedRequest) -> HttpMessage:
    # The digest and query rules live here so that signing and verifying enforce them alike.
    parse_content_digest(request.content_digest)
    if not is_canonical_query(request.query):
        raise SignatureRejected("query_not_canonical")
    return HttpMessage(
        method=request.method,
        authority=request.authority,
        path=request.path,
        query=request.query,
        fields=(("content-type", request.content_type), ("content-digest", request.content_digest)),
    )


def signature_base(parsed: ParsedSignature, request: SignedRequest) -> bytes:
    """The signature base of `parsed` over `request`, components in the order the client sent them."""
    covered = [Item(name) for name in parsed.components]
    return _build_base(covered, parsed.signature_params, _message_of(request))


def _hmac_sha256(secret: bytes, base: bytes) -> bytes:
    return hmac.new(secret, base, hashlib.sha256).digest()


def verify_signature(parsed: ParsedSignature, request: SignedRequest, secret: bytes) -> None:
    """Recompute the HMAC over the signature base and compare in constant time.

    Raises `SignatureRejected("mac_mismatch")` (or a rule reason for the request's values).
    """
    expected = _hmac_sha256(secret, signature_base(parsed, request))
    if not hmac.compare_digest(expected, parsed.signature):
        raise SignatureRejected("mac_mismatch")


def sign_request(
    request: SignedRequest,
    *,
    secret: bytes,
    key_id: str,
    tag: str,
    created: int,
    expires: int,
    nonce: str,
    label: str = "sig",
) -> tuple[str, str]:
    """Sign `request` under the profile; returns the (`Signature-Input`, `Signature`) header values.

    Raises `ValueError` when an argument or the request breaks a profile rule, so a client learns
    locally what the gateway would otherwise answer with a bare 401.
    """
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"secret must be at least {MIN_SECRET_LENGTH} bytes")
    member = InnerList(list(PROFILE_COMPONENTS))
    member.params.update(
        {
            "created": created,
            "expires": expires,
            "nonce": nonce,
            "keyid": key_id,
            "alg": PROFILE_ALGORITHM,
            "tag": tag,
        }
    )
    inputs = Dictionary()
    inputs[label] = member
    signatures = Dictionary()
    try:
        signature_input = str(inputs)
        signatures[label] = _hmac_sha256(secret, _build_base(list(member), str(member), _message_of(request)))
        signature = str(signatures)
        # Round-trip through the verifier's own parser so the client cannot emit what the gateway refuses.
        check_window(parse_signature_headers(signature_input, signature, expected_tag=tag), now=created)
    except SignatureRejected as error:
        raise ValueError(f"request or arguments break the signing profile: {error.reason}") from None
    return signature_input, signature
