"""The layers docs/architecture.md draws, held by the import graph of the three packages."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

import pytest

from tests.architecture.imports import PACKAGES, REPOSITORY, Import, import_graph, modules

GRAPH = import_graph()
MODULES = modules()
# Modules that talk to AWS, the model provider or the Encryption SDK: adapters, in the gateway.
OUTSIDE_WORLD = (
    "boto3",
    "botocore",
    "openai",
    "httpx2",
    "aws_encryption_sdk",
    "aws_cryptographic_material_providers",
)
# What token verification may import besides itself and the protocol's errors: no I/O.
PURE_IDENTITY_IMPORTS = frozenset(
    {"jwt", "cryptography", "__future__", "collections", "dataclasses", "math", "typing"}
)
SERVER_ONLY = ("aws_lambda_powertools", "aws_xray_sdk", "openai", "re2", "jsonschema")


def top(name: str) -> str:
    return name.split(".", maxsplit=1)[0]


def edges(importer: str) -> list[Import]:
    return [edge for edge in GRAPH if edge.importer == importer or edge.importer.startswith(importer + ".")]


def cycles(edges: Iterable[Import]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), type-only imports included."""
    successors: defaultdict[str, set[str]] = defaultdict(set)
    for edge in edges:
        if edge.imported in MODULES and edge.imported != edge.importer:
            successors[edge.importer].add(edge.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for successor in successors[module]:
            if successor not in index:
                visit(successor)
                low[module] = min(low[module], low[successor])
            elif successor in stack:
                low[module] = min(low[module], index[successor])
        if low[module] == index[module]:
            component: list[str] = []
            while not component or component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(MODULES):
        if module not in index:
            visit(module)
    return found


def test_the_graph_sees_every_package() -> None:
    # A guard for the tests below: an empty graph would pass them all.
    assert {top(name) for name in MODULES} == {"secure_ai_protocol", "secure_ai_gateway", "secure_ai_client"}
    assert len(GRAPH) > 500


def test_no_package_has_an_import_cycle() -> None:
    assert cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    a, b = "secure_ai_gateway.ports", "secure_ai_gateway.settings"
    assert cycles([Import(a, b, False), Import(b, a, True)]) == [[a, b]]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("secure_ai_protocol", ("secure_ai_gateway", "secure_ai_client")),
        ("secure_ai_gateway", ("secure_ai_client",)),
        ("secure_ai_client", ("secure_ai_gateway",)),
    ],
)
def test_packages_depend_only_downwards(package: str, forbidden: tuple[str, ...]) -> None:
    # protocol <- gateway, protocol <- client: neither the server nor the SDK imports the other
    assert [edge for edge in edges(package) if top(edge.imported) in forbidden] == []


def test_only_adapters_and_the_operator_commands_talk_to_the_outside_world() -> None:
    talking = sorted(
        {edge.importer for edge in edges("secure_ai_gateway") if top(edge.imported) in OUTSIDE_WORLD}
    )
    assert [
        name
        for name in talking
        if not name.startswith(("secure_ai_gateway.adapters.", "secure_ai_gateway.operator_cli."))
    ] == []


def test_the_screen_is_pure() -> None:
    # Screening imports only itself, the protocol's errors and bounds, and its parsers.
    outside = {
        edge.imported
        for edge in edges("secure_ai_gateway.screening")
        if top(edge.imported).startswith("secure_ai")
        and not edge.imported.startswith(("secure_ai_gateway.screening", "secure_ai_protocol"))
    }
    assert outside == set()
    assert [
        edge for edge in edges("secure_ai_gateway.screening") if top(edge.imported) in OUTSIDE_WORLD
    ] == []


def test_token_verification_is_pure() -> None:
    # identity/ imports only itself, the protocol's errors, PyJWT and cryptography: the keys come
    # through its SigningKeys port (adapters/jwks.py fetches them), never from the network here.
    assert edges("secure_ai_gateway.identity") != []
    outside = {
        edge.imported
        for edge in edges("secure_ai_gateway.identity")
        if not edge.imported.startswith(("secure_ai_gateway.identity", "secure_ai_protocol.errors"))
        and top(edge.imported) not in PURE_IDENTITY_IMPORTS
    }
    assert outside == set()
    # PyJWT's own JWKS client fetches keys over urllib, with none of the adapter's bounds.
    assert [
        edge for edge in edges("secure_ai_gateway.identity") if edge.imported.startswith("jwt.jwks")
    ] == []


def test_services_reach_adapters_only_through_ports() -> None:
    assert [edge for edge in edges("secure_ai_gateway.services") if ".adapters" in edge.imported] == []


def test_the_client_imports_nothing_server_only() -> None:
    assert [edge for edge in edges("secure_ai_client") if top(edge.imported) in SERVER_ONLY] == []
    assert [edge for edge in edges("secure_ai_protocol") if top(edge.imported) in SERVER_ONLY] == []


def test_the_security_scanner_reads_every_packages_source() -> None:
    # bandit does not follow the layer's links into packages/: it must be pointed at the sources.
    script = (REPOSITORY / "tools" / "security-scan").read_text(encoding="utf-8")
    (code_dirs,) = re.findall(r"^CODE_DIRS=\((.*)\)$", script, flags=re.MULTILINE)
    scanned = set(code_dirs.split())
    assert {str(source.relative_to(REPOSITORY)) for source in PACKAGES.values()} <= scanned
