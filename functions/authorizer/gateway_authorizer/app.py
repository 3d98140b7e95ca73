"""Placeholder until this function's issue lands: it refuses every invocation (fails closed)."""

from typing import Any


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Refuse: the function is declared in the template but not yet implemented."""
    raise NotImplementedError("not implemented yet")
