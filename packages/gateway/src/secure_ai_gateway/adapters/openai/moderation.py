"""Adapter: `ModerationPort` over the openai SDK's moderation endpoint.

The only screening module that imports openai (~450 ms of import): callers that do not
moderate never pay for it. The client is injected, never built from the environment.
"""

from __future__ import annotations

from typing import Final

import openai

from secure_ai_gateway.screening.errors import ModerationTimeout, ModerationUnavailable

DEFAULT_MODEL: Final = "omni-moderation-latest"


class OpenAIModeration:
    """Category scores from OpenAI moderation, with SDK failures mapped to screening errors."""

    def __init__(
        self,
        client: openai.OpenAI,
        *,
        model: str = DEFAULT_MODEL,
        timeout_seconds: float = 2.0,
        max_retries: int = 0,
    ) -> None:
        # The SDK defaults (600 s read timeout, 2 retries) would outlive API Gateway's 29 s;
        # set both explicitly. A retry belongs to the caller's time budget, so none by default.
        self._client = client.with_options(timeout=timeout_seconds, max_retries=max_retries)
        self._model = model

    def moderate(self, text: str) -> dict[str, float]:
        """Scores per category (`harassment/threatening` spelling), each in [0, 1]."""
        try:
            response = self._client.moderations.create(model=self._model, input=text)
        except openai.APITimeoutError as exc:
            raise ModerationTimeout("moderation_timeout") from exc
        except openai.OpenAIError as exc:
            raise ModerationUnavailable("moderation_failed") from exc
        try:
            scores = response.results[0].category_scores.model_dump(by_alias=True)
            return {str(category): float(score) for category, score in scores.items() if score is not None}
        except (AttributeError, IndexError, TypeError, ValueError) as exc:
            raise ModerationUnavailable("moderation_malformed") from exc
