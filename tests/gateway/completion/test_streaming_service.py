"""StreamingCompletionService on fakes: refusals before the first byte, events after it, the budget."""

from __future__ import annotations

import json

import pytest

from secure_ai_protocol.errors import (
    BadRequest,
    Forbidden,
    UpstreamFailed,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from secure_ai_protocol.routes import STREAM_ROUTE
from secure_ai_protocol.stream import KEEPALIVE_COMMENT as KEEPALIVE
from tests.gateway.completion.fakes import Harness, chat, hmac_digest, released
from tests.gateway.completion.streaming_fakes import (
    BlockOnWordScreen,
    ExplodingScreen,
    FakeStreamingModel,
    HoldAllScreen,
    PassThroughScreen,
    StreamingHarness,
    UndecidedScreen,
    open_events,
    streamed,
)

# Random, in AWS's format (AWS's own documentation example is not treated as a secret).
AWS_ACCESS_KEY = "AKIA2G4JVXLWWQNTO4O2"
EMAIL = "jane.doe@example.com"


# --- the answer, in events ----------------------------------------------------------------------


def test_a_streamed_answer_arrives_in_several_events_ending_in_one_final_event() -> None:
    harness = StreamingHarness(screens=PassThroughScreen)
    opened = harness.stream(streamed("Hello"))
    assert opened.chunks == ["Hel", "lo, wor", "ld."]
    assert opened.final["req_id"] == "req-unit-1"
    assert opened.final["verdict"]["decision"] == "allow"
    assert opened.final["usage"] == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    assert opened.final["finish_reason"] == "stop"


def test_the_request_is_opened_for_the_streaming_route_and_forwarded_asking_for_a_stream() -> None:
    harness = StreamingHarness()
    harness.stream(streamed("Hello"))
    assert harness.routes == [STREAM_ROUTE]
    (request,) = harness.model.requests
    assert request.stream is True
    assert request.messages[0].role == "system", "the canary is planted as on the buffered path"


@pytest.mark.parametrize(
    "answer",
    [
        "Plain words, nothing to screen.",
        "I will write to <EMAIL_1> today.",
        "Call help@vendor.example for <EMAIL_1>.",
        f"The key is {AWS_ACCESS_KEY} and more text.",
    ],
)
def test_the_stream_screen_releases_exactly_what_the_buffered_path_releases(answer: str) -> None:
    prompt = f"I am {EMAIL}"
    buffered = Harness()
    buffered.model.answer = answer
    payload = buffered.complete(chat(prompt))
    cut = [answer[i : i + 3] for i in range(0, len(answer), 3)]
    opened = StreamingHarness(model=FakeStreamingModel(deltas=cut)).stream(streamed(prompt))
    assert opened.text == (released(payload) or "")
    assert opened.final["verdict"]["decision"] == payload["verdict"]["decision"]
    assert opened.final["verdict"].get("content_digest") == payload["verdict"].get("content_digest")


@pytest.mark.parametrize("split", range(1, len(AWS_ACCESS_KEY)))
def test_a_secret_split_across_model_chunks_is_never_released(split: int) -> None:
    answer = f"Use {AWS_ACCESS_KEY} now."
    at = len("Use ") + split
    harness = StreamingHarness(model=FakeStreamingModel(deltas=[answer[:at], answer[at:]]))
    opened = harness.stream(streamed("Hello"))
    assert AWS_ACCESS_KEY not in opened.text
    assert opened.final["verdict"]["decision"] in ("block", "redact")


def test_a_long_release_is_sealed_in_several_events_each_within_the_protocol_bounds() -> None:
    answer = "word " * 10_000  # 50,000 characters in one delta, released at once by this screen
    harness = StreamingHarness(model=FakeStreamingModel(deltas=[answer]), screens=PassThroughScreen)
    opened = harness.stream(streamed("Hello"))
    assert opened.text == answer
    # 49 chunks (48 of 1024 characters and the rest), then the final event with no text.
    assert len(opened.events) == 50
    assert opened.final["delta"] == ""
    assert all(len(event["delta"]) <= 1024 for event in opened.events)


# --- a block in mid-stream --------------------------------------------------------------------------


def test_a_block_in_mid_stream_ends_the_stream_with_a_blocked_final_event_and_stops_the_model() -> None:
    model = FakeStreamingModel(deltas=["one ", "two ", "SECRET ", "four ", "five"])
    harness = StreamingHarness(model=model, screens=BlockOnWordScreen)
    opened = harness.stream(streamed("Hello"))
    assert opened.chunks == ["one ", "two "]
    assert opened.final["delta"] == ""
    assert opened.final["verdict"]["decision"] == "block"
    assert [finding["type"] for finding in opened.final["verdict"]["findings"]] == ["secret_word"]
    assert opened.final["finish_reason"] == "content_filter"
    assert "SECRET" not in json.dumps(opened.events)
    assert model.served == 3, "nothing more is read from the model after the block"
    assert model.closed


def test_a_block_without_the_providers_usage_settles_what_was_reserved() -> None:
    harness = StreamingHarness(model=FakeStreamingModel(deltas=["SECRET"]), screens=BlockOnWordScreen)
    opened = harness.stream(streamed("Hello"))
    assert "usage" not in opened.final
    assert harness.ledger.settled == harness.ledger.reserved


# --- the model failing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        UpstreamTimeout("model_timeout"),
        UpstreamFailed("model_failed"),
        UpstreamRateLimited("model_rate_limited", 7),
    ],
)
def test_the_model_failing_before_its_first_delta_is_a_refusal_with_nothing_streamed(
    error: Exception,
) -> None:
    harness = StreamingHarness(model=FakeStreamingModel(fail_before=error))  # type: ignore[arg-type]
    with pytest.raises(type(error)) as raised:
        harness.open(streamed("Hello"))
    assert raised.value is error
    assert harness.ledger.settled == [0]


def test_the_model_failing_after_the_stream_started_ends_it_with_a_model_failed_block() -> None:
    model = FakeStreamingModel(
        deltas=["one ", "two ", "three"], fail_after=2, fail_with=UpstreamFailed("model_failed")
    )
    harness = StreamingHarness(model=model, screens=PassThroughScreen)
    stream = harness.open(streamed("Hello"))
    opened = open_events(b"".join(stream))
    assert opened.chunks == ["one ", "two "]
    verdict = opened.final["verdict"]
    assert verdict["decision"] == "block"
    assert [(f["type"], f["span"]) for f in verdict["findings"]] == [("model_failed", [8, 8])]
    assert verdict["content_digest"] == hmac_digest("one two ")
    assert opened.final["finish_reason"] == "content_filter"
    assert stream.outcome.failure == "model_failed"
    assert harness.ledger.settled == harness.ledger.reserved, "unknown usage: the reservation stands"


def test_a_bug_after_the_first_byte_ends_the_stream_with_a_gateway_failed_block_and_no_message() -> None:
    harness = StreamingHarness(screens=ExplodingScreen)
    opened = harness.stream(streamed("Hello"))
    assert opened.chunks == ["Hel"]
    assert [f["type"] for f in opened.final["verdict"]["findings"]] == ["gateway_failed"]
    assert "internal detail" not in json.dumps(opened.events)


def test_a_screen_that_finishes_undecided_releases_nothing_more() -> None:
    opened = StreamingHarness(screens=UndecidedScreen).stream(streamed("Hello"))
    assert "late text" not in opened.text
    assert [f["type"] for f in opened.final["verdict"]["findings"]] == ["gateway_failed"]


# --- refusals before the first byte -------------------------------------------------------------


def test_a_request_that_does_not_ask_for_a_stream_is_refused_before_the_model_and_the_budget() -> None:
    harness = StreamingHarness()
    for request in (chat("Hello"), chat("Hello", stream=False)):
        with pytest.raises(BadRequest) as raised:
            harness.open(request)
        assert raised.value.reason == "stream_required"
    assert harness.model.requests == []
    assert harness.ledger.reserved == []


def test_a_model_the_client_may_not_use_is_refused_before_the_stream() -> None:
    harness = StreamingHarness()
    with pytest.raises(Forbidden):
        harness.open(streamed("Hello", model="gpt-other"))
    assert harness.model.requests == []


# --- the budget -------------------------------------------------------------------------------------


def test_the_budget_is_settled_with_the_providers_usage_when_the_stream_ends() -> None:
    harness = StreamingHarness(model=FakeStreamingModel(usage=(40, 2)))
    stream = harness.open(streamed("Hello"))
    assert harness.ledger.settled == []
    b"".join(stream)
    assert harness.ledger.settled == [42]
    assert stream.outcome.total_tokens == 42
    assert stream.outcome.decision == "allow"


def test_a_caller_that_goes_away_mid_stream_still_settles_and_closes_the_model() -> None:
    model = FakeStreamingModel(deltas=["a", "b", "c"])
    harness = StreamingHarness(model=model, screens=PassThroughScreen)
    events = iter(harness.open(streamed("Hello")))
    next(events)
    events.close()  # type: ignore[attr-defined]
    assert model.closed
    assert harness.ledger.settled == harness.ledger.reserved


def test_an_answer_stream_is_iterated_once() -> None:
    stream = StreamingHarness().open(streamed("Hello"))
    b"".join(stream)
    with pytest.raises(RuntimeError):
        iter(stream)


# --- keep-alive -------------------------------------------------------------------------------------


class Ticking:
    """A clock that moves `step` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_a_stream_that_holds_everything_back_sends_keep_alive_comments_between_model_deltas() -> None:
    deltas = [f"word{number} " for number in range(20)]
    harness = StreamingHarness(model=FakeStreamingModel(deltas=deltas), screens=HoldAllScreen)
    stream = harness.open(streamed("Hello"))
    stream.clock = Ticking(step=3.0)  # about 6 s between deltas: a comment every other delta
    body = b"".join(stream)
    comments = body.count(KEEPALIVE)
    assert 5 <= comments <= 20
    assert body.startswith(KEEPALIVE)  # nothing else was sent before the answer ended
    # The comments change nothing a client reads: the events open to the whole answer.
    opened = open_events(body)
    assert opened.text == "".join(deltas)
    assert opened.final["verdict"]["decision"] == "allow"


def test_a_stream_that_releases_as_it_goes_sends_no_keep_alive() -> None:
    deltas = [f"word{number} " for number in range(20)]
    harness = StreamingHarness(model=FakeStreamingModel(deltas=deltas), screens=PassThroughScreen)
    stream = harness.open(streamed("Hello"))
    stream.clock = Ticking(step=3.0)
    assert KEEPALIVE not in b"".join(stream)


def test_a_quick_model_gets_no_keep_alive() -> None:
    harness = StreamingHarness(model=FakeStreamingModel(deltas=["a "] * 20), screens=HoldAllScreen)
    stream = harness.open(streamed("Hello"))
    stream.clock = Ticking(step=0.1)
    assert KEEPALIVE not in b"".join(stream)
