"""One call to the gateway, without I/O: what is sealed, what is sent, how the answer is judged.

Shared by `SecureAIClient` and `AsyncSecureAIClient`, which add only the sending (and, for the
async client, running the Encryption SDK in a worker thread).

Per call: a fresh nonce, which is the request signature's `nonce` AND the envelope's `req_id`
(the gateway re-supplies the authorizer's nonce as `req_id` when it decrypts, so an envelope only
opens inside the one signed request it was sealed for), and a fresh 32-byte `resp_key` sealed
inside the request, to which the gateway encrypts its answer under the context
`{dir: response, req_id}`. The answer is opened with that key and that req_id, so an answer to
another request is refused. See docs/sdk.md.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

import boto3
import httpx
from botocore.exceptions import BotoCoreError
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)
from pydantic import ValidationError

from secure_ai_client.errors import (
    EncryptionFailed,
    PublicKeyMismatch,
    ResponseRejected,
    error_for_response,
)
from secure_ai_client.httpx_auth import new_nonce
from secure_ai_client.results import ChatResult, PublicKeyInfo, VerdictResult
from secure_ai_protocol.aws_config import CLIENT_CONFIG
from secure_ai_protocol.envelope.requests import seal_request_mobile, seal_request_server
from secure_ai_protocol.envelope.responses import open_response
from secure_ai_protocol.envelope.rules import MOBILE_ENCRYPTION_ALGORITHM, new_resp_key
from secure_ai_protocol.errors import ProtocolError
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE, JSON_CONTENT_TYPE
from secure_ai_protocol.stream import STREAM_CONTENT_TYPE

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient


# The gateway compares the envelope's key name with its configured key ARN byte for byte: an alias
# or a bare key id would never decrypt, so it is refused here, before anything is sent.
_KMS_KEY_ARN: Final = re.compile(r"arn:aws[a-z-]*:kms:([a-z0-9-]+):[0-9]{12}:key/[A-Za-z0-9-]+")
# An error status's body is the gateway's small JSON document: a streamed call reads at most this
# much of it, and keeps only the headers `error_for_response` reads.
MAX_ERROR_BODY_BYTES: Final = 64 * 1024
_ERROR_HEADERS: Final = ("content-type", "retry-after", "x-amzn-requestid")


@dataclass(frozen=True, slots=True)
class Call:
    """One request ready to sign and send.

    `req_id` is the signature nonce and, for a sealed call, the envelope's req_id; `resp_key` is
    None for a plain JSON call.
    """

    route: str
    req_id: str
    content_type: str
    accept: str
    body: bytes = field(repr=False)
    resp_key: bytes | None = field(default=None, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        """Content-Type and Accept; the signature headers are added when it is sent."""
        return {"Content-Type": self.content_type, "Accept": self.accept}


class Sealer(Protocol):
    """Seals a request plaintext for one route and request id."""

    def seal(self, plaintext: bytes, *, req_id: str, route: str) -> bytes: ...


def kms_key_region(key_arn: str) -> str:
    """The region of a full KMS key ARN; ValueError for anything else (aliases, key ids)."""
    match = _KMS_KEY_ARN.fullmatch(key_arn)
    if match is None:
        raise ValueError("a KMS key ARN is needed: arn:aws:kms:<region>:<account>:key/<id>")
    return match[1]


class ServerSealer:
    """Server mode: the symmetric request key through KMS (the caller's AWS credentials)."""

    def __init__(self, *, kms_key_arn: str, client_id: str, kms_client: KMSClient | None) -> None:
        self._kms_key_arn = kms_key_arn
        self._region = kms_key_region(kms_key_arn)
        self._client_id = client_id
        self._kms_client = kms_client
        self._lock = threading.Lock()

    def seal(self, plaintext: bytes, *, req_id: str, route: str) -> bytes:
        """Seal with KMS GenerateDataKey; raise EncryptionFailed if KMS fails (nothing is sent)."""
        try:
            return seal_request_server(
                plaintext,
                kms_key_arn=self._kms_key_arn,
                client_id=self._client_id,
                req_id=req_id,
                route=route,
                kms_client=self._kms(),
            )
        except ProtocolError as exc:
            raise EncryptionFailed(exc.reason) from exc

    def _kms(self) -> KMSClient:
        # Created on first use, once: boto3's session is not safe to create clients from concurrently,
        # and the async client seals in worker threads.
        with self._lock:
            if self._kms_client is None:
                try:
                    self._kms_client = boto3.session.Session().client(
                        "kms", region_name=self._region, config=CLIENT_CONFIG
                    )
                except BotoCoreError as exc:
                    raise EncryptionFailed("kms_client_unavailable") from exc
            return self._kms_client


class MobileSealer:
    """Mobile/web mode: the pinned RSA public key only; no AWS credentials, no network."""

    def __init__(self, *, public_key_pem: str, key_arn: str, client_id: str) -> None:
        self._public_key_pem = public_key_pem
        self._key_arn = key_arn
        self._client_id = client_id

    def seal(self, plaintext: bytes, *, req_id: str, route: str) -> bytes:
        """Seal to the RSA public key; raise EncryptionFailed for an unusable key."""
        try:
            return seal_request_mobile(
                plaintext,
                rsa_public_key_pem=self._public_key_pem,
                rsa_key_arn=self._key_arn,
                client_id=self._client_id,
                req_id=req_id,
                route=route,
            )
        except ProtocolError as exc:
            raise EncryptionFailed(exc.reason) from exc


# ------------------------------------------------------------------------------- building calls


def chat_request(
    model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
) -> dict[str, Any]:
    """The OpenAI-format request; the gateway validates it strictly (unknown fields are a 400)."""
    return {"model": model, "messages": [dict(message) for message in messages], **params}


def validation_request(
    text: str, *, policy_id: str | None, schema: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The validator's request: the text, and the policy and JSON schema when given."""
    document: dict[str, Any] = {"text": text}
    if policy_id is not None:
        document["policy_id"] = policy_id
    if schema is not None:
        document["schema"] = dict(schema)
    return document


def sealed_call(
    route: str, request: Mapping[str, Any], sealer: Sealer, *, accept: str = ENVELOPE_CONTENT_TYPE
) -> Call:
    """Draw a nonce and a response key, and seal `{"resp_key", "request"}` for `route`."""
    req_id, resp_key = new_nonce(), new_resp_key()
    plaintext = _json_bytes({"resp_key": base64.b64encode(resp_key).decode("ascii"), "request": request})
    return Call(
        route=route,
        req_id=req_id,
        content_type=ENVELOPE_CONTENT_TYPE,
        # API Gateway returns a binary body only when the first Accept type is a binary media type;
        # a streamed answer asks for text/event-stream.
        accept=accept,
        body=sealer.seal(plaintext, req_id=req_id, route=route),
        resp_key=resp_key,
    )


def json_call(route: str, document: Mapping[str, Any]) -> Call:
    """A signed call with a plain JSON body (no envelope)."""
    return Call(
        route=route,
        req_id=new_nonce(),
        content_type=JSON_CONTENT_TYPE,
        accept=JSON_CONTENT_TYPE,
        body=_json_bytes(document),
    )


def _json_bytes(document: Mapping[str, Any]) -> bytes:
    # ValueError/TypeError for NaN or unserialisable values: raised before a nonce is spent.
    return json.dumps(document, separators=(",", ":"), allow_nan=False).encode("utf-8")


# ------------------------------------------------------------------------------- judging answers


def opened_payload(response: httpx.Response, call: Call) -> dict[str, Any]:
    """The decrypted JSON answer to `call`; the typed error for an error status."""
    if not response.is_success:
        raise error_for_response(response)
    if call.resp_key is None:
        raise ValueError("opened_payload needs a sealed call")
    if _media_type(response) != ENVELOPE_CONTENT_TYPE:
        raise ResponseRejected("not_an_envelope")
    try:
        plaintext = open_response(response.content, resp_key=call.resp_key, req_id=call.req_id)
    except ProtocolError as exc:
        # context_mismatch: the answer was sealed for another request; decrypt_failed: another key.
        raise ResponseRejected(exc.reason) from exc
    return _json_object(plaintext)


def stream_request(
    model: str, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
) -> dict[str, Any]:
    """The OpenAI-format request of a streamed answer: `"stream": true`, for routes.STREAM_ROUTE."""
    return chat_request(model, messages, {**params, "stream": True})


def check_stream_response(response: httpx.Response) -> None:
    """Refuse anything but `200 text/event-stream`; the typed error for an error status.

    The body of an error status must have been read (`error_body_response`).
    """
    if not response.is_success:
        raise error_for_response(response)
    if response.status_code != 200:
        raise ResponseRejected("unexpected_status")
    if _media_type(response) != STREAM_CONTENT_TYPE:
        raise ResponseRejected("not_an_event_stream")


def error_body_response(response: httpx.Response, body: bytes) -> httpx.Response:
    """An error answer rebuilt from the first bytes of its body (read bounded, MAX_ERROR_BODY_BYTES)."""
    kept = {name: response.headers[name] for name in _ERROR_HEADERS if name in response.headers}
    return httpx.Response(response.status_code, headers=kept, content=body[:MAX_ERROR_BODY_BYTES])


def json_payload(response: httpx.Response) -> dict[str, Any]:
    """The JSON answer to a plain call; the typed error for an error status."""
    if not response.is_success:
        raise error_for_response(response)
    if _media_type(response) != JSON_CONTENT_TYPE:
        raise ResponseRejected("not_json")
    return _json_object(response.content)


def chat_result(payload: Mapping[str, Any], call: Call) -> ChatResult:
    """The typed completion: the first choice's text and finish reason, the verdict and usage."""
    _check_req_id(payload, call)
    try:
        completion = payload["completion"]
        choice = completion["choices"][0]
        return ChatResult.model_validate(
            {
                "req_id": call.req_id,
                "text": choice["message"]["content"],
                "finish_reason": choice.get("finish_reason"),
                "completion": completion,
                "verdict": payload["verdict"],
                "usage": payload["usage"],
            }
        )
    except (KeyError, IndexError, TypeError, AttributeError, ValidationError):
        raise ResponseRejected("malformed_payload") from None


def verdict_result(payload: Mapping[str, Any]) -> VerdictResult:
    """The typed verdict (the validator answers with the verdict document itself)."""
    try:
        return VerdictResult.model_validate(payload)
    except ValidationError:
        raise ResponseRejected("malformed_payload") from None


def public_key_info(response: httpx.Response) -> PublicKeyInfo:
    """The served RSA public key; refused unless well-formed and for the padding the gateway decrypts with."""
    if not response.is_success:
        raise error_for_response(response)
    try:
        info = PublicKeyInfo.model_validate(_json_object(response.content))
    except ValidationError:
        raise ResponseRejected("malformed_public_key") from None
    if info.encryption_algorithm != MOBILE_ENCRYPTION_ALGORITHM:
        raise ResponseRejected("unsupported_encryption_algorithm")
    try:
        kms_key_region(info.key_arn)
        check_public_key_pem(info.public_key_pem)
    except ValueError:
        raise ResponseRejected("malformed_public_key") from None
    return info


def check_pins(info: PublicKeyInfo, *, pinned_pem: str | None, pinned_key_arn: str | None) -> None:
    """Refuse a served key that differs from what the client pinned (the key, or its ARN)."""
    if pinned_pem is not None and not same_public_key(info.public_key_pem, pinned_pem):
        raise PublicKeyMismatch("public_key")
    if pinned_key_arn is not None and info.key_arn != pinned_key_arn:
        raise PublicKeyMismatch("key_arn")


def same_public_key(first_pem: str, second_pem: str) -> bool:
    """True when two PEM texts hold the same public key (line breaks and headers may differ)."""
    try:
        return _public_key_der(first_pem) == _public_key_der(second_pem)
    except ValueError:
        return False


def check_public_key_pem(pem: str) -> None:
    """ValueError unless `pem` is a PEM public key."""
    _public_key_der(pem)


def _public_key_der(pem: str) -> bytes:
    try:
        key = load_pem_public_key(pem.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise ValueError("not a PEM public key") from exc
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _check_req_id(payload: Mapping[str, Any], call: Call) -> None:
    # The envelope's context already binds the answer to req_id; the payload must agree with it.
    if payload.get("req_id") != call.req_id:
        raise ResponseRejected("req_id_mismatch")


def _media_type(response: httpx.Response) -> str:
    content_type: str = response.headers.get("content-type", "")
    return content_type.split(";", 1)[0].strip().lower()


def _json_object(content: bytes) -> dict[str, Any]:
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise ResponseRejected("malformed_payload") from None
    if not isinstance(document, dict):
        raise ResponseRejected("malformed_payload")
    return document
