"""Mutations as data, and the hypothesis strategies that draw them and the hostile values they carry.

A mutation is a small JSON object (`{"op": "set", "path": [...], "value": ...}` and the like), so an
input that once broke something is kept in tests/fuzz_corpus as its base plus the mutations, and is
rebuilt, freshly signed, whenever the corpus is replayed.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

from hypothesis import strategies as st

from secure_ai_protocol.signing.content_digest import compute_content_digest

Mutation = dict[str, Any]
PathPart = str | int

SIGNED_HEADERS: Final = ("host", "content-type", "content-digest", "signature-input", "signature")
HEADER_NAMES: Final = (
    "Host",
    "Content-Type",
    "Content-Digest",
    "Signature-Input",
    "Signature",
    *SIGNED_HEADERS,
    "HOST",
    "SIGNATURE",
    "X-Forwarded-For",
    "Accept",
    "X-Amzn-Trace-Id",
    "@method",
    "bad header",
    "",
)

# Values that broke parsers somewhere, and values that look almost right.
HOSTILE_STRINGS: Final = (
    "",
    " ",
    "\r\n",
    "\x00",
    "é",
    "\ud800",
    "null",
    "[]",
    "{}",
    "0",
    "-1",
    "1e999",
    "NaN",
    "x" * 5000,
    "sig=:AAAA:",
    "sig=()",
    'sig=("@method");created=1;keyid="a.1"',
    "sig=:" + "A" * 44 + ":",
    "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
    "md5=:1B2M2Y8AsgTpgAmY7PhCfg==:",
    "sha-512=:" + "A" * 86 + "==:",
    "application/vnd.secure-ai.envelope",
    "application/json; charset=utf-8",
    "text/plain",
    "/prod/v1/chat/completions",
    "/prod/v1/validate",
    "/prod/v1/chat/completions/",
    "//prod/v1/chat/completions",
    "/prod/v1/chat/../validate",
    "abc123defg.execute-api.us-east-1.amazonaws.com",
    "ABC123DEFG.execute-api.us-east-1.amazonaws.com",
    "evil.example.com",
    "POST",
    "post",
    "GET",
    "fuzz-app",
    "fuzz-app.1",
    "fuzz-app.2",
    "other-app",
    "chat:complete",
    "output:validate",
    "arn:aws:execute-api:us-east-1:123456789012:abc123defg/prod/POST/v1/validate",
    "arn:aws:execute-api:us-east-1:123456789012:abc123defg/*/*",
    "not-base64!!",
    "====",
    "AAAA",
)


def hostile_text() -> st.SearchStrategy[str]:
    """Strings worth throwing at any field: arbitrary, near-valid, oversized, control characters."""
    return st.one_of(
        st.sampled_from(HOSTILE_STRINGS),
        st.text(max_size=40),
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80),
        st.binary(min_size=1, max_size=48).map(compute_content_digest),
        st.binary(min_size=1, max_size=48).map(lambda data: compute_content_digest(data, "sha-512")),
        st.binary(max_size=64).map(lambda data: base64.b64encode(data).decode()),
    )


def json_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Any JSON value, with hostile strings among the leaves."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        hostile_text(),
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(hostile_text(), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def paths_of(value: Any, prefix: tuple[PathPart, ...] = ()) -> Iterator[tuple[PathPart, ...]]:
    """Every path into `value` (dict keys and list indices), the root excluded."""
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield (*prefix, key)
            yield from paths_of(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from paths_of(child, (*prefix, index))


def path_mutations(base: Any) -> st.SearchStrategy[Mutation]:
    """Set, delete or splice anything found in `base`."""
    paths = sorted({tuple(path) for path in paths_of(base)}, key=repr)
    chosen = st.sampled_from(paths).map(list)
    return st.one_of(
        st.builds(lambda path, value: {"op": "set", "path": path, "value": value}, chosen, json_values()),
        st.builds(lambda path: {"op": "delete", "path": path}, chosen),
        st.builds(
            lambda path, at, cut, insert: {
                "op": "splice",
                "path": path,
                "at": at,
                "cut": cut,
                "insert": insert,
            },
            chosen,
            st.integers(min_value=0, max_value=10_000),
            st.integers(min_value=0, max_value=3),
            st.text(max_size=3),
        ),
    )


def header_mutations() -> st.SearchStrategy[Mutation]:
    """Headers set, removed, repeated or renamed, in one or both of API Gateway's header maps."""
    names = st.sampled_from(HEADER_NAMES)
    maps = st.sampled_from(["both", "headers", "multiValueHeaders"])
    return st.one_of(
        st.builds(
            lambda name, value, which: {"op": "header", "name": name, "value": value, "maps": which},
            names,
            st.one_of(st.none(), hostile_text()),
            maps,
        ),
        st.builds(
            lambda name, value: {"op": "append_header", "name": name, "value": value}, names, hostile_text()
        ),
        st.builds(
            lambda name, new: {"op": "rename_header", "name": name, "new_name": new},
            st.sampled_from(["Host", "Content-Type", "Content-Digest", "Signature-Input", "Signature"]),
            names,
        ),
    )


def query_mutations() -> st.SearchStrategy[Mutation]:
    """Query parameters added to one or both of API Gateway's query maps."""
    pairs = st.dictionaries(hostile_text(), hostile_text(), min_size=1, max_size=3)
    return st.builds(
        lambda params, which: {"op": "query", "params": params, "maps": which},
        pairs,
        st.sampled_from(["both", "queryStringParameters", "multiValueQueryStringParameters"]),
    )


def _encodable() -> st.SearchStrategy[str]:
    return st.text(alphabet=st.characters(codec="utf-8"), max_size=5)


def resign_mutations() -> st.SearchStrategy[Mutation]:
    """The signature of another request (method, path, query, host, type or body) moved onto this one."""
    changes = st.one_of(
        st.fixed_dictionaries({"method": st.sampled_from(["GET", "PUT", "DELETE", "post"])}),
        st.fixed_dictionaries({"resource": st.sampled_from(["/v1/validate", "/v1/keys/public", "/v1/chat"])}),
        st.fixed_dictionaries({"stage": st.sampled_from(["dev", "Prod", "prod2"])}),
        st.fixed_dictionaries({"host": st.sampled_from(["evil.example.com", "abc123defg.example.com"])}),
        st.fixed_dictionaries({"content_type": st.sampled_from(["text/plain", "application/json"])}),
        st.fixed_dictionaries(
            {"body": st.binary(max_size=32).map(lambda data: base64.b64encode(data).decode())}
        ),
        st.fixed_dictionaries(
            {"query": st.lists(st.tuples(_encodable(), _encodable()), min_size=1, max_size=2)}
        ),
    )
    return changes.map(lambda change: {"op": "resign", "changes": change})


def body_mutations() -> st.SearchStrategy[Mutation]:
    """The body replaced, cut or re-encoded, as a proxy integration could receive it."""
    return st.one_of(
        st.builds(
            lambda data, encoded: {
                "op": "body",
                "base64": base64.b64encode(data).decode(),
                "encoded": encoded,
            },
            st.binary(max_size=256),
            st.booleans(),
        ),
        st.builds(
            lambda at, cut, insert: {
                "op": "splice",
                "path": ["body"],
                "at": at,
                "cut": cut,
                "insert": insert,
            },
            st.integers(min_value=0, max_value=10_000),
            st.integers(min_value=0, max_value=4),
            st.text(max_size=4),
        ),
        st.builds(
            lambda flag: {"op": "set", "path": ["isBase64Encoded"], "value": flag},
            st.one_of(st.booleans(), st.none(), st.sampled_from(["true", 1])),
        ),
        st.builds(lambda value: {"op": "set", "path": ["body"], "value": value}, json_values(max_leaves=3)),
    )


# -- applying ---------------------------------------------------------------------------------------


Signer = Callable[[Mapping[str, Any]], Sequence[tuple[str, str]]]


def apply_mutations(event: Any, mutations: Sequence[Mutation], signer: Signer | None = None) -> Any:
    """A deep copy of `event` with `mutations` applied in order (one that does not fit is a no-op).

    `signer` answers a `resign` mutation: the Signature-Input and Signature headers the client would
    send for the signed request changed as the mutation says (a valid signature, of another request).
    """
    mutated = copy.deepcopy(event)
    for mutation in mutations:
        if mutation["op"] == "resign":
            if signer is None:
                raise ValueError("a resign mutation needs a signer")
            for name, value in signer(mutation["changes"]):
                mutated = _apply(mutated, {"op": "header", "name": name, "value": value, "maps": "both"})
        else:
            mutated = _apply(mutated, mutation)
    return mutated


def _apply(event: Any, mutation: Mutation) -> Any:
    op = mutation["op"]
    if op == "root":
        return copy.deepcopy(mutation["value"])
    if op in {"set", "delete", "splice"}:
        path = list(mutation["path"])
        if not path:
            return event
        parent = _resolve(event, path[:-1])
        if parent is not None:
            _edit(parent, path[-1], mutation)
        return event
    if not isinstance(event, dict):
        return event
    if op == "header":
        _set_header(event, mutation["name"], mutation["value"], mutation["maps"])
    elif op == "append_header":
        _append_header(event, mutation["name"], mutation["value"])
    elif op == "rename_header":
        _rename_header(event, mutation["name"], mutation["new_name"])
    elif op == "query":
        _add_query(event, mutation["params"], mutation["maps"])
    elif op == "body":
        data = base64.b64decode(mutation["base64"])
        event["body"] = mutation["base64"] if mutation["encoded"] else data.decode("utf-8", "replace")
        event["isBase64Encoded"] = bool(mutation["encoded"])
    else:
        raise ValueError(f"unknown mutation op {op!r}")
    return event


def _resolve(value: Any, path: Sequence[PathPart]) -> Any:
    for part in path:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and isinstance(part, int) and value:
            value = value[part % len(value)]
        else:
            return None
    return value if isinstance(value, dict | list) else None


def _edit(parent: Any, key: PathPart, mutation: Mutation) -> None:
    op = mutation["op"]
    if isinstance(parent, list):
        if not isinstance(key, int) or not parent:
            return
        key %= len(parent)
    elif not isinstance(key, str):
        return
    exists = key in parent if isinstance(parent, dict) else True
    if op == "set":
        parent[key] = copy.deepcopy(mutation["value"])
    elif op == "delete" and exists:
        del parent[key]
    elif op == "splice" and exists and isinstance(parent[key], str):
        text: str = parent[key]
        at = mutation["at"] % (len(text) + 1)
        parent[key] = text[:at] + mutation["insert"] + text[at + mutation["cut"] :]


def _maps(event: dict[str, Any], which: str, single: str, multi: str) -> tuple[bool, bool]:
    return which in {"both", single}, which in {"both", multi}


def _set_header(event: dict[str, Any], name: str, value: str | None, which: str) -> None:
    in_single, in_multi = _maps(event, which, "headers", "multiValueHeaders")
    for key, wanted in (("headers", in_single), ("multiValueHeaders", in_multi)):
        headers = event.get(key)
        if not wanted or not isinstance(headers, dict):
            continue
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value if key == "headers" else [value]


def _append_header(event: dict[str, Any], name: str, value: str) -> None:
    multi, single = event.get("multiValueHeaders"), event.get("headers")
    if isinstance(multi, dict):
        existing = multi.get(name)
        multi[name] = [*existing, value] if isinstance(existing, list) else [value]
    if isinstance(single, dict):
        single[name] = value  # API Gateway keeps the last copy in `headers`


def _rename_header(event: dict[str, Any], name: str, new_name: str) -> None:
    for key in ("headers", "multiValueHeaders"):
        headers = event.get(key)
        if isinstance(headers, dict) and name in headers:
            headers[new_name] = headers.pop(name)


def _add_query(event: dict[str, Any], params: Mapping[str, str], which: str) -> None:
    in_single, in_multi = _maps(event, which, "queryStringParameters", "multiValueQueryStringParameters")
    if in_single:
        single = event.get("queryStringParameters")
        event["queryStringParameters"] = {**(single if isinstance(single, dict) else {}), **params}
    if in_multi:
        multi = event.get("multiValueQueryStringParameters")
        added = {name: [value] for name, value in params.items()}
        event["multiValueQueryStringParameters"] = {**(multi if isinstance(multi, dict) else {}), **added}
