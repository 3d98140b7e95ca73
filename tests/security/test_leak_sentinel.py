"""The leak sentinel itself: its check finds every spelling of a planted value, and its plugin fails
a test that lets one out (proved on inner test runs with pytester)."""

from __future__ import annotations

import base64
import json
import secrets
import textwrap

import pytest

from tests.leak_sentinel import LeakRegistry, find_leaks, is_distinctive, leak_forms

SECRET = bytes.fromhex("9f3c2a7e5b10d4c8e6a1f7b3d2c9e8a05b4f3e2d1c0b9a8f7e6d5c4b3a291807")


def leaks_in(text: str, value: bytes | str = SECRET) -> list[str]:
    return [str(leak) for leak in find_leaks([("client secret", value)], {"stdout": [text]})]


@pytest.mark.parametrize(
    "spelling",
    [
        SECRET.hex(),
        SECRET.hex().upper(),
        base64.b64encode(SECRET).decode(),
        base64.urlsafe_b64encode(SECRET).decode().rstrip("="),
        repr(SECRET),
    ],
    ids=["hex", "HEX", "base64", "base64url", "bytes-repr"],
)
def test_a_planted_secret_is_found_in_each_of_its_spellings(spelling: str) -> None:
    assert leaks_in(f"log line: key={spelling} end") != []


@pytest.mark.parametrize("offset", [0, 1, 2])
def test_a_planted_secret_is_found_inside_a_longer_base64_blob_at_any_alignment(offset: int) -> None:
    # Given the secret embedded, at some byte offset, in a larger value that was base64-encoded whole
    blob = base64.b64encode(b"x" * offset + SECRET + b"trailing bytes").decode()

    # Then the check still finds it
    assert leaks_in(f'{{"payload": "{blob}"}}') != []


def test_a_planted_text_is_found_raw_and_json_escaped() -> None:
    prompt = 'Summarise "the merger" for Zoë'
    assert leaks_in(f"prompt={prompt}", prompt) != []
    assert leaks_in(json.dumps({"prompt": prompt}), prompt) != []


def test_a_leak_report_names_the_kind_channel_and_form_but_never_the_value() -> None:
    report = leaks_in(f"secret {SECRET.hex()}")
    assert report == ["client secret found in stdout (hex form)"]
    assert all(form not in report[0] for form in leak_forms(SECRET))


def test_output_without_a_planted_value_has_no_leak() -> None:
    other = secrets.token_bytes(32)
    assert leaks_in(f"{other.hex()} {base64.b64encode(other).decode()} request refused") == []


def test_an_observed_text_counts_only_if_it_could_not_be_in_an_output_by_design() -> None:
    registry = LeakRegistry()
    for text in ("OutputBlocked", "request refused", "short", "0000000000000000000000"):
        registry.observe("screened text", text)
    registry.observe("screened text", "The PROMPT-SENTINEL-17 question, from jane.doe@example.com")

    assert [value for _, value in registry.planted()] == [
        "The PROMPT-SENTINEL-17 question, from jane.doe@example.com"
    ]
    assert is_distinctive(secrets.token_bytes(16))


def test_a_planted_value_too_short_to_tell_apart_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        LeakRegistry().plant("client secret", "short")


# -- the plugin, on inner runs --------------------------------------------------------------------


def run_inner(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    """Run one inner test file under the sentinel plugin alone."""
    pytester.makepyfile(test_inner=textwrap.dedent(body))
    return pytester.runpytest_inprocess("-p", "tests.leak_sentinel", "-p", "no:cacheprovider", "-q")


INNER_SECRET = "planted-secret-7f3a9c2e-4b1d-4e8f-a6c5-0d9b8e7f6a5c"


def test_a_test_that_logs_a_planted_secret_fails_without_the_report_quoting_it(
    pytester: pytest.Pytester,
) -> None:
    result = run_inner(
        pytester,
        f"""
        import logging

        def test_logs_it(leak_registry):
            secret = leak_registry.plant("test secret", "{INNER_SECRET}")
            logging.getLogger("app").debug("using %s", secret)
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*leak sentinel: test secret found in a log record (raw form)*", "*using <planted test secret>*"]
    )
    assert INNER_SECRET not in result.stdout.str()


def test_a_test_that_prints_a_planted_secret_in_base64_fails(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        """
        import base64, json

        def test_prints_it(leak_registry):
            secret = leak_registry.plant("client secret", bytes(range(32)))
            print(json.dumps({"level": "INFO", "key": base64.b64encode(secret).decode()}))
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*client secret found in captured stdout call (base64 form)*"])


def test_output_a_test_read_back_through_capsys_is_still_checked(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        f"""
        def test_hides_it(leak_registry, capsys):
            print(leak_registry.plant("test secret", "{INNER_SECRET}"))
            assert capsys.readouterr().out
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test secret found in output read through capsys/capfd (raw form)*"])


def test_a_planted_value_stored_in_a_dynamodb_item_fails_the_test(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        f"""
        import boto3, pytest
        from moto import mock_aws

        @pytest.fixture
        def aws(monkeypatch):
            monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
            with mock_aws():
                yield boto3.client("dynamodb")

        def test_stores_it(aws, leak_registry):
            aws.create_table(
                TableName="verdicts",
                KeySchema=[{{"AttributeName": "id", "KeyType": "HASH"}}],
                AttributeDefinitions=[{{"AttributeName": "id", "AttributeType": "S"}}],
                BillingMode="PAY_PER_REQUEST",
            )
            text = leak_registry.plant("prompt", "{INNER_SECRET}")
            aws.put_item(TableName="verdicts", Item={{"id": {{"S": "v1"}}, "note": {{"S": text}}}})
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*prompt found in DynamoDB table verdicts (raw form)*"])


def test_a_planted_value_in_a_published_event_fails_the_test(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        f"""
        import boto3, json, pytest
        from moto import mock_aws

        @pytest.fixture
        def events(monkeypatch):
            monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
            with mock_aws():
                yield boto3.client("events")

        def test_publishes_it(events, leak_registry):
            answer = leak_registry.plant("model answer", "{INNER_SECRET}")
            entry = {{"Source": "t", "DetailType": "OutputScreened", "Detail": json.dumps({{"a": answer}})}}
            events.put_events(Entries=[entry])
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*model answer found in a published EventBridge event*"])


def test_a_test_that_keeps_its_planted_values_to_itself_passes(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        f"""
        import hashlib, logging

        def test_keeps_it(leak_registry):
            secret = leak_registry.plant("test secret", "{INNER_SECRET}")
            logging.getLogger("app").warning("digest %s", hashlib.sha256(secret.encode()).hexdigest())
        """,
    )
    result.assert_outcomes(passed=1)


def test_a_planted_value_put_in_trace_metadata_fails_the_test(pytester: pytest.Pytester) -> None:
    result = run_inner(
        pytester,
        f"""
        from aws_xray_sdk.core.models.dummy_entities import DummySegment, DummySubsegment

        def test_traces_it(leak_registry):
            # What Tracer.capture_method(capture_response=True) would record, with tracing disabled
            subsegment = DummySubsegment(DummySegment())
            text = leak_registry.plant("prompt", "{INNER_SECRET}")
            subsegment.put_metadata("chat response", {{"text": text}})
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*prompt found in X-Ray trace data (raw form)*"])
