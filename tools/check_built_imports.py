"""Import each built function's handler the way Lambda lays it out, with nothing else on the path.

First, the built layer must hold the gateway's and the protocol's packages as real files (the
source tree links them into layers/shared/) and nothing of the client SDK, which is its own
distribution (docs/architecture.md).

For every function in a built template: a fresh python3.13, isolated (-I) and without site-packages
(-S), whose sys.path is the function's build folder then the built layer's `python/` folder (Lambda's
/var/task then /opt/python). A handler that leans on something only the dev virtualenv has fails here.
A function behind the Lambda Web Adapter has a start script as its handler (`run.sh`): the module it
runs with `python3 -m` must import and have a callable `main`.
"""

from __future__ import annotations

import re
import subprocess  # nosec B404 - runs the interpreter we were given on our own build output
import sys
from pathlib import Path

from cfnlint.decode import cfn_yaml

PROBE = """
import importlib, sys
sys.path[:0] = [{task!r}, {layer!r}]
module = importlib.import_module({module!r})
handler = getattr(module, {attribute!r})
assert callable(handler), "handler is not callable"
leaked = [p for p in sys.path if "site-packages" in p]
assert not leaked, leaked
print("ok", {module!r}, module.__file__)
"""


LAYER_PACKAGES = ("secure_ai_gateway", "secure_ai_protocol")
NOT_IN_LAYER = ("secure_ai_client", "secure_ai_local", "httpx_auth.py")


def check_layer_contents(layer: Path) -> int:
    """Count what is wrong with the layer's own packages: missing, linked, or client code shipped."""
    failures = 0
    for package in LAYER_PACKAGES:
        folder = layer / package
        if not (folder / "__init__.py").is_file() or folder.is_symlink():
            print(f"layer: {package} is missing or a link, not a copy", file=sys.stderr)
            failures += 1
    shipped = sorted(str(path.relative_to(layer)) for name in NOT_IN_LAYER for path in layer.rglob(name))
    if shipped:
        print(f"layer: client or local code shipped: {shipped}", file=sys.stderr)
        failures += 1
    print(f"layer: {', '.join(LAYER_PACKAGES)} and no client code" if not failures else "layer: WRONG")
    return failures


def handler_target(task: Path, handler: str) -> tuple[str, str]:
    """(module, callable) a function runs: its handler's, or for a start script, its module's `main`."""
    if handler.endswith(".sh"):
        started = re.search(r"exec python3 -m ([A-Za-z_][\w.]*)", (task / handler).read_text())
        return (started[1], "main") if started else (handler, "main")
    module, _, attribute = handler.rpartition(".")
    return module, attribute


def main(build_dir: str, python: str) -> int:
    """Check every function in `build_dir`/template.yaml; return a process exit code."""
    root = Path(build_dir)
    template = cfn_yaml.load(str(root / "template.yaml"))
    layers = [
        root / str(properties["Properties"]["ContentUri"]) / "python"
        for properties in template["Resources"].values()
        if properties["Type"] == "AWS::Serverless::LayerVersion"
    ]
    (layer,) = layers
    failures = check_layer_contents(layer)
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        task = root / str(resource["Properties"]["CodeUri"])
        module, attribute = handler_target(task, str(resource["Properties"]["Handler"]))
        probe = PROBE.format(task=str(task), layer=str(layer), module=module, attribute=attribute)
        result = subprocess.run(  # noqa: S603 # nosec B603 - fixed argv, our interpreter
            [python, "-I", "-S", "-c", probe], capture_output=True, text=True, check=False, env={}
        )
        status = "imports" if result.returncode == 0 else "FAILS TO IMPORT"
        print(f"{logical_id}: {module}.{attribute} {status}")
        if result.returncode != 0:
            failures += 1
            print(result.stderr.strip()[-2000:], file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
