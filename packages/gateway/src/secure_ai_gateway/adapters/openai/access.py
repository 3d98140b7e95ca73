"""The model provider's clients, built from the API key kept in Secrets Manager.

The key is read through Powertools parameters (cached for `SECRET_MAX_AGE_SECONDS`, so a rotated key is
picked up without a redeploy) and an openai client is kept per key value.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from secure_ai_gateway.adapters.openai.chat import ChatModel, openai_client
from secure_ai_gateway.adapters.secrets_provider import secret_from_secrets_manager
from secure_ai_gateway.settings import ModelSettings
from secure_ai_protocol.errors import DependencyUnavailable

if TYPE_CHECKING:
    import openai

    from secure_ai_gateway.adapters.openai.moderation import OpenAIModeration

MODERATION_TIMEOUT_SECONDS = 3.0


class ModelAccess:
    """Chat model and moderation for one provider endpoint."""

    def __init__(
        self, settings: ModelSettings, fetch_secret: Callable[[str], str] = secret_from_secrets_manager
    ) -> None:
        self._settings = settings
        self._fetch_secret = fetch_secret
        self._lock = threading.Lock()
        self._clients: dict[str, openai.OpenAI] = {}

    def _client(self) -> openai.OpenAI:
        try:
            api_key = self._fetch_secret(self._settings.model_api_key_secret_arn)
        except DependencyUnavailable as error:
            # Its own reason: the model-errors alarm counts it (docs/alarms.md).
            raise DependencyUnavailable("model_key_unavailable") from error
        with self._lock:
            client = self._clients.get(api_key)
            if client is None:
                client = openai_client(
                    api_key=api_key,
                    base_url=self._settings.model_base_url,
                    timeout_seconds=self._settings.model_timeout_seconds,
                    max_retries=self._settings.model_max_retries,
                )
                # One live client: a rotated key replaces, not accumulates.
                self._clients = {api_key: client}
            return client

    def chat_model(self) -> ChatModel:
        """Chat completions with the current API key."""
        return ChatModel(self._client())

    def moderation(self) -> DeferredModeration:
        """Moderation whose API key is fetched when it runs, so a key outage is a screening failure."""
        return DeferredModeration(self._client)


class DeferredModeration:
    """A ModerationPort that builds its client on use: any failure then surfaces inside screening,
    which records moderation as unavailable and blocks unless the policy fails open."""

    def __init__(self, client: Callable[[], openai.OpenAI]) -> None:
        self._client = client

    def moderate(self, text: str) -> dict[str, float]:
        """Scores per category from omni-moderation-latest, with a short timeout and no retries."""
        from secure_ai_gateway.adapters.openai.moderation import OpenAIModeration  # noqa: PLC0415 - openai import

        port: OpenAIModeration = OpenAIModeration(
            self._client(), timeout_seconds=MODERATION_TIMEOUT_SECONDS, max_retries=0
        )
        return port.moderate(text)
