"""The local stack's gateway and Lambda emulation enforce AWS's limits (issue 10, item 3).

Each test builds a one-function template around a small handler written for it, so a limit is
tripped in a second or two: the function's `Timeout` (template, Globals), API Gateway's
integration timeout (shortened through SEGSHARE_API_TIMEOUT_SECONDS), its 10 MB payload,
Lambda's 6 MB response, and the same limits through the Step Functions bridge.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from local.apigw import HEAD_QUOTA_BYTES, PAYLOAD_LIMIT_BYTES, Gateway
from local.lambdas import RESPONSE_LIMIT_BYTES, Containers, FunctionError
from local.template import Template
from tests.support.waiting import wait_for

HANDLER = """
import json, time

def handler(event, context):
    query = event.get("queryStringParameters") or {}
    if "sleep" in query:
        time.sleep(float(query["sleep"]))
        with open(query["mark"], "w") as fh:  # the late write a timed-out handler still makes
            fh.write("late")
    size = int(query.get("size", "0"))
    return {"statusCode": 200, "body": json.dumps({"pad": "x" * size, "calls": 1})}
"""


def one_function_template(code_dir: Path, timeout: int | None = None, global_timeout: int | None = None) -> Template:
    props: dict[str, Any] = {
        "CodeUri": str(code_dir),
        "Handler": "app.handler",
        "Events": {"Get": {"Type": "HttpApi", "Properties": {"Method": "GET", "Path": "/t", "Auth": {"Authorizer": "NONE"}}}},
    }
    if timeout is not None:
        props["Timeout"] = timeout
    body: dict[str, Any] = {"Resources": {"Probe": {"Type": "AWS::Serverless::Function", "Properties": props}}}
    if global_timeout is not None:
        body["Globals"] = {"Function": {"Timeout": global_timeout}}
    return Template(body)


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(textwrap.dedent(HANDLER))
    return tmp_path


def error_of(response: Any) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/json"
    return response.status, json.loads(response.body)["error"]["code"]


def test_a_handler_past_its_template_timeout_fails_and_its_late_answer_is_dropped(code_dir: Path, tmp_path: Path) -> None:
    # Given a function with Timeout: 1 (its own, overriding Globals' 29)
    gateway = Gateway(one_function_template(code_dir, timeout=1, global_timeout=29))
    mark = tmp_path / "late.txt"
    # When its handler takes 2 s
    started = time.monotonic()
    response = gateway.handle("GET", f"/t?sleep=2&mark={mark}", {}, b"")
    waited = time.monotonic() - started
    # Then the caller gets a 500 with API.md's body after ~1 s, not the handler's 200 after 2 s
    assert error_of(response) == (500, "INTERNAL")
    assert 0.9 < waited < 1.8, waited
    # And the handler, which no thread can stop, still finishes and writes a local file late
    # (unlike on AWS; its AWS calls would fail, see the next test)
    wait_for(lambda: mark.exists() and mark.read_text(), lambda text: text == "late", 10, "the late write", every=0.1)


AWS_AFTER_SLEEP = """
import time

import boto3


def handler(event, context):
    time.sleep(1.5)
    try:
        boto3.client("s3").list_buckets()
        outcome = "called"
    except Exception as exc:
        outcome = type(exc).__name__
    with open(event["mark"], "w") as fh:  # what its AWS call after the timeout did
        fh.write(outcome)
    return {"statusCode": 200, "body": "late"}
"""


def test_a_handler_past_its_timeout_makes_no_more_aws_calls(tmp_path: Path) -> None:
    # Given a function with Timeout: 1 whose handler makes AWS calls after 1.5 s
    (tmp_path / "app.py").write_text(textwrap.dedent(AWS_AFTER_SLEEP))
    containers = Containers(one_function_template(tmp_path, timeout=1).functions()[0])
    mark = tmp_path / "calls.txt"
    # When it times out
    with pytest.raises(FunctionError):
        containers.invoke({"mark": str(mark)})
    # Then its AWS call after the timeout is never sent (not even to the IAM check): Lambda has stopped the sandbox
    deadline = time.monotonic() + 10
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert mark.read_text() == "SandboxStopped"


def test_globals_timeout_applies_when_the_function_has_none(code_dir: Path, tmp_path: Path) -> None:
    containers = Containers(one_function_template(code_dir, global_timeout=1).functions()[0])
    event = {"queryStringParameters": {"sleep": "2", "mark": str(tmp_path / "m")}}
    with pytest.raises(FunctionError) as raised:
        containers.invoke(event)
    assert (raised.value.error_type, raised.value.message) == ("Sandbox.Timedout", "Task timed out after 1.00 seconds")


def test_the_gateway_answers_504_when_the_handler_passes_the_integration_timeout(
    code_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given API Gateway's 29 s shortened to 1 s, and a function allowed 29 s
    monkeypatch.setenv("SEGSHARE_API_TIMEOUT_SECONDS", "1")
    gateway = Gateway(one_function_template(code_dir, timeout=29))
    # When the handler takes 2 s
    started = time.monotonic()
    response = gateway.handle("GET", f"/t?sleep=2&mark={tmp_path / 'm'}", {}, b"")
    # Then the gateway gives up at 1 s with 504 and API.md's body
    assert error_of(response) == (504, "INTEGRATION_TIMEOUT")
    assert time.monotonic() - started < 1.8


def test_the_test_hook_delays_a_route_into_the_integration_timeout(code_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGSHARE_API_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("SEGSHARE_LOCAL_DELAYS", "GET /t=2")
    assert error_of(Gateway(one_function_template(code_dir, timeout=29)).handle("GET", "/t", {}, b"")) == (504, "INTEGRATION_TIMEOUT")


def test_a_body_over_10_mb_is_refused_before_the_handler(code_dir: Path) -> None:
    gateway = Gateway(one_function_template(code_dir, timeout=5))
    # The handler would answer 200 to any GET; at the limit it still does
    assert gateway.handle("GET", "/t", {}, b"x" * PAYLOAD_LIMIT_BYTES).status == 200
    assert error_of(gateway.handle("GET", "/t", {}, b"x" * (PAYLOAD_LIMIT_BYTES + 1))) == (413, "TOO_LARGE")


def test_a_request_line_and_header_values_over_10240_bytes_get_431(code_dir: Path) -> None:
    # API Gateway (HTTP API quotas): "Total combined size of request line and header values: 10240 bytes"
    gateway = Gateway(one_function_template(code_dir, timeout=5))
    line = len("GET /t HTTP/1.1")
    # Given headers whose values bring the line and values to exactly the quota: the handler answers
    at_quota = {"x-a": "a" * 4000, "x-b": "b" * (HEAD_QUOTA_BYTES - line - 4000)}
    assert gateway.handle("GET", "/t", at_quota, b"").status == 200
    # One byte more (in a value, or in the request line's query) is refused before the handler
    assert error_of(gateway.handle("GET", "/t", at_quota | {"x-c": "c"}, b"")) == (431, "HEADERS_TOO_LARGE")
    assert error_of(gateway.handle("GET", "/t?", at_quota, b"")) == (431, "HEADERS_TOO_LARGE")


def test_a_response_over_6_mb_is_a_function_error(code_dir: Path) -> None:
    gateway = Gateway(one_function_template(code_dir, timeout=5))
    assert gateway.handle("GET", f"/t?size={RESPONSE_LIMIT_BYTES - 200}", {}, b"").status == 200
    assert error_of(gateway.handle("GET", f"/t?size={RESPONSE_LIMIT_BYTES}", {}, b"")) == (500, "INTERNAL")


def test_the_state_machine_bridge_reports_lambda_timeouts_and_oversized_results(
    code_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    from local.lambdas import bridge_lambda_invoke

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", LambdaSimpleBackend.invoke)  # restored after the test
    bridge_lambda_invoke(one_function_template(code_dir, timeout=1).functions())
    arn = "arn:aws:lambda:us-east-1:123456789012:function:Probe"

    def call(query: dict[str, str]) -> tuple[str | None, dict[str, Any]]:
        headers: dict[str, str] = {}
        body = LambdaSimpleBackend.invoke(None, arn, None, json.dumps({"queryStringParameters": query}), {}, headers)  # type: ignore[arg-type]
        return headers.get("x-amz-function-error"), json.loads(body)

    assert call({})[0] is None
    assert call({"sleep": "2", "mark": str(tmp_path / "m")}) == (
        "Unhandled",
        {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 1.00 seconds"},
    )
    assert call({"size": str(RESPONSE_LIMIT_BYTES)}) == (
        "Unhandled",
        {
            "errorType": "Function.ResponseSizeTooLarge",
            "errorMessage": f"Response payload size exceeded maximum allowed payload size ({RESPONSE_LIMIT_BYTES} bytes).",
        },
    )


def test_every_operation_of_the_local_document_declares_the_gateways_431() -> None:
    from local import template as tpl
    from local.openapi import document

    spec = document(tpl.load(), "http://127.0.0.1")
    operations = [op for ops in spec["paths"].values() for op in ops.values()]
    assert len(operations) >= 30
    for operation in operations:
        assert operation["responses"]["431"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert "ErrorBody" in spec["components"]["schemas"]
