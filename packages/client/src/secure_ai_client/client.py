"""The gateway's Python clients: sign, encrypt, send, decrypt, verify, and return typed results.

    with SecureAIClient(url, key_id="acme.1", secret=secret, mode="server", kms_key_arn=arn) as client:
        result = client.chat_completions(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])

`chat_completions(..., stream=True)` returns a `ChatStream` (secure_ai_client.streams) of text
deltas instead, then the verdict, as the openai SDK's `create(..., stream=True)` does.

`AsyncSecureAIClient` is the same over `httpx.AsyncClient`; the Encryption SDK is synchronous, so
it seals and opens envelopes in a worker thread and the event loop is never blocked.

No request is ever retried automatically: a retry would re-send a spent nonce, which the gateway
refuses as a replay. Calling a method again signs a new request. See docs/sdk.md.
"""

from __future__ import annotations

import copy
import functools
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, overload

import anyio
import anyio.to_thread
import httpx

from secure_ai_client.devices import credentials_from, enroll_device, read_device_file, write_device_file
from secure_ai_client.errors import NetworkError, ResponseRejected
from secure_ai_client.exchange import (
    MAX_ERROR_BODY_BYTES,
    Call,
    MobileSealer,
    Sealer,
    ServerSealer,
    chat_request,
    chat_result,
    check_pins,
    check_public_key_pem,
    check_stream_response,
    error_body_response,
    json_call,
    json_payload,
    kms_key_region,
    opened_payload,
    public_key_info,
    sealed_call,
    stream_request,
    validation_request,
    verdict_result,
)
from secure_ai_client.httpx_auth import SignatureAuth
from secure_ai_client.local_state import DEFAULT_LOCAL_STATE, read_local_state
from secure_ai_client.results import ChatResult, PublicKeyInfo, VerdictResult
from secure_ai_client.streams import AsyncChatStream, ChatStream, StreamLimits
from secure_ai_protocol.envelope.rules import EnvelopeMode
from secure_ai_protocol.errors import SignatureRejected
from secure_ai_protocol.key_ids import parse_key_id
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE, JSON_CONTENT_TYPE
from secure_ai_protocol.routes import (
    CHAT_ROUTE,
    DEVICE_RENEWAL_ROUTE,
    PUBLIC_KEY_ROUTE,
    STREAM_ROUTE,
    VALIDATE_ROUTE,
)
from secure_ai_protocol.signing.profile import PROFILE_TAG
from secure_ai_protocol.stream import STREAM_CONTENT_TYPE
from secure_ai_protocol.wire.devices import DeviceCredentials

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

DEFAULT_TIMEOUT_SECONDS = 30.0  # API Gateway ends an integration after 29 s.
# A streamed answer asks for an uncompressed body, so that StreamLimits.max_bytes bounds memory.
_STREAM_HEADERS = {"Accept-Encoding": "identity"}


class _Settings:
    """Validated client settings shared by both clients; its repr names no secret."""

    def __init__(
        self,
        base_url: str,
        *,
        key_id: str,
        secret: bytes,
        mode: EnvelopeMode,
        kms_key_arn: str | None,
        kms_client: KMSClient | None,
        rsa_public_key_pem: str | None,
        rsa_key_arn: str | None,
        tag: str,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("base_url must be an http(s) URL including the stage, e.g. https://host/prod")
        if mode not in ("server", "mobile"):
            raise ValueError("mode must be 'server' or 'mobile'")
        try:
            self.client_id = parse_key_id(key_id).client_id
        except SignatureRejected:
            raise ValueError("key_id must be <client_id>.<version>, e.g. 'my-client.1'") from None
        # Checked once here (length, key id), then built per request around that request's nonce.
        SignatureAuth(key_id=key_id, secret=secret, tag=tag)
        if rsa_key_arn is not None:
            kms_key_region(rsa_key_arn)
        if rsa_public_key_pem is not None:
            check_public_key_pem(rsa_public_key_pem)
        self.server_sealer: ServerSealer | None = None
        if mode == "server":
            if kms_key_arn is None:
                raise ValueError("server mode needs kms_key_arn (the gateway's symmetric request key)")
            self.server_sealer = ServerSealer(
                kms_key_arn=kms_key_arn, client_id=self.client_id, kms_client=kms_client
            )
        self.base_url = str(url).rstrip("/")
        self.key_id = key_id
        self.mode: EnvelopeMode = mode
        self.tag = tag
        self.rsa_public_key_pem = rsa_public_key_pem
        self.rsa_key_arn = rsa_key_arn
        self._secret = secret

    def __repr__(self) -> str:
        return f"_Settings(base_url={self.base_url!r}, key_id={self.key_id!r}, mode={self.mode!r})"

    def with_key(self, key_id: str, secret: bytes) -> _Settings:
        """These settings with the next key of the same signer (a renewed device key)."""
        if parse_key_id(key_id).client_id != self.client_id:
            raise ValueError("a renewed key must belong to the same device")
        SignatureAuth(key_id=key_id, secret=secret, tag=self.tag)
        renewed = copy.copy(self)
        renewed.key_id = key_id
        renewed._secret = secret
        return renewed

    def auth(self, req_id: str) -> SignatureAuth:
        """The signer of one request: its nonce is that request's req_id."""
        return SignatureAuth(
            key_id=self.key_id, secret=self._secret, tag=self.tag, nonce_factory=lambda: req_id
        )

    def pinned_mobile_sealer(self) -> MobileSealer | None:
        """The mobile sealer when both the key and its ARN are pinned (no fetch needed)."""
        if self.rsa_public_key_pem is None or self.rsa_key_arn is None:
            return None
        return MobileSealer(
            public_key_pem=self.rsa_public_key_pem, key_arn=self.rsa_key_arn, client_id=self.client_id
        )

    def fetched_mobile_sealer(self, info: PublicKeyInfo) -> MobileSealer:
        """The mobile sealer for the key the gateway served, once it matches what is pinned."""
        check_pins(info, pinned_pem=self.rsa_public_key_pem, pinned_key_arn=self.rsa_key_arn)
        return MobileSealer(
            public_key_pem=info.public_key_pem, key_arn=info.key_arn, client_id=self.client_id
        )


class _ClientSurface:
    """What both clients show of themselves; the secret never appears in a repr."""

    _settings: _Settings

    @classmethod
    def from_local_state(
        cls, path: Path | str = DEFAULT_LOCAL_STATE, mode: EnvelopeMode = "server", **options: Any
    ) -> Self:
        """A client of the local stack described by `path` (its demo client; KMS on its moto)."""
        return cls(**read_local_state(path).client_arguments(mode), **options)

    @property
    def base_url(self) -> str:
        """The gateway's base URL, stage included."""
        return self._settings.base_url

    @property
    def key_id(self) -> str:
        """The signing key id, `<client_id>.<version>`."""
        return self._settings.key_id

    @property
    def mode(self) -> EnvelopeMode:
        """`server` (KMS) or `mobile` (pinned RSA public key)."""
        return self._settings.mode

    def __repr__(self) -> str:
        settings = self._settings
        return (
            f"{type(self).__name__}(base_url={settings.base_url!r}, key_id={settings.key_id!r}, "
            f"mode={settings.mode!r})"
        )


class SecureAIClient(_ClientSurface):
    """Synchronous client. Thread-safe; use it as a context manager or call `close()`."""

    def __init__(
        self,
        base_url: str,
        *,
        key_id: str,
        secret: bytes,
        mode: EnvelopeMode = "server",
        kms_key_arn: str | None = None,
        kms_client: KMSClient | None = None,
        rsa_public_key_pem: str | None = None,
        rsa_key_arn: str | None = None,
        tag: str = PROFILE_TAG,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
        stream_limits: StreamLimits | None = None,
    ) -> None:
        self._settings = _Settings(
            base_url,
            key_id=key_id,
            secret=secret,
            mode=mode,
            kms_key_arn=kms_key_arn,
            kms_client=kms_client,
            rsa_public_key_pem=rsa_public_key_pem,
            rsa_key_arn=rsa_key_arn,
            tag=tag,
        )
        # httpx never retries by default and redirects are not followed: a signed request is sent once.
        self._http = httpx.Client(
            base_url=self._settings.base_url, timeout=timeout, transport=transport, follow_redirects=False
        )
        self._stream_limits = stream_limits or StreamLimits()
        self._mobile_sealer = self._settings.pinned_mobile_sealer()
        self._lock = threading.Lock()
        self._device: DeviceCredentials | None = None
        self._device_file: Path | None = None

    @classmethod
    def enroll(
        cls,
        base_url: str,
        *,
        app_id: str,
        id_token: str,
        device_file: Path | None = None,
        mode: EnvelopeMode = "mobile",
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
        **options: Any,
    ) -> Self:
        """Enroll this device with the signed-in user's OIDC token; a client signing with its new key.

        With `device_file`, the credentials are also written there (mode 0600, never over an existing
        file) and every renewal rewrites it. Raises Unauthorized, DeviceLimitReached (`limit`),
        NetworkError; FileExistsError before anything is sent if `device_file` exists.
        """
        if device_file is not None and (device_file.exists() or device_file.is_symlink()):
            raise FileExistsError(f"{device_file} already exists; refusing to overwrite it")
        url = str(httpx.URL(base_url)).rstrip("/")
        with httpx.Client(base_url=url, timeout=timeout, transport=transport, follow_redirects=False) as http:
            credentials = enroll_device(http, app_id=app_id, id_token=id_token)
        if device_file is not None:
            write_device_file(device_file, credentials)
        return cls.from_device(
            base_url,
            credentials,
            device_file=device_file,
            mode=mode,
            timeout=timeout,
            transport=transport,
            **options,
        )

    @classmethod
    def from_device(
        cls,
        base_url: str,
        credentials: DeviceCredentials,
        *,
        device_file: Path | None = None,
        mode: EnvelopeMode = "mobile",
        **options: Any,
    ) -> Self:
        """A client signing with an enrolled device's key (renewed automatically once due)."""
        client = cls(
            base_url,
            key_id=credentials.key_id,
            secret=credentials.secret_bytes,
            tag=credentials.signature_tag,
            mode=mode,
            **options,
        )
        client._device = credentials
        client._device_file = device_file
        return client

    @classmethod
    def from_device_file(cls, base_url: str, path: Path, **options: Any) -> Self:
        """A client from a device file written by `enroll` (or `secure-ai enroll`)."""
        return cls.from_device(base_url, read_device_file(path), device_file=path, **options)

    @property
    def device_credentials(self) -> DeviceCredentials | None:
        """The enrolled device's current credentials, or None for an operator-issued key."""
        return self._device

    def renew_device(self) -> DeviceCredentials:
        """The device's next key (POST /v1/devices/renew, signed by the current one), now in use.

        Raises Unauthorized when the current key has expired or the device was revoked: enroll again.
        """
        current = self._device
        if current is None:
            raise ValueError("renew_device needs a client made by enroll or from_device")
        response = self._send(json_call(DEVICE_RENEWAL_ROUTE, {}))
        renewed = credentials_from(response, expected_status=200)
        if (renewed.device_id, renewed.app_id) != (current.device_id, current.app_id):
            raise ResponseRejected("renewal_for_another_device")
        with self._lock:
            self._settings = self._settings.with_key(renewed.key_id, renewed.secret_bytes)
            self._device = renewed
        if self._device_file is not None:
            write_device_file(self._device_file, renewed, replace=True)
        return renewed

    def _renew_if_due(self) -> None:
        if self._device is not None and time.time() >= self._device.renew_after:
            self.renew_device()

    @overload
    def chat_completions(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: Literal[False] = False,
        **openai_params: Any,
    ) -> ChatResult: ...
    @overload
    def chat_completions(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: Literal[True],
        **openai_params: Any,
    ) -> ChatStream: ...
    @overload
    def chat_completions(
        self, *, model: str, messages: Sequence[Mapping[str, Any]], stream: bool, **openai_params: Any
    ) -> ChatResult | ChatStream: ...
    def chat_completions(
        self, *, model: str, messages: Sequence[Mapping[str, Any]], stream: bool = False, **openai_params: Any
    ) -> ChatResult | ChatStream:
        """One encrypted, screened chat completion (OpenAI parameters such as max_tokens pass through).

        With `stream=True` the answer comes as it is released (routes.STREAM_ROUTE): a `ChatStream`
        of text deltas, returned once the gateway has answered 200; error statuses raise here, as
        for a buffered call. See secure_ai_client.streams.
        """
        self._renew_if_due()
        if stream:
            call = sealed_call(
                STREAM_ROUTE,
                stream_request(model, messages, openai_params),
                self._sealer(),
                accept=STREAM_CONTENT_TYPE,
            )
            return self._open_stream(call)
        call = sealed_call(CHAT_ROUTE, chat_request(model, messages, openai_params), self._sealer())
        return chat_result(opened_payload(self._send(call), call), call)

    def validate(
        self,
        text: str,
        *,
        policy_id: str | None = None,
        schema: Mapping[str, Any] | None = None,
        encrypted: bool = False,
    ) -> VerdictResult:
        """Screen `text` with the validator (POST /v1/validate); sealed both ways when `encrypted`."""
        self._renew_if_due()
        document = validation_request(text, policy_id=policy_id, schema=schema)
        if encrypted:
            call = sealed_call(VALIDATE_ROUTE, document, self._sealer())
            return verdict_result(opened_payload(self._send(call), call))
        call = json_call(VALIDATE_ROUTE, document)
        return verdict_result(json_payload(self._send(call)))

    def public_key(self) -> PublicKeyInfo:
        """The RSA public key the gateway serves (GET /v1/keys/public, unsigned), as served."""
        try:
            response = self._http.get(PUBLIC_KEY_ROUTE, headers={"Accept": JSON_CONTENT_TYPE})
        except httpx.TransportError as exc:
            raise NetworkError(type(exc).__name__) from exc
        return public_key_info(response)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _sealer(self) -> Sealer:
        if self._settings.server_sealer is not None:
            return self._settings.server_sealer
        with self._lock:
            if self._mobile_sealer is None:
                self._mobile_sealer = self._settings.fetched_mobile_sealer(self.public_key())
            return self._mobile_sealer

    def _send(self, call: Call) -> httpx.Response:
        request = self._http.build_request("POST", call.route, content=call.body, headers=call.headers)
        try:
            return self._http.send(request, auth=self._settings.auth(call.req_id))
        except httpx.TransportError as exc:
            raise NetworkError(type(exc).__name__) from exc

    def _open_stream(self, call: Call) -> ChatStream:
        if call.resp_key is None:
            raise ValueError("a streamed call must be sealed")
        headers = call.headers | _STREAM_HEADERS
        request = self._http.build_request("POST", call.route, content=call.body, headers=headers)
        try:
            response = self._http.send(request, auth=self._settings.auth(call.req_id), stream=True)
        except httpx.TransportError as exc:
            raise NetworkError(type(exc).__name__) from exc
        try:
            checked = response
            if not response.is_success:
                checked = error_body_response(response, _head(response.iter_bytes(), MAX_ERROR_BODY_BYTES))
            check_stream_response(checked)
        except httpx.TransportError as exc:
            response.close()
            raise NetworkError(type(exc).__name__) from exc
        except BaseException:
            response.close()
            raise
        return ChatStream(response, resp_key=call.resp_key, req_id=call.req_id, limits=self._stream_limits)


class AsyncSecureAIClient(_ClientSurface):
    """Asynchronous client (asyncio or trio); use it with `async with` or await `aclose()`."""

    def __init__(
        self,
        base_url: str,
        *,
        key_id: str,
        secret: bytes,
        mode: EnvelopeMode = "server",
        kms_key_arn: str | None = None,
        kms_client: KMSClient | None = None,
        rsa_public_key_pem: str | None = None,
        rsa_key_arn: str | None = None,
        tag: str = PROFILE_TAG,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        transport: httpx.AsyncBaseTransport | None = None,
        stream_limits: StreamLimits | None = None,
    ) -> None:
        self._settings = _Settings(
            base_url,
            key_id=key_id,
            secret=secret,
            mode=mode,
            kms_key_arn=kms_key_arn,
            kms_client=kms_client,
            rsa_public_key_pem=rsa_public_key_pem,
            rsa_key_arn=rsa_key_arn,
            tag=tag,
        )
        self._http = httpx.AsyncClient(
            base_url=self._settings.base_url, timeout=timeout, transport=transport, follow_redirects=False
        )
        self._stream_limits = stream_limits or StreamLimits()
        self._mobile_sealer = self._settings.pinned_mobile_sealer()
        self._lock = anyio.Lock()

    @overload
    async def chat_completions(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: Literal[False] = False,
        **openai_params: Any,
    ) -> ChatResult: ...
    @overload
    async def chat_completions(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        stream: Literal[True],
        **openai_params: Any,
    ) -> AsyncChatStream: ...
    @overload
    async def chat_completions(
        self, *, model: str, messages: Sequence[Mapping[str, Any]], stream: bool, **openai_params: Any
    ) -> ChatResult | AsyncChatStream: ...
    async def chat_completions(
        self, *, model: str, messages: Sequence[Mapping[str, Any]], stream: bool = False, **openai_params: Any
    ) -> ChatResult | AsyncChatStream:
        """One encrypted, screened chat completion (OpenAI parameters such as max_tokens pass through).

        With `stream=True`: an `AsyncChatStream` (`async for delta in stream`), as for the sync client.
        """
        if stream:
            request = stream_request(model, messages, openai_params)
            return await self._open_stream(
                await self._sealed_call(STREAM_ROUTE, request, accept=STREAM_CONTENT_TYPE)
            )
        call = await self._sealed_call(CHAT_ROUTE, chat_request(model, messages, openai_params))
        response = await self._send(call)
        payload = await anyio.to_thread.run_sync(opened_payload, response, call)
        return chat_result(payload, call)

    async def validate(
        self,
        text: str,
        *,
        policy_id: str | None = None,
        schema: Mapping[str, Any] | None = None,
        encrypted: bool = False,
    ) -> VerdictResult:
        """Screen `text` with the validator (POST /v1/validate); sealed both ways when `encrypted`."""
        document = validation_request(text, policy_id=policy_id, schema=schema)
        if encrypted:
            call = await self._sealed_call(VALIDATE_ROUTE, document)
            response = await self._send(call)
            return verdict_result(await anyio.to_thread.run_sync(opened_payload, response, call))
        call = json_call(VALIDATE_ROUTE, document)
        return verdict_result(json_payload(await self._send(call)))

    async def public_key(self) -> PublicKeyInfo:
        """The RSA public key the gateway serves (GET /v1/keys/public, unsigned), as served."""
        try:
            response = await self._http.get(PUBLIC_KEY_ROUTE, headers={"Accept": JSON_CONTENT_TYPE})
        except httpx.TransportError as exc:
            raise NetworkError(type(exc).__name__) from exc
        return public_key_info(response)

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _sealed_call(
        self, route: str, request: Mapping[str, Any], *, accept: str = ENVELOPE_CONTENT_TYPE
    ) -> Call:
        sealer = await self._sealer()
        # The Encryption SDK (and KMS, in server mode) is synchronous: keep it off the event loop.
        return await anyio.to_thread.run_sync(
            functools.partial(sealed_call, route, request, sealer, accept=accept)
        )

    async def _sealer(self) -> Sealer:
        if self._settings.server_sealer is not None:
            return self._settings.server_sealer
        async with self._lock:
            if self._mobile_sealer is None:
                self._mobile_sealer = self._settings.fetched_mobile_sealer(await self.public_key())
            return self._mobile_sealer

    async def _send(self, call: Call) -> httpx.Response:
        request = self._http.build_request("POST", call.route, content=call.body, headers=call.headers)
        try:
            return await self._http.send(request, auth=self._settings.auth(call.req_id))
        except httpx.TransportError as exc:
            raise NetworkError(type(exc).__name__) from exc

    async def _open_stream(self, call: Call) -> AsyncChatStream:
        if call.resp_key is None:
            raise ValueError("a streamed call must be sealed")
        headers = call.headers | _STREAM_HEADERS
        request = self._http.build_request("POST", call.route, content=call.body, headers=headers)
        try:
            response = await self._http.send(request, auth=self._settings.auth(call.req_id), stream=True)
        except httpx.TransportError as exc:
            raise NetworkError(type(exc).__name__) from exc
        try:
            checked = response
            if not response.is_success:
                body = await _ahead(response.aiter_bytes(), MAX_ERROR_BODY_BYTES)
                checked = error_body_response(response, body)
            check_stream_response(checked)
        except httpx.TransportError as exc:
            await response.aclose()
            raise NetworkError(type(exc).__name__) from exc
        except BaseException:
            await response.aclose()
            raise
        return AsyncChatStream(
            response, resp_key=call.resp_key, req_id=call.req_id, limits=self._stream_limits
        )


def _head(chunks: Iterator[bytes], limit: int) -> bytes:
    """The first `limit` bytes (or a little more) of a body, read no further."""
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) >= limit:
            break
    return bytes(body)


async def _ahead(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """`_head` for an async body."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) >= limit:
            break
    return bytes(body)
