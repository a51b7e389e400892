"""The scheduled state machine, run by moto's Step Functions interpreter with the real Lambda handlers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import sfn_fixes
from local import template as tpl
from local.lambdas import bridge_lambda_invoke
from local.resources import create_all
from local.schedule import create_state_machines, start_tick
from tests.integration.conftest import OPERATOR, event, handler_for, user

ADMIN = user("u-admin")
INTERPRETER = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


@pytest.fixture
def machine() -> Iterator[tuple[str, Any]]:
    """A company with a segment of proj-a shared with proj-b and proj-c, and the state machine."""
    sfn_fixes.apply()  # AWS's limits, as the local stack applies them
    with mock_aws(config=INTERPRETER):  # type: ignore[arg-type]
        template = tpl.load()
        create_all(template)
        bridge_lambda_invoke(template.functions())
        arn = create_state_machines(template)["ScheduledEvaluationStateMachine"]
        directory, share, evaluate = (handler_for(n) for n in ("DirectoryFunction", "ShareFunction", "EvaluateFunction"))
        assert directory(event("create_company", claims=OPERATOR)).status == 201
        assert directory(event("put_user", path={"userId": "u-admin"}, body={"role": "company_admin"}, claims=OPERATOR)).status == 200
        for pid in ("proj-a", "proj-b", "proj-c"):
            assert directory(event("create_project", body={"id": pid, "name": pid}, claims=ADMIN)).status == 201
        for pid in ("proj-a", "proj-b", "proj-c"):
            body = {"profiles": [{"profileId": "u-1", "attributes": {"country": "IE"}, "devices": [{"platform": "android", "id": "abc"}]}]}
            assert directory(event("upsert_profiles", path={"projectId": pid}, body=body, claims=ADMIN)).status == 200
        assert share(event("create_segment", claims=ADMIN)).status == 201
        assert share(event("put_sharing", body={"projectIds": ["proj-b", "proj-c"]}, claims=ADMIN)).status == 200
        yield arn, evaluate


def _run(arn: str, tick: str) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    execution = start_tick(arn, tick)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.2)
    raise AssertionError("the execution did not finish in 60 s")


def _evaluations(evaluate: Any, project_id: str) -> list[dict[str, Any]]:
    shared = handler_for("ShareFunction")(event("list_shared_segments", path={"projectId": project_id}, claims=ADMIN))
    shared_id = shared.json["sharedSegments"][0]["sharedSegmentId"]
    listed = evaluate(event("list_evaluations", path={"projectId": project_id, "sharedSegmentId": shared_id}, claims=ADMIN))
    return list(listed.json["evaluations"])


def test_a_tick_evaluates_every_live_share_with_trigger_schedule(machine: tuple[str, Any]) -> None:
    arn, evaluate = machine
    # When the schedule fires
    run = _run(arn, "2026-11-28T18:00:00Z")
    # Then the execution succeeded and each target has one SUCCEEDED schedule evaluation matching its profile
    assert run["status"] == "SUCCEEDED", run
    for project_id in ("proj-b", "proj-c"):
        found = _evaluations(evaluate, project_id)
        assert [(e["trigger"], e["status"], e["matchedProfiles"]) for e in found] == [("schedule", "SUCCEEDED", 1)]


def test_the_same_tick_twice_evaluates_each_share_once(machine: tuple[str, Any]) -> None:
    arn, evaluate = machine
    # When two executions run for the same schedule tick
    first, second = _run(arn, "2026-11-28T19:00:00Z"), _run(arn, "2026-11-28T19:00:00Z")
    # Then both finish, the second finds the work done, and each share has exactly one evaluation
    assert first["status"] == second["status"] == "SUCCEEDED"
    statuses = [r["result"]["status"] for r in json.loads(second["output"])["results"]]
    assert statuses == ["DUPLICATE", "DUPLICATE"]
    assert len(_evaluations(evaluate, "proj-b")) == 1
    assert len(_evaluations(evaluate, "proj-c")) == 1
    # And a later tick evaluates again
    assert _run(arn, "2026-11-28T20:00:00Z")["status"] == "SUCCEEDED"
    assert len(_evaluations(evaluate, "proj-b")) == 2


def test_one_bad_share_does_not_stop_the_others(machine: tuple[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    arn, evaluate = machine
    from segshare_core import evaluation

    real = evaluation.match_shared

    def flaky(company_id: str, shared: Any) -> Any:
        if shared.target_project_id == "proj-b":
            raise RuntimeError("injected failure")
        return real(company_id, shared)

    monkeypatch.setattr(evaluation, "match_shared", flaky)
    # When one share's evaluation fails during a tick
    run = _run(arn, "2026-11-28T21:00:00Z")
    # Then the execution still succeeds, proj-b's evaluation is FAILED with an error, proj-c's SUCCEEDED
    assert run["status"] == "SUCCEEDED"
    b, c = _evaluations(evaluate, "proj-b"), _evaluations(evaluate, "proj-c")
    assert [(e["status"], bool(e.get("error"))) for e in b] == [("FAILED", True)]
    assert [e["status"] for e in c] == ["SUCCEEDED"]
