"""A local API Gateway REST API: the template's routes, authorizer and gateway responses, served on
127.0.0.1 and feeding the real handlers the event shapes API Gateway sends.

The API comes from the template (secure_ai_local.api_definition), the authorizer's answer is read
and its policy evaluated by secure_ai_local.authorizer_policy, and the responses API Gateway
generates itself are in secure_ai_local.generated_responses; this module routes, authorizes,
invokes and maps the proxy response. URLs have the execute-api default endpoint's shape,
`http://127.0.0.1:<port>/<stage>/<resource path>`, so the stage is part of the path a client signs
and of `requestContext.path`. See "What is emulated" in docs/local-stack.md.

Behaviour reproduced from REST APIs (bodies are API Gateway's defaults unless the template's
GatewayResponses customise that response type, or DEFAULT_4XX / DEFAULT_5XX):
- first, the stage's web ACL rules that the path and headers decide (secure_ai_local.waf: the body
  size rule → 413 with the functions' body);
- unknown stage → 403 "Forbidden"; unknown resource or method → 403 "Missing Authentication Token";
- body over 10 MB → 413 "Request Too Long", before anything is invoked;
- a missing or empty identity source → 401 "Unauthorized" without invoking the authorizer; the
  authorizer failing with the message "Unauthorized" → 401; a Deny, or an Allow whose policy does not
  cover the methodArn (IAM matching, `*` and `?` wildcards) → 403; any other authorizer failure or a
  malformed policy → 500 {"message": null}. The authorizer runs on every request (no cache);
- the integration not answering within 29 s → 504 "Endpoint request timed out"; a function error or
  a malformed proxy response → 502 "Internal server error"; an event Lambda refuses (over 6 MB) → 500;
- a route whose event sets `ResponseTransferMode: RESPONSE_STREAM` is a streaming integration: its
  function runs behind the Lambda Web Adapter (secure_ai_local.web_adapter), so the request goes to
  the function's HTTP app with the request context (authorizer included) in `x-amzn-request-context`,
  as the adapter sends it, and the app's status and headers are sent to the client first, then its
  body as it comes, over chunked transfer (the 29 s limit does not apply); no answer within the idle
  timeout (5 minutes, regional endpoints) → 504, an app that cannot start → 502, and a stream idle
  for 5 minutes or longer than 15 minutes is cut;
- request bodies whose Content-Type matches a binary media type arrive base64-encoded
  (`isBase64Encoded: true`); a response with `isBase64Encoded: true` is decoded to bytes only when
  the request's first Accept type matches a binary media type (otherwise the base64 text is sent, as
  API Gateway does).
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import http.client
import json
import logging
import secrets
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Response

from secure_ai_local.api_definition import ApiDefinition, RequestAuthorizer, Route
from secure_ai_local.authorizer_policy import MalformedAuthorizerResponse, read_authorizer_output
from secure_ai_local.generated_responses import (
    AUTHORIZER_CONFIGURATION_ERROR,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    INTEGRATION_ERROR,
    INTEGRATION_TIMEOUT,
    INVOCATION_REJECTED,
    MISSING_AUTHENTICATION_TOKEN,
    REQUEST_TOO_LARGE,
    UNAUTHORIZED,
    UNAUTHORIZED_MESSAGE,
    UNKNOWN_STAGE,
    GeneratedResponse,
)
from secure_ai_local.lambda_runtime import WebFunctionLeases
from secure_ai_local.loopback_server import RAW_HEADERS_KEY, LoopbackServer
from secure_ai_local.waf import WafBlock
from secure_ai_local.web_adapter import LOOPBACK, WebAdapterError, WebLease

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from secure_ai_local.lambda_runtime import FunctionInvoker

logger = logging.getLogger("secure_ai_local.api")

DEFAULT_PORT: Final = 3000
PAYLOAD_LIMIT_BYTES: Final = 10 * 1024 * 1024
INTEGRATION_TIMEOUT_SECONDS: Final = 29.0
# Response streaming (REST APIs): a stream idle this long is closed (regional and private endpoints),
# and no stream lasts longer than the maximum.
STREAM_IDLE_TIMEOUT_SECONDS: Final = 300.0
STREAM_MAX_SECONDS: Final = 900.0
# What the Lambda Web Adapter writes on each request it forwards (the invocation's request context).
REQUEST_CONTEXT_HEADER: Final = "x-amzn-request-context"
# Hop-by-hop and framing headers of the app's answer: the emulator frames its own.
_STREAM_HOP_HEADERS: Final = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "date", "server", "proxy-connection", "upgrade"}
)
_PROXY_RESPONSE_KEYS: Final = frozenset(
    {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
)
# Integration response headers API Gateway does not pass through as they are, but as x-amzn-Remapped-*.
_REMAPPED_HEADERS: Final = frozenset(
    {
        "authorization",
        "connection",
        "content-length",
        "content-md5",
        "date",
        "max-forwards",
        "server",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "via",
        "www-authenticate",
    }
)
# Request headers API Gateway sets itself (a client's own values are replaced or appended to).
_FORWARDING_HEADERS: Final = frozenset(
    {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id"}
)


@dataclass
class _Request:
    """One request as API Gateway sees it, and the ids it is given."""

    method: str
    path: str  # with the stage prefix
    resource_path: str  # without it
    headers: list[tuple[str, str]]
    query: list[tuple[str, str]]
    source_ip: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    extended_request_id: str = field(
        default_factory=lambda: base64.b64encode(secrets.token_bytes(10)).decode()
    )
    received_at: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        """The last value of header `name` (case-insensitive)."""
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return values[-1] if values else None


class ApiGatewayEmulator:
    """The WSGI application: route, authorize, invoke, map the proxy response.

    Serve it with `ApiGatewayServer` (or any `LoopbackServer`): it needs the raw header lines.
    """

    def __init__(
        self,
        api: ApiDefinition,
        invoker: FunctionInvoker,
        *,
        region: str,
        account_id: str,
        integration_timeout_seconds: float = INTEGRATION_TIMEOUT_SECONDS,
        payload_limit_bytes: int = PAYLOAD_LIMIT_BYTES,
        waf: Sequence[WafBlock] = (),
    ) -> None:
        self.api = api
        self._waf = tuple(waf)
        self._invoker = invoker
        self._region = region
        self._account_id = account_id
        self._integration_timeout = integration_timeout_seconds
        self._payload_limit = payload_limit_bytes

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()
        request = self._request(environ)
        try:
            response = self._handle(request, environ)
        except Exception:
            logger.exception("the emulator failed on %s %s", request.method, request.path)
            response = self._gateway_error(INVOCATION_REJECTED, request)
        for name, value in (
            ("x-amzn-RequestId", request.request_id),
            ("x-amz-apigw-id", request.extended_request_id),
        ):
            response.headers[name] = value
        logger.info(
            "%s %s %s → %d (%.0f ms)",
            request.source_ip,
            request.method,
            request.path,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return response(environ, start_response)

    def _request(self, environ: WSGIEnvironment) -> _Request:
        path = str(environ.get("PATH_INFO", "/")).encode("latin-1").decode("utf-8", "replace")
        prefix = f"/{self.api.stage}"
        resource_path = path[len(prefix) :] if path == prefix or path.startswith(f"{prefix}/") else ""
        # Only LoopbackServer provides the headers as sent, which the events need.
        raw_headers = environ[RAW_HEADERS_KEY]
        query = parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
        return _Request(
            method=str(environ["REQUEST_METHOD"]).upper(),
            path=path,
            resource_path=resource_path or ("/" if path == prefix else ""),
            headers=list(raw_headers),
            query=query,
            source_ip=str(environ.get("REMOTE_ADDR", "127.0.0.1")),
        )

    def _handle(self, request: _Request, environ: WSGIEnvironment) -> Response:
        # The stage's web ACL answers first, from the path and headers (secure_ai_local.waf).
        blocked = next((rule for rule in self._waf if rule.matches(request.path, request.headers)), None)
        if blocked is not None:
            logger.info("WAF rule %s blocked %s %s", blocked.name, request.method, request.path)
            return Response(blocked.body, status=blocked.status, content_type=blocked.content_type)
        if not request.resource_path:
            return self._gateway_error(UNKNOWN_STAGE, request)
        if (
            request.method == "OPTIONS"
            and self.api.cors is not None
            and self._has_resource(request.resource_path)
        ):
            # SAM's `Cors` adds OPTIONS to every resource: a MOCK integration, no authorizer, no function.
            return Response(b"", status=200, headers=Headers(self.api.cors.headers))
        matched = self._match(request.resource_path, request.method)
        if matched is None:
            return self._gateway_error(MISSING_AUTHENTICATION_TOKEN, request)
        route, path_parameters = matched
        body = _read_body(environ, self._payload_limit)
        if body is None:
            return self._gateway_error(REQUEST_TOO_LARGE, request)
        self._add_forwarding_headers(request, environ)
        authorizer_context: dict[str, Any] | None = None
        if route.authorizer is not None:
            outcome = self._authorize(self.api.authorizers[route.authorizer], route, request, path_parameters)
            if isinstance(outcome, GeneratedResponse):
                return self._gateway_error(outcome, request)
            authorizer_context = outcome
        event = self._proxy_event(route, request, path_parameters, body, authorizer_context)
        if route.streaming:
            return self._integrate_stream(route, request, event, body)
        return self._integrate(route, request, event)

    # -------------------------------------------------------------------------- routing
    def _has_resource(self, resource_path: str) -> bool:
        segments = tuple(part for part in resource_path.split("/") if part)
        return any(_match_segments(route.segments, segments) is not None for route in self.api.routes)

    def _match(self, resource_path: str, method: str) -> tuple[Route, dict[str, str]] | None:
        """The most specific resource matching the path, then its method (or ANY)."""
        segments = tuple(part for part in resource_path.split("/") if part)
        if resource_path != "/" and (not segments or "" in resource_path.strip("/").split("/")):
            return None
        best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
        for route in self.api.routes:
            parameters = _match_segments(route.segments, segments)
            if parameters is None:
                continue
            rank = tuple(_segment_rank(segment) for segment in route.segments)
            if best is None or rank > best[0]:
                best = (rank, route.resource, parameters)
        if best is None:
            return None
        _, resource, parameters = best
        on_resource = [route for route in self.api.routes if route.resource == resource]
        chosen = next((r for r in on_resource if r.method == method), None) or next(
            (r for r in on_resource if r.method == "ANY"), None
        )
        return None if chosen is None else (chosen, parameters)

    # -------------------------------------------------------------------------- events
    def _add_forwarding_headers(self, request: _Request, environ: WSGIEnvironment) -> None:
        forwarded_for = request.header("X-Forwarded-For")
        request.headers = [(k, v) for k, v in request.headers if k.lower() not in _FORWARDING_HEADERS]
        request.headers += [
            ("X-Amzn-Trace-Id", f"Root=1-{int(request.received_at):08x}-{secrets.token_hex(12)}"),
            (
                "X-Forwarded-For",
                f"{forwarded_for}, {request.source_ip}" if forwarded_for else request.source_ip,
            ),
            ("X-Forwarded-Port", str(environ.get("SERVER_PORT", ""))),
            ("X-Forwarded-Proto", str(environ.get("wsgi.url_scheme", "http"))),
        ]

    def _method_arn(self, request: _Request) -> str:
        resource = request.resource_path.lstrip("/")
        return (
            f"arn:aws:execute-api:{self._region}:{self._account_id}:{self.api.api_id}/"
            f"{self.api.stage}/{request.method}/{resource}"
        )

    def _request_context(self, route: Route, request: _Request) -> dict[str, Any]:
        host = request.header("Host") or ""
        return {
            "resourceId": hashlib.sha256(route.resource.encode()).hexdigest()[:6],
            "resourcePath": route.resource,
            "httpMethod": request.method,
            "extendedRequestId": request.extended_request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(request.received_at)),
            "path": request.path,
            "accountId": self._account_id,
            "protocol": "HTTP/1.1",
            "stage": self.api.stage,
            "domainPrefix": host.split(".")[0],
            "requestTimeEpoch": int(request.received_at * 1000),
            "requestId": request.request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": request.source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": request.header("User-Agent"),
                "user": None,
            },
            "domainName": host,
            "deploymentId": hashlib.sha256(self.api.api_id.encode()).hexdigest()[:6],
            "apiId": self.api.api_id,
        }

    def _authorizer_event(
        self, route: Route, request: _Request, path_parameters: Mapping[str, str]
    ) -> dict[str, Any]:
        headers, multi_headers = _single_and_multi(request.headers)
        query, multi_query = _single_and_multi(request.query)
        return {
            "type": "REQUEST",
            "methodArn": self._method_arn(request),
            "resource": route.resource,
            "path": request.resource_path,
            "httpMethod": request.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": dict(path_parameters),
            "stageVariables": {},
            "requestContext": self._request_context(route, request),
        }

    def _proxy_event(
        self,
        route: Route,
        request: _Request,
        path_parameters: Mapping[str, str],
        body: bytes,
        authorizer_context: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        headers, multi_headers = _single_and_multi(request.headers)
        query, multi_query = _single_and_multi(request.query)
        context = self._request_context(route, request)
        if authorizer_context is not None:
            context["authorizer"] = dict(authorizer_context)
        binary = _matches_media_type(self.api.binary_media_types, request.header("Content-Type"))
        if not body:
            body_text: str | None = None
        elif binary:
            body_text = base64.b64encode(body).decode("ascii")
        else:
            body_text = body.decode("utf-8", "replace")
        return {
            "resource": route.resource,
            "path": request.resource_path,
            "httpMethod": request.method,
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": dict(path_parameters) or None,
            "stageVariables": None,
            "requestContext": context,
            "body": body_text,
            "isBase64Encoded": bool(body) and binary,
        }

    # -------------------------------------------------------------------------- authorizer
    def _authorize(
        self,
        authorizer: RequestAuthorizer,
        route: Route,
        request: _Request,
        path_parameters: Mapping[str, str],
    ) -> dict[str, Any] | GeneratedResponse:
        """The authorizer context for the integration, or the error to answer."""
        present_headers = {name.lower() for name, value in request.headers if value.strip()}
        present_query = {name for name, value in request.query if value}
        if any(name.lower() not in present_headers for name in authorizer.identity_headers) or any(
            name not in present_query for name in authorizer.identity_query_strings
        ):
            return UNAUTHORIZED
        event = self._authorizer_event(route, request, path_parameters)
        started = time.monotonic()
        try:
            result = self._invoker.submit(authorizer.function, event).result(
                timeout=self._integration_timeout
            )
        except FutureTimeout:
            logger.warning("authorizer %s did not answer in time", authorizer.name)
            return AUTHORIZER_CONFIGURATION_ERROR
        latency_ms = int((time.monotonic() - started) * 1000)
        if result.error is not None:
            if result.error.error_message == UNAUTHORIZED_MESSAGE:
                return UNAUTHORIZED
            logger.warning("authorizer %s failed: %s", authorizer.name, result.error.error_type)
            return AUTHORIZER_CONFIGURATION_ERROR
        try:
            principal_id, decision, context = read_authorizer_output(result.payload, event["methodArn"])
        except MalformedAuthorizerResponse as error:
            logger.warning("authorizer %s returned a malformed response (%s)", authorizer.name, error)
            return AUTHORIZER_CONFIGURATION_ERROR
        if decision == "explicit_deny":
            return EXPLICIT_DENY
        if decision == "implicit_deny":
            return IMPLICIT_DENY
        return {"principalId": principal_id, "integrationLatency": latency_ms, **context}

    # -------------------------------------------------------------------------- integration
    def _integrate(self, route: Route, request: _Request, event: Mapping[str, Any]) -> Response:
        future = self._invoker.submit(route.function, event)
        try:
            result = future.result(timeout=self._integration_timeout)
        except FutureTimeout:
            return self._gateway_error(INTEGRATION_TIMEOUT, request)
        if result.rejected:
            return self._gateway_error(INVOCATION_REJECTED, request)
        if result.error is not None:
            logger.warning("%s failed: %s", route.function, result.error.error_type)
            return self._gateway_error(INTEGRATION_ERROR, request)
        try:
            return self._proxy_response(result.payload, request)
        except MalformedProxyResponse as error:
            logger.warning(
                "Execution failed due to configuration error: Malformed Lambda proxy response (%s)", error
            )
            return self._gateway_error(INTEGRATION_ERROR, request)

    def _integrate_stream(
        self, route: Route, request: _Request, event: Mapping[str, Any], body: bytes
    ) -> Response:
        """Forward to the function's HTTP app as the Lambda Web Adapter does; stream its answer back."""
        # Only a runtime that runs web-adapter functions (LambdaRuntime) can serve a streaming route.
        leases = self._invoker if isinstance(self._invoker, WebFunctionLeases) else None
        if leases is None:
            logger.warning("%s: no runtime for a streaming integration", route.function)
            return self._gateway_error(INTEGRATION_ERROR, request)
        try:
            lease = leases.lease_web(route.function)
        except WebAdapterError as error:
            logger.warning("%s could not start: %s", route.function, error)
            return self._gateway_error(INTEGRATION_ERROR, request)
        # Streaming lifts the 29 s limit: the wait for the first byte is bounded by the idle timeout.
        connection = http.client.HTTPConnection(LOOPBACK, lease.port, timeout=STREAM_IDLE_TIMEOUT_SECONDS)
        try:
            connection.request(
                request.method,
                str(event["path"]),
                body=body,
                headers=self._adapter_headers(request, event, lease, len(body)),
            )
            answer = connection.getresponse()
        except TimeoutError:
            connection.close()
            lease.release(reusable=False)
            return self._gateway_error(INTEGRATION_TIMEOUT, request)
        except OSError as error:
            connection.close()
            lease.release(reusable=False)
            logger.warning("%s failed: %s", route.function, type(error).__name__)
            return self._gateway_error(INTEGRATION_ERROR, request)
        headers = Headers()
        for name, value in answer.getheaders():
            if name.lower() not in _STREAM_HOP_HEADERS and not (
                name.lower() == "content-length" and answer.chunked
            ):
                headers.add(name, value)
        if "Content-Type" not in headers:
            headers["Content-Type"] = "application/json"
        return Response(
            _relay(answer, connection, lease, route.function), status=answer.status, headers=headers
        )

    def _adapter_headers(
        self, request: _Request, event: Mapping[str, Any], lease: WebLease, length: int
    ) -> dict[str, str]:
        """The request's headers as the adapter forwards them, its request context set (never the
        client's: a header of that name from the client is replaced, as the adapter does)."""
        headers: dict[str, str] = {}
        for name, value in request.headers:
            if name.lower() in (REQUEST_CONTEXT_HEADER, "content-length", "transfer-encoding", "connection"):
                continue
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        headers["Content-Length"] = str(length)
        headers[REQUEST_CONTEXT_HEADER] = json.dumps(event["requestContext"], separators=(",", ":"))
        headers["x-amzn-lambda-context"] = json.dumps(
            {
                "request_id": event["requestContext"]["requestId"],
                "deadline": int((time.time() + STREAM_MAX_SECONDS) * 1000),
                "invoked_function_arn": lease.function_name,
            },
            separators=(",", ":"),
        )
        return headers

    def _proxy_response(self, payload: Any, request: _Request) -> Response:
        if not isinstance(payload, Mapping) or not set(payload) <= _PROXY_RESPONSE_KEYS:
            raise MalformedProxyResponse(
                "not an object of statusCode, headers, multiValueHeaders, body, isBase64Encoded"
            )
        status = payload.get("statusCode", 200)
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise MalformedProxyResponse("statusCode")
        body = payload.get("body")
        if body is not None and not isinstance(body, str):
            raise MalformedProxyResponse("body is not a string")
        encoded = payload.get("isBase64Encoded", False)
        if not isinstance(encoded, bool):
            raise MalformedProxyResponse("isBase64Encoded")
        headers = Headers()
        for name, value in _response_headers(payload.get("headers"), payload.get("multiValueHeaders")):
            headers.add(f"x-amzn-Remapped-{name}" if name.lower() in _REMAPPED_HEADERS else name, value)
        if "Content-Type" not in headers:
            headers["Content-Type"] = "application/json"
        data = (body or "").encode("utf-8")
        accept = (request.header("Accept") or "").split(",")[0]
        if encoded and _matches_media_type(self.api.binary_media_types, accept):
            try:
                data = base64.b64decode(body or "", validate=True)
            except binascii.Error as error:
                raise MalformedProxyResponse("body is not base64") from error
        return Response(data, status=status, headers=headers)

    # -------------------------------------------------------------------------- gateway responses
    def _gateway_error(self, error: GeneratedResponse, request: _Request) -> Response:
        fallback_type = "DEFAULT_4XX" if error.status < 500 else "DEFAULT_5XX"
        responses = self.api.gateway_responses if error.customisable else {}
        specific = responses.get(error.response_type) if error.response_type else None
        fallback = responses.get(fallback_type)
        status = error.status
        if specific is not None and specific.status_code is not None:
            status = specific.status_code
        elif specific is None and fallback is not None and fallback.status_code is not None:
            status = fallback.status_code
        template = '{"message":$context.error.messageString}'
        headers = Headers({"Content-Type": "application/json"})
        for customised in (fallback, specific):
            if customised is not None:
                template = customised.templates.get("application/json", template)
                for name, value in customised.headers.items():
                    headers[name] = value
        if error.error_type:
            headers["x-amzn-ErrorType"] = error.error_type
        body = (
            template.replace("$context.error.messageString", json.dumps(error.message))
            .replace("$context.error.message", error.message or "")
            .replace("$context.error.responseType", error.response_type or fallback_type)
            .replace("$context.requestId", request.request_id)
            .replace("$context.extendedRequestId", request.extended_request_id)
        )
        return Response(body, status=status, headers=headers)


def _relay(
    answer: http.client.HTTPResponse, connection: http.client.HTTPConnection, lease: WebLease, function: str
) -> Iterator[bytes]:
    """The app's body as it arrives: status and headers go first (the empty write), then each read;
    the environment is released when the stream ends, is cut, or the client goes away."""
    deadline = time.monotonic() + STREAM_MAX_SECONDS
    complete = False
    try:
        yield b""
        while time.monotonic() < deadline:
            data = answer.read1(65536)
            if not data:
                complete = True
                break
            yield data
        else:
            logger.warning("%s: stream cut after %.0f s", function, STREAM_MAX_SECONDS)
    except (TimeoutError, OSError, http.client.HTTPException) as error:
        logger.warning("%s: stream ended early (%s)", function, type(error).__name__)
    finally:
        answer.close()
        connection.close()
        lease.release(reusable=complete)


class MalformedProxyResponse(ValueError):
    """The function's result is not a Lambda proxy response."""


def _response_headers(single: Any, multi: Any) -> list[tuple[str, str]]:
    """headers and multiValueHeaders merged as API Gateway does (a pair present in both, once)."""
    if single is None:
        single = {}
    if multi is None:
        multi = {}
    if not isinstance(single, Mapping) or not isinstance(multi, Mapping):
        raise MalformedProxyResponse("headers")
    merged: list[tuple[str, str]] = []
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedProxyResponse("multiValueHeaders")
        merged.extend((str(name), _header_value(value)) for value in values)
    for name, value in single.items():
        pair = (str(name), _header_value(value))
        if pair not in merged:
            merged.append(pair)
    return merged


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise MalformedProxyResponse("a header value is not a string")


def _single_and_multi(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """API Gateway's two views of repeated names: the last value, and every value in order."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def _match_segments(template: tuple[str, ...], segments: tuple[str, ...]) -> dict[str, str] | None:
    parameters: dict[str, str] = {}
    for index, part in enumerate(template):
        if part.startswith("{") and part.endswith("+}"):
            if index >= len(segments):
                return None
            parameters[part[1:-2]] = "/".join(segments[index:])
            return parameters
        if index >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            parameters[part[1:-1]] = segments[index]
        elif part != segments[index]:
            return None
    return parameters if len(template) == len(segments) else None


def _segment_rank(segment: str) -> int:
    """Static segments beat parameters, which beat a greedy {proxy+}."""
    if not segment.startswith("{"):
        return 2
    return 0 if segment.endswith("+}") else 1


def _matches_media_type(patterns: Iterable[str], content_type: str | None) -> bool:
    media_type = (content_type or "").split(";")[0].strip().lower()
    return bool(media_type) and any(fnmatch.fnmatchcase(media_type, p.lower()) for p in patterns)


def _read_body(environ: WSGIEnvironment, limit: int) -> bytes | None:
    """The request body, or None when it is larger than `limit` (nothing more is read then)."""
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):  # chunked: read until the end, but never past the limit
        chunks: list[bytes] = []
        size = 0
        while chunk := stream.read(min(65536, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                return None
        return b"".join(chunks)
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return None
    return bytes(stream.read(length)) if length > 0 else b""


class ApiGatewayServer:
    """The emulator served on 127.0.0.1 (port 3000 unless given; 0 picks a free one)."""

    def __init__(self, emulator: ApiGatewayEmulator, *, port: int = DEFAULT_PORT) -> None:
        self.emulator = emulator
        self._server = LoopbackServer(emulator, port=port, name="api-gateway")

    def start(self) -> ApiGatewayServer:
        """Start serving; returns self."""
        self._server.start()
        return self

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return self._server.origin

    @property
    def url(self) -> str:
        """The stage's base URL, `http://127.0.0.1:<port>/<stage>`."""
        return f"{self._server.origin}/{self.emulator.api.stage}"

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()

    def __enter__(self) -> ApiGatewayServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
