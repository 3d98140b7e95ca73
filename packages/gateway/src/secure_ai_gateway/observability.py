"""Powertools Logger, Metrics and Tracer, configured from the standard POWERTOOLS_* environment.

Handlers call these once at module level. The Tracer is a separate factory because importing it
costs ~300 ms (aws-xray-sdk): the authorizer, whose cold start is on every client's first request,
relies on Lambda's active tracing and does not create one.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer


# These libraries log whole request and response bodies at DEBUG: KMS plaintexts (client secrets),
# decrypted envelopes, prompts and answers. Whatever level an operator sets (AWS_LAMBDA_LOG_LEVEL,
# the root logger), they stay at WARNING.
BODY_LOGGING_LIBRARIES = (
    "botocore",
    "boto3",
    "urllib3",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "openai",
    "aws_encryption_sdk",
    # markdown-it traces every parser rule at DEBUG: no content, but a cost on every screened answer.
    "markdown_it",
)


def silence_body_logging() -> None:
    """Pin the loggers of libraries that dump bodies at DEBUG to WARNING."""
    for name in BODY_LOGGING_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


@cache
def service_logger() -> Logger:
    """The JSON structured logger (service name from POWERTOOLS_SERVICE_NAME)."""
    silence_body_logging()
    return Logger(utc=True)


@cache
def service_metrics() -> Metrics:
    """The EMF metrics publisher (namespace from POWERTOOLS_METRICS_NAMESPACE)."""
    return Metrics()


@cache
def service_tracer() -> Tracer:
    """The X-Ray tracer, imported only by the functions that can afford it."""
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - deferred: ~300 ms import

    # Only botocore: the functions call AWS through it, and patching every library X-Ray knows
    # (httpx among them, which no function uses) costs cold-start time for no subsegment.
    return Tracer(patch_modules=("botocore",))
