"""Re-sign the sample events in events/ that must be fresh: `make events` (or `python -m ...`).

`events/authorizer/request.json` and `events/completion/chat-completions.json` describe ONE completion
call: the REQUEST authorizer event API Gateway sends first, then the proxy event with the envelope.
A signature is valid for minutes and a ciphertext is bound to a client, a nonce and a KMS key, so
both are rebuilt here for the local stack's demo client (from .secure-ai/local.json): new nonce,
new envelope, new Content-Digest and signature, same request. The other sample events need nothing
fresh. The response key is written beside the state file so the answer can be decrypted.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from secure_ai_local.stack_template import REPOSITORY_ROOT
from secure_ai_protocol.envelope.requests import seal_request_server
from secure_ai_protocol.signing.content_digest import compute_content_digest
from secure_ai_protocol.signing.profile import SignedRequest, sign_request

EVENTS_DIR = REPOSITORY_ROOT / "events"
AUTHORIZER_EVENT = Path("authorizer/request.json")
CHAT_EVENT = Path("completion/chat-completions.json")
SIGNATURE_LIFETIME = 300
SAMPLE_REQUEST = {
    "model": "default",
    "messages": [
        {"role": "system", "content": "You answer in one sentence."},
        {"role": "user", "content": "What does an authorizer with caching off protect against?"},
    ],
    "max_tokens": 64,
}


@dataclass(frozen=True)
class Signer:
    """The client that signs and seals: key id, secret, and the KMS key server clients encrypt to."""

    client_id: str
    key_id: str
    secret: bytes = field(repr=False)
    tag: str
    kms_key_arn: str
    kms_client: Any


def refresh_signed_events(
    events_dir: Path,
    signer: Signer,
    *,
    clock: Callable[[], float] = time.time,
    nonce: str | None = None,
) -> bytes:
    """Rewrite the two request-bound events in `events_dir`; return the response key."""
    authorizer_path, chat_path = events_dir / AUTHORIZER_EVENT, events_dir / CHAT_EVENT
    authorizer_event = json.loads(authorizer_path.read_text())
    chat_event = json.loads(chat_path.read_text())
    nonce = nonce or secrets.token_urlsafe(16)
    resp_key = secrets.token_bytes(32)
    created = int(clock())
    plaintext = json.dumps({"resp_key": base64.b64encode(resp_key).decode(), "request": SAMPLE_REQUEST})
    ciphertext = seal_request_server(
        plaintext.encode(),
        kms_key_arn=signer.kms_key_arn,
        client_id=signer.client_id,
        req_id=nonce,
        route=chat_event["resource"],
        kms_client=signer.kms_client,
    )
    digest = compute_content_digest(ciphertext)
    context = authorizer_event["requestContext"]
    content_type = _header(authorizer_event, "Content-Type")
    request = SignedRequest(
        method=context["httpMethod"],
        authority=_header(authorizer_event, "Host"),
        path=context["path"],
        query="",
        content_type=content_type,
        content_digest=digest,
    )
    signature_input, signature = sign_request(
        request,
        secret=signer.secret,
        key_id=signer.key_id,
        tag=signer.tag,
        created=created,
        expires=created + SIGNATURE_LIFETIME,
        nonce=nonce,
    )
    signed = {"Content-Digest": digest, "Signature-Input": signature_input, "Signature": signature}
    for event in (authorizer_event, chat_event):
        for name, value in signed.items():
            event["headers"][name] = value
            event["multiValueHeaders"][name] = [value]
        event["requestContext"]["requestTimeEpoch"] = created * 1000
    chat_event["body"] = base64.b64encode(ciphertext).decode()
    chat_event["isBase64Encoded"] = True
    chat_event["requestContext"]["authorizer"].update(
        {
            "client_id": signer.client_id,
            "principalId": signer.client_id,
            "key_id": signer.key_id,
            "nonce": nonce,
            "content_digest": digest,
        }
    )
    for path, event in ((authorizer_path, authorizer_event), (chat_path, chat_event)):
        path.write_text(json.dumps(event, indent=2) + "\n")
    return resp_key


def _header(event: dict[str, Any], name: str) -> str:
    return str(next(value for key, value in event["headers"].items() if key.lower() == name.lower()))


def main(argv: Sequence[str] | None = None) -> int:
    """Re-sign events/ for the running local stack described by its state file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--state", type=Path, default=REPOSITORY_ROOT / ".secure-ai" / "local.json")
    parser.add_argument("--events-dir", type=Path, default=EVENTS_DIR)
    args = parser.parse_args(argv)
    try:
        state = json.loads(args.state.read_text())
    except (OSError, ValueError):
        print(f"cannot read {args.state}: start the local stack first (make run)", file=sys.stderr)
        return 2
    kms = boto3.session.Session(
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 # nosec B106 - moto accepts any credentials
        region_name=state["region"],
    ).client("kms", endpoint_url=state["aws_endpoint_url"])
    signer = Signer(
        client_id=state["client_id"],
        key_id=state["key_id"],
        secret=base64.b64decode(state["secret"]),
        tag=state["tag"],
        kms_key_arn=state["kms_key_arn"],
        kms_client=kms,
    )
    resp_key = refresh_signed_events(args.events_dir, signer)
    key_path = args.state.with_name("events-resp-key")
    # Created 0600 from the start: the key decrypts the sample's answer.
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as key_file:
        key_file.write(base64.b64encode(resp_key).decode() + "\n")
    print(f"re-signed {AUTHORIZER_EVENT} and {CHAT_EVENT} (valid {SIGNATURE_LIFETIME} s)")
    print(f"the response key is in {key_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
