"""A provisioned client and the real authorizer handler, against moto."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gateway_authorizer import app
from tests.lambda_context import FakeLambdaContext


@pytest.fixture
def authorize(
    use_function_environment: Callable[[str], dict[str, str]],
) -> Iterator[Callable[[Any], dict[str, object]]]:
    """Invoke the real handler, in the environment the template gives it, with a fresh cold start."""
    use_function_environment("AuthorizerFunction")
    app.environment.reset()

    def invoke(event: Any) -> dict[str, object]:
        response: dict[str, object] = app.lambda_handler(event, FakeLambdaContext("authorizer"))
        return response

    yield invoke
    app.environment.reset()
