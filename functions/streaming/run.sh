#!/bin/sh
# The streaming function's handler. The Lambda Web Adapter's wrapper (AWS_LAMBDA_EXEC_WRAPPER=
# /opt/bootstrap) runs it; the adapter then waits for the app's readiness path and forwards each
# invocation to it over HTTP on 127.0.0.1:${AWS_LWA_PORT:-8080}. /opt/python is the shared layer;
# the task root holds gateway_streaming (docs/streaming.md).
PYTHONPATH="/opt/python:${LAMBDA_TASK_ROOT:-.}${PYTHONPATH:+:$PYTHONPATH}" exec python3 -m gateway_streaming.app
