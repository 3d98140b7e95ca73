"""`python -m secure_ai_local` (what `make run` calls): serve the whole API on 127.0.0.1.

Prints one line containing `ready` and the API's URL once it serves, writes .secure-ai/local.json,
and stops everything it started on Ctrl-C (SIGINT) or SIGTERM. See docs/local-stack.md.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType


def main(argv: list[str] | None = None) -> int:
    """Run the local stack until SIGINT or SIGTERM; 0 after a clean stop, 130 if startup was aborted."""
    started = time.monotonic()
    # Imported here, not at module level: worker processes started with "spawn" import this
    # module as __mp_main__ and must not pay for the emulator's imports.
    from secure_ai_local.stack import LocalStack, LocalStackOptions  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m secure_ai_local", description=__doc__)
    parser.add_argument(
        "--port", type=int, help="API port on 127.0.0.1 (default: $SECURE_AI_PORT or 3000; 0: any)"
    )
    parser.add_argument(
        "--demo-port", type=int, help="browser demo port (default: $SECURE_AI_DEMO_PORT or 8787; 0: any)"
    )
    parser.add_argument("--state-dir", type=Path, help="where local.json goes (default: .secure-ai/)")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    logging.getLogger("botocore").setLevel(logging.WARNING)  # one line per client created otherwise
    overrides: dict[str, object] = {}
    if arguments.port is not None:
        overrides["port"] = arguments.port
    if arguments.state_dir is not None:
        overrides["state_dir"] = arguments.state_dir
    if arguments.demo_port is not None:
        overrides["demo_port"] = arguments.demo_port
    options = LocalStackOptions.from_environment(os.environ, **overrides)

    stop = threading.Event()
    ready = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        already = stop.is_set()
        stop.set()
        if not ready.is_set() and not already:
            raise KeyboardInterrupt  # abort the startup; LocalStack.start() unwinds what it started

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    stack = LocalStack(options)
    try:
        info = stack.start()
        ready.set()
        model = "stub model" if not options.uses_real_provider else "model provider"
        logging.getLogger("secure_ai_local").info(
            "moto %s · %s %s · demo client %s", info.aws_endpoint_url, model, info.model_base_url, info.key_id
        )
        print(
            f"secure-ai-gateway local stack ready at {info.api_url} ({time.monotonic() - started:.1f} s)",
            flush=True,
        )
        if info.demo_url:
            print(f"browser demo: {info.demo_url} (sign in, enroll, chat)", flush=True)
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        return 130
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        print(
            f"port {options.port} or {options.demo_port} on 127.0.0.1 is in use: choose others with"
            " SECURE_AI_PORT / --port and SECURE_AI_DEMO_PORT / --demo-port",
            file=sys.stderr,
        )
        return 1
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
