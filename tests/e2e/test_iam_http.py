"""The local stack refuses, at run time over HTTP, a call the function's deployed role does not allow (issue 10)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from local import iam
from local.tokens import mint
from tests.support.stacks import LocalStack, start_stack, stop_stack

pytestmark = pytest.mark.e2e


def _stopped_and_reported(stack: LocalStack) -> str:
    """Stop the stack; the denials it reports at its stop (``stop_stack``'s AssertionError), or "" for none."""
    try:
        stop_stack(stack)
    except AssertionError as exc:
        return str(exc)
    return ""


def test_a_route_whose_role_lacks_a_grant_fails_as_deployed(tmp_path: Path) -> None:
    # Given the template with the directory function's grant on the directory table removed
    body = iam.load_template(iam.tpl.TEMPLATE)
    policies = body["Resources"]["DirectoryFunction"]["Properties"]["Policies"]
    body["Resources"]["DirectoryFunction"]["Properties"]["Policies"] = [
        p for p in policies if p.get("DynamoDBCrudPolicy", {}).get("TableName") != {"Ref": "DirectoryTable"}
    ]
    assert len(body["Resources"]["DirectoryFunction"]["Properties"]["Policies"]) == len(policies) - 1
    narrowed = tmp_path / "template.yaml"
    narrowed.write_text(yaml.safe_dump(body))
    stack = start_stack(demo=False, extra_env={"SEGSHARE_IAM_TEMPLATE": str(narrowed)})
    try:
        # When a caller asks who it is (the function reads the caller's grant from that table)
        me = stack.call("GET", "/v1/me", mint("e2e-iam-user"))
        # and asks for health, which makes no AWS call
        health = stack.call("GET", "/v1/health")
    finally:
        reported = _stopped_and_reported(stack)
    # Then the call fails as the deployed function would, with API.md's error body and nothing internal
    assert me.status_code == 500, me.text
    assert me.json()["error"]["code"] == "INTERNAL", me.text
    assert "AccessDenied" not in me.text
    assert health.status_code == 200
    # and the stack reports the denial: function, action and resource
    assert "DirectoryFunction may not dynamodb:GetItem on arn:aws:dynamodb:us-east-1:123456789012:table/DirectoryTable" in reported


def test_a_state_machine_whose_role_lacks_a_grant_fails_in_the_stack(tmp_path: Path) -> None:
    # Given the template with the schedule machine's grant to read its due lists removed
    body = iam.load_template(iam.tpl.TEMPLATE)
    policies = body["Resources"]["ScheduledEvaluationStateMachine"]["Properties"]["Policies"]
    (statements,) = [p["Statement"] for p in policies if any(s.get("Sid") == "DueListReader" for s in p.get("Statement", []))]
    statements[:] = [s for s in statements if s.get("Sid") != "DueListReader"]
    narrowed = tmp_path / "template.yaml"
    narrowed.write_text(yaml.safe_dump(body))
    log = tmp_path / "stack.log"
    # When the stack's schedule ticks (every second): its list step writes the due list, its Map reads it
    stack = start_stack(
        demo=False,
        extra_env={"SEGSHARE_IAM_TEMPLATE": str(narrowed), "SEGSHARE_SCHEDULE_SECONDS": "1", "SEGSHARE_LOG_FILE": str(log)},
    )
    try:
        deadline = time.monotonic() + 60
        while "iam denied a call" not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        reported = _stopped_and_reported(stack)
    # Then the machine's ItemReader is refused as the deployed role would refuse it, and the stack reports it
    bucket = "segshare-local-data-123456789012-us-east-1"
    assert f"ScheduledEvaluationStateMachine may not s3:GetObject on arn:aws:s3:::{bucket}/schedule/" in reported, reported
