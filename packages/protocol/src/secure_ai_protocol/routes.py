"""The gateway's routes, defined once: paths under the API's stage, shared by both ends.

The functions route on them, the SDK calls them, envelopes bind them into their encryption
context (`route`), and tests/infrastructure/test_openapi_drift.py checks template.yaml's `Api`
events and docs/openapi.yaml name the same paths.
"""

from __future__ import annotations

from typing import Final

CHAT_ROUTE: Final = "/v1/chat/completions"  # POST, signed: a sealed chat completion
STREAM_ROUTE: Final = "/v1/chat/completions/stream"  # POST, signed: a sealed chat completion, streamed (SSE)
VALIDATE_ROUTE: Final = "/v1/validate"  # POST, signed: screen a text (JSON or sealed)
PUBLIC_KEY_ROUTE: Final = "/v1/keys/public"  # GET, open: the RSA key mobile and web clients seal to
DEVICES_ROUTE: Final = "/v1/devices"  # POST, OIDC bearer token: enroll a device, get its key
DEVICE_RENEWAL_ROUTE: Final = "/v1/devices/renew"  # POST, signed by the device's key: its next key
