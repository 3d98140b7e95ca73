"""The local stack's two demo clients, over HTTP: the policy a client is on decides what it is given."""

from __future__ import annotations

from pathlib import Path

from secure_ai_client.client import SecureAIClient
from secure_ai_local.stack import EXAMPLE_STATE_FILE_NAME, LocalStackInfo

# The stub model quotes the question, so its answer carries this data-carrying link to docs.example.com.
LINK = "Read [the guide](https://docs.example.com/guide?ref=Zm9vYmFyYmF6cXV4)."


def ask(state: Path, model: str) -> tuple[str, str | None]:
    with SecureAIClient.from_local_state(state) as client:
        result = client.chat_completions(model=model, messages=[{"role": "user", "content": LINK}])
    return result.verdict.decision, result.text


def test_the_link_is_released_to_the_client_on_the_example_policy_and_withheld_from_the_demo_client(
    state_path: Path, info: LocalStackInfo
) -> None:
    # Given local-demo on the built-in default and local-docs on docs-links (docs.example.com allowed)
    docs_state = state_path.with_name(EXAMPLE_STATE_FILE_NAME)
    # When both ask for the same answer
    demo, docs = ask(state_path, "default"), ask(docs_state, "default")
    # Then the demo client's answer is blocked and the example client's released, link and all
    assert demo == ("block", None)
    assert docs[0] == "allow"
    assert docs[1] is not None
    assert LINK in docs[1]
    assert (info.example_client_id, info.example_policy_id) == ("local-docs", "docs-links")
