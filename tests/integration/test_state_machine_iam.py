"""The state machines' own AWS calls checked against their deployed roles (issue 10, item 1).

Each test runs one state of a template machine in moto's interpreter, as the local stack runs
it, under the machine's role compiled from the template (``local.iam``): once as the template
(or a copy) grants it, once with the grant removed. A Map's children are a Pass state here:
the calls under test are the Map's own, not its children's. Retry and Catch are dropped, so a
denial fails the execution at once (in moto a Catch on States.ALL would catch it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import iam, sfn_fixes
from local import template as tpl
from local.resources import create_all
from tests.support.waiting import finished_execution

INTERPRETER = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
BUCKET = "segshare-local-data-123456789012-us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/segshare-local-state-machine"
PASS_CHILD = {"StartAt": "Child", "States": {"Child": {"Type": "Pass", "End": True}}}


@pytest.fixture
def sfn() -> Iterator[Any]:
    sfn_fixes.apply()
    with mock_aws(config=INTERPRETER):  # type: ignore[arg-type]
        create_all(tpl.load())
        yield boto3.client("stepfunctions")


def roles_from(monkeypatch: pytest.MonkeyPatch, edit: Callable[[dict[str, Any]], None]) -> None:
    """The check uses the roles of a copy of template.yaml that ``edit`` changed (as SEGSHARE_IAM_TEMPLATE would)."""
    body = iam.load_template(tpl.TEMPLATE)
    edit(body)
    roles = iam.compile_policies(iam.expand(body))
    monkeypatch.setattr(iam, "policies", lambda: roles)


def policies_of(body: dict[str, Any], machine: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = body["Resources"][machine]["Properties"]["Policies"]
    return found


def without_statement(machine: str, sid: str) -> Callable[[dict[str, Any]], None]:
    def edit(body: dict[str, Any]) -> None:
        removed = 0
        for policy in policies_of(body, machine):
            statements = policy.get("Statement", [])
            kept = [s for s in statements if s.get("Sid") != sid]
            removed += len(statements) - len(kept)
            if "Statement" in policy:
                policy["Statement"] = kept
        assert removed == 1, f"{machine} has no statement {sid}"

    return edit


def without_policy_template(machine: str, template: str) -> Callable[[dict[str, Any]], None]:
    def edit(body: dict[str, Any]) -> None:
        policies = policies_of(body, machine)
        kept = [p for p in policies if template not in p]
        assert len(kept) == len(policies) - 1, f"{machine} has no {template}"
        policies[:] = kept

    return edit


def with_statement(machine: str, statement: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def edit(body: dict[str, Any]) -> None:
        policies_of(body, machine).append({"Statement": [statement]})

    return edit


def one_state(machine: str, state: str, **changes: Any) -> str:
    """A definition of only ``state`` of the template machine, as the local stack substitutes it."""
    (found,) = [m for m in tpl.state_machines(tpl.load()) if m.logical_id == machine]
    body = dict(json.loads(found.definition)["States"][state])
    for key in ("Next", "Retry", "Catch"):
        body.pop(key, None)
    if body["Type"] == "Map":
        body["ItemProcessor"] = {**PASS_CHILD, "ProcessorConfig": body["ItemProcessor"]["ProcessorConfig"]}
    body.update(changes, End=True)
    return json.dumps({"StartAt": state, "States": {state: body}})


def run(sfn: Any, machine: str, definition: str, payload: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Run the definition as the template machine (locally named by its logical id); its outcome and the denials it met."""
    iam.RECORDER.take_denials()
    arn = sfn.create_state_machine(name=machine, definition=definition, roleArn=ROLE_ARN)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name=f"t-{time.monotonic_ns()}", input=json.dumps(payload))["executionArn"]
    outcome = finished_execution(execution, 60, sfn)
    sfn.delete_state_machine(stateMachineArn=arn)
    # Taken here: the denials this test expects are not the autouse iam_checked fixture's to report.
    return outcome, [str(d) for d in iam.RECORDER.take_denials()]


def test_an_sqs_send_message_task_is_checked_against_the_machines_role(sfn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    definition = one_state("EvaluationStateMachine", "QueueExport")
    export = {"companyId": "acme", "projectId": "proj-b", "exportId": "x-1"}
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="ExportQueue")["QueueUrl"]
    # Given the evaluation machine's role as the template grants it, its export message is sent
    done, denied = run(sfn, "EvaluationStateMachine", definition, export)
    assert (done["status"], denied) == ("SUCCEEDED", [])
    (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    assert json.loads(message["Body"]) == export
    # When the role has no SQSSendMessagePolicy
    roles_from(monkeypatch, without_policy_template("EvaluationStateMachine", "SQSSendMessagePolicy"))
    failed, denied = run(sfn, "EvaluationStateMachine", definition, export)
    # Then the task fails as deployed, the denial naming the machine, the action and the queue
    assert failed["status"] == "FAILED", failed
    assert "is not authorized to perform: sqs:SendMessage" in failed["cause"]
    assert denied == ["EvaluationStateMachine may not sqs:SendMessage on arn:aws:sqs:us-east-1:123456789012:ExportQueue"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)


def test_a_distributed_maps_item_reader_get_object_is_checked(sfn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    key = f"schedule/t/{time.monotonic_ns()}.json"
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps([{"share": 1}, {"share": 2}]))
    definition = one_state("ScheduledEvaluationStateMachine", "EvaluateEach", ResultPath="$.read")
    due = {"bucket": BUCKET, "key": key, "tick": "t"}
    # Given the schedule machine's role as the template grants it, the Map reads the due list
    done, denied = run(sfn, "ScheduledEvaluationStateMachine", definition, due)
    assert (done["status"], denied) == ("SUCCEEDED", [])
    assert json.loads(done["output"])["read"] == [{"item": {"share": 1}, "tick": "t"}, {"item": {"share": 2}, "tick": "t"}]
    # and the read is recorded for `local.iam unused`, as the machine's
    assert ("ScheduledEvaluationStateMachine", "s3:GetObject", f"arn:aws:s3:::{BUCKET}/{key}") in iam.RECORDER.calls
    # When the role may not read the schedule's lists
    roles_from(monkeypatch, without_statement("ScheduledEvaluationStateMachine", "DueListReader"))
    failed, denied = run(sfn, "ScheduledEvaluationStateMachine", definition, due)
    # Then the Map fails before any child runs
    assert failed["status"] == "FAILED", failed
    assert denied == [f"ScheduledEvaluationStateMachine may not s3:GetObject on arn:aws:s3:::{BUCKET}/{key}"]


@pytest.mark.parametrize(
    ("sid", "action", "resource"),
    [
        ("DistributedMapChildren", "states:StartExecution", "stateMachine:segshare-local-scheduled-evaluation"),
        ("DistributedMapChildRuns", "states:DescribeExecution", "execution:segshare-local-scheduled-evaluation/EvaluateEach:"),
    ],
)
def test_a_distributed_maps_child_executions_are_checked(
    sfn: Any, monkeypatch: pytest.MonkeyPatch, sid: str, action: str, resource: str
) -> None:
    key = f"schedule/t/{time.monotonic_ns()}.json"
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps([{"share": 1}]))
    definition = one_state("ScheduledEvaluationStateMachine", "EvaluateEach")
    due = {"bucket": BUCKET, "key": key, "tick": "t"}
    # Given the role without the grant AWS documents for a Distributed Map's children
    roles_from(monkeypatch, without_statement("ScheduledEvaluationStateMachine", sid))
    # When the Map starts them
    failed, denied = run(sfn, "ScheduledEvaluationStateMachine", definition, due)
    # Then the Map Run fails, the denial naming the machine's deployed ARN (its Name), not the local one
    assert failed["status"] == "FAILED", failed
    (denial,) = denied
    assert denial.startswith(f"ScheduledEvaluationStateMachine may not {action} on arn:aws:states:us-east-1:123456789012:{resource}")


def test_a_result_writer_put_object_is_checked(sfn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # No machine of the template writes Map results (moto drops them: TOOLING-NOTES-distributed-map.md);
    # the import machine's Map with a ResultWriter stands for one that would.
    key = f"imports/work/t/{time.monotonic_ns()}.json"
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=json.dumps([{"batch": 1}]))
    writer = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": BUCKET, "Prefix": "imports/work/results"}}
    definition = one_state("ImportStateMachine", "UpsertBatches", ResultWriter=writer, ResultPath="$.written")
    manifest = {"bucket": BUCKET, "split": {"manifest": key}}
    # Given the template's import role, which grants no write of Map results
    failed, denied = run(sfn, "ImportStateMachine", definition, manifest)
    # Then writing them is denied
    assert failed["status"] == "FAILED", failed
    (denial,) = denied
    assert denial.startswith(f"ImportStateMachine may not s3:PutObject on arn:aws:s3:::{BUCKET}/imports/work/results/")
    # When a copy of the template grants it, the results' manifest is written
    grant = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/imports/work/results/*"}
    roles_from(monkeypatch, with_statement("ImportStateMachine", grant))
    done, denied = run(sfn, "ImportStateMachine", definition, manifest)
    assert (done["status"], denied) == ("SUCCEEDED", [])
    written = json.loads(done["output"])["written"]["ResultWriterDetails"]
    assert written["Key"].startswith("imports/work/results/")
    boto3.client("s3").head_object(Bucket=BUCKET, Key=written["Key"])


def test_a_prefix_item_reader_list_objects_is_checked_as_list_bucket(sfn: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # No machine of the template lists a prefix; the import machine's Map reading one stands for it.
    prefix = f"imports/work/t{time.monotonic_ns()}/"
    for n in (1, 2):
        boto3.client("s3").put_object(Bucket=BUCKET, Key=f"{prefix}{n}.json", Body=b"[]")
    reader = {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": BUCKET, "Prefix": prefix}}
    selector = {"key.$": "$$.Map.Item.Value.Key"}  # not the whole item: moto's holds a datetime (TOOLING-NOTES-distributed-map.md)
    definition = one_state("ImportStateMachine", "UpsertBatches", ItemReader=reader, ItemSelector=selector, ResultPath="$.listed")
    # Given the template's import role, which may read objects but not list the bucket
    failed, denied = run(sfn, "ImportStateMachine", definition, {})
    # Then the listing is denied, as s3:ListBucket on the bucket
    assert failed["status"] == "FAILED", failed
    assert denied == [f"ImportStateMachine may not s3:ListBucket on arn:aws:s3:::{BUCKET}"]
    # When a copy of the template grants listing under imports/work/ (the s3:prefix condition is evaluated)
    grant = {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{BUCKET}",
        "Condition": {"StringLike": {"s3:prefix": "imports/work/*"}},
    }
    roles_from(monkeypatch, with_statement("ImportStateMachine", grant))
    done, denied = run(sfn, "ImportStateMachine", definition, {})
    assert (done["status"], denied) == ("SUCCEEDED", [])
    assert sorted(item["key"] for item in json.loads(done["output"])["listed"]) == [f"{prefix}1.json", f"{prefix}2.json"]
