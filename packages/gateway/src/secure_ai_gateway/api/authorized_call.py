"""What a function behind the authorizer knows about a call: who signed it, and its raw body.

Read from the proxy event's `requestContext.authorizer`, which only API Gateway writes. Anything
missing there means the function was reached without the authorizer: refuse, never assume.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from secure_ai_gateway.api.body_integrity import verified_body
from secure_ai_protocol.errors import Forbidden, Unauthenticated
from secure_ai_protocol.key_ids import is_device_id

AUTHORIZER_FIELDS = ("client_id", "key_id", "nonce", "content_digest")


def _is_string_map(value: object, *, multi: bool) -> bool:
    if value is None:
        return True
    if not isinstance(value, Mapping):
        return False
    for name, item in value.items():
        values = item if multi and isinstance(item, list) else [item]
        if not isinstance(name, str) or (multi and not isinstance(item, list)):
            return False
        if not all(isinstance(entry, str) for entry in values):
            return False
    return True


def is_rest_proxy_event(event: object) -> bool:
    """Whether `event` has the types of an API Gateway REST proxy event (values are not judged here).

    Powertools' resolver assumes them: handed anything else (another trigger's event, a field of the
    wrong type) it raises before any route or error handler runs.
    """
    if not isinstance(event, Mapping):
        return False
    return (
        isinstance(event.get("httpMethod"), str)
        and isinstance(event.get("path"), str)
        and isinstance(event.get("requestContext"), Mapping)
        and isinstance(event.get("body"), str | None)
        and isinstance(event.get("isBase64Encoded"), bool | None)
        and all(_is_string_map(event.get(name), multi=False) for name in _SINGLE_VALUE_MAPS)
        and all(_is_string_map(event.get(name), multi=True) for name in _MULTI_VALUE_MAPS)
    )


def header_values(event: Mapping[str, object], header: str) -> list[str]:
    """Every value of `header` (any case) in a proxy event: its multi-value map, else its single one."""
    wanted = header.lower()
    multi = event.get("multiValueHeaders")
    values: list[str] = []
    if isinstance(multi, Mapping):
        for name, items in multi.items():
            if isinstance(name, str) and name.lower() == wanted and isinstance(items, list):
                values.extend(str(item) for item in items)
    single = event.get("headers")
    if not values and isinstance(single, Mapping):
        values = [
            str(value) for name, value in single.items() if isinstance(name, str) and name.lower() == wanted
        ]
    return values


def request_origin(event: Mapping[str, object]) -> str | None:
    """The request's `Origin` header (any case), or None; sent twice, it is refused."""
    values = header_values(event, "origin")
    if len(values) > 1:
        raise Forbidden("origin_not_allowed")
    return values[0] if values else None


def _consistent_identity(client_id: str, app_id: str, device_id: str, user_ref: str) -> bool:
    """Whether the context's identity fields agree with each other, as the authorizer writes them.

    A device's call says whose device it is: its app (a client, never another device), itself as
    `device_id`, and its user's ref. A client's call names no device and no user, and no app but
    itself: a context naming another app would spend that app's budget under its permissions.
    """
    if is_device_id(client_id):
        return bool(app_id) and not is_device_id(app_id) and device_id == client_id and bool(user_ref)
    return app_id in ("", client_id) and not device_id and not user_ref


_SINGLE_VALUE_MAPS = ("headers", "queryStringParameters", "pathParameters", "stageVariables")
_MULTI_VALUE_MAPS = ("multiValueHeaders", "multiValueQueryStringParameters")


@dataclass(frozen=True, slots=True)
class AuthorizedCall:
    """A call the authorizer allowed: identity from its context, body as API Gateway passed it."""

    client_id: str
    key_id: str
    req_id: str
    content_digest: str
    scopes: frozenset[str]
    body: str | None = field(repr=False)
    is_base64_encoded: bool
    # Whose permissions and budgets apply (the client, or an enrolled device's app), and for a
    # device, which device and the keyed hash of its user ("" otherwise).
    app_id: str = ""
    device_id: str = ""
    user_ref: str = ""
    # The browser origin the request says it comes from (`Origin`), or None (servers, mobile apps).
    origin: str | None = None

    def __post_init__(self) -> None:
        # An operator-created client is its own app.
        if not self.app_id:
            object.__setattr__(self, "app_id", self.client_id)

    @property
    def is_device(self) -> bool:
        """Whether an enrolled device signed the call."""
        return bool(self.device_id)

    @classmethod
    def from_proxy_event(cls, event: Mapping[str, object]) -> AuthorizedCall:
        """Parse the authorizer context out of a REST proxy event; raise Unauthenticated if absent."""
        context = event.get("requestContext")
        authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
        if not isinstance(authorizer, Mapping):
            raise Unauthenticated("no_authorizer_context")
        values = {name: authorizer.get(name) for name in AUTHORIZER_FIELDS}
        if not all(isinstance(value, str) and value for value in values.values()):
            raise Unauthenticated("no_authorizer_context")
        scopes = authorizer.get("scopes", "")
        body = event.get("body")
        client_id = str(values["client_id"])
        app_id, device_id, user_ref = (
            authorizer.get(name, "") for name in ("app_id", "device_id", "user_ref")
        )
        if not all(isinstance(value, str) for value in (app_id, device_id, user_ref)):
            raise Unauthenticated("no_authorizer_context")
        if not _consistent_identity(client_id, str(app_id), str(device_id), str(user_ref)):
            raise Unauthenticated("no_authorizer_context")
        return cls(
            client_id=client_id,
            key_id=str(values["key_id"]),
            req_id=str(values["nonce"]),
            content_digest=str(values["content_digest"]),
            scopes=frozenset(scopes.split()) if isinstance(scopes, str) else frozenset(),
            body=body if isinstance(body, str) else None,
            is_base64_encoded=event.get("isBase64Encoded") is True,
            app_id=str(app_id) or client_id,
            device_id=str(device_id),
            user_ref=str(user_ref),
            origin=request_origin(event),
        )

    def require_scope(self, scope: str) -> None:
        """Refuse with 403 unless the client's key carries `scope`."""
        if scope not in self.scopes:
            raise Forbidden("missing_scope")

    def body_bytes(self, max_bytes: int) -> bytes:
        """The raw body, size-capped and checked against the digest the authorizer verified."""
        return verified_body(
            self.body,
            is_base64_encoded=self.is_base64_encoded,
            verified_digest=self.content_digest,
            max_bytes=max_bytes,
        )
