"""The AWS Lambda Web Adapter, emulated: a function whose handler is a start script runs as an HTTP app.

A function with `AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap` (the adapter's wrapper, template.yaml's
StreamingFunction) is deployed with its handler set to a script (`run.sh`) that starts a web server
on AWS_LWA_PORT. Here each execution environment of such a function is that script, run with `sh`
in the function's own directory with exactly the function's environment (as `lambda_runtime` builds
it), the local virtualenv's interpreter first on PATH and AWS_LWA_PORT set to a free loopback port.
Like the adapter, the runtime waits until the readiness path (AWS_LWA_READINESS_CHECK_PATH, else
`/`) answers below 500 before the first request, and then forwards one request at a time to it
(`WebLease`). An environment whose process exited is replaced; the pool holds at most
`max_environments` per function, as for the other functions.

What the adapter adds to each request (the `x-amzn-request-context` header) is the emulator's to
write: secure_ai_local.api_gateway forwards a streaming route's request and streams the answer back.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import subprocess  # nosec B404 - runs the function's own start script from this repository
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from secure_ai_local.lambda_runtime import LambdaFunction

logger = logging.getLogger("secure_ai_local.lambda")

WRAPPER: Final = "/opt/bootstrap"
LOOPBACK: Final = "127.0.0.1"


class WebAdapterError(RuntimeError):
    """An environment that could not start, or a runtime that is shut down."""


def is_web_adapter_function(function: LambdaFunction) -> bool:
    """Whether `function` runs behind the Lambda Web Adapter (its exec wrapper is the adapter's)."""
    return function.environment.get("AWS_LAMBDA_EXEC_WRAPPER") == WRAPPER


def free_port() -> int:
    """A port free on 127.0.0.1 now (the app binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


class WebEnvironment:
    """One execution environment: the start script's process, serving on its own port."""

    def __init__(self, function: LambdaFunction, environment: Mapping[str, str]) -> None:
        if function.code_directory is None:
            raise WebAdapterError(f"{function.logical_id}: no code directory to run {function.handler} in")
        self.port = free_port()
        self.readiness_path = environment.get("AWS_LWA_READINESS_CHECK_PATH") or "/"
        variables = {
            **environment,
            "AWS_LWA_PORT": str(self.port),
            # Lambda's python3 is the runtime's; here it is this virtualenv's (with the layer's packages).
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}",
        }
        self.process = subprocess.Popen(  # noqa: S603 # nosec B603 - fixed argv: sh and the function's script
            ["/bin/sh", str(function.code_directory / function.handler)],
            cwd=function.code_directory,
            env=variables,
            stdin=subprocess.DEVNULL,
        )

    @property
    def alive(self) -> bool:
        """Whether the app's process still runs."""
        return self.process.poll() is None

    def wait_ready(self, timeout_seconds: float) -> bool:
        """Poll the readiness path until it answers below 500 (the adapter's default), the process
        exits, or `timeout_seconds` pass."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline and self.alive:
            connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=1)
            try:
                connection.request("GET", self.readiness_path)
                if connection.getresponse().status < 500:
                    return True
            except OSError:
                time.sleep(0.05)
            finally:
                connection.close()
        return False

    def destroy(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL)."""
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=2)


@dataclass
class WebLease:
    """One environment held for one request; give it back with `release`."""

    port: int
    function_name: str
    _pool: WebPool
    _environment: WebEnvironment

    def release(self, *, reusable: bool = True) -> None:
        """Return the environment (destroyed when not `reusable`, or when its process exited)."""
        self._pool.release(self._environment, reusable=reusable and self._environment.alive)


class WebPool:
    """The environments of one web-adapter function: reuse an idle one, else start one, else wait."""

    def __init__(
        self,
        function: LambdaFunction,
        environment: Mapping[str, str],
        *,
        max_environments: int,
        init_timeout_seconds: float,
    ) -> None:
        self.function = function
        self._environment = dict(environment)
        self._max = max_environments
        self._init_timeout = init_timeout_seconds
        self._idle: list[WebEnvironment] = []
        self._live: set[WebEnvironment] = set()
        self._starting = 0
        self._closed = False
        self._changed = threading.Condition()

    def lease(self) -> WebLease:
        """An environment ready to serve one request; WebAdapterError if none can start."""
        with self._changed:
            while True:
                if self._closed:
                    raise WebAdapterError("the local Lambda runtime is shut down")
                while self._idle:
                    environment = self._idle.pop()
                    if environment.alive:
                        return self._leased(environment)
                    self._live.discard(environment)
                if len(self._live) + self._starting < self._max:
                    self._starting += 1
                    break
                self._changed.wait()
        try:
            started = time.monotonic()
            environment = WebEnvironment(self.function, self._environment)
            ready = environment.wait_ready(self._init_timeout)
            logger.info(
                "INIT %s (web adapter) %s in %.0f ms",
                self.function.function_name,
                "ready" if ready else "FAILED",
                (time.monotonic() - started) * 1000,
            )
        finally:
            with self._changed:
                self._starting -= 1
                self._changed.notify()
        if not ready:
            environment.destroy()
            raise WebAdapterError(f"{self.function.logical_id}: the app did not become ready")
        with self._changed:
            if not self._closed:
                self._live.add(environment)
                return self._leased(environment)
        environment.destroy()
        raise WebAdapterError("the local Lambda runtime is shut down")

    def _leased(self, environment: WebEnvironment) -> WebLease:
        return WebLease(environment.port, self.function.function_name, self, environment)

    def release(self, environment: WebEnvironment, *, reusable: bool) -> None:
        """Give `environment` back, or destroy it."""
        with self._changed:
            keep = reusable and not self._closed
            if keep:
                self._idle.append(environment)
            else:
                self._live.discard(environment)
            self._changed.notify()
        if not keep:
            environment.destroy()

    def close(self) -> None:
        """Destroy every environment; refuse whoever waits."""
        with self._changed:
            self._closed = True
            environments = list(self._live)
            self._live.clear()
            self._idle.clear()
            self._changed.notify_all()
        for environment in environments:
            environment.destroy()
