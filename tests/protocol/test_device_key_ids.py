"""The device namespace of client ids: only a device id's exact shape names a device."""

from __future__ import annotations

import pytest

from secure_ai_protocol.key_ids import format_key_id, is_device_id, parse_key_id

DEVICE = "dev-" + "abcdefghijklmnopqrstuvwxyz"


def test_a_device_id_is_a_device_and_makes_a_key_id() -> None:
    assert is_device_id(DEVICE)
    assert parse_key_id(format_key_id(DEVICE, 7)) == (DEVICE, 7)


@pytest.mark.parametrize(
    "client_id",
    [
        "dev-backend",
        "dev-",
        "dev-" + "a" * 25,
        "dev-" + "a" * 27,
        "dev-" + "A" * 26,
        "dev-" + "a" * 25 + "1",
        "DEV-" + "a" * 26,
        "xdev-" + "a" * 26,
        "dev-" + "a" * 26 + "\n",
        "acme-app",
    ],
)
def test_an_id_that_only_looks_like_a_device_is_a_client(client_id: str) -> None:
    # A client called `dev-backend` before devices existed must keep resolving as that client
    assert not is_device_id(client_id)
