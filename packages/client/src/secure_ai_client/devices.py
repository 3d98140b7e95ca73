"""Enrolled devices on the client side: enroll with an OIDC token, keep the key, renew it in time.

    client = SecureAIClient.enroll(url, app_id="my-app", id_token=token, device_file=Path("device.json"))
    # later, in another process:
    client = SecureAIClient.from_device_file(url, Path("device.json"))

The device file is the enrollment answer (secure_ai_protocol.wire.devices.DeviceCredentials) as
JSON, created with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600; a renewal replaces it atomically
(a new 0600 file renamed over it), so a crash never leaves a file without a usable key.
docs/enrollment.md describes the flow.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import httpx
from pydantic import ValidationError

from secure_ai_client.errors import NetworkError, ResponseRejected, error_for_response
from secure_ai_protocol.media_types import JSON_CONTENT_TYPE
from secure_ai_protocol.routes import DEVICES_ROUTE
from secure_ai_protocol.wire.devices import DeviceCredentials, EnrollmentRequest

FILE_MODE: Final = 0o600
MAX_CREDENTIALS_BYTES: Final = 4096
_CREATE_FLAGS: Final = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)


def enroll_device(http: httpx.Client, *, app_id: str, id_token: str) -> DeviceCredentials:
    """POST /v1/devices with the user's OIDC token; the device's credentials, issued once.

    Raises Unauthorized (any token or app problem), DeviceLimitReached (with `limit`), NetworkError,
    ResponseRejected for an answer that is not credentials.
    """
    body = EnrollmentRequest(app_id=app_id).model_dump_json().encode()
    headers = {
        "Authorization": f"Bearer {id_token}",
        "Content-Type": JSON_CONTENT_TYPE,
        "Accept": JSON_CONTENT_TYPE,
    }
    try:
        response = http.post(DEVICES_ROUTE, content=body, headers=headers)
    except httpx.TransportError as exc:
        raise NetworkError(type(exc).__name__) from exc
    return credentials_from(response, expected_status=201)


def credentials_from(response: httpx.Response, *, expected_status: int) -> DeviceCredentials:
    """The credentials in an enrollment (201) or renewal (200) answer, or the matching error."""
    if response.status_code != expected_status:
        raise error_for_response(response)
    if len(response.content) > MAX_CREDENTIALS_BYTES:
        raise ResponseRejected("credentials_too_large")
    try:
        return DeviceCredentials.model_validate_json(response.content)
    except ValidationError:
        raise ResponseRejected("credentials_malformed") from None


def read_device_file(path: Path) -> DeviceCredentials:
    """The device credentials in `path`; ValueError (naming no value) if it is not such a file."""
    with open(path, "rb") as handle:
        content = handle.read(MAX_CREDENTIALS_BYTES + 1)
    if len(content) > MAX_CREDENTIALS_BYTES:
        raise ValueError("not a device credentials file (too large)")
    try:
        return DeviceCredentials.model_validate_json(content)
    except ValidationError:
        raise ValueError("not a device credentials file") from None


def write_device_file(path: Path, credentials: DeviceCredentials, *, replace: bool = False) -> None:
    """Write `credentials` to `path`, mode 0600: a new file (FileExistsError if anything is there),
    or with `replace`, a new file renamed over the old one."""
    target = path if not replace else path.with_name(f".{path.name}.{os.getpid()}.new")
    descriptor = os.open(target, _CREATE_FLAGS, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(credentials.model_dump_json() + "\n")
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if replace:
        os.replace(target, path)
