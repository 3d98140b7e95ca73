"""The REST API the emulator serves, as template.yaml declares it: stage, routes, authorizers,
binary media types and gateway responses.

Everything is read from the template: the stage, the routes (`Api` events of the functions), the
default REQUEST authorizer and its identity sources, per-route `Auth: Authorizer: NONE`,
`BinaryMediaTypes` (`~1` meaning `/`) and `GatewayResponses`. Features the emulator would otherwise
ignore silently (TOKEN or cached authorizers, API keys) are refused. See "What is emulated" in
docs/local-stack.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from secure_ai_local.stack_template import StackTemplate, resolve


@dataclass(frozen=True)
class Route:
    """One method on one resource, integrated with a function (Lambda proxy)."""

    resource: str
    method: str  # upper case, or "ANY"
    function: str
    authorizer: str | None
    # ResponseTransferMode RESPONSE_STREAM: API Gateway streams the function's response (docs/streaming.md).
    streaming: bool = False

    @property
    def segments(self) -> tuple[str, ...]:
        """The resource path's segments ("/" has none)."""
        return tuple(part for part in self.resource.split("/") if part)


@dataclass(frozen=True)
class RequestAuthorizer:
    """A Lambda REQUEST authorizer with its identity sources."""

    name: str
    function: str
    identity_headers: tuple[str, ...] = ()
    identity_query_strings: tuple[str, ...] = ()


@dataclass(frozen=True)
class GatewayResponse:
    """A customised gateway response: status code, body templates, static headers."""

    status_code: int | None
    templates: Mapping[str, str]
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CorsPreflight:
    """The API's `Cors`: what API Gateway's MOCK integration answers to OPTIONS on every resource."""

    allow_origin: str
    allow_methods: str
    allow_headers: str
    max_age: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The preflight response's headers."""
        headers = {
            "Access-Control-Allow-Origin": self.allow_origin,
            "Access-Control-Allow-Methods": self.allow_methods,
            "Access-Control-Allow-Headers": self.allow_headers,
        }
        if self.max_age is not None:
            headers["Access-Control-Max-Age"] = self.max_age
        return headers


@dataclass(frozen=True)
class ApiDefinition:
    """What the emulator serves, as the template declares it."""

    api_id: str
    stage: str
    routes: tuple[Route, ...]
    authorizers: Mapping[str, RequestAuthorizer]
    binary_media_types: tuple[str, ...] = ()
    gateway_responses: Mapping[str, GatewayResponse] = field(default_factory=dict)
    cors: CorsPreflight | None = None

    @classmethod
    def from_template(
        cls, template: StackTemplate, references: Mapping[str, str], *, logical_id: str | None = None
    ) -> ApiDefinition:
        """Read the AWS::Serverless::Api `logical_id` (the only one if None) and its routes.

        Raises NotImplementedError for features the emulator would otherwise silently ignore
        (TOKEN or cached authorizers, IAM or API key auth).
        """
        apis = dict(template.resources_of_type("AWS::Serverless::Api"))
        if logical_id is None:
            if len(apis) != 1:
                raise ValueError(f"name the API to serve; the template declares {sorted(apis)}")
            (logical_id,) = apis
        properties = resolve(apis[logical_id], references)
        function_arns = {
            references[f"{function}.Arn"]: function
            for function, _ in template.resources_of_type("AWS::Serverless::Function")
        }
        auth = properties.get("Auth", {})
        authorizers = {
            name: _request_authorizer(name, spec, function_arns)
            for name, spec in auth.get("Authorizers", {}).items()
        }
        default_authorizer = auth.get("DefaultAuthorizer")
        if (
            auth.get("AddDefaultAuthorizerToCorsPreflight", True)
            and default_authorizer
            and "Cors" in properties
        ):
            raise NotImplementedError(
                "an authorized CORS preflight is not emulated (AddDefaultAuthorizerToCorsPreflight)"
            )
        routes = tuple(_routes(template, references, logical_id, default_authorizer, authorizers))
        return cls(
            api_id=references.get(logical_id, logical_id.lower()),
            stage=str(properties["StageName"]),
            routes=routes,
            authorizers=authorizers,
            binary_media_types=tuple(
                str(media_type).replace("~1", "/") for media_type in properties.get("BinaryMediaTypes", ())
            ),
            gateway_responses={
                response_type: _gateway_response(spec)
                for response_type, spec in properties.get("GatewayResponses", {}).items()
            },
            cors=_cors(properties["Cors"]) if "Cors" in properties else None,
        )


def _request_authorizer(
    name: str, spec: Mapping[str, Any], function_arns: Mapping[str, str]
) -> RequestAuthorizer:
    # SAM's default payload type is TOKEN and its default cache TTL 300 s: neither is emulated.
    if spec.get("FunctionPayloadType", "TOKEN") != "REQUEST":
        raise NotImplementedError(f"authorizer {name}: only REQUEST authorizers are emulated")
    identity = spec.get("Identity", {})
    if int(identity.get("ReauthorizeEvery", 300)) != 0:
        raise NotImplementedError(f"authorizer {name}: result caching (ReauthorizeEvery > 0) is not emulated")
    if identity.get("StageVariables") or identity.get("Context"):
        raise NotImplementedError(f"authorizer {name}: only header and query string identity sources")
    return RequestAuthorizer(
        name=name,
        function=function_arns[spec["FunctionArn"]],
        identity_headers=tuple(identity.get("Headers", ())),
        identity_query_strings=tuple(identity.get("QueryStrings", ())),
    )


def _routes(
    template: StackTemplate,
    references: Mapping[str, str],
    api_logical_id: str,
    default_authorizer: str | None,
    authorizers: Mapping[str, RequestAuthorizer],
) -> Iterable[Route]:
    for function, properties in template.resources_of_type("AWS::Serverless::Function"):
        for event in properties.get("Events", {}).values():
            if event.get("Type") != "Api" or event["Properties"].get("RestApiId") != {"Ref": api_logical_id}:
                continue
            spec = resolve(event["Properties"], references)
            auth = spec.get("Auth", {})
            if auth.get("ApiKeyRequired"):
                raise NotImplementedError(f"{spec['Path']}: API keys are not emulated")
            name = auth.get("Authorizer", default_authorizer)
            if name == "NONE":
                name = None
            elif name is not None and name not in authorizers:
                raise NotImplementedError(f"{spec['Path']}: authorizer {name} is not emulated")
            mode = spec.get("ResponseTransferMode", "BUFFERED")
            if mode not in ("BUFFERED", "RESPONSE_STREAM"):
                raise NotImplementedError(f"{spec['Path']}: ResponseTransferMode {mode} is not emulated")
            yield Route(
                resource=spec["Path"],
                method=str(spec["Method"]).upper(),
                function=function,
                authorizer=name,
                streaming=mode == "RESPONSE_STREAM",
            )


def _static(name: str, value: Any) -> str:
    if not (isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == "'"):
        raise NotImplementedError(f"{name}: only static 'values' are emulated")
    return value[1:-1]


def _cors(spec: Any) -> CorsPreflight:
    if isinstance(spec, str):
        return CorsPreflight(allow_origin=_static("Cors", spec), allow_methods="*", allow_headers="*")
    if spec.get("AllowCredentials"):
        raise NotImplementedError("Cors AllowCredentials is not emulated")
    return CorsPreflight(
        allow_origin=_static("Cors.AllowOrigin", spec["AllowOrigin"]),
        allow_methods=_static("Cors.AllowMethods", spec.get("AllowMethods", "'*'")),
        allow_headers=_static("Cors.AllowHeaders", spec.get("AllowHeaders", "'*'")),
        max_age=_static("Cors.MaxAge", spec["MaxAge"]) if "MaxAge" in spec else None,
    )


def _gateway_response(spec: Mapping[str, Any]) -> GatewayResponse:
    headers = {
        name: _static(f"gateway response header {name}", value)
        for name, value in spec.get("ResponseParameters", {}).get("Headers", {}).items()
    }
    status = spec.get("StatusCode")
    return GatewayResponse(
        status_code=int(status) if status is not None else None,
        templates=dict(spec.get("ResponseTemplates", {})),
        headers=headers,
    )
