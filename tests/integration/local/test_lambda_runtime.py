"""The local Lambda runtime: one process per execution environment, Lambda's results and errors."""

from __future__ import annotations

import os
from concurrent.futures import wait

from secure_ai_local.lambda_runtime import LambdaFunction, LambdaRuntime, local_aws_environment
from secure_ai_local.provision import ProvisionedStack
from tests.integration.local.conftest import DATA, REGION

# What the runtime adds to the template's variables, and nothing else.
RUNTIME_VARIABLES = {
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_EXECUTION_ENV",
    "_HANDLER",
    "LAMBDA_TASK_ROOT",
    "TZ",
    "LANG",
    "PATH",
    "AWS_SAM_LOCAL",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
}


def test_each_function_sees_exactly_its_own_environment_in_its_own_process(
    runtime: LambdaRuntime, fake_stack: ProvisionedStack, moto_endpoint: str
) -> None:
    # Given a variable only the test process has
    os.environ["ONLY_IN_THE_TEST_PROCESS"] = "leak"
    try:
        # When each function reports its environment
        authorizer = runtime.invoke("AuthorizerFunction", {"report": "environment"}).payload
        backend = runtime.invoke("BackendFunction", {"report": "environment"}).payload
    finally:
        del os.environ["ONLY_IN_THE_TEST_PROCESS"]

    # Then each saw the template's variables for it plus the runtime's, nothing from the test process
    for logical_id, report in (("AuthorizerFunction", authorizer), ("BackendFunction", backend)):
        declared = fake_stack.function_environments[logical_id]
        assert set(report["environ"]) == set(declared) | RUNTIME_VARIABLES
        assert {k: report["environ"][k] for k in declared} == declared
    assert authorizer["environ"]["ROLE"] == "authorizer"
    assert backend["environ"]["ROLE"] == "backend"
    assert "WORK_QUEUE_URL" not in authorizer["environ"]
    assert backend["environ"]["AWS_ENDPOINT_URL"] == moto_endpoint
    assert backend["environ"]["AWS_LAMBDA_FUNCTION_NAME"] == "fake-BackendFunction"
    # And in processes of their own
    assert len({authorizer["pid"], backend["pid"], os.getpid()}) == 3


def test_the_first_invocation_is_a_cold_start_and_the_next_reuses_the_environment(
    runtime: LambdaRuntime,
) -> None:
    # Given a function with no execution environment yet
    fresh = LambdaRuntime(runtime.functions, aws_environment={}, max_environments=1)
    try:
        # When it is invoked twice in a row
        first = fresh.invoke("BackendFunction", {"report": "pid"})
        second = fresh.invoke("BackendFunction", {"report": "pid"})
    finally:
        fresh.close()

    # Then the first imported the handler (a cold start), the second ran warm in the same process
    assert first.cold_start is True
    assert first.init_duration_ms is not None
    assert first.init_duration_ms > 0
    assert second.cold_start is False
    assert second.payload["pid"] == first.payload["pid"]


def test_the_handler_gets_a_lambda_context(runtime: LambdaRuntime) -> None:
    # When the backend reports its context
    result = runtime.invoke("BackendFunction", {"report": "context"})

    # Then it has the fields the Python runtime provides, from the template
    context = result.payload
    assert context["function_name"] == "fake-BackendFunction"
    assert context["function_version"] == "$LATEST"
    assert (
        context["invoked_function_arn"]
        == "arn:aws:lambda:us-east-1:123456789012:function:fake-BackendFunction"
    )
    assert context["memory_limit_in_mb"] == "256"
    assert context["aws_request_id"] == result.request_id
    assert context["log_group_name"] == "/aws/lambda/fake-BackendFunction"
    assert "[$LATEST]" in context["log_stream_name"]
    assert 0 < context["remaining_ms"] <= 2000


def test_an_exception_becomes_lambdas_error_result(runtime: LambdaRuntime) -> None:
    # When the handler raises
    result = runtime.invoke("BackendFunction", {"report": "raise"})

    # Then the result is the error document, not a crash of the runtime
    assert result.ok is False
    assert result.error is not None
    assert (result.error.error_type, result.error.error_message) == ("ValueError", "scripted failure")
    assert result.error.document()["errorType"] == "ValueError"
    assert result.error.stack_trace


def test_a_result_json_cannot_encode_is_a_marshal_error(runtime: LambdaRuntime) -> None:
    # When the handler returns a set
    result = runtime.invoke("BackendFunction", {"report": "unserialisable"})

    # Then Lambda's marshalling error is reported
    assert result.error is not None
    assert result.error.error_type == "Runtime.MarshalError"


def test_a_function_running_past_its_timeout_is_stopped_and_its_environment_discarded(
    runtime: LambdaRuntime,
) -> None:
    # Given a warm environment of a function whose template Timeout is 2 s
    before = runtime.invoke("BackendFunction", {"report": "pid"}).payload["pid"]

    # When an invocation sleeps for 10 s
    result = runtime.invoke("BackendFunction", {"report": "sleep", "seconds": 10})

    # Then it is reported timed out after 2 s
    assert result.timed_out is True
    assert result.error is not None
    assert result.error.error_type == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in result.error.error_message
    assert 1900 <= result.duration_ms < 5000
    # And the next invocation starts a fresh environment
    after = runtime.invoke("BackendFunction", {"report": "pid"})
    assert after.payload["pid"] != before


def test_a_function_scales_to_its_maximum_number_of_environments_and_no_further(
    runtime: LambdaRuntime,
) -> None:
    # Given a runtime allowing two environments per function
    # When three invocations that take a second each arrive together
    futures = [runtime.submit("BackendFunction", {"report": "sleep", "seconds": 1}) for _ in range(3)]
    wait(futures, timeout=20)

    # Then all succeed, in exactly two processes
    results = [future.result() for future in futures]
    assert all(result.ok for result in results)
    assert len({result.payload["pid"] for result in results}) == 2
    assert runtime.environment_count("BackendFunction") == 2


def test_a_handler_that_cannot_be_imported_is_an_import_error(
    fake_stack: ProvisionedStack, moto_endpoint: str
) -> None:
    # Given a function whose handler module does not exist
    function = LambdaFunction(
        logical_id="Missing",
        function_name="fake-Missing",
        arn="arn:aws:lambda:us-east-1:123456789012:function:fake-Missing",
        handler="tests.integration.local.no_such_module.handler",
        timeout_seconds=2,
        memory_mb=128,
        environment={},
        code_directory=DATA.parents[3],
    )
    runtime = LambdaRuntime(
        {"Missing": function}, aws_environment=local_aws_environment(moto_endpoint, REGION)
    )
    try:
        # When it is invoked
        result = runtime.invoke("Missing", {})
    finally:
        runtime.close()

    # Then the error is the runtime's import error and no environment is kept
    assert result.error is not None
    assert result.error.error_type == "Runtime.ImportModuleError"
    assert "no_such_module" in result.error.error_message
    assert runtime.environment_count("Missing") == 0


def test_closing_the_runtime_leaves_no_process_behind(runtime: LambdaRuntime) -> None:
    # Given a separate runtime with a live environment
    functions = runtime.functions
    separate = LambdaRuntime(functions, aws_environment={}, max_environments=1)
    pid = separate.invoke("BackendFunction", {"report": "pid"}).payload["pid"]

    # When it is closed
    separate.close()

    # Then the worker process is gone and further invocations are refused
    assert not _process_exists(pid)
    refused = separate.invoke("BackendFunction", {"report": "pid"})
    assert refused.rejected is True


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
