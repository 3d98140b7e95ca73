"""Load benchmark: signed, encrypted completions against the local stack, then its invariants.

Run: .venv/bin/python bench/bench_load.py   (about 60-90 s; 127.0.0.1 only, no network)

Starts `LocalStack(port=0, state_dir=None)` in this process (moto and every Lambda environment in
their own processes), provisions two bench clients, and then:

1. Baseline: the unauthenticated `GET /v1/keys/public` (emulator + one Lambda hop, no signature,
   no crypto) at concurrency 1, 4 and 8.
2. Load: `POST /v1/chat/completions`, server mode (KMS-sealed envelope, RFC 9421 signature,
   binary answer), at concurrency 1, 4 and 8; each level stops after `LEVEL_SECONDS` or
   `LEVEL_CAP` requests, whichever comes first. Requests are sealed and signed before a level
   starts (the protocol's own pieces, as tests/e2e builds them), so the figures are the stack's,
   not the load generator's crypto; each level is preceded by an unmeasured warm-up burst that
   starts its Lambda environments.
3. Invariants, checked after the run:
   - every 200 opens with its own resp_key and names its own req_id;
   - a sample of accepted requests, sent again byte for byte, is refused (401): a nonce is
     accepted at most once; the nonces table holds exactly one item per authorized request;
   - the usage table's request count for the client equals its number of 200s, every
     reservation is settled (reserved == used tokens), and no budget is exceeded;
   - a client with a budget of `QUOTA_BUDGET` requests sent `QUOTA_REQUESTS` at once gets
     exactly `QUOTA_BUDGET` answers and 429 for the rest.

Function logs (Powertools JSON from every worker) go to a temporary file, kept and named at the
end only when a check failed. The exit status is 1 when a check failed.
Only the standard library is imported at module level: the Lambda workers are started with
"spawn" and import this module as __mp_main__.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from secure_ai_protocol.routes import CHAT_ROUTE, PUBLIC_KEY_ROUTE

if TYPE_CHECKING:
    import httpx

    from secure_ai_local.stack import LocalStack

CONCURRENCY = (1, 4, 8)
LEVEL_SECONDS = 8.0  # per level: 3 levels stay under 30 s of load
LEVEL_CAP = 300  # requests per level
WARM_UP_SECONDS = 2.0
BASELINE_SECONDS = 2.0
BASELINE_CAP = 600
REPLAY_SAMPLE = 30
QUOTA_BUDGET = 10
QUOTA_REQUESTS = 30
MAX_ENVIRONMENTS = 8  # per function, so that concurrency 8 reaches 8 environments
HTTP_TIMEOUT_SECONDS = 30.0  # above API Gateway's 29 s integration timeout
PROMPT = "In one sentence: why does a signed request need a nonce?"
MAX_TOKENS = 32
MOTO_ATOMICITY_NOTE = (
    "    note: moto's UpdateItem is not atomic across its server threads (it reads the ADD operands,\n"
    "    then writes), so concurrent ADDs to one usage item can be lost in the emulator; DynamoDB\n"
    "    applies each UpdateItem atomically. tests/conftest.py (atomic_dynamodb_items) locks moto for\n"
    "    the same reason; the local stack's moto process has no such lock. See docs/performance.md."
)


@dataclass
class Sent:
    """One request as sent, and what came back."""

    request: httpx.Request
    nonce: str = ""
    resp_key: bytes = field(default=b"", repr=False)
    status: int | None = None
    seconds: float = 0.0
    error: str | None = None
    content: bytes = field(default=b"", repr=False)


@dataclass
class LevelResult:
    """The measured requests of one load level."""

    concurrency: int
    sent: list[Sent]
    elapsed: float

    @property
    def rps(self) -> float:
        return len(self.sent) / self.elapsed if self.elapsed else 0.0

    def latency_ms(self, quantile: float) -> float:
        seconds = sorted(item.seconds for item in self.sent)
        if not seconds:
            return float("nan")
        if len(seconds) == 1:
            return seconds[0] * 1000
        cuts = statistics.quantiles(seconds, n=100, method="inclusive")
        return cuts[round(quantile * 100) - 1] * 1000

    def errors(self) -> Counter[str]:
        return Counter(item.error or str(item.status) for item in self.sent if item.status != 200)


@dataclass(frozen=True)
class BenchClient:
    """A client provisioned for the benchmark, with its key's secret."""

    client_id: str
    key_id: str
    secret: bytes = field(repr=False)


# --- plumbing -------------------------------------------------------------------------------------


@contextmanager
def function_logs_to(path: Path) -> Iterator[IO[str]]:
    """Point descriptors 1 and 2 at `path` (moto and every worker inherit them); yield a stream on
    the original stdout for the report."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    report = os.fdopen(os.dup(saved_out), "w", buffering=1)
    with open(path, "wb") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield report
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
            report.close()


def provision_client(stack: LocalStack, client_id: str, *, request_budget: int) -> BenchClient:
    """A client in the stack's clients table with `chat:complete`, the default model and generous tokens."""
    from secure_ai_gateway.adapters.client_store import ClientStore
    from secure_ai_gateway.adapters.secret_sealing import SecretSealer
    from secure_ai_gateway.client_registry.admin import ClientAdmin
    from secure_ai_protocol.key_ids import format_key_id

    provisioned = stack.provisioned
    admin = ClientAdmin(
        ClientStore(provisioned.ref("ClientsTable"), stack.client("dynamodb")),
        SecretSealer(provisioned.attribute("RequestKey", "Arn"), stack.client("kms")),
        clock=time.time,
    )
    record, secret = admin.create_client(
        client_id=client_id,
        scopes=("chat:complete",),
        allowed_models=(provisioned.ref("DefaultModel"),),
        max_tokens=MAX_TOKENS,
        token_budget=10_000_000,
        request_budget=request_budget,
    )
    return BenchClient(record.client_id, format_key_id(record.client_id, 1), secret)


def build_chat_requests(stack: LocalStack, client: BenchClient, count: int) -> list[Sent]:
    """`count` sealed (server mode, KMS on moto) and signed chat requests, each with a fresh nonce."""
    import httpx

    from secure_ai_client.httpx_auth import SignatureAuth, new_nonce
    from secure_ai_protocol.envelope.requests import seal_request_server
    from secure_ai_protocol.envelope.rules import new_resp_key
    from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE

    info, kms = stack.info, stack.client("kms")
    requests = []
    for _ in range(count):
        nonce, resp_key = new_nonce(), new_resp_key()
        chat = {
            "model": "default",
            "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": MAX_TOKENS,
        }
        plaintext = json.dumps({"resp_key": base64.b64encode(resp_key).decode(), "request": chat}).encode()
        body = seal_request_server(
            plaintext,
            kms_key_arn=info.kms_key_arn,
            client_id=client.client_id,
            req_id=nonce,
            route=CHAT_ROUTE,
            kms_client=kms,
        )
        request = httpx.Request(
            "POST",
            f"{info.api_url}{CHAT_ROUTE}",
            content=body,
            headers={"Content-Type": ENVELOPE_CONTENT_TYPE, "Accept": ENVELOPE_CONTENT_TYPE},
        )
        SignatureAuth(
            key_id=client.key_id, secret=client.secret, tag=info.tag, nonce_factory=fixed(nonce)
        ).sign(request)
        requests.append(Sent(request, nonce, resp_key))
    return requests


def fixed(nonce: str) -> Callable[[], str]:
    """A nonce factory that returns `nonce`: the envelope is bound to it before signing."""
    return lambda: nonce


def send(http: httpx.Client, item: Sent) -> Sent:
    """Send `item.request` once, recording status, wall time and body."""
    import httpx

    started = time.perf_counter()
    try:
        response = http.send(item.request)
        item.status, item.content = response.status_code, response.content
    except httpx.HTTPError as error:
        item.error = type(error).__name__
    item.seconds = time.perf_counter() - started
    return item


def run_level(http: httpx.Client, items: Sequence[Sent], concurrency: int, seconds: float) -> LevelResult:
    """`concurrency` threads send `items` in order until they run out or `seconds` have passed."""
    pending = iter(items)
    lock = threading.Lock()
    done: list[Sent] = []
    started = time.perf_counter()
    deadline = started + seconds

    def worker() -> None:
        while time.perf_counter() < deadline:
            with lock:
                item = next(pending, None)
            if item is None:
                return
            finished = send(http, item)
            with lock:
                done.append(finished)

    threads = [threading.Thread(target=worker, name=f"load-{index}") for index in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LevelResult(concurrency, done, time.perf_counter() - started)


def start_environments(stack: LocalStack, count: int) -> None:
    """Bring the authorizer and the completion function to `count` execution environments each,
    so that no cold start lands in a measured level (invocations with an empty event, refused)."""
    for logical_id in ("AuthorizerFunction", "CompletionFunction"):
        for _ in range(5):
            if stack.runtime.environment_count(logical_id) >= count:
                break
            futures = [stack.runtime.submit(logical_id, {}) for _ in range(count)]
            for future in futures:
                future.result()


def public_key_requests(stack: LocalStack, count: int) -> list[Sent]:
    import httpx

    return [Sent(httpx.Request("GET", f"{stack.info.api_url}{PUBLIC_KEY_ROUTE}")) for _ in range(count)]


# --- the report -----------------------------------------------------------------------------------


def table(out: Callable[[str], None], title: str, levels: Sequence[LevelResult]) -> None:
    out(title)
    out(
        f"{'conc':>5} {'requests':>9} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        f" {'max ms':>8}  errors"
    )
    for level in levels:
        worst = max((item.seconds for item in level.sent), default=0.0) * 1000
        errors = ", ".join(f"{kind}: {count}" for kind, count in sorted(level.errors().items())) or "0"
        out(
            f"{level.concurrency:5d} {len(level.sent):9d} {level.rps:7.1f} {level.latency_ms(0.50):8.1f}"
            f" {level.latency_ms(0.95):8.1f} {level.latency_ms(0.99):8.1f} {worst:8.1f}  {errors}"
        )


def scan_nonce_keys(stack: LocalStack, key_id: str) -> list[str]:
    dynamodb = stack.client("dynamodb")
    keys: list[str] = []
    arguments: dict[str, Any] = {"TableName": stack.provisioned.ref("NoncesTable")}
    while True:
        page = dynamodb.scan(**arguments)
        keys += [item["nonce_key"]["S"] for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return [key for key in keys if key.startswith(f"{key_id}#")]
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def usage_of(stack: LocalStack, client_id: str) -> dict[str, int]:
    """Today's usage item of `client_id` (requests, reserved and used tokens)."""
    from secure_ai_gateway.adapters.quota import period_of

    item = (
        stack.client("dynamodb")
        .get_item(
            TableName=stack.provisioned.ref("UsageTable"),
            Key={"client_id": {"S": client_id}, "period": {"S": period_of(time.time())}},
            ConsistentRead=True,
        )
        .get("Item", {})
    )
    return {
        name: int(item[name]["N"]) for name in ("requests", "reserved_tokens", "used_tokens") if name in item
    }


def opened_correctly(item: Sent) -> bool:
    """The 200's body is an envelope under this request's resp_key answering this req_id."""
    from secure_ai_protocol.envelope.responses import open_response
    from secure_ai_protocol.errors import ProtocolError

    try:
        payload = json.loads(open_response(item.content, resp_key=item.resp_key, req_id=item.nonce))
    except (ProtocolError, ValueError):
        return False
    return bool(payload.get("req_id") == item.nonce and payload["verdict"]["decision"] != "block")


def check(out: Callable[[str], None], label: str, passed: bool, detail: str) -> bool:
    out(f"  [{'ok' if passed else 'FAILED'}] {label}: {detail}")
    return passed


def run(out: Callable[[str], None]) -> bool:
    import httpx

    from secure_ai_local.stack import LocalStack, LocalStackOptions

    started = time.perf_counter()
    options = LocalStackOptions(port=0, state_dir=None, max_environments=MAX_ENVIRONMENTS, demo_port=None)
    with LocalStack(options) as stack, httpx.Client(timeout=HTTP_TIMEOUT_SECONDS) as http:
        out(f"local stack up in {time.perf_counter() - started:.1f} s at {stack.info.api_url}")
        load_client = provision_client(stack, "bench-load", request_budget=1_000_000)
        quota_client = provision_client(stack, "bench-quota", request_budget=QUOTA_BUDGET)
        every_chat: list[Sent] = []

        baseline, levels = [], []
        for concurrency in CONCURRENCY:
            start_environments(stack, concurrency)
            # Unmeasured warm-ups: first-use work in each environment (clients, keyrings, caches).
            run_level(http, public_key_requests(stack, 4 * concurrency), concurrency, WARM_UP_SECONDS)
            baseline.append(
                run_level(http, public_key_requests(stack, BASELINE_CAP), concurrency, BASELINE_SECONDS)
            )
            warm_up = build_chat_requests(stack, load_client, 4 * concurrency)
            every_chat += run_level(http, warm_up, concurrency, WARM_UP_SECONDS).sent
            level = run_level(
                http, build_chat_requests(stack, load_client, LEVEL_CAP), concurrency, LEVEL_SECONDS
            )
            levels.append(level)
            every_chat += level.sent
        table(
            out,
            f"\n== 1. Baseline: GET {PUBLIC_KEY_ROUTE} (no signature, no crypto;"
            f" {BASELINE_SECONDS:.0f} s or {BASELINE_CAP} requests a level)",
            baseline,
        )
        table(
            out,
            f"\n== 2. Load: signed, sealed POST {CHAT_ROUTE}"
            f" ({LEVEL_SECONDS:.0f} s or {LEVEL_CAP} requests a level)",
            levels,
        )
        out(f"{'conc':>5} {'req/s vs baseline':>18} {'p50 vs baseline':>16}")
        for level, base in zip(levels, baseline, strict=True):
            out(
                f"{level.concurrency:5d} {level.rps / base.rps:17.2f}x"
                f" {level.latency_ms(0.5) / base.latency_ms(0.5):15.1f}x"
            )

        out("\n== 3. Invariants")
        answered = [item for item in every_chat if item.status == 200]
        authorized = [item for item in every_chat if item.status is not None and item.status != 401]
        results = [
            check(
                out,
                "every 200 is this request's answer",
                all(opened_correctly(item) for item in answered),
                f"{len(answered)} answers opened with their own resp_key and req_id",
            ),
        ]
        step = max(1, len(answered) // REPLAY_SAMPLE)
        replays = [send(http, Sent(item.request)) for item in answered[::step][:REPLAY_SAMPLE]]
        refused = sum(1 for item in replays if item.status == 401)
        results.append(
            check(out, "replays refused", refused == len(replays), f"{refused}/{len(replays)} answered 401")
        )
        nonce_keys = scan_nonce_keys(stack, load_client.key_id)
        sent_nonces = {item.nonce for item in every_chat}
        results.append(
            check(
                out,
                "one nonce item per authorized request",
                len(nonce_keys) == len(set(nonce_keys)) == len(authorized)
                and {key.partition("#")[2] for key in nonce_keys} <= sent_nonces,
                f"{len(nonce_keys)} items, {len(authorized)} authorized,"
                f" {len(sent_nonces)} distinct nonces sent",
            )
        )
        usage = usage_of(stack, load_client.client_id)
        usage_checks = [
            check(
                out,
                "usage requests == 200s",
                usage.get("requests") == len(answered),
                f"usage {usage.get('requests')}, 200s {len(answered)}",
            ),
            check(
                out,
                "every reservation settled, budget kept",
                usage.get("reserved_tokens") == usage.get("used_tokens")
                and usage.get("used_tokens", 0) <= 10_000_000,
                f"reserved {usage.get('reserved_tokens')}, used {usage.get('used_tokens')} tokens",
            ),
        ]
        if not all(usage_checks):
            out(MOTO_ATOMICITY_NOTE)
        results += usage_checks
        race = run_level(
            http,
            build_chat_requests(stack, quota_client, QUOTA_REQUESTS),
            max(CONCURRENCY),
            HTTP_TIMEOUT_SECONDS,
        )
        statuses = Counter(item.status for item in race.sent)
        quota_usage = usage_of(stack, quota_client.client_id)
        results.append(
            check(
                out,
                f"budget of {QUOTA_BUDGET} under {max(CONCURRENCY)} concurrent requests",
                statuses[200] == QUOTA_BUDGET
                and statuses[429] == QUOTA_REQUESTS - QUOTA_BUDGET
                and quota_usage.get("requests") == QUOTA_BUDGET,
                f"{statuses[200]} answered, {statuses[429]} refused 429,"
                f" usage {quota_usage.get('requests')} (of {QUOTA_REQUESTS} sent)",
            )
        )
    out(f"\n(total {time.perf_counter() - started:.1f} s, stack start and stop included)")
    return all(results)


def main() -> int:
    descriptor, name = tempfile.mkstemp(prefix="bench-load-", suffix=".log")
    os.close(descriptor)
    log_path = Path(name)
    with function_logs_to(log_path) as report:

        def out(line: str) -> None:
            print(line, file=report, flush=True)

        out("Wall-clock figures: everything (load generator, emulator, moto, one process per Lambda")
        out(
            f"environment, stub model) shares this machine: {os.cpu_count()} CPUs,"
            f" load average {os.getloadavg()[0]:.2f} at start."
        )
        try:
            passed = run(out)
        except BaseException:
            out(f"function logs: {log_path}")
            raise
        if passed:
            log_path.unlink()
        else:
            out(f"function logs (kept because a check failed): {log_path}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
