"""Streaming function: a small HTTP app behind the AWS Lambda Web Adapter (LWA), one route.

API Gateway streams `POST /v1/chat/completions/stream` (ResponseTransferMode RESPONSE_STREAM) from
this function; the managed Python runtime cannot stream a handler's result, so LWA (a layer and an
extension) receives each invocation and forwards it to this server on 127.0.0.1 as an HTTP request,
then streams the HTTP response back (AWS_LWA_INVOKE_MODE=response_stream). docs/streaming.md.

What API Gateway knows about the call arrives as the `x-amzn-request-context` header (the REST
request context, JSON), which LWA sets from the invocation event; the authorizer's context is its
`authorizer`. It is read strictly: exactly one header, a JSON object without duplicate keys, for
this route and method, and then the same parse the other functions apply to their events
(`AuthorizedCall.from_proxy_event`). Anything else is the 401 API Gateway itself would answer.

Before the first byte of the body a refusal is an ordinary JSON error (api/statuses.py, the bodies
every function answers with); once the 200 and its headers are sent the stream can only end with
its final event (services/streaming_completion.py). The server is the standard library's
`ThreadingHTTPServer`: its only peer is LWA on the loopback interface of one execution environment,
one invocation at a time (README, "Dependencies", says why that is enough).
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from secure_ai_gateway.adapters.aws_clients import kms_client
from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.openai.access import ModelAccess
from secure_ai_gateway.adapters.policy_store import PolicyStore
from secure_ai_gateway.adapters.quota import UsageLedger
from secure_ai_gateway.adapters.verdict_digest_key import load_verdict_digest_key
from secure_ai_gateway.api.authorized_call import AuthorizedCall
from secure_ai_gateway.api.cors import cors_headers
from secure_ai_gateway.api.responses import error_response
from secure_ai_gateway.api.statuses import status_for
from secure_ai_gateway.observability import (
    COMPLETION_PREFIX,
    COMPLETION_TOKENS,
    INTERNAL_ERROR,
    REQUEST_REFUSED,
    USAGE_SETTLEMENT_FAILED,
    count,
    count_refusal,
    count_screen,
    count_user_call,
    service_logger,
    service_metrics,
)
from secure_ai_gateway.policy_registry.cache import CachedPolicies
from secure_ai_gateway.screening.streaming import StreamScreen
from secure_ai_gateway.services.completion import MAX_REQUEST_BODY_BYTES
from secure_ai_gateway.services.streaming_completion import AnswerStream, StreamingCompletionService, describe
from secure_ai_gateway.settings import CompletionSettings
from secure_ai_gateway.wiring import ExecutionEnvironment
from secure_ai_protocol.envelope.requests import RequestEnvelopes
from secure_ai_protocol.errors import BadRequest, NotFound, PayloadTooLarge, ProtocolError, Unauthenticated
from secure_ai_protocol.json_bounds import json_depth_within
from secure_ai_protocol.routes import STREAM_ROUTE
from secure_ai_protocol.stream import STREAM_CONTENT_TYPE

logger = service_logger()
metrics = service_metrics()

REQUEST_CONTEXT_HEADER: Final = "x-amzn-request-context"
# LWA's readiness check (AWS_LWA_READINESS_CHECK_PATH in template.yaml): API Gateway never routes here.
READINESS_PATH: Final = "/healthz"
DEFAULT_PORT: Final = 8080
LOOPBACK: Final = "127.0.0.1"
# A REST request context is a few kilobytes; a header far larger is not one.
MAX_REQUEST_CONTEXT_BYTES: Final = 64 * 1024
CORS_ALLOW_ORIGIN = os.environ.get("CORS_ALLOW_ORIGIN", "")


@dataclass(frozen=True, slots=True)
class Dependencies:
    """Everything the streaming route uses."""

    settings: CompletionSettings
    streaming: StreamingCompletionService


def build_dependencies(
    settings: CompletionSettings, *, policy_clock: Callable[[], float] = time.monotonic
) -> Dependencies:
    """The streaming pipeline, wired to `settings`' AWS resources and model endpoint."""
    model_access = ModelAccess(settings)

    def digest_key() -> bytes:
        # Read per request, through the secrets provider's cache: a rotated key is picked up.
        return load_verdict_digest_key(settings.verdict_digest_key_secret_arn)

    streaming = StreamingCompletionService(
        envelopes=RequestEnvelopes(settings.request_key_arn, settings.rsa_key_arn, kms_client()),
        clients=ClientStore(settings.clients_table),
        ledger=UsageLedger(settings.usage_table),
        model=model_access.chat_model,
        moderation=model_access.moderation,
        policies=CachedPolicies(PolicyStore(settings.policies_table), clock=policy_clock),
        screens=StreamScreen,
        digest_key=digest_key,
        default_model=settings.default_model,
        clock=time.time,
        on_settlement_failure=settlement_failed,
    )
    return Dependencies(settings, streaming)


# This execution environment's dependencies; settings are read and validated on the first request.
environment = ExecutionEnvironment(lambda: build_dependencies(CompletionSettings.from_environ(os.environ)))


def settlement_failed(error: ProtocolError) -> None:
    """A settlement that did not land leaves the reservation counted; make it visible."""
    count(metrics, USAGE_SETTLEMENT_FAILED)
    logger.error("usage settlement failed", extra={"reason": error.reason})


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(pairs)


def request_context(values: list[str]) -> dict[str, Any]:
    """The one `x-amzn-request-context` header as an object, or Unauthenticated."""
    if len(values) != 1 or len(values[0].encode()) > MAX_REQUEST_CONTEXT_BYTES:
        raise Unauthenticated("no_authorizer_context")
    raw = values[0].encode()
    if not json_depth_within(raw):
        raise Unauthenticated("no_authorizer_context")
    try:
        context = json.loads(raw, object_pairs_hook=_refuse_duplicate_keys)
    except ValueError:
        raise Unauthenticated("no_authorizer_context") from None
    if not isinstance(context, dict):
        raise Unauthenticated("no_authorizer_context")
    # LWA forwards the context of the invocation it received: it must be this route's.
    if context.get("resourcePath") != STREAM_ROUTE or context.get("httpMethod") != "POST":
        raise Unauthenticated("no_authorizer_context")
    return context


def authorized_call(
    context: Mapping[str, Any], headers: Iterable[tuple[str, str]], body: bytes
) -> AuthorizedCall:
    """The call as the other functions read it from a proxy event, built from what LWA forwarded."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        if name.lower() == REQUEST_CONTEXT_HEADER:
            continue
        single[name] = value
        multi.setdefault(name, []).append(value)
    event = {
        "requestContext": context,
        "headers": single,
        "multiValueHeaders": multi,
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }
    return AuthorizedCall.from_proxy_event(event)


class StreamingRequestHandler(BaseHTTPRequestHandler):
    """One HTTP request from LWA: the readiness check, or the streaming route."""

    protocol_version = "HTTP/1.1"

    def send_response(self, code: int, message: str | None = None) -> None:
        """The status line and Date, without the standard library's `Server` version banner."""
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the app logs one structured line per request itself."""

    def do_GET(self) -> None:
        """Readiness (LWA's check); any other GET is a 404."""
        if self.path == READINESS_PATH:
            self._send_bytes(HTTPStatus.OK, b"ok", {"Content-Type": "text/plain"})
            return
        self._refused(NotFound("no_route"))

    def do_POST(self) -> None:
        """The streaming route."""
        try:
            call, stream = self._open()
        except ProtocolError as error:
            self._refused(error)
            return
        except Exception as error:  # noqa: BLE001 - anything unforeseen is a generic 500, never its message
            count(metrics, INTERNAL_ERROR)
            # Only the type, never a traceback: an unforeseen exception's message may quote the request.
            logger.error("unhandled error", extra={"error": type(error).__name__})  # noqa: TRY400
            self._refuse(error)
            return
        self._stream(call, stream)

    def _open(self) -> tuple[AuthorizedCall, AnswerStream]:
        if self.path != STREAM_ROUTE:
            raise NotFound("no_route")
        # LWA sends the body it received whole, with its length.
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            length = -1
        if length < 0 or "Transfer-Encoding" in self.headers:
            raise BadRequest("malformed_event")
        if length > MAX_REQUEST_BODY_BYTES:
            raise PayloadTooLarge("body_too_large")
        body = self.rfile.read(length)
        context = request_context(self.headers.get_all(REQUEST_CONTEXT_HEADER) or [])
        call = authorized_call(context, self.headers.items(), body)
        return call, environment.get().streaming.open(call)

    def _stream(self, call: AuthorizedCall, stream: AnswerStream) -> None:
        self.send_response(HTTPStatus.OK)
        for name, value in {
            "Content-Type": STREAM_CONTENT_TYPE,
            "Cache-Control": "no-store",
            "Transfer-Encoding": "chunked",
            **cors_headers(CORS_ALLOW_ORIGIN),
        }.items():
            self.send_header(name, value)
        self.end_headers()
        events = iter(stream)
        went_away = False
        try:
            for event in events:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            # The caller (LWA, so API Gateway and the client) went away: stop the model, settle.
            went_away = True
            self.close_connection = True
        finally:
            events.close()  # type: ignore[attr-defined]
        self._report(call, stream, went_away=went_away)

    def _report(self, call: AuthorizedCall, stream: AnswerStream, *, went_away: bool) -> None:
        outcome = stream.outcome
        if outcome.decision is not None:
            count_screen(
                metrics,
                COMPLETION_PREFIX,
                outcome.decision,
                unavailable=outcome.unavailable,
                failed_open=outcome.failed_open,
            )
        count(metrics, COMPLETION_TOKENS, outcome.total_tokens)
        count_user_call(metrics, call, tokens=outcome.total_tokens)
        logger.info(
            "stream answered",
            extra={
                "app_id": call.app_id,
                "device_id": call.device_id,
                "user_ref": call.user_ref,
                "went_away": went_away,
                **describe(outcome),
            },
        )
        metrics.flush_metrics()

    def _refused(self, error: ProtocolError) -> None:
        count_refusal(metrics, REQUEST_REFUSED, error.reason)
        logger.warning("request refused", extra={"reason": error.reason, "status": int(status_for(error))})
        self._refuse(error)

    def _refuse(self, error: BaseException) -> None:
        metrics.flush_metrics()
        # The body may be unread (a refusal before it was needed): this connection is not reused.
        self.close_connection = True
        response = error_response(error)
        headers = {"Content-Type": response.content_type or "application/json"}
        for name, value in (response.headers or {}).items():
            headers[name] = value if isinstance(value, str) else ", ".join(value)
        headers.update(cors_headers(CORS_ALLOW_ORIGIN))
        body = response.body if isinstance(response.body, bytes) else str(response.body).encode()
        self._send_bytes(HTTPStatus(response.status_code), body, headers)

    def _send_bytes(self, status: HTTPStatus, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, str(value))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()


def serve(port: int | None = None) -> ThreadingHTTPServer:
    """The server on 127.0.0.1 (AWS_LWA_PORT, else PORT, else 8080), not yet serving."""
    if port is None:
        port = int(os.environ.get("AWS_LWA_PORT") or os.environ.get("PORT") or DEFAULT_PORT)
    server = ThreadingHTTPServer((LOOPBACK, port), StreamingRequestHandler)
    server.daemon_threads = True
    return server


def main() -> None:
    """Serve until the execution environment ends."""
    with serve() as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
