"""One Lambda execution environment: a process that imports a handler once, then serves invocations.

`serve_environment` is the target of a process started with the "spawn" method. It replaces the
process environment with the function's own before importing anything of the function, so the
import (the cold start) sees exactly what Lambda would give it. Only the standard library is
imported here: the cold start measured is the handler's.

Messages on the connection (all picklable builtins):
  parent → child: (request_id, event_json, deadline_epoch_ms)
  child → parent: ("ready", None) | ("init_error", error) | ("result", payload_json) | ("error", error)
where `error` is Lambda's error document {"errorType", "errorMessage", "stackTrace", ["requestId"]}.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection


@dataclass(frozen=True)
class EnvironmentSpec:
    """What one execution environment runs, with its complete process environment."""

    function_name: str
    handler: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    log_group_name: str
    log_stream_name: str
    environment: dict[str, str] = field(repr=False)
    code_directory: str | None = None
    function_version: str = "$LATEST"


class LambdaContext:
    """The context object of the Python runtime (awslambdaric's attributes and method)."""

    def __init__(self, spec: EnvironmentSpec, request_id: str, deadline_epoch_ms: int) -> None:
        self.function_name = spec.function_name
        self.function_version = spec.function_version
        self.invoked_function_arn = spec.invoked_function_arn
        # The real runtime reads this from AWS_LAMBDA_FUNCTION_MEMORY_SIZE, so it is a string there.
        self.memory_limit_in_mb = str(spec.memory_limit_in_mb)
        self.aws_request_id = request_id
        self.log_group_name = spec.log_group_name
        self.log_stream_name = spec.log_stream_name
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_epoch_ms = deadline_epoch_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function times out (never negative)."""
        return max(self._deadline_epoch_ms - int(time.time() * 1000), 0)

    def log(self, message: str) -> None:
        """Write `message` to the function's log (stdout), as the runtime's context.log does."""
        sys.stdout.write(message)
        sys.stdout.flush()


def error_document(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """Lambda's JSON document for an exception raised by a handler."""
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def load_handler(handler: str) -> Callable[[Any, LambdaContext], Any]:
    """Import `module.attribute` as the Python runtime does; raise with the runtime's error types."""
    module_name, _, attribute = handler.rpartition(".")
    if not module_name:
        raise _RuntimeError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': not enough values")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise _RuntimeError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}"
        ) from error
    except SyntaxError as error:
        raise _RuntimeError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}"
        ) from error
    function = getattr(module, attribute, None)
    if not callable(function):
        raise _RuntimeError(
            "Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'"
        )
    return function  # type: ignore[no-any-return]


class _RuntimeError(Exception):
    """A failure the runtime reports with its own error type (Runtime.*)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def serve_environment(connection: Connection, spec: EnvironmentSpec) -> None:
    """Become the execution environment `spec` describes and serve invocations until EOF."""
    # The emulator owns shutdown: a Ctrl-C in the terminal reaches this process group too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.clear()
    os.environ.update(spec.environment)
    time.tzset()  # TZ is part of the environment Lambda sets
    if spec.code_directory is not None:
        sys.path.insert(0, spec.code_directory)  # where Lambda puts /var/task
    try:
        handler = load_handler(spec.handler)
    except _RuntimeError as error:
        connection.send(("init_error", error_document(error, error.error_type)))
        return
    except Exception as error:  # noqa: BLE001 - an init failure of any kind is reported, like Lambda's
        traceback.print_exc()
        connection.send(("init_error", error_document(error)))
        return
    connection.send(("ready", None))
    while True:
        try:
            request_id, event_json, deadline_epoch_ms = connection.recv()
        except (EOFError, OSError):
            return
        connection.send(_invoke(handler, spec, request_id, event_json, deadline_epoch_ms))


def _invoke(
    handler: Callable[[Any, LambdaContext], Any],
    spec: EnvironmentSpec,
    request_id: str,
    event_json: str,
    deadline_epoch_ms: int,
) -> tuple[str, Any]:
    context = LambdaContext(spec, request_id, deadline_epoch_ms)
    try:
        result = handler(json.loads(event_json), context)
    except Exception as error:  # noqa: BLE001 - a handler's exception is the invocation's error result
        document = error_document(error)
        # What the Python runtime writes to the function's log for an unhandled exception.
        sys.stderr.write(f"[ERROR] {document['errorType']}: {document['errorMessage']}\n")
        traceback.print_exc()
        return "error", {**document, "requestId": request_id}
    try:
        return "result", json.dumps(result)
    except (TypeError, ValueError) as error:
        return "error", {
            "errorMessage": f"Unable to marshal response: {error}",
            "errorType": "Runtime.MarshalError",
            "requestId": request_id,
            "stackTrace": [],
        }
