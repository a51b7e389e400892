"""Step Functions limits moto 5.2.5 does not enforce, enforced by local.sfn_fixes (issue 10, item 3).

Executions really run in moto's interpreter here, in-process, as the local stack runs them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local import iam, sfn_fixes
from tests.support.waiting import finished_execution

ROLE = "arn:aws:iam::123456789012:role/test"


@pytest.fixture
def sfn(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    sfn_fixes.apply()
    # The local IAM check knows the template's roles only: this test's machines get their own (run()).
    roles = dict(iam.policies())
    monkeypatch.setattr(iam, "policies", lambda: roles)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        yield boto3.client("stepfunctions", region_name="us-east-1")


def distributed_map_role(name: str) -> iam.Policy:
    """What AWS documents a Distributed Map's role needs to run its children (local.iam.child_execution_requests)."""
    machine = f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}"
    grants = (
        iam.Statement(effect="Allow", source="test", actions=("states:StartExecution",), resources=(machine,)),
        iam.Statement(
            effect="Allow",
            source="test",
            actions=("states:DescribeExecution", "states:StopExecution"),
            resources=(machine.replace(":stateMachine:", ":execution:") + "/*",),
        ),
    )
    return iam.Policy(f"{name}Role", grants, machine)


def run(sfn: Any, definition: dict[str, Any], payload: Any, timeout: float = 120, name: str | None = None) -> dict[str, Any]:
    name = name or f"sm-{time.monotonic_ns()}"
    roles = iam.policies()  # the sfn fixture's copy
    roles.setdefault(name, distributed_map_role(name))
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))["executionArn"]
    return finished_execution(execution, timeout, sfn)


def distributed_map(child_fails_on: list[int], **tolerance: Any) -> dict[str, Any]:
    child = {
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.fail", "BooleanEquals": True, "Next": "Boom"}],
                "Default": "Ok",
            },
            "Boom": {"Type": "Fail", "Error": "ChildFailed", "Cause": "planned"},
            "Ok": {"Type": "Pass", "End": True},
        },
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
    }
    return {
        "StartAt": "M",
        "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "ItemProcessor": child, "End": True, **tolerance}},
    }


def items(n: int, failing: list[int]) -> dict[str, Any]:
    return {"items": [{"i": i, "fail": i in failing} for i in range(n)]}


def test_a_distributed_map_with_a_failed_child_fails_its_map_run(sfn: Any) -> None:
    # Given all children succeed, the Map succeeds with every result
    ok = run(sfn, distributed_map([]), items(4, []))
    assert ok["status"] == "SUCCEEDED"
    assert len(json.loads(ok["output"])) == 4
    # When one of four children fails and none is tolerated (the default)
    failed = run(sfn, distributed_map([1]), items(4, [1]))
    # Then the execution fails as AWS fails it, not with a null in the failed slot
    assert failed["status"] == "FAILED", failed
    assert failed["error"] == "States.ExceedToleratedFailureThreshold"


def test_tolerated_failures_are_honoured(sfn: Any) -> None:
    assert run(sfn, distributed_map([1], ToleratedFailureCount=1), items(4, [1]))["status"] == "SUCCEEDED"
    assert run(sfn, distributed_map([1, 2], ToleratedFailureCount=1), items(4, [1, 2]))["status"] == "FAILED"
    assert run(sfn, distributed_map([1], ToleratedFailurePercentage=25.0), items(4, [1]))["status"] == "SUCCEEDED"
    assert run(sfn, distributed_map([1], ToleratedFailurePercentage=20.0), items(4, [1]))["status"] == "FAILED"


def test_an_execution_past_its_history_quota_fails_with_states_runtime(sfn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The quota is 25,000 events; moto needs ~100 s here to reach it, so the test lowers it to
    # 2,500 (the same code path: only the number differs)
    monkeypatch.setattr(sfn_fixes, "HISTORY_LIMIT", 2_500)
    loop = {
        "StartAt": "Step",
        "States": {
            "Step": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)", "stop.$": "$.stop"}, "Next": "More"},
            "More": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericLessThanPath": "$.stop", "Next": "Step"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    # Below the quota the loop runs to its end (4 events a turn)
    assert run(sfn, loop, {"n": 0, "stop": 100})["status"] == "SUCCEEDED"
    # When a loop of 1,000 turns needs 4,000 events
    failed = run(sfn, loop, {"n": 0, "stop": 1000})
    # Then it fails as AWS fails it, its last event the failure, numbered at the quota
    assert failed["status"] == "FAILED", failed.get("output", "")[:200]
    assert (failed["error"], failed["cause"]) == ("States.Runtime", "The execution reached the maximum number of history events (2500).")
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=failed["executionArn"])
    events = [event for page in pages for event in page["events"]]
    assert (len(events), events[-1]["type"], events[-1]["id"]) == (2_500, "ExecutionFailed", 2_500)


def test_an_execution_input_over_256_kb_is_refused(sfn: Any) -> None:
    arn = sfn.create_state_machine(
        name="pass", definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}), roleArn=ROLE
    )["stateMachineArn"]
    limit = 256 * 1024
    at_limit = json.dumps({"pad": "x" * (limit - 11)})
    assert len(at_limit.encode()) == limit
    sfn.start_execution(stateMachineArn=arn, input=at_limit)
    with pytest.raises(ClientError) as refused:
        sfn.start_execution(stateMachineArn=arn, input=json.dumps({"pad": "x" * (limit - 10)}))
    assert refused.value.response["Error"]["Code"] == "ValidationException"


SLOW_HANDLER = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"pad": "x" * event.get("size", 0)}
"""


def test_a_lambda_task_past_its_timeout_fails_the_task(sfn: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # (Lambda's 6 MB response is already refused by moto's Lambda for a state machine task,
    # as Function.ResponseSizeTooLarge, though from 6,000,000 bytes; the bridge's own check is
    # tested in test_local_limits.py.)
    from moto.awslambda_simple.models import LambdaSimpleBackend

    from local import iam
    from local.lambdas import bridge_lambda_invoke
    from local.template import Template

    # Given a function with Timeout: 1, bridged as the local stack bridges the template's functions
    (tmp_path / "app.py").write_text(SLOW_HANDLER)
    props = {"CodeUri": str(tmp_path), "Handler": "app.handler", "Timeout": 1}
    monkeypatch.setattr(LambdaSimpleBackend, "invoke", LambdaSimpleBackend.invoke)  # restored after the test
    bridge_lambda_invoke(Template({"Resources": {"Slow": {"Type": "AWS::Serverless::Function", "Properties": props}}}).functions())
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:Slow", "Payload.$": "$"},
        "End": True,
    }
    definition = {"StartAt": "T", "States": {"T": task}}
    # ... and a state machine whose role may invoke it (the local IAM check knows only the template's roles)
    quick, slow = "SlowMachineQuick", "SlowMachineSlow"
    grant = iam.Statement(
        effect="Allow", source="test", actions=("lambda:InvokeFunction",), resources=(task["Parameters"]["FunctionName"],)
    )
    known = {**iam.policies(), quick: iam.Policy("QuickRole", (grant,)), slow: iam.Policy("SlowRole", (grant,))}
    monkeypatch.setattr(iam, "policies", lambda: known)
    # A quick, small call succeeds
    assert run(sfn, definition, {}, name=quick)["status"] == "SUCCEEDED"
    # When the handler runs past its Timeout
    failed = run(sfn, definition, {"sleep": 2}, name=slow)
    # Then the task fails with Lambda's error, and its late answer is not the output
    assert (failed["status"], failed["error"]) == ("FAILED", "Sandbox.Timedout")
    assert "Task timed out after 1.00 seconds" in failed["cause"]
