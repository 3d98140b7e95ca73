"""Completion benchmark: per-request stages next to the bare Encryption SDK, memory, cold import.

Run: .venv/bin/python bench/bench_completion.py   (about 60-100 s; no network, no AWS)

1. One request through `CompletionService.complete` (what the handler calls) for 1 KB, 16 KB and
   256 KB prompts with an e-mail address and a phone number every ~0.9 KB (PII-dense), and 256 KB
   of plain prose; CPU per stage, next to the bare Encryption SDK decrypt + encrypt of the same
   sizes, interleaved request by request in the same process (same suites, same keyrings, same
   KMS stand-in).
   - KMS: an in-memory KMS client (AES-GCM under a fixed key; it answers instantly) for both ours
     and the baseline. Real KMS is a network round trip that both sides would pay alike.
   - Mode: server clients (strict AWS KMS keyring, signing suite ECDSA P-384, the default).
   - Model and moderation: the real openai SDK through ModelAccess (as production wires it), on
     an httpx2.MockTransport that echoes the prompt instantly, so the answer is as large as the
     prompt and screening and encryption see the same size as decryption.
   - Client records and the usage ledger: in memory (DynamoDB is a network call).
   Target: the gateway's overhead (everything but the model and moderation calls) <= 1.5x the
   bare SDK floor.
2. Peak Python memory (tracemalloc) of one request, ours and the bare SDK's.
3. Cold import of the completion handler in a fresh interpreter (Lambda-like environment, tracing
   on, only the layer's packages importable), next to importing its third-party dependencies
   naively at module level; and import + first request served, in a fresh interpreter.
   Target: cold import <= 0.6x the naive import.

Only the standard library is imported at module level: the children must start clean.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from cold_start import (
    DEFAULT_MODEL,
    KEY_ARN,
    REGION,
    RSA_KEY_ARN,
    Subject,
    best_cold_runs,
    function_environment,
    layer_blocked_modules,
)

# The in-memory KMS's one key: fixed, so that a child process opens what the parent sealed.
KMS_STAND_IN_KEY = bytes(range(32))
MODEL = DEFAULT_MODEL
CLIENT_ID = "bench"
ROUTE = "/v1/chat/completions"


@dataclass(frozen=True)
class Workload:
    """A prompt size; `contacts`: one e-mail address and one phone number per ~0.9 KB (PII-dense)."""

    label: str
    size: int
    contacts: bool
    requests: int


WORKLOADS = (
    Workload("1KB", 1_000, contacts=True, requests=40),
    Workload("16KB", 16_000, contacts=True, requests=25),
    Workload("256KB", 256_000, contacts=True, requests=8),
    Workload("256KB-prose", 256_000, contacts=False, requests=8),
)
IMPORT_ROUNDS = 6
PROSE = (
    "The quarterly report covers revenue, churn and the roadmap for the next release. "
    "Engineering shipped the new gateway, moved the queue to SQS and retired two services. "
    "Customer feedback asked for better exports; see the attached notes for details. "
)
CONTACT = "Write to jane.doe@example.com or call +1 202 555 0143 about it. "

# The whole environment the completion function sees in Lambda.
LAMBDA_ENVIRONMENT = function_environment("completion")


# --- stand-ins: KMS, the model provider, client records, the ledger -------------------------------


class InMemoryKms:
    """The KMS calls the MPL's AWS KMS keyring makes, answered in-process with AES-GCM.

    Binds the encryption context as AAD, as KMS does, and answers with the key ARN the keyring
    checks. No network, no botocore: KMS costs nothing on either side of the comparison.
    """

    def __init__(self, key: bytes = KMS_STAND_IN_KEY) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)
        # The MPL reads the region and appends to the client's user agent.
        self.meta = SimpleNamespace(region_name=REGION, config=SimpleNamespace(user_agent_extra=None))

    @staticmethod
    def _aad(context: dict[str, str] | None) -> bytes:
        return json.dumps(context or {}, sort_keys=True).encode()

    def _wrap(self, plaintext: bytes, context: dict[str, str] | None) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, self._aad(context))

    # Keyword arguments as boto3 names them (KeyId, EncryptionContext, ...).
    def generate_data_key(self, **request: Any) -> dict[str, Any]:
        plaintext = os.urandom(request["NumberOfBytes"])
        blob = self._wrap(plaintext, request.get("EncryptionContext"))
        return {"Plaintext": plaintext, "CiphertextBlob": blob, "KeyId": request["KeyId"]}

    def encrypt(self, **request: Any) -> dict[str, Any]:
        blob = self._wrap(request["Plaintext"], request.get("EncryptionContext"))
        return {"CiphertextBlob": blob, "KeyId": request["KeyId"]}

    def decrypt(self, **request: Any) -> dict[str, Any]:
        blob = request["CiphertextBlob"]
        plaintext = self._aead.decrypt(blob[:12], blob[12:], self._aad(request.get("EncryptionContext")))
        return {"Plaintext": plaintext, "KeyId": request["KeyId"], "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}


def echo_provider(request: Any) -> Any:
    """An OpenAI-compatible provider that answers at once: chat echoes the last message, moderation
    scores zero."""
    import httpx2

    body = json.loads(request.content)
    if request.url.path.endswith("/moderations"):
        categories = ["harassment", "hate", "self-harm", "sexual", "violence", "illicit"]
        result = {
            "flagged": False,
            "categories": dict.fromkeys(categories, False),
            "category_scores": dict.fromkeys(categories, 0.0),
        }
        return httpx2.Response(
            200, json={"id": "modr", "model": "omni-moderation-latest", "results": [result]}
        )
    text = body["messages"][-1]["content"]
    tokens = len(text) // 4 + 1
    return httpx2.Response(
        200,
        json={
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1,
            "model": body["model"],
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": tokens, "completion_tokens": tokens, "total_tokens": 2 * tokens},
        },
    )


def instant_openai_client(*, api_key: str, base_url: str, timeout_seconds: float, max_retries: int) -> Any:
    """`model_gateway.openai_client` with the same limits, talking to `echo_provider`."""
    import httpx2
    import openai

    return openai.OpenAI(
        api_key=api_key,
        base_url="http://provider.bench/v1",
        timeout=timeout_seconds,
        max_retries=max_retries,
        http_client=httpx2.Client(transport=httpx2.MockTransport(echo_provider)),
    )


def client_record() -> Any:
    from secure_ai_gateway.client_registry.records import ClientRecord

    now = int(time.time())
    return ClientRecord(
        client_id=CLIENT_ID,
        status="active",
        scopes=("chat:complete",),
        allowed_models=(MODEL,),
        max_tokens=1024,
        token_budget=10_000_000,
        request_budget=1_000_000,
        created_at=now,
    )


class InMemoryClients:
    def __init__(self) -> None:
        self.record = client_record()

    def get(self, client_id: str) -> Any:
        return self.record if client_id == CLIENT_ID else None


class InMemoryLedger:
    def reserve(self, client_id: str, tokens: int, budget: Any, now: float) -> Any:
        from secure_ai_gateway.adapters.quota import period_of
        from secure_ai_gateway.ports import Reservation

        return Reservation(client_id=client_id, period=period_of(now), tokens=tokens)

    def cancel(self, reservation: Any) -> None:
        return None

    def settle(self, reservation: Any, used_tokens: int) -> None:
        return None


# --- requests -------------------------------------------------------------------------------------


def prompt_of(size: int, *, contacts: bool) -> str:
    """`size` characters of prose, with a contact line (an e-mail, a phone number) per ~0.9 KB."""
    unit = PROSE * 3 + (CONTACT if contacts else "")
    return (unit * (size // len(unit) + 1))[:size]


def request_plaintext(workload: Workload, resp_key: bytes) -> bytes:
    prompt = prompt_of(workload.size, contacts=workload.contacts)
    chat = {"model": MODEL, "messages": [{"role": "user", "content": prompt}], "max_tokens": 512}
    return json.dumps({"resp_key": base64.b64encode(resp_key).decode(), "request": chat}).encode()


@dataclass
class PreparedRequest:
    """A sealed request and the proxy event carrying it (sealing is not timed)."""

    req_id: str
    resp_key: bytes
    plaintext: bytes
    ciphertext: bytes
    event: dict[str, Any]


def prepare_request(workload: Workload, kms: InMemoryKms) -> PreparedRequest:
    from secure_ai_protocol.envelope.requests import seal_request_server
    from secure_ai_protocol.signing.content_digest import compute_content_digest

    req_id = secrets.token_urlsafe(16)
    resp_key = secrets.token_bytes(32)
    plaintext = request_plaintext(workload, resp_key)
    ciphertext = seal_request_server(
        plaintext,
        kms_key_arn=KEY_ARN,
        client_id=CLIENT_ID,
        req_id=req_id,
        route=ROUTE,
        kms_client=kms,  # type: ignore[arg-type]
    )
    authorizer = {
        "client_id": CLIENT_ID,
        "key_id": f"{CLIENT_ID}.1",
        "nonce": req_id,
        "content_digest": compute_content_digest(ciphertext),
        "scopes": "chat:complete",
    }
    event = {
        "requestContext": {"authorizer": authorizer},
        "body": base64.b64encode(ciphertext).decode(),
        "isBase64Encoded": True,
    }
    return PreparedRequest(req_id, resp_key, plaintext, ciphertext, event)


# --- stage timing -----------------------------------------------------------------------------------

STAGES = (
    "digest check",
    "decrypt",
    "parse + admit request",
    "input screening (pseudonymise)",
    "model call (SDK, instant)",
    "output screening (local)",
    "moderation call (SDK, instant)",
    "restore + response JSON",
    "encrypt",
)
NOT_OVERHEAD = ("model call (SDK, instant)", "moderation call (SDK, instant)")


@dataclass
class StageClock:
    """CPU seconds per stage of the current request (nested stages are subtracted from outer ones)."""

    spent: dict[str, float] = field(default_factory=dict)
    _stack: list[list[float]] = field(default_factory=list)

    def wrap(self, stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            frame = [time.process_time(), 0.0]  # started, time spent in nested stages
            self._stack.append(frame)
            try:
                return function(*args, **kwargs)
            finally:
                self._stack.pop()
                elapsed = time.process_time() - frame[0]
                self.spent[stage] = self.spent.get(stage, 0.0) + elapsed - frame[1]
                if self._stack:
                    self._stack[-1][1] += elapsed

        return timed


@dataclass
class Pipeline:
    """The completion service with production wiring, stand-ins for the network, stage clocks."""

    service: Any
    clock: StageClock
    sealed_payloads: list[bytes]
    kms: InMemoryKms


@contextmanager
def instrumented_pipeline() -> Iterator[Pipeline]:
    """`CompletionService` as `gateway_completion.app.completion_service` builds it, but on the
    stand-ins, with stage clocks wrapped around the module functions it calls."""
    from secure_ai_gateway.adapters.openai import access as openai_access
    from secure_ai_gateway.api import authorized_call
    from secure_ai_gateway.screening.catalog import PolicyCatalog
    from secure_ai_gateway.services import completion
    from secure_ai_gateway.services.completion import CompletionService
    from secure_ai_gateway.settings import CompletionSettings
    from secure_ai_protocol.envelope.requests import RequestEnvelopes
    from secure_ai_protocol.envelope.responses import seal_response

    clock = StageClock()
    sealed: list[bytes] = []
    kms = InMemoryKms()
    settings = CompletionSettings.from_environ(LAMBDA_ENVIRONMENT)
    access = openai_access.ModelAccess(settings, fetch_secret=lambda arn: "bench-api-key")
    envelopes = RequestEnvelopes(KEY_ARN, RSA_KEY_ARN, kms_client=kms)  # type: ignore[arg-type]

    def seal(payload: bytes, **kwargs: Any) -> bytes:
        sealed.append(payload)
        return seal_response(payload, **kwargs)

    class TimedEnvelopes:
        open = staticmethod(clock.wrap("decrypt", envelopes.open))

    class TimedModel:
        def __init__(self, model: Any) -> None:
            self.complete = clock.wrap("model call (SDK, instant)", model.complete)

    class TimedModeration:
        def __init__(self, moderation: Any) -> None:
            self.moderate = clock.wrap("moderation call (SDK, instant)", moderation.moderate)

    # Module functions the service calls, each wrapped in its stage's clock.
    stages = {
        (authorized_call, "verified_body"): "digest check",
        (completion, "parse_plaintext"): "parse + admit request",
        (completion, "protect_input"): "input screening (pseudonymise)",
        # Restoring pseudonyms now happens inside `release`, before the screen it times.
        (completion, "release"): "output screening (local)",
        (completion, "response_payload"): "restore + response JSON",
    }
    replacements: dict[tuple[Any, str], Any] = {
        target: clock.wrap(stage, getattr(*target)) for target, stage in stages.items()
    }
    replacements[openai_access, "openai_client"] = instant_openai_client
    originals = {target: getattr(*target) for target in replacements}
    for (module, name), replacement in replacements.items():
        setattr(module, name, replacement)
    try:
        service = CompletionService(
            envelopes=TimedEnvelopes(),
            clients=InMemoryClients(),
            ledger=InMemoryLedger(),
            model=lambda: TimedModel(access.chat_model()),
            moderation=lambda: TimedModeration(access.moderation()),
            policies=PolicyCatalog(),
            seal_response=clock.wrap("encrypt", seal),
            digest_key=lambda: b"bench-verdict-digest-key-32-bytes!",
            default_model=MODEL,
            clock=time.time,
        )
        yield Pipeline(service, clock, sealed, kms)
    finally:
        for (module, name), original in originals.items():
            setattr(module, name, original)


def complete(pipeline: Pipeline, event: dict[str, Any]) -> float:
    """Serve the request in `event`; its CPU seconds (stage times land in the pipeline's clock)."""
    from secure_ai_gateway.api.authorized_call import AuthorizedCall

    call = AuthorizedCall.from_proxy_event(event)
    started = time.process_time()
    result = pipeline.service.complete(call)
    elapsed = time.process_time() - started
    if result.decision == "block":
        raise RuntimeError("the benchmark prompt was blocked; the stages would not be representative")
    return elapsed


class BareSdk:
    """What the Encryption SDK costs on its own: its client, the MPL's keyrings, no policy."""

    def __init__(self, kms: InMemoryKms) -> None:
        import aws_encryption_sdk
        from aws_cryptographic_material_providers.mpl import AwsCryptographicMaterialProviders
        from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
        from aws_cryptographic_material_providers.mpl.models import (
            AesWrappingAlg,
            CreateAwsKmsKeyringInput,
            CreateRawAesKeyringInput,
        )
        from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy

        self._client = aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
        )
        self._providers = AwsCryptographicMaterialProviders(config=MaterialProvidersConfig())
        self._kms_keyring = self._providers.create_aws_kms_keyring(
            input=CreateAwsKmsKeyringInput(kms_key_id=KEY_ARN, kms_client=kms)
        )
        self._raw_input = CreateRawAesKeyringInput
        self._wrapping = AesWrappingAlg.ALG_AES256_GCM_IV12_TAG16
        self._response_suite = Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY

    def seal_request(self, plaintext: bytes, req_id: str) -> bytes:
        context = {
            "purpose": "request",
            "route": ROUTE,
            "version": "1",
            "client_id": CLIENT_ID,
            "req_id": req_id,
        }
        ciphertext, _ = self._client.encrypt(
            source=plaintext, keyring=self._kms_keyring, encryption_context=context
        )
        return bytes(ciphertext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        plaintext, _ = self._client.decrypt(source=ciphertext, keyring=self._kms_keyring)
        return bytes(plaintext)

    def encrypt(self, payload: bytes, resp_key: bytes, req_id: str) -> bytes:
        keyring = self._providers.create_raw_aes_keyring(
            input=self._raw_input(
                key_namespace="secure-ai",
                key_name="response-key",
                wrapping_key=resp_key,
                wrapping_alg=self._wrapping,
            )
        )
        ciphertext, _ = self._client.encrypt(
            source=payload,
            keyring=keyring,
            encryption_context={"dir": "response", "req_id": req_id},
            algorithm=self._response_suite,
        )
        return bytes(ciphertext)


def best_cpu(function: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        function()
        best = min(best, time.process_time() - started)
    return best


def bench_requests() -> None:
    print("\n== 1. One request, CPU per stage (best of N requests), next to the bare Encryption SDK")
    print("   server mode (KMS keyring, signing suite); in-memory KMS stand-in on both sides;")
    print("   model and moderation through the openai SDK on an instant in-process provider")
    with instrumented_pipeline() as pipeline:
        bare = BareSdk(pipeline.kms)
        rows: dict[str, dict[str, float]] = {}
        for workload in WORKLOADS:
            prepared = [prepare_request(workload, pipeline.kms) for _ in range(workload.requests + 1)]
            baseline_ciphertexts = [
                bare.seal_request(request.plaintext, request.req_id) for request in prepared
            ]
            best: dict[str, float] = dict.fromkeys(
                (*STAGES, "total", "bare decrypt", "bare encrypt"), float("inf")
            )
            # Interleaved: each request is followed by the bare SDK on the same sizes, so both see
            # the same noise and the same cache state. The first round only warms up.
            for index, request in enumerate(prepared):
                pipeline.clock.spent.clear()
                total = complete(pipeline, request.event)
                payload = pipeline.sealed_payloads.pop()
                bare_decrypt = best_cpu(lambda ct=baseline_ciphertexts[index]: bare.decrypt(ct), 1)  # type: ignore[misc]
                bare_encrypt = best_cpu(
                    lambda p=payload, r=request: bare.encrypt(p, r.resp_key, r.req_id),  # type: ignore[misc]
                    1,
                )
                if index == 0:
                    continue
                for stage in STAGES:
                    best[stage] = min(best[stage], pipeline.clock.spent.get(stage, 0.0))
                best["total"] = min(best["total"], total)
                best["bare decrypt"] = min(best["bare decrypt"], bare_decrypt)
                best["bare encrypt"] = min(best["bare encrypt"], bare_encrypt)
            best["response bytes"] = len(payload)
            rows[workload.label] = best

    labels = [workload.label for workload in WORKLOADS]
    print(f"{'stage (CPU ms)':>34} " + " ".join(f"{label:>11}" for label in labels))
    for stage in STAGES:
        print(f"{stage:>34} " + " ".join(f"{rows[label][stage] * 1000:11.2f}" for label in labels))
    print(
        f"{'complete(), whole request':>34} "
        + " ".join(f"{rows[label]['total'] * 1000:11.2f}" for label in labels)
    )
    overhead = {
        label: rows[label]["total"] - sum(rows[label][stage] for stage in NOT_OVERHEAD) for label in labels
    }
    floor = {label: rows[label]["bare decrypt"] + rows[label]["bare encrypt"] for label in labels}
    crypto = {label: rows[label]["decrypt"] + rows[label]["encrypt"] for label in labels}
    print(
        f"{'gateway overhead (no model calls)':>34} "
        + " ".join(f"{overhead[label] * 1000:11.2f}" for label in labels)
    )
    print(
        f"{'baseline: bare SDK decrypt':>34} "
        + " ".join(f"{rows[label]['bare decrypt'] * 1000:11.2f}" for label in labels)
    )
    print(
        f"{'baseline: bare SDK encrypt':>34} "
        + " ".join(f"{rows[label]['bare encrypt'] * 1000:11.2f}" for label in labels)
    )
    print(
        f"{'ratio: our decrypt+encrypt / bare':>34} "
        + " ".join(f"{crypto[label] / floor[label]:10.2f}x" for label in labels)
    )
    print(
        f"{'ratio: gateway overhead / bare':>34} "
        + " ".join(f"{overhead[label] / floor[label]:10.2f}x" for label in labels)
    )
    print(
        f"{'response plaintext bytes':>34} "
        + " ".join(f"{int(rows[label]['response bytes']):11d}" for label in labels)
    )
    for label in labels:
        ratio = overhead[label] / floor[label]
        print(
            f"{label}: overhead {ratio:.2f}x the bare SDK floor"
            f" (target <= 1.5x: {'met' if ratio <= 1.5 else 'MISSED'})"
        )


def bench_memory() -> None:
    print("\n== 2. Peak Python memory of one request (tracemalloc; C allocations not counted)")
    print(f"{'prompt':>11} {'ours MB':>8} {'bare SDK MB':>12} {'ratio':>6} {'ours / request plaintext':>25}")
    with instrumented_pipeline() as pipeline:
        bare = BareSdk(pipeline.kms)
        for workload in WORKLOADS:
            label = workload.label
            warm, prepared = prepare_request(workload, pipeline.kms), prepare_request(workload, pipeline.kms)
            complete(pipeline, warm.event)
            tracemalloc.start()
            complete(pipeline, prepared.event)
            ours = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            payload = pipeline.sealed_payloads[-1]
            ciphertext = bare.seal_request(prepared.plaintext, prepared.req_id)
            bare.encrypt(payload, prepared.resp_key, prepared.req_id)
            tracemalloc.start()
            bare.decrypt(ciphertext)
            bare.encrypt(payload, prepared.resp_key, prepared.req_id)
            theirs = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(
                f"{label:>11} {ours / 1e6:8.2f} {theirs / 1e6:12.2f} {ours / theirs:5.1f}x"
                f" {ours / len(prepared.plaintext):24.0f}x"
            )


# --- 3. cold import ---------------------------------------------------------------------------------

NAIVE_IMPORTS = (
    "import boto3, openai, aws_encryption_sdk, aws_cryptographic_material_providers.mpl\n"
    "import aws_lambda_powertools, aws_lambda_powertools.event_handler\n"
    "import pydantic, jsonschema, re2, http_sfv, cryptography"
)


def serve_first_request(event_json: str) -> None:
    """In a fresh child: import the handler, then serve one request as its first (what a cold
    start costs before the answer leaves, minus the network)."""
    import gateway_completion.app  # noqa: F401 - the cold import being timed

    with instrumented_pipeline() as pipeline:
        complete(pipeline, json.loads(event_json))


def bench_cold_import() -> None:
    print(f"\n== 3. Cold import in a fresh interpreter (best of {IMPORT_ROUNDS}, alternating rounds)")
    print("   Lambda-like environment, tracing on; only the layer's packages importable")
    kms = InMemoryKms()
    event_json = json.dumps(prepare_request(WORKLOADS[0], kms).event)
    naive = Subject("naive: dependencies at module level", NAIVE_IMPORTS, function="completion")
    handler = Subject("completion handler: import", "import gateway_completion.app", function="completion")
    first = Subject(
        "completion: import + first 1 KB request",
        f"serve_first_request({event_json!r})",
        function="completion",
        setup="from bench_completion import serve_first_request",
    )
    runs = best_cold_runs((naive, handler, first), IMPORT_ROUNDS, layer_blocked_modules())
    base = runs[naive.label].cpu
    print(f"{'subject':>40} {'CPU ms':>8} {'wall ms':>8} {'modules':>8} {'peak RSS MB':>12} {'ratio':>6}")
    for label, run in runs.items():
        print(
            f"{label:>40} {run.cpu * 1000:8.0f} {run.wall * 1000:8.0f} {run.modules:8d}"
            f" {run.maxrss_kb / 1024:12.1f} {run.cpu / base:5.2f}x"
        )
    print("   naive = " + NAIVE_IMPORTS.replace("\n", "; "))
    ratio = runs[handler.label].cpu / base
    print(f"completion import / naive: {ratio:.2f}x (target <= 0.6x: {'met' if ratio <= 0.6 else 'MISSED'})")


def main(argv: Sequence[str] = ()) -> None:
    started = time.perf_counter()
    for name, value in LAMBDA_ENVIRONMENT.items():
        if name.startswith("POWERTOOLS_"):
            os.environ.setdefault(name, value)
    print("Times are CPU seconds (time.process_time), best of several runs: the machine is shared,")
    print("and noise only ever adds time. Wall times are shown for the cold imports.")
    print(f"python {sys.version.split()[0]} on {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    if "--imports-only" not in argv:
        bench_requests()
        bench_memory()
    if "--requests-only" not in argv:
        bench_cold_import()
    print(f"\n(total {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
