"""The leak sentinel: a pytest plugin that fails any test whose observable output carries a secret.

Active for the whole suite (registered in tests/conftest.py). Values are *planted* into a per-test
registry: fixtures register what they create (client secrets from the `admin` fixture, the fake
provider's prompts and answers), harnesses register what they send (resp_keys, prompts), and the
sentinel itself registers what the gateway decrypts or parses (every resp_key, every decrypted
prompt, every screened text, and for a streamed answer what its stream screen read and each piece
it released) and, while moto is active, every Secrets Manager secret (the model API key). After
the test body, the sentinel looks for each planted value, raw and JSON-escaped, as bytes-repr, hex,
base64 and base64url (at every alignment, so a value inside a longer blob is found too), in
everything an operator or a subscriber could read:

- captured stdout/stderr (the Powertools JSON log lines and EMF metrics), and output a test read
  itself through capsys/capfd;
- every log record of every logger, captured by the sentinel's own handler with the root logger at
  DEBUG (message, extras and traceback), under the production pin of the libraries that log bodies;
- X-Ray annotations and metadata (spied on the SDK's entities, the disabled ones included);
- while moto is active: every DynamoDB item (the verdicts table among them), every message in an SQS
  queue other than the validation input queues, and every event published to EventBridge.

What the sentinel observes rather than is given must be distinctive (`is_distinctive`): fuzzers draw
texts such as "OutputBlocked" that outputs carry by design. A finding fails the test with the kind
of value, the channel and the form, never the value, and the report's captured output is redacted.
`find_leaks` is the pure check; tests/security/test_leak_sentinel.py proves both it and the plugin.
"""

from __future__ import annotations

import ast
import base64
import functools
import json
import logging
import sys
import traceback
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest

from secure_ai_gateway.observability import silence_body_logging

MIN_PLANTED_LENGTH: Final = 8
# Texts the sentinel observes (rather than is given) must be this long to count as secrets.
DISTINCTIVE_LENGTH: Final = 16
REPOSITORY: Final = Path(__file__).resolve().parents[1]
GATEWAY_SOURCES: Final = ("packages/gateway/src", "packages/protocol/src", "functions")
# Queues that carry texts to screen by design (the validator's input, and where it dead-letters).
INPUT_QUEUE_MARKERS: Final = ("ValidationQueue", "ValidationDeadLetterQueue")
_SEPARATOR: Final = "\n\x00\n"
_STANDARD_RECORD_ATTRIBUTES: Final = frozenset(
    set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
)

PlantedValue = str | bytes
Source = Callable[[], Iterable[PlantedValue | None]]


@dataclass(frozen=True, slots=True)
class Leak:
    """One planted value found in one channel: what kind, where, in which spelling (never the value)."""

    kind: str
    channel: str
    form: str

    def __str__(self) -> str:
        return f"{self.kind} found in {self.channel} ({self.form} form)"


def leak_forms(value: PlantedValue) -> dict[str, str]:
    """The spellings of `value` worth looking for, each mapped to its form's name."""
    forms: dict[str, str] = {}
    if isinstance(value, str):
        forms[value] = "raw"
        forms.setdefault(json.dumps(value)[1:-1], "json-escaped")
        forms.setdefault(repr(value)[1:-1], "repr")
        data = value.encode("utf-8", "surrogatepass")
    else:
        data = value
        forms[repr(data)[2:-1]] = "bytes-repr"
        if data.isascii() and data.decode("ascii").isprintable():
            forms.setdefault(data.decode("ascii"), "raw")
    forms.setdefault(data.hex(), "hex")
    forms.setdefault(data.hex().upper(), "hex")
    for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
        # Inside a longer encoded blob the value starts at any byte offset mod 3: the groups that
        # hold only its bytes are the same whatever surrounds them.
        for shift in range(3):
            chunk = data[shift:]
            whole = len(chunk) // 3 * 3
            if shift == 0:
                forms.setdefault(encode(data).decode("ascii").rstrip("="), name)
            if whole >= 6:
                forms.setdefault(encode(chunk[:whole]).decode("ascii"), name)
    return {form: name for form, name in forms.items() if len(form) >= MIN_PLANTED_LENGTH}


def find_leaks(
    planted: Iterable[tuple[str, PlantedValue]], channels: Mapping[str, Iterable[str]]
) -> list[Leak]:
    """Every (kind, channel, form) under which a planted value occurs in a channel's texts."""
    texts = {name: _SEPARATOR.join(parts) for name, parts in channels.items()}
    texts = {name: text for name, text in texts.items() if text}
    leaks: dict[tuple[str, str], Leak] = {}
    for kind, value in planted:
        for form, form_name in leak_forms(value).items():
            for channel, text in texts.items():
                if (kind, channel) not in leaks and form in text:
                    leaks[kind, channel] = Leak(kind, channel, form_name)
    return list(leaks.values())


def is_distinctive(value: PlantedValue) -> bool:
    """Whether an observed value could only be in an output by leaking (random bytes always are).

    A text must be long, varied, and no part of the gateway's own string literals: fuzzers draw texts
    like "OutputBlocked" or "request refused", which outputs carry by design.
    """
    if isinstance(value, bytes):
        return len(value) >= MIN_PLANTED_LENGTH
    if len(value) < DISTINCTIVE_LENGTH or len(set(value)) < DISTINCTIVE_LENGTH // 2:
        return False
    return not any(value in literal for literal in _gateway_literals())


@functools.cache
def _gateway_literals() -> tuple[str, ...]:
    """Every string literal of the gateway's code (the layer and the functions)."""
    literals: set[str] = set()
    for folder in GATEWAY_SOURCES:
        for path in sorted((REPOSITORY / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) >= 4:
                    literals.add(node.value)
    return tuple(sorted(literals))


class LeakRegistry:
    """Values that must never be observable, for one test."""

    def __init__(self) -> None:
        self._values: dict[PlantedValue, str] = {}
        self._sources: list[tuple[str, Source]] = []

    def plant(self, kind: str, value: PlantedValue) -> PlantedValue:
        """Register `value` (at least MIN_PLANTED_LENGTH long) as a secret of `kind`; return it."""
        if len(value) < MIN_PLANTED_LENGTH:
            raise ValueError(f"a planted value needs at least {MIN_PLANTED_LENGTH} characters or bytes")
        self._values.setdefault(value, kind)
        return value

    def observe(self, kind: str, value: PlantedValue | None) -> None:
        """Register `value` if it is distinctive (see `is_distinctive`); ordinary text is ignored."""
        if value is not None and is_distinctive(value):
            self._values.setdefault(value, kind)

    def watch(self, kind: str, source: Source) -> None:
        """Register the distinctive values `source` returns when the test ends (for values that change)."""
        self._sources.append((kind, source))

    def planting(self, kind: str, generate: Callable[[int], bytes]) -> Callable[[int], bytes]:
        """`generate`, registering each value it returns (e.g. `secrets.token_bytes` for client secrets)."""

        def planted(size: int) -> bytes:
            value = generate(size)
            self.observe(kind, value)
            return value

        return planted

    def planted(self) -> list[tuple[str, PlantedValue]]:
        """Every registered value with its kind, the watched sources read now."""
        values = dict(self._values)
        for kind, source in self._sources:
            for value in source():
                if value is not None and is_distinctive(value):
                    values.setdefault(value, kind)
        return [(kind, value) for value, kind in values.items()]


def chat_texts(requests: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """The message texts of OpenAI-format chat requests (string content or text parts)."""
    for request in requests:
        for message in request.get("messages", []):
            content = message.get("content") if isinstance(message, Mapping) else None
            if isinstance(content, str):
                yield content
            elif isinstance(content, list):
                yield from (part["text"] for part in content if isinstance(part, Mapping) and "text" in part)


class _RecordingHandler(logging.Handler):
    """Keeps the full text of every record: message, extras and traceback."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        parts = [_message_of(record)]
        for key, value in vars(record).items():
            if key not in _STANDARD_RECORD_ATTRIBUTES:
                parts.append(f"{key}={value!s} {value!r}")
        if record.exc_info and record.exc_info[1] is not None:
            parts.append("".join(traceback.format_exception(record.exc_info[1])))
        if record.stack_info:
            parts.append(record.stack_info)
        self.texts.append(" ".join(parts))


def _message_of(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError):
        return f"{record.msg!s} {record.args!r}"


@dataclass
class Sentinel:
    """One test's registry and everything the sentinel saw during it."""

    registry: LeakRegistry = field(default_factory=LeakRegistry)
    logs: _RecordingHandler = field(default_factory=_RecordingHandler)
    read_output: list[str] = field(default_factory=list)
    traces: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    logs_scanned: int = 0

    def channels(self, sections: Iterable[tuple[str, str]], *, with_moto: bool) -> dict[str, list[str]]:
        """The texts to search, by channel; the moto state only while the test's moto is still up."""
        channels: dict[str, list[str]] = {title.lower(): [content] for title, content in sections}
        channels["output read through capsys/capfd"] = list(self.read_output)
        channels["a log record"] = self.logs.texts[self.logs_scanned :]
        channels["X-Ray trace data"] = list(self.traces)
        channels["a published EventBridge event"] = list(self.published)
        if with_moto:
            channels.update(_moto_channels())
        return channels

    def planted(self, *, with_moto: bool) -> list[tuple[str, PlantedValue]]:
        planted = self.registry.planted()
        if with_moto:
            planted += [("Secrets Manager secret", value) for value in _moto_secrets()]
        return planted


_SENTINEL = pytest.StashKey[Sentinel]()


@pytest.fixture(autouse=True)
def _leak_sentinel(request: pytest.FixtureRequest) -> Iterator[Sentinel]:
    """Plant, spy and capture for one test; the verdict is given in `pytest_runtest_makereport`."""
    sentinel = Sentinel()
    request.node.stash[_SENTINEL] = sentinel
    root = logging.getLogger()
    powertools = logging.getLogger("aws_lambda_powertools")
    previous_levels = root.level, powertools.level
    # The production logging configuration at its most verbose: every handler pins the libraries
    # that log request bodies at WARNING when it is imported; everything else is at DEBUG.
    silence_body_logging()
    root.addHandler(sentinel.logs)
    root.setLevel(logging.DEBUG)
    # Powertools' own diagnostics (what POWERTOOLS_DEBUG turns on) stay at INFO: one of them sits
    # between the metrics flush's check and its write, and at DEBUG it widens a race that the
    # 50-thread authorizer test (one shared Metrics object) then hits.
    powertools.setLevel(logging.INFO)
    with pytest.MonkeyPatch.context() as patch:
        _spy_on_captured_output(patch, sentinel)
        _spy_on_traces(patch, sentinel)
        _spy_on_published_events(patch, sentinel)
        _observe_gateway_plaintexts(patch, sentinel.registry)
        try:
            yield sentinel
        finally:
            root.removeHandler(sentinel.logs)
            root.setLevel(previous_levels[0])
            powertools.setLevel(previous_levels[1])


@pytest.fixture
def leak_registry(_leak_sentinel: Sentinel) -> LeakRegistry:
    """This test's registry of planted values."""
    return _leak_sentinel.registry


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Fail the call (or teardown) of a test whose observable output holds a planted value."""
    report: pytest.TestReport = yield
    sentinel = item.stash.get(_SENTINEL, None)
    if sentinel is None or report.when == "setup" or report.skipped:
        return report
    # At the call report the test's fixtures, moto included, are still up; at teardown they are gone.
    with_moto = report.when == "call"
    sections = [(title, content) for title, content in report.sections if title.endswith(report.when)]
    if report.when == "call":
        sections += [(title, content) for title, content in report.sections if title.endswith("setup")]
    planted = sentinel.planted(with_moto=with_moto)
    leaks = find_leaks(planted, sentinel.channels(sections, with_moto=with_moto))
    sentinel.logs_scanned = len(sentinel.logs.texts)
    sentinel.read_output.clear()
    sentinel.traces.clear()
    sentinel.published.clear()
    if leaks:
        # The report prints captured output: it must not carry the leaked values further (CI logs).
        report.sections = [(title, redacted(content, planted)) for title, content in report.sections]
        message = "leak sentinel: " + "; ".join(sorted(str(leak) for leak in leaks))
        if report.passed:
            report.outcome = "failed"
            report.longrepr = message
        else:
            report.sections.append(("leak sentinel", message))
    return report


def redacted(text: str, planted: Iterable[tuple[str, PlantedValue]]) -> str:
    """`text` with every spelling of every planted value replaced by the value's kind."""
    for kind, value in planted:
        for form in sorted(leak_forms(value), key=len, reverse=True):
            text = text.replace(form, f"<planted {kind}>")
    return text


def _spy_on_captured_output(patch: pytest.MonkeyPatch, sentinel: Sentinel) -> None:
    original = pytest.CaptureFixture.readouterr

    def readouterr(self: pytest.CaptureFixture[Any]) -> Any:
        result = original(self)
        for text in result:
            sentinel.read_output.append(text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
        return result

    patch.setattr(pytest.CaptureFixture, "readouterr", readouterr)


def _spy_on_traces(patch: pytest.MonkeyPatch, sentinel: Sentinel) -> None:
    try:
        from aws_xray_sdk.core.models.dummy_entities import DummySegment, DummySubsegment
        from aws_xray_sdk.core.models.entity import Entity
    except ImportError:  # pragma: no cover - the tracer extra is a dev dependency
        return
    for cls in (Entity, DummySegment, DummySubsegment):
        for name in ("put_annotation", "put_metadata"):
            patch.setattr(cls, name, _recording(getattr(cls, name), sentinel.traces))


def _recording(method: Callable[..., Any], texts: list[str]) -> Callable[..., Any]:
    def record(self: Any, key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        texts.append(f"{key}={value!s} {value!r}")
        return method(self, key, value, *args, **kwargs)

    return record


def _spy_on_published_events(patch: pytest.MonkeyPatch, sentinel: Sentinel) -> None:
    from moto.events.models import EventsBackend

    original = EventsBackend.put_events

    def put_events(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        sentinel.published.append(json.dumps(events, default=str))
        return original(self, events)

    patch.setattr(EventsBackend, "put_events", put_events)


def _observe_gateway_plaintexts(patch: pytest.MonkeyPatch, registry: LeakRegistry) -> None:
    """Register what the gateway decrypts or parses: every suite is covered, whatever its harness."""
    from secure_ai_gateway.services import completion, streaming_completion, validator
    from secure_ai_protocol.wire import chat

    decode_resp_key = chat.decode_resp_key

    def observed_resp_key(value: object) -> bytes:
        key = decode_resp_key(value)
        registry.observe("resp_key", key)
        return key

    parse_plaintext = completion.parse_plaintext

    def observed_plaintext(plaintext: bytes) -> chat.RequestPlaintext:
        parsed = parse_plaintext(plaintext)
        registry.observe("resp_key", parsed.resp_key)
        for message in parsed.request.messages:
            registry.observe("prompt", message.text())
        return parsed

    validate = validator.ValidationService.validate

    def observed_validate(self: validator.ValidationService, request: Any, **kwargs: Any) -> Any:
        registry.observe("screened text", request.text)
        return validate(self, request, **kwargs)

    # The streamed answer's request is opened by the same `completion.parse_plaintext` (its admission
    # is `CompletionSteps.admit`, which looks the function up in that module); its answer goes
    # through the stream screen the service was given, observed here on every stream it opens.
    open_stream = streaming_completion.StreamingCompletionService.open

    def observed_open(self: streaming_completion.StreamingCompletionService, call: Any) -> Any:
        stream = open_stream(self, call)
        stream.screens = _ObservedScreens(stream.screens, registry)
        return stream

    patch.setattr(chat, "decode_resp_key", observed_resp_key)
    patch.setattr(validator, "decode_resp_key", observed_resp_key)
    patch.setattr(completion, "parse_plaintext", observed_plaintext)
    patch.setattr(validator.ValidationService, "validate", observed_validate)
    patch.setattr(streaming_completion.StreamingCompletionService, "open", observed_open)


class _ObservedScreens:
    """A stream screen factory whose screens register what they read (the model's deltas, as one
    text when the test ends) and each piece they release (a released piece is what one event of
    the stream carries, so a single event's text in an output is found)."""

    def __init__(self, screens: Callable[..., Any], registry: LeakRegistry) -> None:
        self._screens = screens
        self._registry = registry

    def __call__(self, policy: Any, **kwargs: Any) -> _ObservedScreen:
        return _ObservedScreen(self._screens(policy, **kwargs), self._registry)


class _ObservedScreen:
    def __init__(self, screen: Any, registry: LeakRegistry) -> None:
        self._screen = screen
        self._registry = registry
        read: list[str] = []
        released: list[str] = []
        self._read = read
        self._released = released
        registry.watch("answer read by the stream screen", lambda: ["".join(read)])
        registry.watch("released answer", lambda: ["".join(released)])

    def feed(self, delta: str) -> Any:
        self._read.append(delta)
        return self._released_by(self._screen.feed(delta))

    def finish(self) -> Any:
        return self._released_by(self._screen.finish())

    def _released_by(self, step: Any) -> Any:
        from secure_ai_gateway.services.streaming_completion import pieces_of

        self._released.append(step.released)
        # What is released at once is sealed in pieces: each is one event's text.
        for piece in [step.released, *pieces_of(step.released)]:
            self._registry.observe("released answer", piece)
        return step


def _backends(module: str, name: str) -> Iterator[Any]:
    """moto's live backends of one service (without creating any), if moto was imported."""
    models = sys.modules.get(module)
    if models is None:
        return
    for regions in dict.values(getattr(models, name)):
        yield from dict.values(regions)


def _moto_channels() -> dict[str, list[str]]:
    channels: dict[str, list[str]] = {}
    for backend in _backends("moto.dynamodb.models", "dynamodb_backends"):
        for table in backend.tables.values():
            items = [json.dumps(item.to_json(), default=str) for item in table.all_items()]
            channels[f"DynamoDB table {table.name}"] = items
    for backend in _backends("moto.sqs.models", "sqs_backends"):
        for queue in backend.queues.values():
            if not any(marker in queue.name for marker in INPUT_QUEUE_MARKERS):
                channels[f"SQS queue {queue.name}"] = [message.body for message in queue._messages]
    return channels


def _moto_secrets() -> Iterator[str]:
    for backend in _backends("moto.secretsmanager.models", "secretsmanager_backends"):
        for secret in backend.secrets.values():
            for version in getattr(secret, "versions", {}).values():
                if isinstance(version.get("secret_string"), str):
                    yield version["secret_string"]
            if isinstance(getattr(secret, "secret_string", None), str):
                yield secret.secret_string
