"""The streaming function's HTTP app, as the Lambda Web Adapter calls it: over HTTP on 127.0.0.1, the
request context in `x-amzn-request-context`, refusals as JSON before the stream, chunked SSE after."""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from gateway_streaming import app
from secure_ai_gateway.api.responses import UNAUTHORIZED_REFUSAL
from secure_ai_gateway.services.completion import MAX_REQUEST_BODY_BYTES
from secure_ai_protocol.routes import STREAM_ROUTE
from secure_ai_protocol.signing.content_digest import compute_content_digest
from tests.gateway.completion.fakes import CLIENT_ID
from tests.gateway.completion.streaming_fakes import (
    REQ_ID,
    RESP_KEY,
    PassThroughScreen,
    StreamingHarness,
    open_events,
    streamed,
)


@pytest.fixture
def harness() -> StreamingHarness:
    return StreamingHarness(screens=PassThroughScreen)


@pytest.fixture
def port(harness: StreamingHarness) -> Iterator[int]:
    app.environment.use(app.Dependencies(settings=None, streaming=harness.service()))  # type: ignore[arg-type]
    server = app.serve(port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        app.environment.reset()


def body_of(request: dict[str, Any]) -> bytes:
    return json.dumps({"resp_key": base64.b64encode(RESP_KEY).decode(), "request": request}).encode()


def context_for(body: bytes, **changes: Any) -> dict[str, Any]:
    authorizer = {
        "principalId": CLIENT_ID,
        "client_id": CLIENT_ID,
        "key_id": f"{CLIENT_ID}.1",
        "nonce": REQ_ID,
        "content_digest": compute_content_digest(body),
        "scopes": "chat:complete",
    }
    return {"resourcePath": STREAM_ROUTE, "httpMethod": "POST", "authorizer": authorizer, **changes}


def post(
    port: int, body: bytes, context: Any = None, *, headers: list[tuple[str, str]] | None = None
) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest("POST", STREAM_ROUTE)
    connection.putheader("Content-Length", str(len(body)))
    if context is not None:
        connection.putheader(
            app.REQUEST_CONTEXT_HEADER, context if isinstance(context, str) else json.dumps(context)
        )
    for name, value in headers or []:
        connection.putheader(name, value)
    connection.endheaders(body)
    return connection.getresponse()


def test_the_readiness_path_answers_200(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", app.READINESS_PATH)
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"ok")
    assert response.getheader("Server") is None, "no version banner"


def test_a_streamed_answer_is_chunked_sse_opening_to_the_model_s_deltas(port: int) -> None:
    body = body_of(streamed("Hello"))
    response = post(port, body, context_for(body))
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream"
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.getheader("Cache-Control") == "no-store"
    opened = open_events(response.read())
    assert opened.chunks == ["Hel", "lo, wor", "ld."]
    assert opened.final["verdict"]["decision"] == "allow"


@pytest.mark.parametrize(
    "context",
    [
        None,  # no header: not called through API Gateway and the adapter
        "not json",
        "[]",
        '{"resourcePath": "/v1/chat/completions/stream", "resourcePath": "/x", "httpMethod": "POST"}',
    ],
)
def test_a_missing_or_malformed_request_context_is_api_gateway_s_401(port: int, context: str | None) -> None:
    body = body_of(streamed("Hello"))
    response = post(port, body, context)
    assert response.status == 401
    assert response.read().decode() == UNAUTHORIZED_REFUSAL.body


def test_two_request_context_headers_are_refused(port: int) -> None:
    body = body_of(streamed("Hello"))
    context = json.dumps(context_for(body))
    response = post(port, body, context, headers=[(app.REQUEST_CONTEXT_HEADER, context)])
    assert response.status == 401


@pytest.mark.parametrize(
    "change", [{"resourcePath": "/v1/chat/completions"}, {"httpMethod": "GET"}, {"authorizer": {}}]
)
def test_a_context_for_another_route_or_without_the_authorizer_s_fields_is_refused(
    port: int, change: dict[str, Any]
) -> None:
    body = body_of(streamed("Hello"))
    response = post(port, body, context_for(body, **change))
    assert response.status == 401


def test_a_body_that_does_not_match_the_signed_digest_is_refused_before_any_model_call(
    port: int, harness: StreamingHarness
) -> None:
    body = body_of(streamed("Hello"))
    response = post(port, body + b" ", context_for(body))
    assert response.status == 401
    assert harness.model.requests == []


def test_a_request_without_stream_true_is_a_json_400(port: int) -> None:
    body = body_of({**streamed("Hello"), "stream": False})
    response = post(port, body, context_for(body))
    assert response.status == 400
    assert response.getheader("Content-Type") == "application/json"
    assert json.loads(response.read())["error"] == "bad_request"


def test_the_model_failing_before_its_first_delta_is_a_json_error_with_its_status(
    port: int, harness: StreamingHarness
) -> None:
    from secure_ai_protocol.errors import UpstreamRateLimited

    harness.model.fail_before = UpstreamRateLimited("model_rate_limited", 9)
    body = body_of(streamed("Hello"))
    response = post(port, body, context_for(body))
    assert response.status == 429
    assert response.getheader("Retry-After") == "9"
    assert json.loads(response.read()) == {"error": "too_many_requests", "message": "model rate limited"}


def test_a_body_over_the_cap_is_refused_without_being_read(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.putrequest("POST", STREAM_ROUTE)
    connection.putheader("Content-Length", str(MAX_REQUEST_BODY_BYTES + 1))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413


def test_another_path_is_a_404(port: int) -> None:
    response = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    response.request("POST", "/v1/chat/completions", body=b"{}")
    assert response.getresponse().status == 404


def test_a_client_that_goes_away_mid_stream_settles_the_budget(port: int, harness: StreamingHarness) -> None:
    # At a model's cadence, so the caller is gone long before the model ends (without it the whole
    # answer could fit the loopback socket's buffers and end normally, with the provider's usage).
    harness.model.deltas = ["x" * 1000] * 200
    harness.model.delay_seconds = 0.01
    body = body_of(streamed("Hello"))
    response = post(port, body, context_for(body))
    assert response.status == 200
    response.read(10)
    response.close()
    for _ in range(100):
        if harness.ledger.settled:
            break
        threading.Event().wait(0.05)
    assert harness.ledger.settled == harness.ledger.reserved
    assert harness.model.closed
    assert harness.model.served < len(harness.model.deltas), "the model was stopped, not read to its end"
