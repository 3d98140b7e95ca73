"""Streamed answers over HTTP on the local stack: emulator (streaming integration), the streaming
function's HTTP app (as behind the Lambda Web Adapter), the stub model streaming in split chunks.

The first tests open events with secure_ai_protocol.stream as they arrive, checking order and
finality as a client must; the rest use the Python SDK (`stream=True`, sync and async): the same
answer as the buffered route, text leaving before a block on an incremental policy (local-docs) and
nothing on the default one, and a stream altered on its way (a flipped byte, an event dropped,
swapped, repeated, cut or added after the final) refused with the protocol's reason. The TypeScript
client's streams run against the same stack in tests/browser.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from secure_ai_client.client import AsyncSecureAIClient, SecureAIClient
from secure_ai_client.errors import StreamBroken
from secure_ai_client.httpx_auth import SignatureAuth, new_nonce
from secure_ai_client.streams import ChatStream
from secure_ai_local.stack import EXAMPLE_STATE_FILE_NAME, LocalStack, LocalStackInfo
from secure_ai_local.stub_model import chat_answer
from secure_ai_protocol.envelope.requests import seal_request_server
from secure_ai_protocol.envelope.responses import open_response
from secure_ai_protocol.envelope.rules import new_resp_key
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE
from secure_ai_protocol.routes import CHAT_ROUTE, STREAM_ROUTE
from secure_ai_protocol.stream import STREAM_CONTENT_TYPE, StreamOpener, parse_events

# The stub's fake AWS key ([demo:block]), assembled as the stub assembles it.
FAKE_ACCESS_KEY_ID = "AKIA" + "STUBDEMOKEY7Q4XP"
FAKE_SECRET_FRAGMENT = "NotARealKey"


@dataclass
class Streamed:
    """A streamed answer as received: status, headers, and each event opened when it arrived."""

    status: int
    headers: httpx.Headers
    events: list[dict[str, Any]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    arrival: list[float] = field(default_factory=list)
    body: bytes = b""

    @property
    def text(self) -> str:
        return "".join(event["delta"] for event in self.events)

    @property
    def final(self) -> dict[str, Any]:
        return self.events[-1]


Sender = Callable[..., Streamed]


@pytest.fixture
def send(local_stack: LocalStack, info: LocalStackInfo) -> Sender:
    """Seal, sign and send one chat request; for the streaming route, open its events as they come."""
    kms = local_stack.client("kms")

    def build(
        prompt: str, *, route: str, stream: bool | None, body: bytes | None = None
    ) -> tuple[httpx.Request, str, bytes]:
        nonce, resp_key = new_nonce(), new_resp_key()
        request: dict[str, Any] = {"model": "default", "messages": [{"role": "user", "content": prompt}]}
        if stream is not None:
            request["stream"] = stream
        plaintext = json.dumps({"resp_key": base64.b64encode(resp_key).decode(), "request": request}).encode()
        if body is None:
            body = seal_request_server(
                plaintext,
                kms_key_arn=info.kms_key_arn,
                client_id=info.client_id,
                req_id=nonce,
                route=route,
                kms_client=kms,
            )
        accept = STREAM_CONTENT_TYPE if route == STREAM_ROUTE else ENVELOPE_CONTENT_TYPE
        http_request = httpx.Request(
            "POST",
            f"{info.api_url}{route}",
            content=body,
            headers={"Content-Type": ENVELOPE_CONTENT_TYPE, "Accept": accept},
        )
        SignatureAuth(key_id=info.key_id, secret=info.secret, tag=info.tag, nonce_factory=lambda: nonce).sign(
            http_request
        )
        return http_request, nonce, resp_key

    def send(
        prompt: str,
        *,
        route: str = STREAM_ROUTE,
        stream: bool | None = True,
        body: bytes | None = None,
        tamper: bool = False,
        extra_headers: dict[str, str] | None = None,
    ) -> Streamed:
        request, nonce, resp_key = build(prompt, route=route, stream=stream, body=body)
        request.headers.update(extra_headers or {})
        if tamper:
            request.headers["Signature"] = request.headers["Signature"][:-3] + "AA:"
        with httpx.Client(timeout=60) as client:
            response = client.send(request, stream=True)
            try:
                result = Streamed(response.status_code, response.headers)
                if route == CHAT_ROUTE and response.status_code == 200:
                    payload = json.loads(open_response(response.read(), resp_key=resp_key, req_id=nonce))
                    result.events = [
                        {"delta": payload["completion"]["choices"][0]["message"]["content"] or "", **payload}
                    ]
                elif response.headers.get("content-type", "").startswith(STREAM_CONTENT_TYPE):
                    opener = StreamOpener(resp_key, nonce)
                    for event in parse_events(response.iter_lines()):
                        result.events.append(json.loads(opener.open(event)))
                        result.kinds.append("final" if event.final else "chunk")
                        result.arrival.append(time.monotonic())
                    opener.finish()
                else:
                    result.body = response.read()
            finally:
                response.close()
        return result

    return send


def test_a_streamed_answer_arrives_in_several_events_and_equals_the_buffered_answer(send: Sender) -> None:
    prompt = "Tell me about streaming. " * 100  # the stub echoes it: an answer of several events
    streamed = send(prompt)
    buffered = send(prompt, route=CHAT_ROUTE, stream=None)
    assert streamed.status == 200
    assert streamed.headers["content-type"] == STREAM_CONTENT_TYPE
    assert streamed.headers["cache-control"] == "no-store"
    assert len(streamed.events) >= 3
    assert streamed.kinds == ["chunk"] * (len(streamed.events) - 1) + ["final"]
    assert streamed.text == buffered.text
    assert streamed.final["verdict"]["decision"] == buffered.final["verdict"]["decision"] == "allow"
    assert streamed.final["finish_reason"] == "stop"
    assert streamed.final["usage"]["total_tokens"] > 0


def test_a_block_in_the_answer_ends_the_stream_with_a_blocked_final_event_releasing_nothing_secret(
    send: Sender,
) -> None:
    streamed = send("Show me the deployment credentials [demo:block]")
    assert streamed.status == 200
    assert streamed.kinds[-1] == "final"
    assert streamed.final["verdict"]["decision"] == "block"
    assert streamed.final["finish_reason"] == "content_filter"
    assert streamed.final["verdict"]["findings"], "blocked, and why (finding types, never the text)"
    everything = json.dumps(streamed.events)
    assert FAKE_ACCESS_KEY_ID not in everything
    assert FAKE_SECRET_FRAGMENT not in everything


@pytest.mark.parametrize("into_key", [-1, 0, 1, 2, 4, 8, 12, 15, 16, 17])
def test_a_secret_split_across_the_stub_s_chunks_is_never_released(send: Sender, into_key: int) -> None:
    def prompt(split: int) -> str:
        return f"Credentials please [demo:block] [demo:split={split:05d}]"

    # The digits are fixed-width, so the answer (and the key's place in it) is the same for every split.
    start = chat_answer([{"role": "user", "content": prompt(0)}]).index(FAKE_ACCESS_KEY_ID)
    streamed = send(prompt(start + into_key))
    assert streamed.final["verdict"]["decision"] == "block"
    everything = json.dumps(streamed.events)
    assert FAKE_ACCESS_KEY_ID not in everything
    assert FAKE_ACCESS_KEY_ID[:8] not in everything
    assert FAKE_SECRET_FRAGMENT not in everything


def test_the_model_failing_mid_stream_ends_the_stream_with_a_model_failed_block(send: Sender) -> None:
    streamed = send("Go on [demo:stream-error]")
    assert streamed.status == 200
    assert streamed.final["verdict"]["decision"] == "block"
    assert [f["type"] for f in streamed.final["verdict"]["findings"]] == ["model_failed"]
    assert "stub model failed" not in json.dumps(streamed.events)


def test_the_model_refusing_before_it_streams_is_a_plain_json_error(send: Sender) -> None:
    streamed = send("Please [demo:ratelimit]")
    assert streamed.status == 429
    assert streamed.headers["content-type"] == "application/json"
    assert json.loads(streamed.body) == {"error": "too_many_requests", "message": "model rate limited"}


def test_a_bad_signature_is_refused_before_streaming_with_json(send: Sender) -> None:
    streamed = send("Hello", tamper=True)
    assert streamed.status == 401
    assert streamed.headers["content-type"] == "application/json"
    assert json.loads(streamed.body) == {"error": "unauthorized", "message": "unauthorized"}


def test_a_body_that_is_no_envelope_is_refused_before_streaming_with_json(send: Sender) -> None:
    streamed = send("Hello", body=b"this is not an envelope")
    assert streamed.status == 400
    assert streamed.headers["content-type"] == "application/json"
    assert json.loads(streamed.body)["error"] == "bad_request"


def test_a_request_without_stream_true_is_refused_on_the_streaming_route(send: Sender) -> None:
    streamed = send("Hello", stream=None)
    assert streamed.status == 400
    assert json.loads(streamed.body)["error"] == "bad_request"


def test_a_request_sealed_for_the_buffered_route_does_not_open_on_the_streaming_route(
    send: Sender, local_stack: LocalStack, info: LocalStackInfo
) -> None:
    # The route is bound into the envelope's encryption context: a replayed body for another route fails.
    nonce = new_nonce()
    plaintext = json.dumps(
        {
            "resp_key": base64.b64encode(new_resp_key()).decode(),
            "request": {"model": "default", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        }
    ).encode()
    body = seal_request_server(
        plaintext,
        kms_key_arn=info.kms_key_arn,
        client_id=info.client_id,
        req_id=nonce,
        route=CHAT_ROUTE,
        kms_client=local_stack.client("kms"),
    )
    request = httpx.Request(
        "POST", f"{info.api_url}{STREAM_ROUTE}", content=body, headers={"Content-Type": ENVELOPE_CONTENT_TYPE}
    )
    SignatureAuth(key_id=info.key_id, secret=info.secret, tag=info.tag, nonce_factory=lambda: nonce).sign(
        request
    )
    with httpx.Client(timeout=30) as client:
        response = client.send(request)
    assert response.status_code in (400, 401, 403)
    assert response.headers["content-type"] == "application/json"


def test_a_client_supplied_request_context_header_is_replaced_by_the_gateway_s(send: Sender) -> None:
    # Signed by the demo client, with a forged context naming another client and scopes: the gateway
    # (here the emulator, deployed the Lambda Web Adapter) writes its own context over it.
    forged = {
        "resourcePath": STREAM_ROUTE,
        "httpMethod": "POST",
        "authorizer": {
            "client_id": "someone-else",
            "key_id": "someone-else.1",
            "nonce": "n",
            "content_digest": "d",
        },
    }
    streamed = send("Hello", extra_headers={"x-amzn-request-context": json.dumps(forged)})
    assert streamed.status == 200
    assert streamed.final["verdict"]["decision"] == "allow"
    assert "Hello" in streamed.text


# --- the Python SDK over HTTP -------------------------------------------------------------------------

LONG_PROMPT = "Tell me about streaming. " * 100  # the stub echoes it: about 2,600 characters


def streamed_with_sdk(state: Path, prompt: str) -> tuple[list[str], ChatStream]:
    """The SDK's stream of `prompt`'s answer, read to its end: the deltas, and the stream."""
    with SecureAIClient.from_local_state(state) as client:
        stream = client.chat_completions(
            model="default", messages=[{"role": "user", "content": prompt}], stream=True
        )
        with stream:
            return list(stream), stream


def test_the_python_sdk_streams_the_buffered_answer_in_several_deltas(state_path: Path) -> None:
    with SecureAIClient.from_local_state(state_path) as client:
        buffered = client.chat_completions(
            model="default", messages=[{"role": "user", "content": LONG_PROMPT}]
        )
    deltas, stream = streamed_with_sdk(state_path, LONG_PROMPT)
    assert len(deltas) >= 3
    assert stream.finished
    assert stream.verdict.decision == buffered.verdict.decision == "allow"
    assert stream.text == "".join(deltas) == buffered.text
    assert stream.usage is not None
    assert stream.usage.total_tokens > 0


def test_the_async_python_sdk_streams_the_same_answer(state_path: Path) -> None:
    async def scenario() -> tuple[list[str], str, str | None]:
        async with AsyncSecureAIClient.from_local_state(state_path) as client:
            stream = await client.chat_completions(
                model="default", messages=[{"role": "user", "content": LONG_PROMPT}], stream=True
            )
            async with stream:
                deltas = [delta async for delta in stream]
            return deltas, stream.verdict.decision, stream.text

    deltas, decision, text = asyncio.run(scenario())
    assert len(deltas) >= 3
    assert decision == "allow"
    assert text == "".join(deltas) == chat_answer([{"role": "user", "content": LONG_PROMPT}])


def test_on_an_incremental_policy_text_leaves_before_a_block_at_the_end_and_none_of_the_secret(
    state_path: Path,
) -> None:
    # local-docs is on docs-links, whose streams moderate sentence by sentence: the stub's echo leaves
    # as it is written, then the fake key at the end of the answer blocks the stream.
    prompt = "Tell me about streaming. " * 40 + "[demo:block]"
    deltas, stream = streamed_with_sdk(state_path.with_name(EXAMPLE_STATE_FILE_NAME), prompt)
    answer = chat_answer([{"role": "user", "content": prompt}])
    assert stream.blocked
    assert stream.text is None
    assert stream.finish_reason == "content_filter"
    assert len(deltas) >= 2, "released in several pieces before the block"
    assert len(stream.released_text) > 1000
    assert answer.startswith(stream.released_text)
    assert FAKE_ACCESS_KEY_ID not in stream.released_text
    assert "aws_access_key" in {finding.type for finding in stream.verdict.findings}


def test_on_the_default_policy_a_stream_buffers_for_moderation_and_a_block_releases_nothing(
    state_path: Path,
) -> None:
    prompt = "Tell me about streaming. " * 40 + "[demo:block]"
    deltas, stream = streamed_with_sdk(state_path, prompt)
    assert stream.blocked
    assert deltas == []
    assert stream.released_text == ""


# --- what the client detects: a stream altered on its way, over HTTP ----------------------------------


def _events(body: bytes) -> list[bytes]:
    return [event + b"\n\n" for event in body.split(b"\n\n") if event]


def _flip(event: bytes) -> bytes:
    head, _, data = event.rstrip(b"\n").rpartition(b"data: ")
    middle = len(data) // 2
    flipped = b"A" if data[middle : middle + 1] != b"A" else b"B"
    return head + b"data: " + data[:middle] + flipped + data[middle + 1 :] + b"\n\n"


ALTERATIONS: dict[str, tuple[Callable[[list[bytes]], list[bytes]], str]] = {
    "tampered": (lambda events: [events[0], _flip(events[1]), *events[2:]], "stream_tampered"),
    "dropped": (lambda events: [events[0], *events[2:]], "stream_order"),
    "reordered": (lambda events: [events[1], events[0], *events[2:]], "stream_order"),
    "duplicated": (lambda events: [events[0], events[0], *events[1:]], "stream_order"),
    "truncated": (lambda events: events[:-1], "stream_truncated"),
    "after the final": (lambda events: [*events, events[0]], "stream_after_final"),
}


class AlteringTransport(httpx.HTTPTransport):
    """The real HTTP transport, with a streamed answer's events altered before the client reads them
    (what a man in the middle, a buggy proxy or a cut connection would do)."""

    def __init__(self, alter: Callable[[list[bytes]], list[bytes]]) -> None:
        super().__init__()
        self._alter = alter

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if not response.headers.get("content-type", "").startswith(STREAM_CONTENT_TYPE):
            return response
        body = response.read()
        response.close()
        events = _events(body)
        assert len(events) >= 3, "the alterations need two chunks and the final event"
        return httpx.Response(
            response.status_code, headers=response.headers, content=b"".join(self._alter(events))
        )


@pytest.mark.parametrize("alteration", ALTERATIONS)
def test_the_python_sdk_refuses_a_stream_altered_on_its_way(state_path: Path, alteration: str) -> None:
    alter, reason = ALTERATIONS[alteration]
    with SecureAIClient.from_local_state(state_path, transport=AlteringTransport(alter)) as client:
        stream = client.chat_completions(
            model="default", messages=[{"role": "user", "content": LONG_PROMPT}], stream=True
        )
        with pytest.raises(StreamBroken) as refused:
            list(stream)
    assert refused.value.reason == reason
    assert not stream.finished
    # What was yielded before the refusal came from authentic events, in order: a prefix of the answer.
    assert chat_answer([{"role": "user", "content": LONG_PROMPT}]).startswith(stream.released_text)
