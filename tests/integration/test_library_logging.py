"""Libraries that log bodies at DEBUG cannot leak a secret, whatever the root logger's level."""

from __future__ import annotations

import logging

import boto3
import pytest

from secure_ai_gateway.observability import silence_body_logging
from secure_ai_local.provision import ProvisionedStack

MARKER = b"LEAK-SENTINEL-0123456789abcdef!!"


def test_a_kms_plaintext_is_not_logged_even_with_the_root_logger_at_debug(
    aws_stack: ProvisionedStack, caplog: pytest.LogCaptureFixture
) -> None:
    silence_body_logging()
    caplog.set_level(logging.DEBUG)
    kms = boto3.client("kms")
    kms.encrypt(KeyId=aws_stack.attribute("RequestKey", "Arn"), Plaintext=MARKER)
    assert MARKER.decode() not in caplog.text
    assert "LEAK-SENTINEL" not in caplog.text


def test_without_the_pin_botocore_would_log_the_plaintext(
    aws_stack: ProvisionedStack, caplog: pytest.LogCaptureFixture
) -> None:
    # Guards the guard: if botocore stopped logging bodies this test says the pin is moot.
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="botocore")  # restored at teardown
    kms = boto3.client("kms")
    kms.encrypt(KeyId=aws_stack.attribute("RequestKey", "Arn"), Plaintext=MARKER)
    assert (
        "LEAK-SENTINEL" in caplog.text or MARKER.hex() in caplog.text or "TEVBSy1TRU5USU5FTC" in caplog.text
    )
