"""A STUB of an OpenAI-compatible model API, for running the gateway with no provider and no key.

This is not a model. It answers from fixed rules, deterministically, so the local stack and its
demos can show every path of the gateway. It speaks the OpenAI wire format closely enough for the
official `openai` SDK:

- `POST /v1/chat/completions`: echoes the last user message; `usage` counts ceil(len(text) / 4)
  tokens per text; `max_tokens` / `max_completion_tokens` truncate (finish_reason "length");
  `response_format` json_object / json_schema yield a JSON document (the schema's minimal instance).
- `POST /v1/chat/completions` with `"stream": true`: the same answer as server-sent events, as OpenAI
  streams it (`chat.completion.chunk` objects, then `data: [DONE]`; with `stream_options.include_usage`
  a last chunk with empty `choices` and the usage). The answer is cut into pieces whose lengths cycle
  through `STREAM_CHUNK_PATTERN` (3, 1, 4, 1, 5, 9, 2, 6 characters): deliberately not at word
  boundaries, so every word of five letters or more, every URL, e-mail address and key is split across
  chunks, at the same places every time. `[demo:split=N]` makes the first piece exactly N characters
  (then the pattern resumes): a test moves a chunk boundary across a secret one position at a time.
- `POST /v1/moderations`: `omni-moderation-latest` shape, scores from the keyword rules below.
- `GET /v1/models` and `GET /v1/models/{id}`.

Like a real provider it requires `Authorization: Bearer <non-empty>` (401 otherwise); when given an
expected key (`require_api_key`) it also refuses any other key.

Trigger phrases, matched anywhere in the last user message (`TRIGGERS` holds them):

- `[demo:redact]`: the answer contains a contact e-mail address and phone number (PII to redact).
- `[demo:block]`: the answer contains a well-formed but fake AWS access key id and secret key.
- `[demo:canary]`: the answer repeats the system message(s) verbatim, so a planted canary leaks.
- `[demo:slow]`: the answer comes after 35 s (`slow_seconds`), past API Gateway's 29 s limit.
- `[demo:error]`: HTTP 500 with an OpenAI error body.
- `[demo:ratelimit]`: HTTP 429 with `Retry-After`.
- `[demo:stream-error]`: streamed, the answer stops after three chunks with an error event (as OpenAI
  reports a failure after the stream started); not streamed, it has no effect.

Moderation keywords (case-insensitive; every other category scores ~0): "kill", "murder", "stab",
"shoot" → violence; "gore", "dismember" → violence/graphic; "I will kill/hurt you" →
harassment/threatening; "idiot", "moron" → harassment; "kill myself", "end my life", "suicide" →
self-harm/intent; "build/make a bomb" → illicit/violent; "explicit sex" → sexual; the token
`[demo:hate]` → hate. A category is flagged at a score of 0.5 or more.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from werkzeug.wrappers import Request, Response

from secure_ai_local.loopback_server import LoopbackServer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

TRIGGERS: Final = (
    "[demo:redact]",
    "[demo:block]",
    "[demo:canary]",
    "[demo:slow]",
    "[demo:error]",
    "[demo:ratelimit]",
    "[demo:stream-error]",
)
# Lengths of the pieces a streamed answer is cut into, in turn (the digits of pi): never word-aligned.
STREAM_CHUNK_PATTERN: Final = (3, 1, 4, 1, 5, 9, 2, 6)
STREAM_ERROR_AFTER_CHUNKS: Final = 3
_SPLIT_TRIGGER: Final = re.compile(r"\[demo:split=(\d{1,5})\]")
DEFAULT_SLOW_SECONDS: Final = 35.0
DEFAULT_RETRY_AFTER_SECONDS: Final = 2
MODERATION_MODEL: Final = "omni-moderation-latest"
MODELS: Final = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", MODERATION_MODEL)
MODERATION_CATEGORIES: Final = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
FLAG_THRESHOLD: Final = 0.5
_BASELINE_SCORE: Final = 0.000001
_MODERATION_RULES: Final[tuple[tuple[re.Pattern[str], Mapping[str, float]], ...]] = (
    (re.compile(r"\b(?:kill(?!\s+myself)|murder|stab|shoot)\w*", re.IGNORECASE), {"violence": 0.92}),
    (re.compile(r"\b(?:gore|dismember)\w*", re.IGNORECASE), {"violence/graphic": 0.81, "violence": 0.7}),
    (
        re.compile(r"\bI(?:'ll| will) (?:kill|hurt) you\b", re.IGNORECASE),
        {"harassment/threatening": 0.88, "harassment": 0.8, "violence": 0.85},
    ),
    (re.compile(r"\b(?:idiot|moron)s?\b", re.IGNORECASE), {"harassment": 0.72}),
    (
        re.compile(r"\b(?:kill myself|end my life|suicide)\b", re.IGNORECASE),
        {"self-harm": 0.9, "self-harm/intent": 0.87},
    ),
    (re.compile(r"\b(?:build|make) a bomb\b", re.IGNORECASE), {"illicit": 0.9, "illicit/violent": 0.93}),
    (re.compile(r"\bexplicit sex\w*", re.IGNORECASE), {"sexual": 0.86}),
    (re.compile(re.escape("[demo:hate]"), re.IGNORECASE), {"hate": 0.9}),
)
# Reserved example domain and a 555-01xx number: well-formed PII that belongs to nobody.
_CONTACT_SENTENCE: Final = "You can reach our support team at jane.doe@example.com or on +1 202 555 0143."
# Assembled at run time so that secret scanners of this repository do not flag the fake key.
_FAKE_ACCESS_KEY_ID: Final = "AKIA" + "STUBDEMOKEY7Q4XP"
_FAKE_SECRET_ACCESS_KEY: Final = "stubDEMO" + "only/NotARealKey+" + "0123456789abcde"


def count_tokens(text: str) -> int:
    """The stub's deterministic token count: ceil(len(text) / 4)."""
    return math.ceil(len(text) / 4)


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a chat message whose content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text"
        )
    return ""


def chat_answer(messages: list[Mapping[str, Any]]) -> str:
    """The stub's answer to `messages`: an echo of the last user message plus what triggers add."""
    last_user = next((message_text(m) for m in reversed(messages) if m.get("role") == "user"), "")
    parts = [f'This is the local stub model, not a real model. You said: "{last_user}"']
    if "[demo:redact]" in last_user:
        parts.append(_CONTACT_SENTENCE)
    if "[demo:block]" in last_user:
        parts.append(
            "Use these deployment credentials: "
            f"aws_access_key_id = {_FAKE_ACCESS_KEY_ID} aws_secret_access_key = {_FAKE_SECRET_ACCESS_KEY}"
        )
    if "[demo:canary]" in last_user:
        system = "\n".join(message_text(m) for m in messages if m.get("role") in ("system", "developer"))
        parts.append(f"My instructions are: {system}")
    return " ".join(parts)


def stream_pieces(text: str, *, first: int | None = None) -> list[str]:
    """`text` cut as the stub streams it: `first` characters, then lengths from STREAM_CHUNK_PATTERN."""
    pieces: list[str] = []
    start = 0
    if first is not None and first > 0:
        pieces.append(text[:first])
        start = first
    turn = 0
    while start < len(text):
        size = STREAM_CHUNK_PATTERN[turn % len(STREAM_CHUNK_PATTERN)]
        pieces.append(text[start : start + size])
        start += size
        turn += 1
    return [piece for piece in pieces if piece]


def moderation_scores(text: str) -> dict[str, float]:
    """Category → score for `text` under the keyword rules (the highest matching rule wins)."""
    scores = dict.fromkeys(MODERATION_CATEGORIES, _BASELINE_SCORE)
    for pattern, categories in _MODERATION_RULES:
        if pattern.search(text):
            for category, score in categories.items():
                scores[category] = max(scores[category], score)
    return scores


def minimal_instance(schema: Any, text: str) -> Any:
    """The smallest document a simple JSON schema accepts, with `text` in every string."""
    if not isinstance(schema, Mapping):
        return text
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = schema.get("required", list(properties))
        return {name: minimal_instance(properties.get(name, {}), text) for name in required}
    simple: dict[str, Any] = {"integer": 0, "number": 0, "boolean": False, "null": None}
    if kind == "array":
        return [minimal_instance(schema.get("items", {}), text) for _ in range(schema.get("minItems", 0))]
    return simple.get(str(kind), text)


class StubModel:
    """The WSGI application behind `StubModelServer`."""

    def __init__(
        self,
        *,
        slow_seconds: float = DEFAULT_SLOW_SECONDS,
        retry_after_seconds: int = DEFAULT_RETRY_AFTER_SECONDS,
        clock: Callable[[], float] = time.time,
        chunk_delay_seconds: float = 0.0,
    ) -> None:
        self._slow_seconds = slow_seconds
        # A pause before each streamed chunk, as a model's token cadence (the benchmark sets it).
        self.chunk_delay_seconds = chunk_delay_seconds
        self._retry_after_seconds = retry_after_seconds
        self._clock = clock
        self._expected_api_key: str | None = None
        # Set at shutdown so that `[demo:slow]` requests end instead of holding threads for 35 s.
        self._stopping = threading.Event()

    def require_api_key(self, api_key: str) -> None:
        """From now on, accept only `api_key` (any non-empty key is accepted until then)."""
        self._expected_api_key = api_key

    def release_slow_requests(self) -> None:
        """Wake every request sleeping on `[demo:slow]` (used at shutdown)."""
        self._stopping.set()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        return self._respond(request)(environ, start_response)

    def _respond(self, request: Request) -> Response:
        refusal = self._check_api_key(request.headers.get("Authorization", ""))
        if refusal is not None:
            return refusal
        route = (request.method, request.path.rstrip("/"))
        if route == ("POST", "/v1/chat/completions"):
            return self._chat_completions(request)
        if route == ("POST", "/v1/moderations"):
            return self._moderations(request)
        if route == ("GET", "/v1/models"):
            return _json(200, {"object": "list", "data": [self._model(name) for name in MODELS]})
        if request.method == "GET" and request.path.startswith("/v1/models/"):
            return _json(200, self._model(request.path.removeprefix("/v1/models/")))
        return _error(404, f"Unknown request URL: {request.method} {request.path}.", "invalid_request_error")

    def _check_api_key(self, authorization: str) -> Response | None:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return _error(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization "
                "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
            )
        expected = self._expected_api_key
        if expected is not None and not secrets.compare_digest(key.strip().encode(), expected.encode()):
            return _error(401, "Incorrect API key provided.", "invalid_request_error", code="invalid_api_key")
        return None

    def _chat_completions(self, request: Request) -> Response:
        body = _json_body(request)
        if not isinstance(body, dict):
            return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
        messages = body.get("messages")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return _error(400, "you must provide a model parameter", "invalid_request_error", param="model")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return _error(400, "'messages' must be a non-empty array.", "invalid_request_error", "messages")
        last_user = next((message_text(m) for m in reversed(messages) if m.get("role") == "user"), "")
        if "[demo:error]" in last_user:
            return _error(500, "The stub model failed on purpose ([demo:error]).", "server_error")
        if "[demo:ratelimit]" in last_user:
            response = _error(
                429, "Rate limit reached ([demo:ratelimit]).", "requests", code="rate_limit_exceeded"
            )
            response.headers["Retry-After"] = str(self._retry_after_seconds)
            return response
        if "[demo:slow]" in last_user:
            self._stopping.wait(self._slow_seconds)
        completion = self._completion(body, messages, model)
        if body.get("stream") is True:
            return self._stream(body, completion, last_user)
        return _json(200, completion)

    def _stream(self, body: Mapping[str, Any], completion: dict[str, Any], last_user: str) -> Response:
        """The completion as OpenAI streams it: one chunk per piece, the finish reason, the usage."""
        choice = completion["choices"][0]
        split = _SPLIT_TRIGGER.search(last_user)
        pieces = stream_pieces(choice["message"]["content"], first=int(split[1]) if split else None)
        options = body.get("stream_options")
        include_usage = isinstance(options, Mapping) and options.get("include_usage") is True
        fails = "[demo:stream-error]" in last_user
        base = {key: completion[key] for key in ("id", "created", "model", "system_fingerprint")}

        def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            document = {**base, "object": "chat.completion.chunk", "choices": choices, **extra}
            return f"data: {json.dumps(document)}\n\n".encode()

        def events() -> Iterator[bytes]:
            yield chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
            for number, piece in enumerate(pieces):
                if fails and number == STREAM_ERROR_AFTER_CHUNKS:
                    error = {
                        "message": "The stub model failed mid-stream ([demo:stream-error]).",
                        "type": "server_error",
                    }
                    yield f"data: {json.dumps({'error': error})}\n\n".encode()
                    return
                if self.chunk_delay_seconds:
                    self._stopping.wait(self.chunk_delay_seconds)
                yield chunk([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
            yield chunk([{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}])
            if include_usage:
                yield chunk([], usage=completion["usage"])
            yield b"data: [DONE]\n\n"

        return Response(events(), status=200, content_type="text/event-stream")

    def _completion(self, body: Mapping[str, Any], messages: list[Any], model: str) -> dict[str, Any]:
        content = chat_answer(messages)
        response_format = body.get("response_format")
        if isinstance(response_format, Mapping) and response_format.get("type") == "json_schema":
            schema = response_format.get("json_schema", {}).get("schema", {})
            content = json.dumps(minimal_instance(schema, content))
        elif isinstance(response_format, Mapping) and response_format.get("type") == "json_object":
            content = json.dumps({"answer": content})
        finish_reason = "stop"
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        if isinstance(limit, int) and limit > 0 and count_tokens(content) > limit:
            content, finish_reason = content[: limit * 4], "length"
        choices = body.get("n", 1)
        prompt_tokens = sum(count_tokens(message_text(m)) for m in messages)
        completion_tokens = count_tokens(content)
        return {
            "id": f"chatcmpl-stub{secrets.token_hex(12)}",
            "object": "chat.completion",
            "created": int(self._clock()),
            "model": model,
            "system_fingerprint": "fp_stub",
            "choices": [
                {
                    "index": index,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
                for index in range(choices if isinstance(choices, int) and 1 <= choices <= 8 else 1)
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _moderations(self, request: Request) -> Response:
        body = _json_body(request)
        texts = _moderation_inputs(body.get("input") if isinstance(body, dict) else None)
        if texts is None:
            return _error(400, "'input' must be a string or an array.", "invalid_request_error", "input")
        model = body.get("model") if isinstance(body, dict) else None
        results = []
        for text in texts:
            scores = moderation_scores(text)
            categories = {name: score >= FLAG_THRESHOLD for name, score in scores.items()}
            results.append(
                {
                    "flagged": any(categories.values()),
                    "categories": categories,
                    "category_scores": scores,
                    "category_applied_input_types": {name: ["text"] for name in MODERATION_CATEGORIES},
                }
            )
        return _json(
            200,
            {
                "id": f"modr-stub{secrets.token_hex(12)}",
                "model": model if isinstance(model, str) and model else MODERATION_MODEL,
                "results": results,
            },
        )

    def _model(self, name: str) -> dict[str, Any]:
        return {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": "secure-ai-stub"}


def _moderation_inputs(value: Any) -> list[str] | None:
    """One text per result: a string, a list of strings, or one multimodal list of parts."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return list(value)
    if isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
        return [message_text({"content": value})]
    return None


def _json_body(request: Request) -> Any:
    try:
        return json.loads(request.get_data())
    except ValueError:
        return None


def _json(status: int, document: Any) -> Response:
    return Response(json.dumps(document), status=status, content_type="application/json")


def _error(
    status: int, message: str, kind: str, param: str | None = None, code: str | None = None
) -> Response:
    return _json(status, {"error": {"message": message, "type": kind, "param": param, "code": code}})


class StubModelServer:
    """The stub model served on 127.0.0.1 (a free port unless `port` is given)."""

    def __init__(
        self,
        *,
        port: int = 0,
        slow_seconds: float = DEFAULT_SLOW_SECONDS,
        retry_after_seconds: int = DEFAULT_RETRY_AFTER_SECONDS,
        chunk_delay_seconds: float = 0.0,
    ) -> None:
        self.model = StubModel(
            slow_seconds=slow_seconds,
            retry_after_seconds=retry_after_seconds,
            chunk_delay_seconds=chunk_delay_seconds,
        )
        self._server = LoopbackServer(self.model, port=port, name="stub-model")

    def start(self) -> StubModelServer:
        """Start serving; returns self."""
        self._server.start()
        return self

    @property
    def base_url(self) -> str:
        """The OpenAI `base_url`: `http://127.0.0.1:<port>/v1`."""
        return f"{self._server.origin}/v1"

    def stop(self) -> None:
        """Release sleeping requests and stop the server."""
        self.model.release_slow_requests()
        self._server.stop()

    def __enter__(self) -> StubModelServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
