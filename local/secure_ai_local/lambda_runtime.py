"""Run the template's functions the way Lambda does: one worker process per execution environment.

Each environment is a process started with the "spawn" method (`lambda_worker.serve_environment`)
whose os.environ is exactly the function's environment as the template resolves it, plus the
variables Lambda itself sets and the ones that point boto3 at moto. It imports the handler once
(the cold start) and then serves one invocation at a time. A function has at most
`max_environments` environments; further invocations wait for one to be free (Lambda would
throttle instead). Handlers never run in the emulator's process, so functions share no
os.environ, no module state and no cached clients.

A function behind the AWS Lambda Web Adapter (its exec wrapper `/opt/bootstrap`, its handler a start
script) runs instead as its HTTP app, in environments leased with `lease_web`
(secure_ai_local.web_adapter); the API Gateway emulator forwards its streaming route there.

An invocation returns an `InvocationResult`: the handler's JSON result, or Lambda's error document
(errorType, errorMessage) when it raised, timed out (the template's Timeout; the environment is
then destroyed, as Lambda does), exited, or returned something JSON cannot encode.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from secure_ai_local.lambda_worker import EnvironmentSpec, serve_environment
from secure_ai_local.stack_template import REPOSITORY_ROOT, StackTemplate, resolve
from secure_ai_local.web_adapter import WebLease, WebPool, is_web_adapter_function

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import SpawnContext, SpawnProcess

    from secure_ai_local.provision import ProvisionedStack

logger = logging.getLogger("secure_ai_local.lambda")

DEFAULT_MAX_ENVIRONMENTS: Final = 4
INIT_TIMEOUT_SECONDS: Final = 10.0  # Lambda's limit for the init phase of an on-demand environment
MAX_PAYLOAD_BYTES: Final = 6 * 1024 * 1024  # synchronous invoke: request and response payloads
DEFAULT_TIMEOUT_SECONDS: Final = 3  # CloudFormation's default Timeout
DEFAULT_MEMORY_MB: Final = 128  # and MemorySize
LOCAL_ACCESS_KEY_ID: Final = "testing"


class FunctionInvoker(Protocol):
    """What the API Gateway emulator and the poller invoke functions through (`LambdaRuntime`)."""

    def submit(self, logical_id: str, event: Any) -> Future[InvocationResult]:
        """Start an invocation; the future completes when the function does."""
        ...


@runtime_checkable
class WebFunctionLeases(Protocol):
    """What the emulator's streaming integration leases environments through (`LambdaRuntime`)."""

    def lease_web(self, logical_id: str) -> WebLease:
        """An execution environment of a web-adapter function, ready for one HTTP request."""
        ...


@dataclass(frozen=True)
class LambdaFunction:
    """A function as the template declares it, with its resolved environment."""

    logical_id: str
    function_name: str
    arn: str
    handler: str
    timeout_seconds: float
    memory_mb: int
    environment: Mapping[str, str] = field(repr=False)
    code_directory: Path | None = None


def functions_from_template(
    template: StackTemplate, stack: ProvisionedStack, *, code_root: Path = REPOSITORY_ROOT
) -> dict[str, LambdaFunction]:
    """Logical id → `LambdaFunction` for every AWS::Serverless::Function of `template`.

    `code_root` is the directory CodeUri is relative to (the template's directory).
    """
    globals_function = template.document.get("Globals", {}).get("Function", {})
    functions: dict[str, LambdaFunction] = {}
    for logical_id, properties in template.resources_of_type("AWS::Serverless::Function"):
        declared = {**globals_function, **properties}
        # Only what the runtime uses: Layers and the like name resources nothing here creates.
        settings = resolve(
            {k: declared[k] for k in ("Runtime", "Timeout", "MemorySize") if k in declared}, stack.references
        )
        runtime = str(settings.get("Runtime", ""))
        if not runtime.startswith("python3"):
            raise NotImplementedError(
                f"{logical_id}: the local runtime runs Python functions, not {runtime!r}"
            )
        code_uri, handler = template.function_handler(logical_id)
        code_directory = (code_root / code_uri).resolve()
        # Plain str throughout: the template loader's string nodes do not pickle into a worker.
        functions[logical_id] = LambdaFunction(
            logical_id=str(logical_id),
            function_name=str(stack.ref(logical_id)),
            arn=str(stack.attribute(logical_id, "Arn")),
            handler=str(handler),
            timeout_seconds=float(settings.get("Timeout", DEFAULT_TIMEOUT_SECONDS)),
            memory_mb=int(settings.get("MemorySize", DEFAULT_MEMORY_MB)),
            environment={str(k): str(v) for k, v in stack.function_environments[logical_id].items()},
            code_directory=code_directory if code_directory.is_dir() else None,
        )
    return functions


def local_aws_environment(endpoint_url: str, region: str) -> dict[str, str]:
    """Variables that make boto3 in a function talk to moto at `endpoint_url` with fake credentials."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": LOCAL_ACCESS_KEY_ID,
        "AWS_SESSION_TOKEN": LOCAL_ACCESS_KEY_ID,
        # No shared config or credentials file can add a profile, a role or a real endpoint.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def execution_environment(
    function: LambdaFunction, aws_environment: Mapping[str, str], log_stream_name: str
) -> dict[str, str]:
    """The complete os.environ of one execution environment of `function`."""
    reserved = {
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "_HANDLER": function.handler,
        "LAMBDA_TASK_ROOT": str(function.code_directory or ""),
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        # What `sam local` sets: Powertools turns X-Ray tracing off (there is no X-Ray daemon here).
        "AWS_SAM_LOCAL": "true",
    }
    return {**function.environment, **reserved, **aws_environment}


@dataclass(frozen=True)
class FunctionError:
    """Lambda's error document for a failed invocation."""

    error_type: str
    error_message: str
    stack_trace: tuple[str, ...] = ()

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> FunctionError:
        """Parse {"errorType", "errorMessage", "stackTrace"}."""
        return cls(
            error_type=str(document.get("errorType", "")),
            error_message=str(document.get("errorMessage", "")),
            stack_trace=tuple(str(line) for line in document.get("stackTrace", ())),
        )

    def document(self) -> dict[str, Any]:
        """{"errorType", "errorMessage", "stackTrace"}, as Lambda returns it."""
        return {
            "errorType": self.error_type,
            "errorMessage": self.error_message,
            "stackTrace": list(self.stack_trace),
        }


@dataclass(frozen=True)
class InvocationResult:
    """What one invocation produced."""

    function: str
    request_id: str
    payload: Any = None
    error: FunctionError | None = None
    # Lambda refused the invocation before any code ran (payload too large, runtime closed).
    rejected: bool = False
    timed_out: bool = False
    duration_ms: float = 0.0
    init_duration_ms: float | None = None  # set on a cold start: the handler's import

    @property
    def ok(self) -> bool:
        """True when the handler returned a result."""
        return self.error is None

    @property
    def cold_start(self) -> bool:
        """True when this invocation started its execution environment."""
        return self.init_duration_ms is not None


class _Environment:
    """The parent's handle on one execution environment process."""

    def __init__(self, context: SpawnContext, spec: EnvironmentSpec) -> None:
        self.spec = spec
        self.ready = False
        self.connection: Connection
        self.connection, child_connection = context.Pipe()
        self.process: SpawnProcess = context.Process(
            target=serve_environment,
            args=(child_connection, spec),
            name=f"lambda:{spec.function_name}",
            daemon=True,
        )
        self.process.start()
        child_connection.close()

    def initialise(self, timeout_seconds: float) -> FunctionError | None:
        """Wait for the handler import; the error if it failed or took too long."""
        message = self._receive(timeout_seconds)
        if message is None:
            return FunctionError("Sandbox.Timedout", f"INIT timed out after {timeout_seconds:.2f} seconds")
        kind, body = message
        if kind == "ready":
            self.ready = True
            return None
        if kind == "init_error":
            return FunctionError.from_document(body)
        return _exit_error(self.process)

    def invoke(self, request_id: str, event_json: str, timeout_seconds: float) -> tuple[str, Any] | None:
        """Run one invocation; ("result", json) or ("error", document), None on timeout."""
        deadline_epoch_ms = int((time.time() + timeout_seconds) * 1000)
        try:
            self.connection.send((request_id, event_json, deadline_epoch_ms))
        except OSError:
            return "error", _exit_error(self.process).document()
        message = self._receive(timeout_seconds)
        if message is None:
            return None
        if message[0] not in ("result", "error"):
            return "error", _exit_error(self.process).document()
        return message

    def _receive(self, timeout_seconds: float) -> tuple[str, Any] | None:
        """The next message, None after `timeout_seconds`, ("exit", None) if the process is gone."""
        try:
            if not self.connection.poll(timeout_seconds):
                return None
            kind, body = self.connection.recv()
        except (EOFError, OSError):
            return "exit", None
        return str(kind), body

    def destroy(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and release the connection."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=2)
        self.connection.close()


def _exit_error(process: SpawnProcess) -> FunctionError:
    process.join(timeout=1)
    return FunctionError("Runtime.ExitError", f"Runtime exited with error: exit status {process.exitcode}")


class _FunctionPool:
    """The execution environments of one function: reuse an idle one, else start one, else wait."""

    def __init__(
        self,
        function: LambdaFunction,
        aws_environment: Mapping[str, str],
        context: SpawnContext,
        max_environments: int,
    ) -> None:
        self.function = function
        self._aws_environment = dict(aws_environment)
        self._context = context
        self._max = max_environments
        self._idle: list[_Environment] = []
        self._live: set[_Environment] = set()
        self._starting = 0
        self._closed = False
        self._changed = threading.Condition()

    def acquire(self) -> _Environment | None:
        """An environment for one invocation, or None once the pool is closed."""
        with self._changed:
            while True:
                if self._closed:
                    return None
                if self._idle:
                    return self._idle.pop()
                if len(self._live) + self._starting < self._max:
                    self._starting += 1
                    break
                self._changed.wait()
        # Spawning takes tens of milliseconds: not while holding the lock.
        try:
            environment = _Environment(self._context, self._new_spec())
        finally:
            with self._changed:
                self._starting -= 1
                self._changed.notify()
        with self._changed:
            if not self._closed:
                self._live.add(environment)
                return environment
        environment.destroy()
        return None

    def release(self, environment: _Environment, *, reusable: bool) -> None:
        """Give `environment` back, or destroy it (after a timeout, an exit or an init failure)."""
        with self._changed:
            keep = reusable and not self._closed
            if keep:
                self._idle.append(environment)
            else:
                self._live.discard(environment)
            self._changed.notify()
        if not keep:
            environment.destroy()

    @property
    def size(self) -> int:
        """How many environments exist."""
        with self._changed:
            return len(self._live)

    def close(self) -> None:
        """Destroy every environment; wake and refuse whoever waits."""
        with self._changed:
            self._closed = True
            environments = list(self._live)
            self._live.clear()
            self._idle.clear()
            self._changed.notify_all()
        for environment in environments:
            environment.destroy()

    def _new_spec(self) -> EnvironmentSpec:
        function = self.function
        stream = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{secrets.token_hex(16)}"
        return EnvironmentSpec(
            function_name=function.function_name,
            handler=function.handler,
            invoked_function_arn=function.arn,
            memory_limit_in_mb=function.memory_mb,
            log_group_name=f"/aws/lambda/{function.function_name}",
            log_stream_name=stream,
            environment=execution_environment(function, self._aws_environment, stream),
            code_directory=str(function.code_directory) if function.code_directory else None,
        )


class LambdaRuntime:
    """Invoke the template's functions in their own execution environment processes."""

    def __init__(
        self,
        functions: Mapping[str, LambdaFunction],
        *,
        aws_environment: Mapping[str, str],
        max_environments: int = DEFAULT_MAX_ENVIRONMENTS,
        init_timeout_seconds: float = INIT_TIMEOUT_SECONDS,
    ) -> None:
        if max_environments < 1:
            raise ValueError("max_environments must be at least 1")
        context = multiprocessing.get_context("spawn")
        self._pools = {
            logical_id: _FunctionPool(function, aws_environment, context, max_environments)
            for logical_id, function in functions.items()
        }
        # Functions behind the Lambda Web Adapter run as HTTP apps (secure_ai_local.web_adapter).
        self._web_pools = {
            logical_id: WebPool(
                function,
                execution_environment(function, aws_environment, f"web/[$LATEST]{secrets.token_hex(16)}"),
                max_environments=max_environments,
                init_timeout_seconds=init_timeout_seconds,
            )
            for logical_id, function in functions.items()
            if is_web_adapter_function(function)
        }
        self._init_timeout = init_timeout_seconds
        self._threads: set[threading.Thread] = set()
        self._threads_lock = threading.Lock()

    @property
    def functions(self) -> Mapping[str, LambdaFunction]:
        """Logical id → function."""
        return {logical_id: pool.function for logical_id, pool in self._pools.items()}

    def submit(self, logical_id: str, event: Any) -> Future[InvocationResult]:
        """Start invoking `logical_id` with `event` (JSON-serialisable); the future holds the result.

        The future completes when the function does: a caller with a shorter deadline (API
        Gateway's 29 s) stops waiting while the invocation runs on, as in AWS.
        """
        pool = self._pools[logical_id]
        future: Future[InvocationResult] = Future()
        future.set_running_or_notify_cancel()
        event_json = json.dumps(event)
        request_id = str(uuid.uuid4())
        if len(event_json.encode()) > MAX_PAYLOAD_BYTES:
            error = FunctionError(
                "RequestEntityTooLargeException",
                f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation",
            )
            future.set_result(InvocationResult(logical_id, request_id, error=error, rejected=True))
            return future
        thread = threading.Thread(
            target=self._run, args=(pool, request_id, event_json, future), name=f"invoke:{logical_id}"
        )
        with self._threads_lock:
            self._threads.add(thread)
        thread.start()
        return future

    def invoke(self, logical_id: str, event: Any) -> InvocationResult:
        """Invoke and wait for the result."""
        return self.submit(logical_id, event).result()

    def lease_web(self, logical_id: str) -> WebLease:
        """An environment of the web-adapter function `logical_id`, started and ready if need be;
        `WebAdapterError` if it cannot start. The caller releases it when its response ends."""
        return self._web_pools[logical_id].lease()

    def is_web_function(self, logical_id: str) -> bool:
        """Whether `logical_id` runs behind the Lambda Web Adapter."""
        return logical_id in self._web_pools

    def environment_count(self, logical_id: str) -> int:
        """How many execution environments `logical_id` has now."""
        return self._pools[logical_id].size

    def close(self) -> None:
        """Destroy every environment and wait for in-flight invocation threads (idempotent)."""
        for pool in self._pools.values():
            pool.close()
        for web_pool in self._web_pools.values():
            web_pool.close()
        with self._threads_lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)

    def _run(
        self, pool: _FunctionPool, request_id: str, event_json: str, future: Future[InvocationResult]
    ) -> None:
        try:
            future.set_result(self._invoke(pool, request_id, event_json))
        except BaseException as error:  # noqa: BLE001 - a bug here must reach the waiting caller
            future.set_exception(error)
        finally:
            with self._threads_lock:
                self._threads.discard(threading.current_thread())

    def _invoke(self, pool: _FunctionPool, request_id: str, event_json: str) -> InvocationResult:
        function = pool.function
        started = time.monotonic()
        environment = pool.acquire()
        if environment is None:
            error = FunctionError("ServiceException", "the local Lambda runtime is shut down")
            return InvocationResult(function.logical_id, request_id, error=error, rejected=True)
        init_ms: float | None = None
        reusable = False
        try:
            if not environment.ready:
                init_started = time.monotonic()
                init_error = environment.initialise(self._init_timeout)
                init_ms = (time.monotonic() - init_started) * 1000
                if init_error is not None:
                    return self._finish(function, request_id, started, init_ms, error=init_error)
            invoked = time.monotonic()
            outcome = environment.invoke(request_id, event_json, function.timeout_seconds)
            if outcome is None:
                limit = f"{function.timeout_seconds:.2f} seconds"
                error = FunctionError(
                    "Sandbox.Timedout", f"RequestId: {request_id} Error: Task timed out after {limit}"
                )
                return self._finish(function, request_id, invoked, init_ms, error=error, timed_out=True)
            kind, body = outcome
            if kind == "error":
                error = FunctionError.from_document(body)
                # An exception leaves the environment usable; an exit or a crash does not.
                reusable = error.error_type != "Runtime.ExitError"
                return self._finish(function, request_id, invoked, init_ms, error=error)
            reusable = True
            if len(body.encode()) > MAX_PAYLOAD_BYTES:
                error = FunctionError(
                    "Function.ResponseSizeTooLarge",
                    f"Response payload exceeded the maximum allowed size ({MAX_PAYLOAD_BYTES} bytes)",
                )
                return self._finish(function, request_id, invoked, init_ms, error=error)
            return self._finish(function, request_id, invoked, init_ms, payload=json.loads(body))
        finally:
            pool.release(environment, reusable=reusable)

    @staticmethod
    def _finish(
        function: LambdaFunction,
        request_id: str,
        started: float,
        init_ms: float | None,
        *,
        payload: Any = None,
        error: FunctionError | None = None,
        timed_out: bool = False,
    ) -> InvocationResult:
        duration_ms = (time.monotonic() - started) * 1000
        logger.info(
            "REPORT %s RequestId: %s Duration: %.2f ms%s%s",
            function.function_name,
            request_id,
            duration_ms,
            f" Init Duration: {init_ms:.2f} ms" if init_ms is not None else "",
            f" Error: {error.error_type}" if error else "",
        )
        return InvocationResult(
            function=function.logical_id,
            request_id=request_id,
            payload=payload,
            error=error,
            timed_out=timed_out,
            duration_ms=duration_ms,
            init_duration_ms=init_ms,
        )
