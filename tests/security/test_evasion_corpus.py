"""The independent evasion corpus through the real handlers: screening sees what is released.

tests/data/evasion_corpus.jsonl (written by tests/data/evasion_corpus_build.py, which documents the
case format) is run case by case on the paths each case names:

- `validate`: a signed JSON `POST /v1/validate` to the validator. What is released is the redacted
  text of a redacted verdict, the text itself when allowed, nothing when blocked; and the verdict.
- `chat`: an encrypted chat completion to the completion handler, whose model is a scripted fake
  provider answering the case's `model_answer` (with the planted canary or the prompt it received
  substituted where the case says) and `finish_reason`. What is released is the decrypted answer
  text and the decrypted verdict. Every request the provider receives, moderation included, is
  recorded: the provider is one party, whichever endpoint it is sent to.

Each case asserts the status and the decision, that nothing released or in the verdict contains a
`released_must_not_contain` string, that the plain SHA-256 digest of none of the case's texts appears
in the verdict (digests are keyed), and, on the chat path, that the provider saw none of
`provider_must_not_see`. The corpus is an acceptance test written apart from the screening code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx2
import openai
import pytest
from aws_lambda_powertools.utilities import parameters

from secure_ai_gateway.adapters.aws_clients import reset_clients
from secure_ai_gateway.adapters.openai import access as openai_access
from secure_ai_protocol.envelope.responses import open_response
from secure_ai_protocol.media_types import JSON_CONTENT_TYPE
from secure_ai_protocol.routes import VALIDATE_ROUTE
from tests import conftest as suite
from tests.conftest import TEST_MODEL
from tests.data.evasion_corpus_build import CLASSES, build, corpus_lines
from tests.fake_provider import FakeProvider
from tests.leak_sentinel import LeakRegistry, chat_texts
from tests.security.harness import (
    Gateway,
    SecurityStack,
    SignedProxyCall,
    cold_start,
)

CORPUS: Final = Path(__file__).resolve().parents[1] / "data" / "evasion_corpus.jsonl"
DECISIONS: Final = frozenset({"allow", "redact", "block", "not_allow"})
# The canary `new_canary()` plants: four groups of three consonant-vowel syllables.
CANARY_SHAPE: Final = re.compile(r"\b(?:[bdfgklmnprstvz][aeiou]){3}(?:-(?:[bdfgklmnprstvz][aeiou]){3}){3}\b")
TEMPLATE: Final = re.compile(r"\{\{(canary|echo)(?::([a-z0-9]+))?\}\}")
CANARY_FORM: Final = re.compile(
    r"(upper|spaced|nohyphen|zwsp|homoglyph|fullwidth|lines|underscore)?(?:prefix(\d+))?"
)
HOMOGLYPHS: Final = str.maketrans({"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "k": "\u03ba"})


def load_cases() -> list[dict[str, Any]]:
    """Every case of the corpus, in file order."""
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


CASES: Final = load_cases()


def on_path(path: str) -> list[Any]:
    return [pytest.param(case, id=case["id"]) for case in CASES if path in case["path"]]


def expand(value: Any) -> Any:
    """`value` with every `{"parts": [...]}` joined into its string (see the builder's docstring)."""
    if isinstance(value, Mapping):
        if set(value) == {"parts"}:
            return "".join(
                part if isinstance(part, str) else part["repeat"] * part["times"] for part in value["parts"]
            )
        return {key: expand(item) for key, item in value.items()}
    if isinstance(value, list):
        return [expand(item) for item in value]
    return value


def plain_digest(text: str) -> str:
    """The unkeyed RFC 9530 digest of `text`: what a verdict must never carry."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return f"sha-256=:{base64.b64encode(digest).decode()}:"


def message_text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    return content if isinstance(content, str) else ""


def canary_in(request: Mapping[str, Any]) -> str:
    """The canary the gateway planted in the system prompt of `request`."""
    for message in request.get("messages", []):
        if message.get("role") in {"system", "developer"}:
            found = CANARY_SHAPE.search(message_text(message))
            if found:
                return found.group()
    raise AssertionError("the gateway planted no canary in the system prompt the provider received")


def canary_form(canary: str, form: str) -> str:
    """`canary` in the form a case names: a style, a prefix of N letters, or both."""
    matched = CANARY_FORM.fullmatch(form)
    assert matched, f"unknown canary form {form!r}"
    style, letters = matched.groups()
    text = canary
    if letters is not None:
        count, end = 0, 0
        while count < int(letters):
            count += canary[end] != "-"
            end += 1
        text = canary[:end]
    bare = text.replace("-", "")
    styles = {
        None: text,
        "upper": text.upper(),
        "spaced": " ".join(bare),
        "nohyphen": bare,
        "zwsp": "\u200b".join(bare),
        "homoglyph": text.translate(HOMOGLYPHS),
        "fullwidth": "".join(chr(ord(char) + 0xFEE0) if char.isalnum() else char for char in text),
        "lines": "\n".join(text.split("-")),
        "underscore": text.replace("-", "_"),
    }
    return styles[style]


def render_answer(template: str, request: Mapping[str, Any]) -> str:
    """The model's answer: `template` with the planted canary or the last user message filled in."""

    def fill(match: re.Match[str]) -> str:
        if match.group(1) == "echo":
            users = [message for message in request.get("messages", []) if message.get("role") == "user"]
            return message_text(users[-1])
        return canary_form(canary_in(request), match.group(2) or "")

    return TEMPLATE.sub(fill, template)


@dataclass
class ScriptedProvider:
    """Answers chat requests with a case's answer and finish reason; records every request it gets."""

    fake: FakeProvider = field(default_factory=FakeProvider)
    template: str = ""
    finish_reason: str = "stop"
    seen: list[tuple[str, str]] = field(default_factory=list)
    canary: str | None = None

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        raw = request.content.decode("utf-8", "replace")
        body = json.loads(raw)
        self.seen.append((request.url.path, raw))
        self.seen.append((request.url.path, json.dumps(body, ensure_ascii=False)))
        if request.url.path.endswith("/moderations"):
            return self.fake.handle(request)
        self.fake.chat_requests.append(body)
        if "{{canary" in self.template:
            self.canary = canary_in(body)
        answer = render_answer(self.template, body)
        # The fake's answer is watched by the leak sentinel: it must not leave the envelope.
        self.fake.answer = answer
        return httpx2.Response(
            200,
            json={
                "id": "chatcmpl-evasion",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer},
                        "finish_reason": self.finish_reason,
                    }
                ],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
            },
        )


@dataclass
class Switchboard:
    """Puts every model client the warm gateway built through to the current case's provider."""

    current: ScriptedProvider = field(default_factory=ScriptedProvider)

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        return self.current.handle(request)

    def client_for(
        self, *, api_key: str, base_url: str, timeout_seconds: float, max_retries: int
    ) -> openai.OpenAI:
        assert api_key, "the API key must come from Secrets Manager"
        return openai.OpenAI(
            api_key=api_key,
            base_url="http://provider.test/v1",
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.MockTransport(self.handle)),
        )


@pytest.fixture(scope="module")
def switchboard(security_stack: SecurityStack) -> Iterator[Switchboard]:
    """Warm handlers on the module's stack, their model clients wired to a switchboard.

    Lambda keeps an execution environment's clients and services between invocations; so does this
    module. The suite forgets every boto3 client before each test, which would cost every case three
    new clients (a tenth of a second): for this module's cases it keeps them, as a warm Lambda does.
    """
    board = Switchboard()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(suite, "reset_clients", lambda: None)
        patch.setattr(openai_access, "openai_client", board.client_for)
        cold_start()
        parameters.clear_caches()  # type: ignore[no-untyped-call]
        yield board
        cold_start()
        parameters.clear_caches()  # type: ignore[no-untyped-call]
    reset_clients()


@pytest.fixture
def warm_gateway(
    security_stack: SecurityStack,
    switchboard: Switchboard,
    leak_registry: LeakRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> Gateway:
    """The module's warm handlers, with this test's leak registry."""
    return Gateway(
        security_stack.stack,
        security_stack.client,
        leak_registry,
        monkeypatch,
        security_stack.rsa_public_key_pem,
    )


@pytest.fixture
def scripted(switchboard: Switchboard, leak_registry: LeakRegistry) -> ScriptedProvider:
    """A fresh scripted provider behind the switchboard; what it is asked and answers is planted."""
    provider = ScriptedProvider()
    switchboard.current = provider
    leak_registry.watch("model answer", lambda: [provider.fake.answer])
    leak_registry.watch("prompt sent to the model", lambda: chat_texts(provider.fake.chat_requests))
    return provider


@dataclass(frozen=True)
class Outcome:
    """What the client got back: status, decision, released text, the verdict as JSON (on the chat
    path, the whole decrypted payload around it), and the case's texts whose plain digests it must
    not carry."""

    status: int
    decision: str | None = None
    released: str = ""
    verdict: str = ""
    texts: tuple[str, ...] = ()
    findings: tuple[str, ...] = ()
    unavailable: tuple[str, ...] = ()


def evidence(verdict: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The verdict's finding types and unavailable detectors: why it decided as it did."""
    findings = tuple(str(finding["type"]) for finding in verdict.get("findings", []))
    unavailable = tuple(f"{name}:{reason}" for name, reason in sorted(verdict.get("unavailable", {}).items()))
    return findings, unavailable


def run_validate(gateway: Gateway, case: Mapping[str, Any]) -> Outcome:
    """The case as a signed JSON `POST /v1/validate`."""
    if "raw_body" in case:
        call = gateway.sign(
            resource=VALIDATE_ROUTE, body=expand(case["raw_body"]).encode(), content_type=JSON_CONTENT_TYPE
        )
        signed, text = SignedProxyCall(call), ""
    else:
        text = expand(case["text"])
        signed = gateway.validate_json_call({"text": text})
    response = gateway.validator(signed.proxy_event(gateway.client))
    status = int(response["statusCode"])
    if status != 200:
        return Outcome(status)
    verdict = json.loads(response["body"])
    decision = verdict["decision"]
    released = {"allow": text, "redact": verdict.get("redacted_text") or ""}.get(decision, "")
    return Outcome(
        status,
        decision,
        released,
        json.dumps(verdict, ensure_ascii=False),
        (text,),
        *evidence(verdict),
    )


def chat_plaintext(gateway: Gateway, case: Mapping[str, Any]) -> bytes:
    """The envelope plaintext the client seals: its resp_key and the case's request."""
    resp_key = base64.b64encode(gateway.resp_key).decode()
    if "raw_request" in case:
        return f'{{"resp_key": "{resp_key}", "request": {expand(case["raw_request"])}}}'.encode()
    request: dict[str, Any] = {"model": TEST_MODEL, "messages": expand(case["messages"])}
    for name in ("user", "response_format", "stop"):
        if name in case:
            request[name] = expand(case[name])
    return json.dumps({"resp_key": resp_key, "request": request}).encode()


def run_chat(gateway: Gateway, scripted: ScriptedProvider, case: Mapping[str, Any]) -> Outcome:
    """The case as an encrypted chat completion, answered by `scripted`."""
    signed = gateway.chat_call(plaintext=chat_plaintext(gateway, case))
    response = gateway.complete(signed.proxy_event(gateway.client))
    status = int(response["statusCode"])
    if status != 200:
        return Outcome(status)
    payload = json.loads(
        open_response(base64.b64decode(response["body"]), resp_key=gateway.resp_key, req_id=signed.nonce)
    )
    verdict = payload["verdict"]
    released = payload["completion"]["choices"][0]["message"]["content"] or ""
    sent = [message_text(message) for message in expand(case.get("messages", []))]
    return Outcome(
        status,
        verdict["decision"],
        released,
        json.dumps(payload, ensure_ascii=False),
        (scripted.fake.answer, released, *sent),
        *evidence(verdict),
    )


def with_canary(values: list[str], canary: str | None) -> Iterator[str]:
    """`values` with `{{canary}}` replaced by the canary the gateway planted."""
    for value in values:
        if "{{canary}}" in value:
            assert canary, "a case that names the canary must make the model leak it"
            yield value.replace("{{canary}}", canary)
        else:
            yield value


def release_problems(case: Mapping[str, Any], outcome: Outcome, canary: str | None = None) -> list[str]:
    """How the status, the decision or what the client received differ from what the case expects."""
    if outcome.status != case["status"]:
        return [f"status {outcome.status}, expected {case['status']}"]
    if case["status"] != 200:
        return []
    problems = []
    expected = case["decision"]
    if outcome.decision == "allow" if expected == "not_allow" else outcome.decision != expected:
        problems.append(
            f"decision {outcome.decision}, expected {expected} "
            f"(findings {list(outcome.findings)}, unavailable {list(outcome.unavailable)})"
        )
    for value in with_canary(case.get("released_must_not_contain", []), canary):
        if value in outcome.released:
            problems.append(f"released text carries {value!r}")
        elif value in outcome.verdict:
            problems.append(f"verdict carries {value!r}")
    problems += [
        f"released text lacks {value!r}"
        for value in case.get("released_must_contain", [])
        if value not in outcome.released
    ]
    if any(plain_digest(text) in outcome.verdict for text in outcome.texts):
        problems.append("the verdict carries an unkeyed SHA-256 of a text")
    return problems


def provider_problems(case: Mapping[str, Any], scripted: ScriptedProvider) -> list[str]:
    """What the provider received that it must not have, or did not receive that it needs."""
    problems = [
        f"the provider received {value!r} at {endpoint}"
        for value in case.get("provider_must_not_see", [])
        for endpoint in sorted({endpoint for endpoint, body in scripted.seen if value in body})
    ]
    chat_bodies = [body for endpoint, body in scripted.seen if endpoint.endswith("/chat/completions")]
    problems += [
        f"the model never received {value!r}"
        for value in case.get("provider_must_see", [])
        if not any(value in body for body in chat_bodies)
    ]
    return problems


def test_the_corpus_has_at_least_250_cases_with_unique_ids() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) >= 250
    assert len(set(ids)) == len(ids)


def test_every_class_is_present_and_both_paths_are_used() -> None:
    assert {case["class"] for case in CASES} == set(CLASSES)
    assert {path for case in CASES for path in case["path"]} == {"validate", "chat"}


def test_at_least_a_quarter_of_the_cases_are_negatives_and_every_class_has_both_kinds() -> None:
    assert sum(case["negative"] for case in CASES) >= len(CASES) / 4
    for klass in CLASSES:
        kinds = {case["negative"] for case in CASES if case["class"] == klass}
        assert kinds == {True, False}, klass


def test_every_case_names_its_inputs_and_a_decision_the_policy_can_give() -> None:
    for case in CASES:
        assert set(case["path"]) <= {"validate", "chat"}, case["id"]
        refused = case["decision"] is None and case["status"] != 200
        assert case["decision"] in DECISIONS or refused, case["id"]
        if "validate" in case["path"]:
            assert ("text" in case) != ("raw_body" in case), case["id"]
        if "chat" in case["path"]:
            assert ("model_answer" in case) != ("raw_request" in case), case["id"]
        else:
            assert not {"provider_must_not_see", "provider_must_see"} & set(case), case["id"]


def test_the_corpus_is_what_its_builder_writes() -> None:
    assert corpus_lines(build()) == CORPUS.read_text(encoding="utf-8").splitlines()


@pytest.mark.usefixtures("scripted")  # the validator's moderation calls go to the provider too
@pytest.mark.parametrize("case", on_path("validate"))
def test_a_validated_text_gets_the_policys_decision_and_releases_nothing_forbidden(
    warm_gateway: Gateway, case: dict[str, Any]
) -> None:
    problems = release_problems(case, run_validate(warm_gateway, case))
    assert not problems, "; ".join(problems)


@pytest.mark.parametrize("case", on_path("chat"))
def test_a_chat_answer_gets_the_policys_decision_and_neither_side_sees_what_it_must_not(
    warm_gateway: Gateway, scripted: ScriptedProvider, case: dict[str, Any]
) -> None:
    scripted.template = expand(case.get("model_answer", ""))
    scripted.finish_reason = case.get("finish_reason", "stop")
    outcome = run_chat(warm_gateway, scripted, case)
    problems = release_problems(case, outcome, scripted.canary) + provider_problems(case, scripted)
    assert not problems, "; ".join(problems)
