"""The whole API on this machine: moto, the stub model, the Lambda runtime, the API Gateway emulator
and the SQS poller, created from template.yaml, plus two demo clients: `local-demo` on the built-in
default policy and `local-docs` on the example policy `docs-links`, the demo app `local-app` whose
user enrolls devices, and the browser demo's server (web_demo.py). What `make run` serves.

    with LocalStack(LocalStackOptions(port=0, state_dir=None, demo_port=None)) as stack:
        info = stack.info  # api_url, the demo client's key id and secret, ARNs, moto's endpoint...

Nothing listens anywhere but 127.0.0.1. See docs/local-stack.md.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import secrets
import textwrap
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import boto3

from secure_ai_client.local_state import EXAMPLE_LOCAL_STATE_NAME
from secure_ai_gateway.adapters.client_store import ClientStore
from secure_ai_gateway.adapters.policy_store import PolicyStore
from secure_ai_gateway.adapters.secret_sealing import SecretSealer
from secure_ai_gateway.client_registry.admin import ClientAdmin
from secure_ai_gateway.client_registry.records import EnrollmentSettings
from secure_ai_gateway.policy_registry.admin import PolicyAdmin
from secure_ai_local.api_definition import ApiDefinition
from secure_ai_local.api_gateway import (
    DEFAULT_PORT,
    INTEGRATION_TIMEOUT_SECONDS,
    ApiGatewayEmulator,
    ApiGatewayServer,
)
from secure_ai_local.event_source import DEFAULT_RETRY_DELAY_SECONDS, SqsPoller, sqs_event_sources
from secure_ai_local.lambda_runtime import (
    DEFAULT_MAX_ENVIRONMENTS,
    LOCAL_ACCESS_KEY_ID,
    LambdaRuntime,
    functions_from_template,
    local_aws_environment,
)
from secure_ai_local.moto_server import MotoServer
from secure_ai_local.provision import LOCAL_ACCOUNT_ID, ProvisionedStack, provision_stack
from secure_ai_local.stack_template import REPOSITORY_ROOT, TEMPLATE_PATH, StackTemplate
from secure_ai_local.stub_model import StubModelServer
from secure_ai_local.waf import waf_blocks
from secure_ai_local.web_demo import DEFAULT_DEMO_PORT, WebDemoServer, demo_config
from secure_ai_protocol.key_ids import format_key_id

logger = logging.getLogger("secure_ai_local")

DEFAULT_STATE_DIR: Final = REPOSITORY_ROOT / ".secure-ai"
STATE_FILE_NAME: Final = "local.json"
# The same document for the client on the example policy: `secure-ai ask --local-state` takes it.
EXAMPLE_STATE_FILE_NAME: Final = EXAMPLE_LOCAL_STATE_NAME
OPENAI_DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
DEMO_CLIENT_ID: Final = "local-demo"
DEMO_SCOPES: Final = ("chat:complete", "output:validate")
# A second policy and a client on it, so the difference a policy makes can be shown (docs/local-stack.md).
EXAMPLE_POLICY_ID: Final = "docs-links"
EXAMPLE_POLICY_PATH: Final = REPOSITORY_ROOT / "local" / "policies" / f"{EXAMPLE_POLICY_ID}.json"
EXAMPLE_CLIENT_ID: Final = "local-docs"
# An app whose users enroll devices (docs/enrollment.md), signing in to the stack's Cognito user pool.
DEMO_APP_ID: Final = "local-app"
DEMO_USERNAME: Final = "demo@example.com"
# The origin the browser demo is served from: the only one the demo app (and CORS) allows. A stack
# whose demo server listens elsewhere (LocalStackOptions.demo_port) allows that origin instead.
DEMO_WEB_ORIGIN: Final = f"http://127.0.0.1:{DEFAULT_DEMO_PORT}"


@dataclass(frozen=True)
class LocalStackOptions:
    """How to run the local stack. `provider_*` set: the real model API instead of the stub."""

    port: int = DEFAULT_PORT  # 0 picks a free port
    state_dir: Path | None = DEFAULT_STATE_DIR  # None: write no local.json
    template_path: Path = TEMPLATE_PATH
    code_root: Path = REPOSITORY_ROOT  # what CodeUri is relative to
    region: str = "us-east-1"
    stack_name: str = "secure-ai-local"
    api_logical_id: str | None = None  # None: the template's only AWS::Serverless::Api
    provider_base_url: str | None = None
    provider_api_key: str | None = field(default=None, repr=False)
    max_environments: int = DEFAULT_MAX_ENVIRONMENTS
    integration_timeout_seconds: float = INTEGRATION_TIMEOUT_SECONDS
    queue_retry_delay_seconds: int = DEFAULT_RETRY_DELAY_SECONDS
    demo_client_id: str = DEMO_CLIENT_ID
    # The authorizer's key cache (60 s deployed); tests shorten it to see a revocation take effect.
    key_cache_seconds: float | None = None
    # The browser demo's port (0: a free one, as tests use); None: no demo server. Its origin is the
    # one CorsAllowOrigin and the demo app's allowed_origins name.
    demo_port: int | None = DEFAULT_DEMO_PORT

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], **overrides: Any) -> LocalStackOptions:
        """SECURE_AI_PORT, and OPENAI_BASE_URL / OPENAI_API_KEY for a real provider."""
        values: dict[str, Any] = {
            "provider_base_url": environ.get("OPENAI_BASE_URL") or None,
            "provider_api_key": environ.get("OPENAI_API_KEY") or None,
        }
        if environ.get("SECURE_AI_PORT"):
            values["port"] = int(environ["SECURE_AI_PORT"])
        if environ.get("SECURE_AI_DEMO_PORT"):
            values["demo_port"] = int(environ["SECURE_AI_DEMO_PORT"])
        values.update(overrides)
        return cls(**values)

    @property
    def uses_real_provider(self) -> bool:
        """True when OPENAI_BASE_URL or OPENAI_API_KEY configured a provider."""
        return bool(self.provider_base_url or self.provider_api_key)


@dataclass(frozen=True)
class DemoClient:
    """A client provisioned for local use, with its one key version's secret."""

    client_id: str
    key_id: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class LocalStackInfo:
    """What a client of the local stack needs; written to .secure-ai/local.json."""

    api_url: str
    authority: str
    stage: str
    tag: str
    region: str
    aws_endpoint_url: str
    model_base_url: str
    client_id: str
    key_id: str
    secret: bytes = field(repr=False)
    kms_key_arn: str = ""
    rsa_key_arn: str = ""
    rsa_public_key_pem: str = ""
    clients_table: str = ""
    policies_table: str = ""
    verdicts_table: str = ""
    event_bus_name: str = ""
    validation_queue_url: str = ""
    dead_letter_queue_url: str = ""
    example_policy_id: str = ""
    example_client_id: str = ""
    example_key_id: str = ""
    example_secret: bytes = field(default=b"", repr=False)
    user_pool_id: str = ""
    user_pool_client_id: str = ""
    oidc_issuer: str = ""
    demo_app_id: str = ""
    demo_username: str = ""
    demo_password: str = field(default="", repr=False)
    devices_table: str = ""
    demo_url: str = ""

    def as_json(self) -> dict[str, str]:
        """The local.json document (the secrets base64-encoded)."""
        document = asdict(self)
        document["secret"] = base64.b64encode(self.secret).decode("ascii")
        document["example_secret"] = base64.b64encode(self.example_secret).decode("ascii")
        return document

    def as_example_client_json(self) -> dict[str, str]:
        """local.json, but for the client on the example policy (its key id and secret)."""
        document = self.as_json()
        document.update(
            client_id=self.example_client_id,
            key_id=self.example_key_id,
            secret=document["example_secret"],
        )
        return document


def provision_demo_client(
    session: boto3.session.Session,
    stack: ProvisionedStack,
    *,
    endpoint_url: str | None,
    client_id: str = DEMO_CLIENT_ID,
    allowed_models: tuple[str, ...],
    policy_id: str = "default",
    clock: Callable[[], float] = time.time,
) -> DemoClient:
    """Create a demo client (key version 1) in the stack's clients table, sealed under its KMS key."""
    store = ClientStore(stack.ref("ClientsTable"), session.client("dynamodb", endpoint_url=endpoint_url))
    sealer = SecretSealer(
        stack.attribute("RequestKey", "Arn"), session.client("kms", endpoint_url=endpoint_url)
    )
    record, secret = ClientAdmin(store, sealer, clock=clock).create_client(
        client_id=client_id,
        scopes=DEMO_SCOPES,
        allowed_models=allowed_models,
        max_tokens=1024,
        token_budget=200_000,
        request_budget=1_000,
        policy_id=policy_id,
    )
    return DemoClient(client_id=record.client_id, key_id=format_key_id(record.client_id, 1), secret=secret)


@dataclass(frozen=True)
class DemoApp:
    """An app allowing enrollment from the stack's user pool, and a user who can sign in to it."""

    app_id: str
    user_pool_id: str
    user_pool_client_id: str
    issuer: str
    username: str
    password: str = field(repr=False)


def provision_demo_app(
    session: boto3.session.Session,
    stack: ProvisionedStack,
    *,
    endpoint_url: str,
    allowed_models: tuple[str, ...],
    allowed_origin: str = DEMO_WEB_ORIGIN,
    clock: Callable[[], float] = time.time,
) -> DemoApp:
    """Create the demo app (enrollment from the user pool's app client) and a confirmed demo user.

    moto serves the pool's JWKS over http on 127.0.0.1, so the app names that address as its
    `jwks_uri` and the devices function runs with JWKS_ALLOW_HTTP_LOOPBACK (deployed: https only).
    """
    pool_id, app_client_id = stack.ref("UserPool"), stack.ref("UserPoolClient")
    cognito = session.client("cognito-idp", endpoint_url=endpoint_url)
    # Meets the pool's policy (12+ characters, upper, lower, digits); fresh for every stack.
    password = f"Demo-{secrets.token_urlsafe(12)}-9a"
    cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=DEMO_USERNAME,
        MessageAction="SUPPRESS",
        UserAttributes=[
            {"Name": "email", "Value": DEMO_USERNAME},
            {"Name": "email_verified", "Value": "true"},
        ],
    )
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username=DEMO_USERNAME, Password=password, Permanent=True
    )
    issuer = f"https://cognito-idp.{stack.region}.amazonaws.com/{pool_id}"
    store = ClientStore(stack.ref("ClientsTable"), session.client("dynamodb", endpoint_url=endpoint_url))
    ClientAdmin(store, None, clock=clock).create_app(
        app_id=DEMO_APP_ID,
        scopes=DEMO_SCOPES,
        allowed_models=allowed_models,
        max_tokens=1024,
        token_budget=200_000,
        request_budget=1_000,
        enrollment=EnrollmentSettings(
            issuer=issuer,
            audiences=(app_client_id,),
            token_use="id",  # noqa: S106  # nosec B106 - the token_use claim Cognito ID tokens carry
            jwks_uri=f"{endpoint_url}/{pool_id}/.well-known/jwks.json",
            max_devices=3,
            user_token_budget=50_000,
            user_request_budget=200,
            allowed_origins=(allowed_origin,),
        ),
    )
    return DemoApp(
        app_id=DEMO_APP_ID,
        user_pool_id=pool_id,
        user_pool_client_id=app_client_id,
        issuer=issuer,
        username=DEMO_USERNAME,
        password=password,
    )


def provision_example_policy(
    session: boto3.session.Session,
    stack: ProvisionedStack,
    *,
    endpoint_url: str | None,
    path: Path = EXAMPLE_POLICY_PATH,
    clock: Callable[[], float] = time.time,
) -> str:
    """Store the example policy (local/policies/docs-links.json) as version 1; return its id.

    Written as `secure-ai policies put` writes it, by the caller STS names (moto's user).
    """
    dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
    admin = PolicyAdmin(
        PolicyStore(stack.ref("PoliciesTable"), dynamodb),
        ClientStore(stack.ref("ClientsTable"), dynamodb),
        clock=clock,
    )
    caller = session.client("sts", endpoint_url=endpoint_url).get_caller_identity()["Arn"]
    document = json.loads(path.read_text(encoding="utf-8"))
    return admin.put(path.stem, document, written_by=caller).policy_id


def public_key_pem(der: bytes) -> str:
    """A DER SubjectPublicKeyInfo (what KMS GetPublicKey returns) as PEM."""
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode("ascii"), 64))
    return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"


def write_state_file(directory: Path, document: Mapping[str, Any], *, name: str = STATE_FILE_NAME) -> Path:
    """Write `directory`/`name` readable by the owner only (directory 0700, file 0600)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    path = directory / name
    temporary = directory / f".{name}.{os.getpid()}.tmp"
    temporary.unlink(missing_ok=True)
    # Created 0600 from the first byte: the file holds the demo clients' secrets.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    os.replace(temporary, path)
    return path


@contextlib.contextmanager
def aws_endpoint_environment(endpoint_url: str) -> Iterator[None]:
    """AWS_ENDPOINT_URL set for the block: `provision_stack` creates its clients from a session."""
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous


class LocalStack:
    """Start every piece in order; stop them all, in reverse, on `stop()` or leaving the `with`."""

    def __init__(self, options: LocalStackOptions | None = None) -> None:
        self.options = options or LocalStackOptions()
        self._moto: MotoServer | None = None
        self._stub: StubModelServer | None = None
        self._web_demo: WebDemoServer | None = None
        self._runtime: LambdaRuntime | None = None
        self._api: ApiGatewayServer | None = None
        self._pollers: list[SqsPoller] = []
        self._state_files: list[Path] = []
        self._info: LocalStackInfo | None = None
        self._provisioned: ProvisionedStack | None = None
        self._session: boto3.session.Session | None = None

    @property
    def info(self) -> LocalStackInfo:
        """Endpoints, ARNs and the demo client (after `start`)."""
        if self._info is None:
            raise RuntimeError("the local stack is not started")
        return self._info

    @property
    def provisioned(self) -> ProvisionedStack:
        """What was created in moto: Ref/GetAtt values and each function's environment."""
        if self._provisioned is None:
            raise RuntimeError("the local stack is not started")
        return self._provisioned

    @property
    def runtime(self) -> LambdaRuntime:
        """The Lambda runtime (to invoke a function directly)."""
        if self._runtime is None:
            raise RuntimeError("the local stack is not started")
        return self._runtime

    def client(self, service_name: str) -> Any:
        """A boto3 client of `service_name` talking to this stack's moto."""
        if self._session is None or self._moto is None:
            raise RuntimeError("the local stack is not started")
        return self._session.client(service_name, endpoint_url=self._moto.endpoint_url)  # type: ignore[call-overload]

    def start(self) -> LocalStackInfo:
        """Start everything; on any failure, stop what was started and re-raise."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> LocalStackInfo:
        options = self.options
        # moto takes seconds to import in its own process: everything else happens meanwhile.
        self._moto = MotoServer().start()
        template = StackTemplate.load(options.template_path)
        if options.uses_real_provider:
            model_base_url = options.provider_base_url or OPENAI_DEFAULT_BASE_URL
        else:
            self._stub = StubModelServer().start()
            model_base_url = self._stub.base_url
        # Bound first: its origin is what CORS and the demo app allow.
        web_origin = DEMO_WEB_ORIGIN
        if options.demo_port is not None:
            self._web_demo = WebDemoServer(port=options.demo_port).start()
            web_origin = self._web_demo.origin
        endpoint_url = self._moto.endpoint_url
        self._session = session = boto3.session.Session(
            aws_access_key_id=LOCAL_ACCESS_KEY_ID,
            aws_secret_access_key=LOCAL_ACCESS_KEY_ID,
            region_name=options.region,
        )
        with aws_endpoint_environment(endpoint_url):
            stack = provision_stack(
                template,
                session,
                stack_name=options.stack_name,
                parameter_overrides={"ModelBaseUrl": model_base_url, "CorsAllowOrigin": web_origin},
            )
        # moto serves the user pool's JWKS over http on 127.0.0.1 (deployed: https only).
        stack.function_environments["DevicesFunction"]["JWKS_ALLOW_HTTP_LOOPBACK"] = "true"
        if options.key_cache_seconds is not None:
            stack.function_environments["AuthorizerFunction"]["KEY_CACHE_SECONDS"] = str(
                options.key_cache_seconds
            )
        self._provisioned = stack
        self._configure_model_key(stack)
        demo = provision_demo_client(
            session,
            stack,
            endpoint_url=endpoint_url,
            client_id=options.demo_client_id,
            allowed_models=(stack.ref("DefaultModel"),),
        )
        example = provision_demo_client(
            session,
            stack,
            endpoint_url=endpoint_url,
            client_id=EXAMPLE_CLIENT_ID,
            allowed_models=(stack.ref("DefaultModel"),),
            policy_id=provision_example_policy(session, stack, endpoint_url=endpoint_url),
        )
        demo_app = provision_demo_app(
            session,
            stack,
            endpoint_url=endpoint_url,
            allowed_models=(stack.ref("DefaultModel"),),
            allowed_origin=web_origin,
        )
        self._runtime = LambdaRuntime(
            functions_from_template(template, stack, code_root=options.code_root),
            aws_environment=local_aws_environment(endpoint_url, options.region),
            max_environments=options.max_environments,
        )
        api = ApiDefinition.from_template(template, stack.references, logical_id=options.api_logical_id)
        emulator = ApiGatewayEmulator(
            api,
            self._runtime,
            region=options.region,
            account_id=LOCAL_ACCOUNT_ID,
            integration_timeout_seconds=options.integration_timeout_seconds,
            waf=waf_blocks(template, stack.references),
        )
        self._api = ApiGatewayServer(emulator, port=options.port).start()
        sqs = session.client("sqs", endpoint_url=endpoint_url)
        self._pollers = [
            SqsPoller(
                source,
                self._runtime,
                sqs,
                region=options.region,
                retry_delay_seconds=options.queue_retry_delay_seconds,
            ).start()
            for source in sqs_event_sources(template, stack)
        ]
        self._info = self._describe(
            stack, demo, model_base_url, self._api, endpoint_url, example=example, demo_app=demo_app
        )
        if self._web_demo is not None:
            self._web_demo.app.set_config(self._demo_config(self._info))
        if options.state_dir is not None:
            self._state_files = [
                write_state_file(options.state_dir, self._info.as_json()),
                write_state_file(
                    options.state_dir, self._info.as_example_client_json(), name=EXAMPLE_STATE_FILE_NAME
                ),
            ]
        return self._info

    def _demo_config(self, info: LocalStackInfo) -> dict[str, str]:
        return demo_config(
            api_url=info.api_url,
            app_id=info.demo_app_id,
            user_pool_client_id=info.user_pool_client_id,
            cognito_endpoint=info.aws_endpoint_url,
            region=info.region,
            rsa_public_key_pem=info.rsa_public_key_pem,
            rsa_key_arn=info.rsa_key_arn,
            username=info.demo_username,
            password=info.demo_password,
        )

    def _configure_model_key(self, stack: ProvisionedStack) -> None:
        """Put the provider's key in the model secret, or make the stub require the generated one."""
        secrets_manager = self.client("secretsmanager")
        secret_arn = stack.ref("ModelApiKeySecret")
        if self.options.provider_api_key:
            secrets_manager.put_secret_value(SecretId=secret_arn, SecretString=self.options.provider_api_key)
        elif self._stub is not None:
            # The stub accepts only the secret's value: a function must really read the secret.
            generated = secrets_manager.get_secret_value(SecretId=secret_arn)["SecretString"]
            self._stub.model.require_api_key(generated)

    def _describe(
        self,
        stack: ProvisionedStack,
        demo: DemoClient,
        model_base_url: str,
        api: ApiGatewayServer,
        endpoint_url: str,
        *,
        example: DemoClient,
        demo_app: DemoApp,
    ) -> LocalStackInfo:
        rsa_key_arn = stack.attribute("RsaRequestKey", "Arn")
        der = self.client("kms").get_public_key(KeyId=rsa_key_arn)["PublicKey"]
        return LocalStackInfo(
            api_url=api.url,
            authority=api.origin.removeprefix("http://"),
            stage=api.emulator.api.stage,
            tag=stack.ref("SignatureTag"),
            region=self.options.region,
            aws_endpoint_url=endpoint_url,
            model_base_url=model_base_url,
            client_id=demo.client_id,
            key_id=demo.key_id,
            secret=demo.secret,
            kms_key_arn=stack.attribute("RequestKey", "Arn"),
            rsa_key_arn=rsa_key_arn,
            rsa_public_key_pem=public_key_pem(der),
            clients_table=stack.ref("ClientsTable"),
            policies_table=stack.ref("PoliciesTable"),
            verdicts_table=stack.ref("VerdictsTable"),
            event_bus_name=stack.ref("ValidationBus"),
            validation_queue_url=stack.ref("ValidationQueue"),
            dead_letter_queue_url=stack.ref("ValidationDeadLetterQueue"),
            example_policy_id=EXAMPLE_POLICY_ID,
            example_client_id=example.client_id,
            example_key_id=example.key_id,
            example_secret=example.secret,
            user_pool_id=demo_app.user_pool_id,
            user_pool_client_id=demo_app.user_pool_client_id,
            oidc_issuer=demo_app.issuer,
            demo_app_id=demo_app.app_id,
            demo_username=demo_app.username,
            demo_password=demo_app.password,
            devices_table=stack.ref("DevicesTable"),
            demo_url=self._web_demo.url if self._web_demo is not None else "",
        )

    def stop(self) -> None:
        """Stop everything that was started (idempotent); remove local.json, whose secret dies with moto."""
        for poller in self._pollers:
            poller.request_stop()
        if self._api is not None:
            self._api.stop()
        if self._runtime is not None:
            self._runtime.close()
        for poller in self._pollers:
            poller.stop()
        if self._stub is not None:
            self._stub.stop()
        if self._web_demo is not None:
            self._web_demo.stop()
        if self._moto is not None:
            self._moto.stop()
        for state_file in self._state_files:
            state_file.unlink(missing_ok=True)
        self._pollers, self._api, self._runtime, self._stub, self._moto = [], None, None, None, None
        self._web_demo = None
        self._state_files, self._info = [], None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
