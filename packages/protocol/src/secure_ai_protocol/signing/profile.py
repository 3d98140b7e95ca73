"""The gateway's RFC 9421 profile: sign a request, parse and verify its signature headers.

The profile (written down for client authors in docs/protocol.md) narrows RFC 9421 to
one shape: the six covered components below, the six parameters below, `hmac-sha256`, one label.
Bases come from the general builder (`signing.signature_base`), the query rule from
`signing.canonical_query`. Every rule failure raises `SignatureRejected` with a short fixed
reason; no reason or message ever carries the secret, the signature or the signature base.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

from http_sfv.dictionary import Dictionary
from http_sfv.item import InnerList, Item

from secure_ai_protocol.errors import SignatureRejected
from secure_ai_protocol.key_ids import parse_key_id
from secure_ai_protocol.signing.canonical_query import is_canonical_query
from secure_ai_protocol.signing.content_digest import parse_content_digest, parse_strict_dictionary
from secure_ai_protocol.signing.signature_base import HttpMessage, build_signature_base

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
MIN_SECRET_LENGTH = 32  # 32 random bytes per key version (docs/clients.md).

# nonce: 22..128 characters of the base64 or base64url alphabet, optionally '='-padded.
# 22 base64 characters carry 132 bits, the shortest text that can hold the 128 random bits the
# profile requires; the syntax cannot prove randomness, so clients MUST draw >= 16 bytes from a CSPRNG.
_NONCE = re.compile(r"[A-Za-z0-9+/_-]{22,128}={0,2}")


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
    return build_signature_base(covered, parsed.signature_params, _message_of(request))


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
        signatures[label] = _hmac_sha256(
            secret, build_signature_base(list(member), str(member), _message_of(request))
        )
        signature = str(signatures)
        # Round-trip through the verifier's own parser so the client cannot emit what the gateway refuses.
        check_window(parse_signature_headers(signature_input, signature, expected_tag=tag), now=created)
    except SignatureRejected as error:
        raise ValueError(f"request or arguments break the signing profile: {error.reason}") from None
    return signature_input, signature
