"""moto in server mode, in a process of its own, listening on 127.0.0.1.

A separate process keeps moto's state away from anything else in the caller's process (a test
session's `mock_aws` resets moto's global backends) and gives it its own interpreter lock.
The process stops when `stop()` closes the pipe, or when the parent dies and the pipe breaks.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import multiprocessing
import signal
import threading
from typing import TYPE_CHECKING, Any, Final

from secure_ai_local.loopback_server import LOOPBACK
from secure_ai_local.moto_kms import honour_rsa_decrypt

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import SpawnProcess

START_TIMEOUT_SECONDS: Final = 60.0
# An EventBridge event as a target without an input transformer receives it, in this order.
EVENT_FIELDS: Final = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
)


class MotoServer:
    """Start with `start()`, read `endpoint_url` (waits until moto listens), `stop()` when done."""

    def __init__(self, *, port: int = 0) -> None:
        self._port = port
        self._process: SpawnProcess | None = None
        self._connection: Connection | None = None
        self._endpoint_url: str | None = None

    def start(self) -> MotoServer:
        """Spawn the moto process (does not wait for it to listen); returns self."""
        context = multiprocessing.get_context("spawn")
        self._connection, child_connection = context.Pipe()
        self._process = context.Process(
            target=serve_moto, args=(child_connection, self._port), name="moto", daemon=True
        )
        self._process.start()
        child_connection.close()
        return self

    @property
    def endpoint_url(self) -> str:
        """`http://127.0.0.1:<port>`, once moto listens (RuntimeError if it does not within a minute)."""
        if self._endpoint_url is None:
            if self._connection is None:
                raise RuntimeError("moto is not started")
            if not self._connection.poll(START_TIMEOUT_SECONDS):
                raise RuntimeError("moto did not start listening in time")
            try:
                port = int(self._connection.recv())
            except EOFError:
                raise RuntimeError("the moto process exited while starting") from None
            self._endpoint_url = f"http://{LOOPBACK}:{port}"
        return self._endpoint_url

    def stop(self) -> None:
        """Stop the server and its process (idempotent)."""
        connection, process = self._connection, self._process
        self._connection = self._process = None
        if connection is not None:
            connection.close()
        if process is not None:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_moto(connection: Connection, port: int) -> None:
    """The moto process: serve on 127.0.0.1:`port` until the parent closes the connection."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per AWS call
    deliver_whole_events()
    honour_rsa_decrypt()
    atomic_dynamodb_writes()
    # Imported here, in the moto process only: moto takes seconds to import.
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer  # noqa: PLC0415

    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    connection.send(server.get_host_and_port()[1])
    with contextlib.suppress(EOFError, OSError):
        connection.recv()
    # No server.stop(): its state is throwaway, and the serving thread is a daemon that ends with
    # the process, a second sooner than an orderly werkzeug shutdown.


def deliver_whole_events() -> None:
    """Make moto's EventBridge targets receive the whole event, as EventBridge delivers it.

    moto 5 builds a target's default input from a string template that leaves out `account` and
    does not JSON-escape strings. With no input transformer, EventBridge sends the event itself.
    """
    from moto.events.utils import EventMessageType, EventTemplateParser  # noqa: PLC0415 - see serve_moto

    original = EventTemplateParser.parse

    def parse(
        input_template: str, input_paths_map: dict[str, Any], event: EventMessageType
    ) -> dict[str, Any]:
        if input_template or input_paths_map:
            return original(input_template, input_paths_map, event)
        whole: dict[str, Any] = dict(event)
        return {name: copy.deepcopy(whole[name]) for name in EVENT_FIELDS if name in whole}

    EventTemplateParser.parse = staticmethod(parse)  # type: ignore[method-assign]


def atomic_dynamodb_writes() -> None:
    """Give moto DynamoDB's per-item atomicity: a conditional write or an ADD is one step.

    moto's PutItem/UpdateItem read, check and write without a lock, so concurrent requests through
    the local stack lose updates (bench_load saw usage counters drift); DynamoDB never does.
    """
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415 - see serve_moto

    lock = threading.Lock()
    for name in ("put_item", "update_item", "delete_item"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: DynamoDBBackend, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)
