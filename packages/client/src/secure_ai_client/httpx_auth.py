"""Sign httpx requests under the gateway's RFC 9421 profile.

    client = httpx.Client(auth=SignatureAuth(key_id="my-client.1", secret=secret))

Works the same with `httpx.AsyncClient`. Every request must carry a `Content-Type` header (it is
a covered component, and guessing one would sign something the caller did not mean to send); a
request without one raises `ValueError` before anything is sent. The query is rewritten into the
profile's canonical form before signing, so what is sent is exactly what is signed.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Generator

import httpx

from secure_ai_protocol.errors import SignatureRejected
from secure_ai_protocol.key_ids import parse_key_id
from secure_ai_protocol.signing.canonical_query import canonical_query, parse_query
from secure_ai_protocol.signing.content_digest import compute_content_digest
from secure_ai_protocol.signing.profile import (
    MAX_LIFETIME,
    MIN_SECRET_LENGTH,
    PROFILE_TAG,
    SignedRequest,
    sign_request,
)

DEFAULT_LIFETIME = 120  # seconds; long enough for a slow network, short for a replay window.
NONCE_BYTES = 16  # 128 bits, the profile's floor.


def new_nonce() -> str:
    """A fresh nonce: 16 bytes from the OS CSPRNG, base64url without padding (22 characters)."""
    return secrets.token_urlsafe(NONCE_BYTES)


class SignatureAuth(httpx.Auth):
    """httpx authentication that adds Content-Digest, Signature-Input and Signature headers."""

    # httpx reads (and buffers) the body before calling auth_flow, sync and async alike.
    requires_request_body = True

    def __init__(
        self,
        *,
        key_id: str,
        secret: bytes,
        tag: str = PROFILE_TAG,
        clock: Callable[[], float] = time.time,
        nonce_factory: Callable[[], str] = new_nonce,
        lifetime: int = DEFAULT_LIFETIME,
        label: str = "sig",
    ) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"secret must be at least {MIN_SECRET_LENGTH} bytes")
        try:
            parse_key_id(key_id)
        except SignatureRejected:
            raise ValueError("key_id must be <client_id>.<version>, e.g. 'my-client.1'") from None
        if not 0 < lifetime <= MAX_LIFETIME:
            raise ValueError(f"lifetime must be between 1 and {MAX_LIFETIME} seconds")
        self._key_id = key_id
        self._secret = secret
        self._tag = tag
        self._clock = clock
        self._nonce_factory = nonce_factory
        self._lifetime = lifetime
        self._label = label

    def __repr__(self) -> str:
        # Never show the secret, whatever logs the client object.
        return f"SignatureAuth(key_id={self._key_id!r}, tag={self._tag!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        """Sign `request` in place and send it once (no challenge-response)."""
        self.sign(request)
        yield request

    def sign(self, request: httpx.Request) -> None:
        """Add the profile's headers to `request`, canonicalising its query first."""
        content_types = request.headers.get_list("content-type")
        if len(content_types) != 1:
            raise ValueError("a signed request needs exactly one Content-Type header")
        raw_query = request.url.query.decode("ascii")
        query = canonical_query(parse_query(raw_query))
        if query != raw_query:
            request.url = request.url.copy_with(query=query.encode("ascii") or None)
        content_digest = compute_content_digest(request.content)
        signed = SignedRequest(
            method=request.method,
            authority=request.headers["host"].lower(),
            path=request.url.raw_path.partition(b"?")[0].decode("ascii"),
            query=query,
            content_type=content_types[0],
            content_digest=content_digest,
        )
        created = int(self._clock())
        signature_input, signature = sign_request(
            signed,
            secret=self._secret,
            key_id=self._key_id,
            tag=self._tag,
            created=created,
            expires=created + self._lifetime,
            nonce=self._nonce_factory(),
            label=self._label,
        )
        request.headers["Content-Digest"] = content_digest
        request.headers["Signature-Input"] = signature_input
        request.headers["Signature"] = signature
