"""A werkzeug WSGI server on the loopback interface, served from a background thread.

Every server the local stack starts (API Gateway emulator, stub model) is one of these: bound to
127.0.0.1 only, on a free port unless one is given, stopped by `stop()` without leaving threads.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

LOOPBACK = "127.0.0.1"
# The request's header lines exactly as received: name spelling, order and repeats. WSGI itself
# folds repeated headers into one comma-joined value and upper-cases names, which API Gateway's
# `multiValueHeaders` (and a signature check) cannot be rebuilt from.
RAW_HEADERS_KEY = "secure_ai_local.raw_headers"


class RawHeadersRequestHandler(WSGIRequestHandler):
    """Adds the raw header list to the WSGI environ; leaves access logging to the application."""

    def make_environ(self) -> WSGIEnvironment:
        """The standard environ plus `RAW_HEADERS_KEY`."""
        environ = super().make_environ()
        environ[RAW_HEADERS_KEY] = list(self.headers.items())
        return environ

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silent: each application logs the one line per request that it finds useful."""


class LoopbackServer:
    """Serve one WSGI application on 127.0.0.1 from a daemon thread."""

    def __init__(self, app: WSGIApplication, *, port: int = 0, name: str = "wsgi") -> None:
        self._app = app
        self._requested_port = port
        self._name = name
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Bind (OSError if the port is taken) and start serving."""
        if self._server is not None:
            raise RuntimeError(f"{self._name} server already started")
        # Bound here rather than by werkzeug, which prints and calls sys.exit() when a port is taken.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((LOOPBACK, self._requested_port))
            listener.listen(128)
            self._server = make_server(
                LOOPBACK,
                listener.getsockname()[1],
                self._app,
                threaded=True,
                request_handler=RawHeadersRequestHandler,
                fd=listener.fileno(),  # werkzeug duplicates the descriptor
            )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name=self._name, daemon=True
        )
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        """The bound port."""
        if self._server is None:
            raise RuntimeError(f"{self._name} server is not started")
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        """Stop accepting, close the socket and join the serving thread (idempotent)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
