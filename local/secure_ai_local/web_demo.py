"""The browser demo's server: clients/web-demo/ and the TypeScript client's browser build, on 127.0.0.1.

`make run` serves it at http://127.0.0.1:8787/ (the origin the demo app and CORS allow, see
stack.py). What it serves, and nothing else:

- the files of clients/web-demo/ (index.html, app.js, style.css), by name;
- `/secure-ai-client.min.js`: clients/typescript/dist/browser/secure-ai-client.min.js (`make run`
  builds it; without it the page says to run `make ts-install` and `npm run build`);
- `/config.json`: written once the stack is up — the API's URL, the demo app, the user pool's app
  client, moto's endpoint (the page signs in with Cognito's InitiateAuth JSON API there: moto
  answers CORS for any origin, so no proxy is needed), the RSA key to pin, and the demo user's
  name and password. Local only: the password is a fresh one for this stack, which dies with moto.

The server is bound before the stack is provisioned, so a test can use a free port (`port=0`) and
still name its origin in the CORS and `allowed_origins` settings.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from werkzeug.wrappers import Request, Response

from secure_ai_local.loopback_server import LoopbackServer
from secure_ai_local.stack_template import REPOSITORY_ROOT

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

DEFAULT_DEMO_PORT: Final = 8787
WEB_DEMO_DIR: Final = REPOSITORY_ROOT / "clients" / "web-demo"
CLIENT_BUNDLE: Final = (
    REPOSITORY_ROOT / "clients" / "typescript" / "dist" / "browser" / "secure-ai-client.min.js"
)
BUNDLE_PATH: Final = "/secure-ai-client.min.js"
CONFIG_PATH: Final = "/config.json"
STATIC_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
MISSING_BUNDLE: Final = (
    "the TypeScript client's browser build is missing: run `make ts-install` and "
    "`cd clients/typescript && npm run build` (make run does both)\n"
)


class WebDemoApp:
    """The WSGI application: static files by name, the bundle, and the config once it is set."""

    def __init__(self, *, static_dir: Path = WEB_DEMO_DIR, bundle: Path = CLIENT_BUNDLE) -> None:
        self._static_dir = static_dir
        self._bundle = bundle
        self._config: bytes | None = None
        self._lock = threading.Lock()

    def set_config(self, config: Mapping[str, Any]) -> None:
        """What `/config.json` answers from now on (503 until then)."""
        with self._lock:
            self._config = json.dumps(config, indent=2).encode()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request."""
        request = Request(environ)
        return self._answer(request)(environ, start_response)

    def _answer(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return _text(405, "method not allowed\n")
        path = request.path
        if path == CONFIG_PATH:
            with self._lock:
                config = self._config
            if config is None:
                return _text(503, "the local stack is still starting\n")
            return _file_response(config, "application/json")
        if path == BUNDLE_PATH:
            if not self._bundle.is_file():
                return _text(503, MISSING_BUNDLE)
            return _file_response(self._bundle.read_bytes(), STATIC_TYPES[".js"])
        name = "index.html" if path == "/" else path.removeprefix("/")
        # Only plain file names directly in the folder: no sub-paths, no dot files.
        if "/" in name or name.startswith(".") or Path(name).suffix not in STATIC_TYPES:
            return _text(404, "not found\n")
        file = self._static_dir / name
        if not file.is_file():
            return _text(404, "not found\n")
        return _file_response(file.read_bytes(), STATIC_TYPES[file.suffix])


def _security_headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _file_response(body: bytes, content_type: str) -> Response:
    return _security_headers(Response(body, status=200, content_type=content_type))


def _text(status: int, message: str) -> Response:
    return _security_headers(Response(message, status=status, content_type="text/plain; charset=utf-8"))


class WebDemoServer:
    """The demo app served on 127.0.0.1 (8787 unless given; 0 picks a free port)."""

    def __init__(self, *, port: int = DEFAULT_DEMO_PORT, app: WebDemoApp | None = None) -> None:
        self.app = app or WebDemoApp()
        self._server = LoopbackServer(self.app, port=port, name="web-demo")

    def start(self) -> WebDemoServer:
        """Bind (OSError if the port is taken) and serve; `/config.json` answers 503 until configured."""
        self._server.start()
        return self

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:<port>`: the origin CORS and the demo app must allow."""
        return self._server.origin

    @property
    def url(self) -> str:
        """The page's URL."""
        return f"{self.origin}/"

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        self._server.stop()


def demo_config(
    *,
    api_url: str,
    app_id: str,
    user_pool_client_id: str,
    cognito_endpoint: str,
    region: str,
    rsa_public_key_pem: str,
    rsa_key_arn: str,
    username: str,
    password: str,
) -> dict[str, str]:
    """The page's `/config.json`."""
    return {
        "api_url": api_url,
        "app_id": app_id,
        "user_pool_client_id": user_pool_client_id,
        "cognito_endpoint": cognito_endpoint,
        "region": region,
        "rsa_public_key_pem": rsa_public_key_pem,
        "rsa_key_arn": rsa_key_arn,
        "username": username,
        "password": password,
    }
