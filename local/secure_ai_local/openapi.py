"""docs/openapi.yaml, generated from the code so that it cannot drift from it:

    python -m secure_ai_local.openapi > docs/openapi.yaml

- paths, methods and which route is open: the functions' `Api` events in template.yaml;
- request and response schemas: the pydantic models the handlers parse and emit (`model_json_schema`);
- error responses: the `ProtocolError` kinds in secure_ai_protocol.errors, with the status and public
  body secure_ai_gateway.api.statuses gives each, and the
  template's `GatewayResponses` (what API Gateway answers itself).

tests/infrastructure/test_openapi_drift.py fails when docs/openapi.yaml is not this output, and when
the template, the functions' Powertools routes and the document's paths disagree.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final

import yaml
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import core_schema

from secure_ai_gateway.api.statuses import answer_of, public_body, public_body_of
from secure_ai_gateway.services.validator import EncryptedValidation
from secure_ai_local.api_gateway import DEFAULT_PORT
from secure_ai_local.stack_template import REPOSITORY_ROOT, StackTemplate
from secure_ai_protocol.envelope.rules import RESP_KEY_BYTES
from secure_ai_protocol.errors import (
    BadRequest,
    DependencyUnavailable,
    DeviceLimitReached,
    Forbidden,
    NotAcceptable,
    PayloadTooLarge,
    ProtocolError,
    QuotaExceeded,
    Unauthenticated,
    UpstreamFailed,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from secure_ai_protocol.media_types import ENVELOPE_CONTENT_TYPE, JSON_CONTENT_TYPE
from secure_ai_protocol.routes import (
    CHAT_ROUTE,
    DEVICE_RENEWAL_ROUTE,
    DEVICES_ROUTE,
    PUBLIC_KEY_ROUTE,
    STREAM_ROUTE,
    VALIDATE_ROUTE,
)
from secure_ai_protocol.stream import STREAM_CONTENT_TYPE
from secure_ai_protocol.wire.chat import RequestPlaintext
from secure_ai_protocol.wire.devices import DeviceCredentials, EnrollmentRequest
from secure_ai_protocol.wire.responses import ChatResponse, ErrorBody, PublicKeyDocument
from secure_ai_protocol.wire.stream import StreamDelta, StreamFinal
from secure_ai_protocol.wire.validation import ValidationRequest
from secure_ai_protocol.wire.verdict import Verdict

DOCUMENT_PATH: Final = REPOSITORY_ROOT / "docs" / "openapi.yaml"
REGENERATE_COMMAND: Final = ".venv/bin/python -m secure_ai_local.openapi > docs/openapi.yaml"
OPENAPI_VERSION: Final = "3.1.0"
SCHEMA_REF: Final = "#/components/schemas/{model}"
PROTOCOL_LINK: Final = "[docs/protocol.md](protocol.md)"
ENCRYPTION_LINK: Final = "[docs/encryption.md](encryption.md)"
# The RFC 9421 headers every signed request carries; one apiKey scheme each, all required together.
SIGNATURE_HEADERS: Final = {
    "Signature": "Signature",
    "SignatureInput": "Signature-Input",
    "ContentDigest": "Content-Digest",
}
# Which gateway response API Gateway itself answers with, per status it can produce on these routes.
GATEWAY_RESPONSE_TYPES: Final = {
    HTTPStatus.UNAUTHORIZED: "UNAUTHORIZED",
    HTTPStatus.FORBIDDEN: "ACCESS_DENIED",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "REQUEST_TOO_LARGE",
    HTTPStatus.TOO_MANY_REQUESTS: "THROTTLED",
    HTTPStatus.BAD_GATEWAY: "DEFAULT_5XX",
    HTTPStatus.GATEWAY_TIMEOUT: "INTEGRATION_TIMEOUT",
}
GATEWAY_SITUATIONS: Final = {
    HTTPStatus.UNAUTHORIZED: "the authorizer refused the signature (any rule: the reason is only logged)",
    HTTPStatus.FORBIDDEN: "the authorizer's policy does not allow this method and path",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "the body is over API Gateway's 10 MB limit",
    HTTPStatus.TOO_MANY_REQUESTS: "the stage's throttling limits (no Retry-After)",
    HTTPStatus.BAD_GATEWAY: "the function failed or returned a malformed response",
    HTTPStatus.GATEWAY_TIMEOUT: "the function did not answer within API Gateway's 29 s",
}
SIGNED_ROUTE_ERRORS: Final[tuple[type[ProtocolError], ...]] = (
    BadRequest,
    Unauthenticated,
    Forbidden,
    PayloadTooLarge,
    QuotaExceeded,
    UpstreamRateLimited,
    UpstreamFailed,
    DependencyUnavailable,
    UpstreamTimeout,
)
# The routes that answer sealed: an Accept without the envelope type first is a 406.
SEALED_ROUTE_ERRORS: Final[tuple[type[ProtocolError], ...]] = (*SIGNED_ROUTE_ERRORS, NotAcceptable)
# POST /v1/devices: authenticated by the OIDC token in the function, so its 401 is the function's.
ENROLLMENT_ERRORS: Final[tuple[type[ProtocolError], ...]] = (
    BadRequest,
    Unauthenticated,
    Forbidden,
    PayloadTooLarge,
    DeviceLimitReached,
    DependencyUnavailable,
)
RENEWAL_ERRORS: Final[tuple[type[ProtocolError], ...]] = (*ENROLLMENT_ERRORS[:-2], DependencyUnavailable)
RETRY_AFTER_ERRORS: Final = (QuotaExceeded, UpstreamRateLimited)


OIDC_SCHEME: Final = "oidcToken"


class UndocumentedRoute(LookupError):
    """The template routes a method and path this generator has no operation for, or the reverse."""


# ------------------------------------------------------------------------------ routes, from the template
@dataclass(frozen=True, order=True)
class ApiRoute:
    """One method on one path of the API, and the function behind it."""

    path: str
    method: str  # upper case
    function: str  # the function's logical id
    signed: bool  # False: `Auth: {Authorizer: NONE}`, the authorizer is not invoked


def api_routes(template: StackTemplate) -> tuple[ApiRoute, ...]:
    """Every `Api` event of every function, sorted by path and method."""
    apis = dict(template.resources_of_type("AWS::Serverless::Api"))
    if len(apis) != 1:
        raise ValueError(f"expected one AWS::Serverless::Api, the template declares {sorted(apis)}")
    (api,) = apis.values()
    default_authorizer = api.get("Auth", {}).get("DefaultAuthorizer")
    routes = []
    for function, properties in template.resources_of_type("AWS::Serverless::Function"):
        for event in properties.get("Events", {}).values():
            if event["Type"] != "Api":
                continue
            spec = event["Properties"]
            authorizer = spec.get("Auth", {}).get("Authorizer", default_authorizer)
            routes.append(
                ApiRoute(
                    path=str(spec["Path"]),
                    method=str(spec["Method"]).upper(),
                    function=str(function),
                    signed=authorizer not in (None, "NONE"),
                )
            )
    return tuple(sorted(routes))


SCHEMA_MODELS: Final[tuple[tuple[type[BaseModel], JsonSchemaMode], ...]] = (
    (RequestPlaintext, "validation"),
    (ValidationRequest, "validation"),
    (EncryptedValidation, "validation"),
    (Verdict, "serialization"),
    (ChatResponse, "serialization"),
    (StreamDelta, "serialization"),
    (StreamFinal, "serialization"),
    (PublicKeyDocument, "serialization"),
    (EnrollmentRequest, "validation"),
    (DeviceCredentials, "serialization"),
    (ErrorBody, "serialization"),
)


class _OpenApiJsonSchema(GenerateJsonSchema):
    """pydantic's JSON Schema, with bytes as they travel in JSON here: base64 text."""

    def bytes_schema(self, schema: core_schema.BytesSchema) -> dict[str, Any]:
        """Bytes fields (`resp_key`) are base64 strings in these JSON documents."""
        return {"type": "string", "contentEncoding": "base64"}


def component_schemas() -> dict[str, Any]:
    """The models' JSON schemas, by name, with references into `#/components/schemas`."""
    _, top = models_json_schema(SCHEMA_MODELS, ref_template=SCHEMA_REF, schema_generator=_OpenApiJsonSchema)
    schemas: dict[str, Any] = top["$defs"]
    for name in (RequestPlaintext.__name__, EncryptedValidation.__name__):
        schemas[name]["properties"]["resp_key"].update(
            description=(
                f"Base64 (with padding) of {RESP_KEY_BYTES} fresh random bytes: the key the answer "
                "is encrypted to"
            ),
            pattern=base64_pattern(RESP_KEY_BYTES),
        )
    return dict(sorted(schemas.items()))


def base64_pattern(length: int) -> str:
    """The regular expression of standard, padded base64 of exactly `length` bytes."""
    padding = -length % 3
    characters = 4 * math.ceil(length / 3) - padding
    return f"^[A-Za-z0-9+/]{{{characters}}}{'=' * padding}$"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": SCHEMA_REF.format(model=model.__name__)}


# ------------------------------------------------------------------------------ errors
def response_name(status: HTTPStatus) -> str:
    """`#/components/responses` name for a status: its phrase in CamelCase (TooManyRequests)."""
    return "".join(word.capitalize() for word in status.phrase.split())


def _error_classes_by_status() -> dict[HTTPStatus, list[type[ProtocolError]]]:
    by_status: dict[HTTPStatus, list[type[ProtocolError]]] = {}
    for error_class in dict.fromkeys((*SEALED_ROUTE_ERRORS, *ENROLLMENT_ERRORS)):
        by_status.setdefault(answer_of(error_class).status, []).append(error_class)
    return dict(sorted(by_status.items()))


def _public_body_of(error_class: type[ProtocolError]) -> dict[str, str | int]:
    if error_class is DeviceLimitReached:
        return public_body(DeviceLimitReached(5))
    return dict(public_body_of(error_class))


def _gateway_body(template: StackTemplate, status: HTTPStatus) -> Any:
    (api,) = dict(template.resources_of_type("AWS::Serverless::Api")).values()
    responses = api.get("GatewayResponses", {})
    response_type = GATEWAY_RESPONSE_TYPES[status]
    default_type = "DEFAULT_4XX" if status < HTTPStatus.INTERNAL_SERVER_ERROR else "DEFAULT_5XX"
    response = responses.get(response_type) or responses.get(default_type)
    if response is None:
        return None
    body = response.get("ResponseTemplates", {}).get(JSON_CONTENT_TYPE)
    return json.loads(str(body)) if body is not None else None


def error_responses(template: StackTemplate) -> dict[str, Any]:
    """`#/components/responses`: one per status, with the bodies the functions and API Gateway send."""
    responses: dict[str, Any] = {}
    for status, classes in _error_classes_by_status().items():
        examples: dict[str, Any] = {}
        situations = []
        for error_class in classes:
            examples[error_class.__name__] = {
                "summary": f"the function: {(error_class.__doc__ or '').strip()}",
                "value": _public_body_of(error_class),
            }
        if status in GATEWAY_RESPONSE_TYPES:
            situations.append(GATEWAY_SITUATIONS[status])
            body = _gateway_body(template, status)
            if body is not None:
                examples["ApiGateway"] = {
                    "summary": f"API Gateway: {GATEWAY_SITUATIONS[status]}",
                    "value": body,
                }
        messages = ", ".join(sorted({f"`{answer_of(error_class).message}`" for error_class in classes}))
        description = f"{status.phrase} ({messages})"
        if situations:
            description += f"; or from API Gateway: {'; '.join(situations)}"
        response: dict[str, Any] = {"description": description}
        headers = {"Cache-Control": _header("`no-store` on the functions' answers", required=False)}
        if any(issubclass(error_class, RETRY_AFTER_ERRORS) for error_class in classes):
            headers["Retry-After"] = {
                "description": (
                    "Seconds to wait before retrying, on the gateway's quota and the model's rate limit "
                    "refusals (API Gateway's own throttling sends none)"
                ),
                "required": False,
                "schema": {"type": "integer", "minimum": 0},
            }
        response["headers"] = headers
        response["content"] = {JSON_CONTENT_TYPE: {"schema": _ref(ErrorBody), "examples": examples}}
        responses[response_name(status)] = response
    return responses


def _error_refs(classes: Iterable[type[ProtocolError]]) -> dict[str, Any]:
    statuses = sorted({answer_of(error_class).status for error_class in classes})
    return {
        str(int(status)): {"$ref": f"#/components/responses/{response_name(status)}"} for status in statuses
    }


def _header(description: str, *, required: bool) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": {"type": "string"}}


# ------------------------------------------------------------------------------ operations
def _envelope(plaintext: type[BaseModel], what: str) -> dict[str, Any]:
    """A media type whose body is an ESDK message; its decrypted JSON is `plaintext`."""
    return {
        "schema": {
            "type": "string",
            "contentMediaType": ENVELOPE_CONTENT_TYPE,
            "description": (
                f"An AWS Encryption SDK message ({ENCRYPTION_LINK}). {what} "
                f"`{plaintext.__name__}` (see `x-plaintext-schema`)."
            ),
        },
        "x-plaintext-schema": _ref(plaintext),
    }


ACCEPT_NOTE: Final = (
    f"Send `Accept: {ENVELOPE_CONTENT_TYPE}` to receive the envelope as bytes: API Gateway decodes a "
    "binary answer only when the request's first Accept type is a binary media type, and otherwise sends "
    "its base64 text. A request for a sealed answer whose first Accept type is anything else (`*/*` "
    "included) gets a 406 before any work."
)
NO_STORE: Final = {"Cache-Control": _header("`no-store`", required=True)}


def chat_completions() -> dict[str, Any]:
    """`POST /v1/chat/completions`."""
    return {
        "operationId": "createChatCompletion",
        "summary": "An encrypted, screened chat completion",
        "description": (
            "The body is a request envelope that decrypts to `RequestPlaintext`: the OpenAI chat completion "
            "request and the key the answer is encrypted to. The gateway re-hashes the body against the "
            "signed Content-Digest, decrypts it with the signature's `keyid` client and `nonce` as "
            "required encryption context, screens the input, calls the model, screens the output and "
            f"answers with an envelope that decrypts to `ChatResponsePayload`. {ACCEPT_NOTE}"
        ),
        "requestBody": {
            "required": True,
            "content": {ENVELOPE_CONTENT_TYPE: _envelope(RequestPlaintext, "It decrypts to")},
        },
        "responses": {
            "200": {
                "description": "The answer (or the blocked verdict), encrypted to the request's `resp_key`",
                "headers": NO_STORE,
                "content": {ENVELOPE_CONTENT_TYPE: _envelope(ChatResponse, "It decrypts to")},
            },
            **_error_refs(SEALED_ROUTE_ERRORS),
        },
    }


def chat_completions_stream() -> dict[str, Any]:
    """`POST /v1/chat/completions/stream`."""
    return {
        "operationId": "streamChatCompletion",
        "summary": "An encrypted, screened chat completion, streamed as server-sent events",
        "description": (
            "The body is a request envelope as for `createChatCompletion`, sealed for this route, whose "
            "request sets `stream: true`. A refusal before the stream starts is an ordinary JSON error "
            "with its status. Otherwise the answer is `text/event-stream`: one event per AES-256-GCM "
            "chunk (`id: <seq>`, `event: chunk` or `final`, `data: <base64url ciphertext>`), keyed by "
            "HKDF from the request's `resp_key` and its nonce. `chunk` events decrypt to `StreamDelta` "
            "(released text only); the one `final` event decrypts to `StreamFinal` (the verdict, usage "
            "and finish reason) and ends the stream, also when the answer was blocked mid-way. A client "
            f"rejects a gap, a reordering, a duplicate, a missing final event or anything after it: "
            f'{PROTOCOL_LINK}, "Streamed answers".'
        ),
        "requestBody": {
            "required": True,
            "content": {ENVELOPE_CONTENT_TYPE: _envelope(RequestPlaintext, "It decrypts to")},
        },
        "responses": {
            "200": {
                "description": "The answer's events, each encrypted; the last one final",
                "headers": NO_STORE,
                "content": {
                    STREAM_CONTENT_TYPE: {
                        "schema": {
                            "type": "string",
                            "description": (
                                "Server-sent events; `chunk` events decrypt to `StreamDelta`, the `final` "
                                "event to `StreamFinal` (see `x-event-plaintext-schemas`)."
                            ),
                        },
                        "x-event-plaintext-schemas": {"chunk": _ref(StreamDelta), "final": _ref(StreamFinal)},
                    }
                },
            },
            **_error_refs(SIGNED_ROUTE_ERRORS),
        },
    }


def public_key() -> dict[str, Any]:
    """`GET /v1/keys/public`."""
    return {
        "operationId": "getPublicKey",
        "summary": "The RSA public key mobile and web clients encrypt request envelopes to",
        "description": "The only open route: nothing it serves is secret. Clients pin the key.",
        "security": [],
        "responses": {
            "200": {
                "description": "The public key",
                "content": {JSON_CONTENT_TYPE: {"schema": _ref(PublicKeyDocument)}},
            },
            # KMS unavailable; and API Gateway's stage throttling applies to the open route too.
            **_error_refs((DependencyUnavailable, QuotaExceeded)),
        },
    }


def validate() -> dict[str, Any]:
    """`POST /v1/validate`."""
    return {
        "operationId": "validateOutput",
        "summary": "Screen a text and return the verdict",
        "description": (
            "A JSON `ValidationRequest` is answered with the JSON `Verdict`; an envelope that decrypts to "
            "`EncryptedValidation` is answered with an envelope (encrypted to its `resp_key`) that "
            "decrypts to the `Verdict`. Needs the `output:validate` scope. The verdict is stored "
            f"(digests, never the text) and published on the validation bus. {ACCEPT_NOTE}"
        ),
        "requestBody": {
            "required": True,
            "content": {
                JSON_CONTENT_TYPE: {"schema": _ref(ValidationRequest)},
                ENVELOPE_CONTENT_TYPE: _envelope(EncryptedValidation, "It decrypts to"),
            },
        },
        "responses": {
            "200": {
                "description": "The verdict, in the request's form (JSON or envelope)",
                "headers": NO_STORE,
                "content": {
                    JSON_CONTENT_TYPE: {"schema": _ref(Verdict)},
                    ENVELOPE_CONTENT_TYPE: _envelope(Verdict, "It decrypts to"),
                },
            },
            **_error_refs(SEALED_ROUTE_ERRORS),
        },
    }


def enroll_device() -> dict[str, Any]:
    """`POST /v1/devices`."""
    return {
        "operationId": "enrollDevice",
        "summary": "Enroll a signed-in user's device: its own short-lived signing key, sent once",
        "description": (
            "Authenticated by the user's OIDC token from the app's issuer (`Authorization: Bearer`), "
            "not by a signature. Every problem with the token or the app is the same 401. One token "
            "enrolls one device; a user at the app's device limit gets a 409 naming it. The answer is "
            "the only copy of the secret (docs/enrollment.md)."
        ),
        "security": [{OIDC_SCHEME: []}],
        "requestBody": {
            "required": True,
            "content": {JSON_CONTENT_TYPE: {"schema": _ref(EnrollmentRequest)}},
        },
        "responses": {
            "201": {
                "description": "The device's credentials: key id, secret, expiry",
                "headers": NO_STORE,
                "content": {JSON_CONTENT_TYPE: {"schema": _ref(DeviceCredentials)}},
            },
            **_error_refs(ENROLLMENT_ERRORS),
        },
    }


def renew_device() -> dict[str, Any]:
    """`POST /v1/devices/renew`."""
    return {
        "operationId": "renewDevice",
        "summary": "The device's next key, signed for by its current one",
        "description": (
            "Signed with the device's newest key (body `{}`), before it expires; the device's maximum age "
            "bounds every renewal. The key it replaces keeps verifying for five minutes (docs/enrollment.md)."
        ),
        "requestBody": {
            "required": True,
            "content": {JSON_CONTENT_TYPE: {"schema": {"type": "object", "maxProperties": 0}}},
        },
        "responses": {
            "200": {
                "description": "The device's next credentials",
                "headers": NO_STORE,
                "content": {JSON_CONTENT_TYPE: {"schema": _ref(DeviceCredentials)}},
            },
            **_error_refs(RENEWAL_ERRORS),
        },
    }


# (path, method) → the operation; a route in the template without one here fails the generation.
OPERATIONS: Final[Mapping[tuple[str, str], Callable[[], dict[str, Any]]]] = {
    (CHAT_ROUTE, "POST"): chat_completions,
    (STREAM_ROUTE, "POST"): chat_completions_stream,
    (PUBLIC_KEY_ROUTE, "GET"): public_key,
    (VALIDATE_ROUTE, "POST"): validate,
    (DEVICES_ROUTE, "POST"): enroll_device,
    (DEVICE_RENEWAL_ROUTE, "POST"): renew_device,
}


def _paths(routes: Iterable[ApiRoute]) -> dict[str, Any]:
    routes = tuple(routes)
    routed = {(route.path, route.method) for route in routes}
    if unknown := sorted(routed - set(OPERATIONS)):
        raise UndocumentedRoute(f"template routes without an operation in {__name__}: {unknown}")
    if stale := sorted(set(OPERATIONS) - routed):
        raise UndocumentedRoute(f"operations in {__name__} for routes the template no longer has: {stale}")
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        operation = OPERATIONS[route.path, route.method]()
        if ("security" in operation) == route.signed:
            raise UndocumentedRoute(f"{route.method} {route.path}: its security differs from the template's")
        operation["x-secure-ai-function"] = route.function
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return paths


# ------------------------------------------------------------------------------ the document
def build_document(template: StackTemplate) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API `template` declares."""
    stage = str(template.document["Parameters"]["Stage"]["Default"])
    security_schemes = {
        scheme: {
            "type": "apiKey",
            "in": "header",
            "name": header,
            "description": (
                f"One of the three RFC 9421 / RFC 9530 headers every signed request carries "
                f"(`Signature`, `Signature-Input`, `Content-Digest`), all required together, under the "
                f"`secure-ai-v1` profile: {PROTOCOL_LINK}. Covered components: method, authority, path "
                "(with the stage), canonical query, Content-Type and Content-Digest; HMAC-SHA256 with the "
                "client's key; each nonce is accepted once."
            ),
        }
        for scheme, header in SIGNATURE_HEADERS.items()
    }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "secure-ai-gateway",
            "version": importlib.metadata.version("secure-ai-gateway"),
            "description": (
                f"{' '.join(str(template.document['Description']).split())}\n\n"
                f"Requests are signed ({PROTOCOL_LINK}); prompts and answers travel as AWS Encryption SDK "
                f"envelopes ({ENCRYPTION_LINK}). Generated by `{REGENERATE_COMMAND}`."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [
            {
                "url": "https://{apiId}.execute-api.{region}.amazonaws.com/{stage}",
                "description": "Deployed (the stack's ApiUrl output)",
                "variables": {
                    "apiId": {"default": "abc123defg", "description": "The REST API id"},
                    "region": {"default": "us-east-1"},
                    "stage": {"default": stage, "description": "The template's Stage parameter"},
                },
            },
            {
                "url": f"http://127.0.0.1:{DEFAULT_PORT}/{stage}",
                "description": "The local stack (`make run`, docs/local-stack.md)",
            },
        ],
        "security": [{scheme: [] for scheme in SIGNATURE_HEADERS}],
        "paths": _paths(api_routes(template)),
        "components": {
            "schemas": component_schemas(),
            "responses": error_responses(template),
            "securitySchemes": {
                **security_schemes,
                OIDC_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The signed-in user's OIDC token from the app's issuer (enrollment only)",
                },
            },
        },
    }


class _Dumper(yaml.SafeDumper):
    """Block style, no anchors (a shared dict is written out again), multi-line strings as `|`."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> Any:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)

HEADER: Final = (
    f"# Generated from the code by `{REGENERATE_COMMAND}`: do not edit.\n"
    "# tests/infrastructure/test_openapi_drift.py fails when this file is not what the code generates.\n"
)


def render_document(template: StackTemplate | None = None) -> str:
    """The document as YAML, byte for byte what docs/openapi.yaml must hold."""
    document = build_document(template or StackTemplate.load())
    body: str = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False
    )
    return HEADER + body


def main() -> int:
    """Write the document to standard output."""
    sys.stdout.write(render_document())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
