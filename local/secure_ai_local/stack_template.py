"""template.yaml as data: the resources, parameters and per-function environment it declares.

The local stack and the tests create AWS resources from these definitions, so a table key or a
TTL attribute changed in the template changes what moto serves, with no hand-kept copy to drift.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from cfnlint.decode import cfn_yaml

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPOSITORY_ROOT / "template.yaml"


class UnresolvableReference(LookupError):
    """An intrinsic function names something the local stack has no value for."""


@dataclass(frozen=True)
class StackTemplate:
    """The parsed template with helpers for the parts the gateway relies on."""

    document: Mapping[str, Any]

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH) -> StackTemplate:
        """Parse `path` with cfn-lint's CloudFormation-aware YAML loader (short-form tags)."""
        return cls(document=cast("Mapping[str, Any]", cfn_yaml.load(str(path))))

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        """Logical id → resource definition."""
        return cast("Mapping[str, Mapping[str, Any]]", self.document["Resources"])

    def resources_of_type(self, resource_type: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """(logical id, properties) of every resource of `resource_type`, in template order."""
        for logical_id, resource in self.resources.items():
            if resource["Type"] == resource_type:
                yield logical_id, resource.get("Properties", {})

    def parameter_defaults(self) -> dict[str, str]:
        """Parameter name → its default, as a string."""
        return {
            name: str(spec.get("Default", "")) for name, spec in self.document.get("Parameters", {}).items()
        }

    def conditions(self, references: Mapping[str, str]) -> dict[str, bool]:
        """Each condition's value for the parameters in `references` (Fn::Equals/Not/And/Or, Condition)."""
        specs = self.document.get("Conditions", {})
        values: dict[str, bool] = {}

        def evaluate(spec: Any) -> bool:
            if isinstance(spec, Mapping) and len(spec) == 1:
                ((function, argument),) = spec.items()
                if function == "Fn::Equals":
                    left, right = (resolve(item, references) for item in argument)
                    return str(left) == str(right)
                if function == "Fn::Not":
                    return not evaluate(argument[0])
                if function == "Fn::And":
                    return all(evaluate(item) for item in argument)
                if function == "Fn::Or":
                    return any(evaluate(item) for item in argument)
                if function == "Condition":
                    return condition(str(argument))
            raise NotImplementedError(f"condition {spec!r} is not emulated")

        def condition(name: str) -> bool:
            if name not in values:
                values[name] = evaluate(specs[name])
            return values[name]

        for name in specs:
            condition(name)
        return values

    def function_environment(self, logical_id: str) -> dict[str, Any]:
        """Globals' variables overlaid with the function's own (unresolved intrinsics)."""
        globals_env = self.document.get("Globals", {}).get("Function", {}).get("Environment", {})
        own_env = self.resources[logical_id]["Properties"].get("Environment", {})
        return {**globals_env.get("Variables", {}), **own_env.get("Variables", {})}

    def function_handler(self, logical_id: str) -> tuple[str, str]:
        """(CodeUri, Handler) of a serverless function."""
        properties = self.resources[logical_id]["Properties"]
        return str(properties["CodeUri"]), str(properties["Handler"])


def resolve(value: Any, references: Mapping[str, str]) -> Any:
    """Resolve Ref, Fn::GetAtt, Fn::Sub and Fn::If against `references`.

    `references` maps `LogicalId` (Ref) and `LogicalId.Attribute` (GetAtt) and parameter names,
    pseudo parameters included, to values, and `Condition::<name>` to "true" or "false" (Fn::If);
    anything else raises UnresolvableReference. A value that resolves to `AWS::NoValue` is dropped
    from the mapping or list that holds it.
    """
    if isinstance(value, Mapping):
        if set(value) == {"Ref"} and value["Ref"] == "AWS::NoValue":
            return _NO_VALUE
        if set(value) == {"Fn::If"}:
            name, when_true, when_false = value["Fn::If"]
            chosen = when_true if _lookup(f"Condition::{name}", references) == "true" else when_false
            return resolve(chosen, references)
        if set(value) == {"Ref"}:
            return _lookup(str(value["Ref"]), references)
        if set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            name = ".".join(target) if isinstance(target, list) else str(target)
            return _lookup(name, references)
        if set(value) == {"Fn::Sub"}:
            return _substitute(str(value["Fn::Sub"]), references)
        resolved = {key: resolve(item, references) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}
    if isinstance(value, list):
        return [item for item in (resolve(item, references) for item in value) if item is not _NO_VALUE]
    return value


_NO_VALUE: Any = object()


def _lookup(name: str, references: Mapping[str, str]) -> str:
    try:
        return references[name]
    except KeyError:
        raise UnresolvableReference(name) from None


def _substitute(text: str, references: Mapping[str, str]) -> str:
    result: list[str] = []
    rest = text
    while "${" in rest:
        before, _, after = rest.partition("${")
        name, _, rest = after.partition("}")
        result.extend((before, _lookup(name, references)))
    result.append(rest)
    return "".join(result)
