"""Authorizer benchmark: each handler's cold import, and the warm CPU of one verification.

Run: .venv/bin/python bench/bench_authorizer.py   (about 60-90 s; no network, no AWS)

1. Cold import, each in a fresh interpreter with a Lambda-like environment (tracing on, as
   deployed), seeing only the packages the layer ships (layers/shared/requirements.txt; the dev
   packages in .venv are hidden, as they are absent in Lambda). Next to the baseline
   `import boto3; boto3.client("dynamodb")` in the same kind of fresh interpreter. Best of
   several alternating rounds, CPU time of the child (wall time shown too).
   Target: authorizer import <= 1.3x the baseline.
2. Warm verification: `RequestAuthorizer.authorize` with the real SigningKeyResolver over an
   in-memory client store and unsealer and an in-memory nonce recorder (no AWS call), per
   stage, next to the bare HMAC-SHA256 over the same signature base, and the whole Lambda
   handler (Powertools logging and metrics included). Target: one verification <= 100 us.

Only the standard library is imported at module level: the children must start clean.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from cold_start import (
    ACCOUNT,
    REGION,
    TAG,
    Subject,
    best_cold_runs,
    function_environment,
    layer_blocked_modules,
)

IMPORT_ROUNDS = 4
VENV_ROUNDS = 2


BASELINE = Subject("baseline: import boto3 + DynamoDB client", "import boto3\nboto3.client('dynamodb')")
HANDLERS = (
    Subject("authorizer: import", "import gateway_authorizer.app", "authorizer"),
    Subject(
        "authorizer: import + service (2 clients)",
        "import gateway_authorizer.app as app\napp.environment.get()",
        "authorizer",
    ),
    Subject("completion: import", "import gateway_completion.app", "completion"),
    Subject("validator: import", "import gateway_validator.app", "validator"),
    Subject("devices: import", "import gateway_devices.app", "devices"),
    Subject("streaming: import (the app, before /healthz)", "import gateway_streaming.app", "streaming"),
    Subject(
        "streaming: import + pipeline (1st request)",
        "import gateway_streaming.app as app\napp.environment.get()",
        "streaming",
    ),
)


def bench_cold_imports() -> None:
    print(f"\n== 1. Cold import in a fresh interpreter (best of {IMPORT_ROUNDS}, alternating rounds)")
    print("   Lambda-like environment, tracing on; only the layer's packages importable")
    blocked = layer_blocked_modules()
    runs = best_cold_runs((BASELINE, *HANDLERS), IMPORT_ROUNDS, blocked)
    base = runs[BASELINE.label].cpu
    print(f"{'subject':>42} {'CPU ms':>8} {'wall ms':>8} {'modules':>8} {'peak RSS MB':>12} {'ratio':>6}")
    for label, run in runs.items():
        print(
            f"{label:>42} {run.cpu * 1000:8.0f} {run.wall * 1000:8.0f} {run.modules:8d}"
            f" {run.maxrss_kb / 1024:12.1f} {run.cpu / base:5.2f}x"
        )
    ratio = runs[HANDLERS[0].label].cpu / base
    verdict = "met" if ratio <= 1.3 else "MISSED"
    print(f"authorizer import / baseline: {ratio:.2f}x (target <= 1.3x: {verdict})")

    print(f"\n   The same with every .venv package importable (dev tools too; best of {VENV_ROUNDS}):")
    venv_runs = best_cold_runs((HANDLERS[2], HANDLERS[3]), VENV_ROUNDS, ())
    for label, run in venv_runs.items():
        print(f"{label:>42} {run.cpu * 1000:8.0f} {run.wall * 1000:8.0f} {run.modules:8d}")


# --- 2. warm verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class LambdaContext:
    """The attributes Powertools reads from the Lambda context."""

    function_name: str = "secure-ai-authorizer"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:secure-ai-authorizer"
    memory_limit_in_mb: str = "512"
    aws_request_id: str = "bench"
    log_group_name: str = "/aws/lambda/secure-ai-authorizer"
    log_stream_name: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def authorizer_event(secret: bytes, key_id: str, nonce: str, now: int) -> dict[str, Any]:
    """A REST REQUEST authorizer event for one signed POST, as API Gateway builds it."""
    from secure_ai_protocol.signing.content_digest import compute_content_digest
    from secure_ai_protocol.signing.profile import SignedRequest, sign_request

    host = "abc123defg.execute-api.us-east-1.amazonaws.com"
    path = "/prod/v1/chat/completions"
    digest = compute_content_digest(secrets.token_bytes(2048))
    request = SignedRequest(
        method="POST",
        authority=host,
        path=path,
        query="",
        content_type="application/vnd.secure-ai.envelope",
        content_digest=digest,
    )
    signature_input, signature = sign_request(
        request, secret=secret, key_id=key_id, tag=TAG, created=now, expires=now + 120, nonce=nonce
    )
    headers = {
        "Host": host,
        "Content-Type": request.content_type,
        "Content-Digest": digest,
        "Signature-Input": signature_input,
        "Signature": signature,
        "User-Agent": "bench",
        "X-Forwarded-For": "203.0.113.7",
    }
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123defg/prod/POST/v1/chat/completions",
        "resource": "/v1/chat/completions",
        "path": "/v1/chat/completions",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {},
        "stageVariables": None,
        "requestContext": {
            "path": path,
            "httpMethod": "POST",
            "stage": "prod",
            "domainName": host,
            "apiId": "abc123defg",
            "accountId": ACCOUNT,
            "requestId": "bench",
            "identity": {"sourceIp": "203.0.113.7"},
        },
    }


def cpu_per_item(function: Callable[[Any], object], items: Sequence[Any], rounds: int) -> float:
    """Best-of-`rounds` CPU seconds per item of `function` applied to every item in turn."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for item in items:
            function(item)
        best = min(best, (time.process_time() - started) / len(items))
    return best


@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[None]:
    """The handler writes one JSON log line and one EMF blob per call; Lambda ships them, we drop
    them. At the descriptor: Powertools' log handler holds the `sys.stdout` of its creation."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "wb") as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


@dataclass
class VerificationFixture:
    """A warm authorizer's collaborators, in memory, and signed events for it."""

    secret: bytes = field(repr=False)
    now: int
    resolver: Any
    events: list[dict[str, Any]]

    def new_authorizer(self) -> Any:
        """A RequestAuthorizer with a fresh in-memory nonce store (every event is new to it)."""
        from secure_ai_gateway.services.authorizer import RequestAuthorizer

        return RequestAuthorizer(
            keys=self.resolver, nonces=InMemoryNonces(), expected_tag=TAG, clock=time.time
        )


class InMemoryNonces:
    """The NonceRecorder port over a set: a second sighting is a replay."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    def remember(self, key_id: str, nonce: str, expires_at: int) -> None:
        from secure_ai_protocol.errors import ReplayDetected

        if (key_id, nonce) in self.seen:
            raise ReplayDetected("replay")
        self.seen.add((key_id, nonce))


def verification_fixture(event_count: int) -> VerificationFixture:
    """The real SigningKeyResolver over an in-memory store and unsealer, and `event_count` events."""
    from secure_ai_gateway.client_registry.records import ClientRecord, KeyVersion
    from secure_ai_gateway.client_registry.resolver import SigningKeyResolver

    secret = secrets.token_bytes(32)
    now = int(time.time())
    key = KeyVersion(version=1, sealed_secret=b"sealed", status="active", not_before=now - 60, created_at=now)
    record = ClientRecord(
        client_id="bench",
        status="active",
        scopes=("chat:complete", "output:validate"),
        allowed_models=("gpt-4o-mini",),
        max_tokens=1024,
        token_budget=1_000_000,
        request_budget=1_000_000,
        created_at=now - 60,
        key_versions=(key,),
    )

    class InMemoryStore:
        def get(self, client_id: str) -> ClientRecord | None:
            return record if client_id == record.client_id else None

    class InMemoryUnsealer:
        def unseal(self, client_id: str, version: int, sealed: bytes) -> bytes:
            return secret

    resolver = SigningKeyResolver(InMemoryStore(), InMemoryUnsealer(), clock=time.time)
    events = [authorizer_event(secret, "bench.1", secrets.token_urlsafe(16), now) for _ in range(event_count)]
    fixture = VerificationFixture(secret, now, resolver, events)
    fixture.new_authorizer().authorize(events[0])  # warm: the resolver's cache now holds the key
    return fixture


def time_authorize(fixture: VerificationFixture, rounds: int) -> float:
    """Best-of-`rounds` CPU seconds of one `authorize` call."""
    best = float("inf")
    for _ in range(rounds):
        authorizer = fixture.new_authorizer()
        started = time.process_time()
        for event in fixture.events:
            authorizer.authorize(event)
        best = min(best, (time.process_time() - started) / len(fixture.events))
    return best


def time_stages(fixture: VerificationFixture, rounds: int) -> tuple[list[tuple[str, float]], float]:
    """CPU per stage of `authorize`, each timed alone over every event; and the bare HMAC floor."""
    from secure_ai_gateway.api.signed_request import request_from_authorizer_event
    from secure_ai_protocol.signing.content_digest import parse_content_digest
    from secure_ai_protocol.signing.profile import (
        check_window,
        parse_signature_headers,
        signature_base,
        verify_signature,
    )

    parts = [request_from_authorizer_event(event) for event in fixture.events]
    parsed = [parse_signature_headers(part[1], part[2], expected_tag=TAG) for part in parts]
    pairs = list(zip(parsed, [part[0] for part in parts], strict=True))
    bases = list(zip([signature_base(*pair) for pair in pairs], parsed, strict=True))
    nonces = InMemoryNonces()
    secret, now, resolver = fixture.secret, fixture.now, fixture.resolver
    stages: list[tuple[str, Callable[[Any], object], Sequence[Any], int]] = [
        ("read the event (headers, path, query)", request_from_authorizer_event, fixture.events, rounds),
        (
            "parse Signature-Input + Signature (http_sfv)",
            lambda part: parse_signature_headers(part[1], part[2], expected_tag=TAG),
            parts,
            rounds,
        ),
        ("check the time window", lambda signature: check_window(signature, now), parsed, rounds),
        ("parse Content-Digest", lambda part: parse_content_digest(part[0].content_digest), parts, rounds),
        ("resolve the key (cached)", lambda signature: resolver.resolve(signature.key_id), parsed, rounds),
        (
            "signature base + HMAC + compare",
            lambda pair: verify_signature(pair[0], pair[1], secret),
            pairs,
            rounds,
        ),
        (
            "record the nonce (in memory)",
            lambda signature: nonces.remember(signature.key_id, signature.nonce, 0),
            parsed,
            1,  # a second round would be all replays
        ),
    ]
    timed = [(label, cpu_per_item(function, items, repeat)) for label, function, items, repeat in stages]
    floor = cpu_per_item(
        lambda item: hmac.compare_digest(
            hmac.new(secret, item[0], hashlib.sha256).digest(), item[1].signature
        ),
        bases,
        rounds,
    )
    return timed, floor


def time_handler(fixture: VerificationFixture, rounds: int) -> float:
    """Best-of-`rounds` CPU of one warm `lambda_handler` call (Powertools logging and metrics
    included), with the in-memory authorizer in place of the AWS-backed one."""
    import gateway_authorizer.app as handler_module

    handler_module.environment.use(fixture.new_authorizer())
    context = LambdaContext()
    best = float("inf")
    try:
        with stdout_to_devnull():
            handler_module.lambda_handler(fixture.events[0], context)
            for _ in range(rounds):
                handler_module.environment.use(fixture.new_authorizer())
                started = time.process_time()
                for event in fixture.events:
                    handler_module.lambda_handler(event, context)
                best = min(best, (time.process_time() - started) / len(fixture.events))
    finally:
        handler_module.environment.reset()
    return best


def bench_verification(event_count: int = 2000, rounds: int = 5) -> None:
    for name, value in function_environment("authorizer").items():
        if name.startswith("POWERTOOLS_"):
            os.environ.setdefault(name, value)
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "authorizer")

    print(f"\n== 2. Warm verification, no AWS call ({event_count} signed events, best of {rounds})")
    fixture = verification_fixture(event_count)
    total = time_authorize(fixture, rounds)
    stages, floor = time_stages(fixture, rounds)
    handler = time_handler(fixture, rounds)

    print(f"{'stage':>46} {'CPU us':>8} {'share':>6}")
    stage_sum = sum(seconds for _, seconds in stages)
    for label, seconds in stages:
        print(f"{label:>46} {seconds * 1e6:8.1f} {seconds / stage_sum:6.0%}")
    print(f"{'(sum of the stages, each timed alone)':>46} {stage_sum * 1e6:8.1f}")
    print(f"{'authorize(): one verification':>46} {total * 1e6:8.1f}")
    print(f"{'lambda_handler (+ Powertools log, metrics)':>46} {handler * 1e6:8.1f}")
    print(f"{'baseline: bare HMAC-SHA256 + compare':>46} {floor * 1e6:8.1f}")
    print(f"verification / bare HMAC: {total / floor:.0f}x; handler / verification: {handler / total:.2f}x")
    verdict = "met" if total <= 100e-6 else "MISSED"
    print(f"one verification: {total * 1e6:.0f} us (target <= 100 us: {verdict})")


def main(argv: Sequence[str] = ()) -> None:
    started = time.perf_counter()
    print("Times are CPU seconds (time.process_time), best of several runs: the machine is shared,")
    print("and noise only ever adds time. Wall times are shown for the cold imports.")
    print(f"python {sys.version.split()[0]} on {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    if "--verification-only" not in argv:
        bench_cold_imports()
    if "--imports-only" not in argv:
        bench_verification()
    print(f"\n(total {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
