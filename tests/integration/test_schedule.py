"""The scheduled state machine, run by moto's Step Functions interpreter with the real Lambda handlers."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
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
from tests.support.shares import seed_live_shares
from tests.support.waiting import finished_execution

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


def _run(arn: str, tick: str, timeout: float = 60) -> dict[str, Any]:
    return _wait(start_tick(arn, tick), timeout)


def _wait(execution: str, timeout: float = 60) -> dict[str, Any]:
    return finished_execution(execution, timeout)


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
    assert len(_evaluations(evaluate, "proj-b")) == 1
    assert len(_evaluations(evaluate, "proj-c")) == 1
    # And a later tick evaluates again
    assert _run(arn, "2026-11-28T20:00:00Z")["status"] == "SUCCEEDED"
    assert len(_evaluations(evaluate, "proj-b")) == 2


def test_one_bad_share_does_not_stop_the_others(machine: tuple[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    arn, evaluate = machine
    from segshare_core.workflows import evaluate_inline

    real = evaluate_inline.match_shared

    def flaky(company_id: str, shared: Any) -> Any:
        if shared.target_project_id == "proj-b":
            raise RuntimeError("injected failure")
        return real(company_id, shared)

    monkeypatch.setattr(evaluate_inline, "match_shared", flaky)
    # When one share's evaluation fails during a tick
    run = _run(arn, "2026-11-28T21:00:00Z")
    # Then the execution still succeeds, proj-b's evaluation is FAILED with an error, proj-c's SUCCEEDED
    assert run["status"] == "SUCCEEDED"
    b, c = _evaluations(evaluate, "proj-b"), _evaluations(evaluate, "proj-c")
    assert [(e["status"], bool(e.get("error"))) for e in b] == [("FAILED", True)]
    assert [e["status"] for e in c] == ["SUCCEEDED"]


# ---------------------------------------------------------------- issue 15: any number of shares, change-aware


def _history_sizes(execution: str) -> list[int]:
    """UTF-8 bytes of every input and output the execution's history shows (each state's data)."""
    sfn = boto3.client("stepfunctions")
    sizes = []
    for ev in sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]:
        for details in ev.values():
            if isinstance(details, dict):
                sizes += [len(str(details[k]).encode()) for k in ("input", "output") if k in details]
    return sizes


def _due_lists() -> list[list[dict[str, Any]]]:
    s3 = boto3.client("s3")
    bucket = tpl.local_name("DataBucket", "AWS::S3::Bucket")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="schedule/").get("Contents", [])]
    return [json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in keys]


def test_a_tick_reads_its_due_list_from_s3_and_evaluates_a_few_dozen_shares_once_each(machine: tuple[str, Any]) -> None:
    arn, evaluate = machine
    share = handler_for("ShareFunction")
    # Given 10 more segments of proj-a, each shared with proj-b and proj-c: 22 live shares
    for n in range(10):
        body = {"id": f"s-{n}", "name": f"seg {n}", "rule": {"all": [{"attribute": "country", "op": "eq", "value": "IE"}]}}
        assert share(event("create_segment", body=body, claims=ADMIN)).status == 201
        sharing = event("put_sharing", path={"segmentId": f"s-{n}"}, body={"projectIds": ["proj-b", "proj-c"]}, claims=ADMIN)
        assert share(sharing).status == 200
    # When a tick runs
    execution = start_tick(arn, "2026-11-28T18:00:00Z")
    run = _wait(execution, 120)
    # Then it succeeded; its due list was written to S3 (every share once) and read from there
    assert run["status"] == "SUCCEEDED", run
    (due,) = _due_lists()
    assert len(due) == 22
    assert len({(d["projectId"], d["sharedSegmentId"]) for d in due}) == 22
    # and no state carried the list: the largest input or output is a few hundred bytes
    assert max(_history_sizes(execution)) < 1024
    # And every share has exactly one SUCCEEDED schedule evaluation: nothing lost, nothing twice
    for project_id in ("proj-b", "proj-c"):
        shared = share(event("list_shared_segments", path={"projectId": project_id}, claims=ADMIN)).json["sharedSegments"]
        assert len(shared) == 11
        for one in shared:
            path = {"projectId": project_id, "sharedSegmentId": one["sharedSegmentId"]}
            found = evaluate(event("list_evaluations", path=path, claims=ADMIN)).json["evaluations"]
            assert [(e["trigger"], e["status"], e["matchedProfiles"]) for e in found] == [("schedule", "SUCCEEDED", 1)], one


def _list_step_only(definition: str) -> str:
    """The template's state machine cut after its list step (and the states its Catch goes to)."""
    asl = json.loads(definition)
    first = asl["StartAt"]
    state = asl["States"][first]
    state.pop("Next", None)
    state["End"] = True
    keep = {first} | {c["Next"] for c in state.get("Catch", [])}
    asl["States"] = {k: v for k, v in asl["States"].items() if k in keep}
    return json.dumps(asl)


def test_the_list_step_over_10000_shares_keeps_every_state_small(machine: tuple[str, Any]) -> None:
    arn, _ = machine
    # Given 10,000 live shares across 100 companies (plus the fixture's 2)
    seed_live_shares({f"co-{c:03d}": 100 for c in range(100)})
    # and the state machine cut after its list step (same name, so it acts as the same role)
    (scheduled,) = [m for m in tpl.state_machines(tpl.load()) if m.logical_id == "ScheduledEvaluationStateMachine"]
    boto3.client("stepfunctions").update_state_machine(stateMachineArn=arn, definition=_list_step_only(scheduled.definition))
    # When the list step runs (moto raises States.DataLimitExceeded past 256 KB of state)
    execution = start_tick(arn, "2026-11-28T18:00:00Z")
    run = _wait(execution, 120)
    # Then it succeeded, every state stayed far below 64 KB, and the list in S3 holds every share
    assert run["status"] == "SUCCEEDED", run
    assert max(_history_sizes(execution)) < 64 * 1024
    (due,) = _due_lists()
    assert len(due) == 10_002
    # And the companies are interleaved: the first round takes one share of each of the 101
    assert len({d["companyId"] for d in due[:101]}) == 101


READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}


@contextmanager
def _dynamodb_requests() -> Iterator[Counter[str]]:
    """DynamoDB requests per operation sent by any pynamodb client while the block runs."""
    from segshare_core.store.models import ALL_MODELS, connection

    sent: Counter[str] = Counter()

    def on_send(event_name: str, **_: Any) -> None:
        sent[event_name.rsplit(".", 1)[-1]] += 1

    clients = {id(c): c for c in [m._get_connection().connection.client for m in ALL_MODELS] + [connection().client]}
    for client in clients.values():
        client.meta.events.register("before-send.dynamodb", on_send)
    try:
        yield sent
    finally:
        for client in clients.values():
            client.meta.events.unregister("before-send.dynamodb", on_send)


def _item(project_id: str, segment_id: str = "s-irish") -> dict[str, Any]:
    from segshare_core.domain.segments import shared_segment_id
    from segshare_core.store import segments as store_segments

    shared_id = shared_segment_id("acme", "proj-a", segment_id, project_id)
    shared = store_segments.get_shared_in("acme", project_id, shared_id)
    assert shared is not None
    return {"companyId": "acme", "projectId": project_id, "sharedSegmentId": shared_id, "generation": shared.generation}


def _result_objects() -> int:
    bucket = tpl.local_name("DataBucket", "AWS::S3::Bucket")
    return int(boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="results/").get("KeyCount", 0))


def test_an_unchanged_share_is_reused_with_the_same_counts_in_at_most_five_reads(machine: tuple[str, Any]) -> None:
    from segshare_core.workflows import scheduled_evaluation

    _, evaluate = machine
    item = _item("proj-b")
    # Given a first scheduled evaluation (in full)
    first = scheduled_evaluation.evaluate_scheduled(scheduled_evaluation.DueShare.model_validate(item), "2026-11-28T18:00:00Z")
    assert (first["status"], first["reused"]) == ("SUCCEEDED", False)
    objects = _result_objects()
    # When the next tick finds nothing changed
    with _dynamodb_requests() as sent:
        second = scheduled_evaluation.evaluate_scheduled(scheduled_evaluation.DueShare.model_validate(item), "2026-11-28T18:15:00Z")
    # Then it is recorded SUCCEEDED and reused, in at most 5 read requests, with no second result object
    assert (second["status"], second["reused"]) == ("SUCCEEDED", True)
    assert sum(n for op, n in sent.items() if op in READS) <= 5, sent
    assert "Query" not in sent
    assert _result_objects() == objects
    # And the API shows it reused with the first one's counts, and the members are the same
    path = {"projectId": "proj-b", "sharedSegmentId": item["sharedSegmentId"]}
    listed = evaluate(event("list_evaluations", path=path, claims=ADMIN)).json["evaluations"]
    assert [e.get("reused") for e in listed] == [True, None]
    counts = ("targetProfiles", "matchedProfiles", "matchedDevices", "matchedByPlatform")
    assert [listed[0][k] for k in counts] == [listed[1][k] for k in counts]
    assert (listed[0]["matchedProfiles"], listed[0]["matchedByPlatform"]["android"]) == (1, 1)
    members = evaluate(event("list_members", path=path, claims=ADMIN))
    assert members.status == 200, members.json
    assert members.json["evaluationId"] == second["evaluationId"]
    assert [m["profileId"] for m in members.json["members"]] == ["u-1"]


def _upsert(project_id: str, profile_id: str, device: str, country: str = "IE") -> None:
    body = {"profiles": [{"profileId": profile_id, "attributes": {"country": country}, "devices": [{"platform": "android", "id": device}]}]}
    response = handler_for("DirectoryFunction")(event("upsert_profiles", path={"projectId": project_id}, body=body, claims=ADMIN))
    assert (response.status, response.json["upserted"]) == (200, 1), response.json


def _delete(project_id: str, profile_id: str) -> None:
    response = handler_for("DirectoryFunction")(
        event("delete_profile", path={"projectId": project_id, "profileId": profile_id}, claims=ADMIN)
    )
    assert response.status in (200, 204), response.json


def _edit_rule() -> None:
    from segshare_core.store.keys import project_pk
    from segshare_core.store.models import SegmentRow

    SegmentRow(project_pk("acme", "proj-a"), "SEG#s-irish").update(
        actions=[SegmentRow.rule.set({"all": [{"attribute": "country", "op": "eq", "value": "FR"}]})]
    )


CHANGES = {
    "source profile upserted": (lambda: _upsert("proj-a", "u-2", "beef"), 2),
    "source profile deleted": (lambda: _delete("proj-a", "u-1"), 0),
    "target profile upserted": (lambda: _upsert("proj-b", "u-3", "abc"), 2),
    "target profile deleted": (lambda: _delete("proj-b", "u-1"), 0),
    "segment rule edited": (_edit_rule, 0),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_any_changed_input_evaluates_in_full_with_the_new_answer(machine: tuple[str, Any], change: str) -> None:
    from segshare_core.workflows import scheduled_evaluation

    make_change, matched = CHANGES[change]
    # Given proj-b also holds a profile with device beef, which the source does not have yet
    _upsert("proj-b", "u-2", "beef")
    item = _item("proj-b")
    first = scheduled_evaluation.evaluate_scheduled(scheduled_evaluation.DueShare.model_validate(item), "2026-11-28T18:00:00Z")
    assert first["status"] == "SUCCEEDED"
    # When one input changes before the next tick
    make_change()
    second = scheduled_evaluation.evaluate_scheduled(scheduled_evaluation.DueShare.model_validate(item), "2026-11-28T18:15:00Z")
    # Then that tick evaluates in full and records the new answer
    assert (second["status"], second["reused"]) == ("SUCCEEDED", False)
    path = {"projectId": "proj-b", "sharedSegmentId": item["sharedSegmentId"]}
    latest = handler_for("EvaluateFunction")(event("get_evaluation", path={**path, "evaluationId": second["evaluationId"]}, claims=ADMIN))
    assert (latest.json.get("reused"), latest.json["matchedProfiles"]) == (None, matched)
    # And a third tick with nothing changed reuses that new answer
    third = scheduled_evaluation.evaluate_scheduled(scheduled_evaluation.DueShare.model_validate(item), "2026-11-28T18:30:00Z")
    assert third["reused"] is True


def test_overlapping_ticks_evaluate_each_share_at_most_once(machine: tuple[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    arn, evaluate = machine
    from segshare_core.workflows import evaluate_inline

    real = evaluate_inline.match_shared
    held, release = threading.Semaphore(0), threading.Event()
    calls = Counter[str]()

    def slow_first_time(company_id: str, shared: Any) -> Any:
        calls[shared.shared_segment_id] += 1
        if calls[shared.shared_segment_id] == 1:  # the first tick's run of each share is still matching
            held.release()
            release.wait(60)
        return real(company_id, shared)

    monkeypatch.setattr(evaluate_inline, "match_shared", slow_first_time)
    # Given the first tick's runs of both shares are in flight
    first = start_tick(arn, "2026-11-28T18:00:00Z")
    for _ in range(2):
        assert held.acquire(timeout=60)
    try:
        # When the next tick runs meanwhile
        second = _run(arn, "2026-11-28T18:15:00Z")
        assert second["status"] == "SUCCEEDED", second
        # Then it evaluated neither share a second time
        assert sum(calls.values()) == 2
    finally:
        release.set()
    assert _wait(first)["status"] == "SUCCEEDED"
    # And each share has exactly one evaluation, the first tick's, SUCCEEDED
    for project_id in ("proj-b", "proj-c"):
        assert [(e["status"], e.get("reused")) for e in _evaluations(evaluate, project_id)] == [("SUCCEEDED", None)]
    # And once it ended, the next tick may run again (reusing it)
    assert _run(arn, "2026-11-28T18:30:00Z")["status"] == "SUCCEEDED"
    assert [e.get("reused") for e in _evaluations(evaluate, "proj-b")] == [True, None]


def test_a_throttled_list_step_retries_then_fails_visibly(machine: tuple[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    arn, evaluate = machine
    from botocore.exceptions import ClientError
    from pynamodb.exceptions import QueryError

    from segshare_core.workflows import scheduled_evaluation

    fn = next(f for f in tpl.load().functions() if f.logical_id == "ScheduledEvaluateFunction")
    from local.lambdas import load_module

    handler = load_module(fn)
    attempts: list[int] = []
    metrics: list[str] = []
    logged: list[str] = []

    def throttled() -> Any:
        attempts.append(1)
        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
        raise QueryError("Failed to query items", cause=ClientError(error, "Query"))

    monkeypatch.setattr(scheduled_evaluation.segments, "live_shares", throttled)
    real_metric, real_exception = handler.metrics.add_metric, handler.logger.exception
    monkeypatch.setattr(handler.metrics, "add_metric", lambda name, **kw: (metrics.append(name), real_metric(name=name, **kw))[1])
    monkeypatch.setattr(handler.logger, "exception", lambda msg, *a, **kw: (logged.append(msg), real_exception(msg, *a, **kw))[1])
    # When every attempt of the list step is throttled
    run = _run(arn, "2026-11-28T18:00:00Z")
    # Then it was retried (3 retries), and the execution FAILED with a named error, not silently
    assert run["status"] == "FAILED", run
    assert run["error"] == "ScheduleListFailed"
    assert len(attempts) == 4
    # And each attempt left a metric and a log line
    assert metrics.count("ScheduleListFailures") == 4
    assert logged.count("scheduled listing failed") == 4
    # And nothing was evaluated
    assert _evaluations(evaluate, "proj-b") == []


def test_retention_records_expire_after_90_days_and_a_replaced_result_is_retired(machine: tuple[str, Any]) -> None:
    from segshare_core.store import evaluations as store_evaluations
    from segshare_core.store import results
    from segshare_core.store import segments as store_segments
    from segshare_core.store.models import EvaluationRow
    from segshare_core.workflows import scheduled_evaluation

    item = _item("proj-b")
    bucket = tpl.local_name("DataBucket", "AWS::S3::Bucket")
    s3 = boto3.client("s3")
    # Given the evaluations table as the template creates it: DynamoDB TTL on expires_at
    ttl = boto3.client("dynamodb").describe_time_to_live(TableName="EvaluationsTable")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    # When a scheduled evaluation runs, then an unchanged tick reuses it, then a change makes a new result
    first = scheduled_evaluation.evaluate_scheduled(scheduled_evaluation.DueShare.model_validate(item), "2026-11-28T18:00:00Z")
    scheduled_evaluation.evaluate_scheduled(scheduled_evaluation.DueShare.model_validate(item), "2026-11-28T18:15:00Z")
    shared = store_segments.get_shared_in("acme", "proj-b", item["sharedSegmentId"])
    assert shared is not None
    first_key = store_evaluations.result_key_of("acme", shared, first["evaluationId"])
    assert first_key is not None

    def tags(key: str) -> list[dict[str, str]]:
        """The tags of a result, the same on both of its objects (ids and index)."""
        ids_tags, index_tags = (list(s3.get_object_tagging(Bucket=bucket, Key=k)["TagSet"]) for k in results.object_keys(key))
        assert ids_tags == index_tags, key
        return ids_tags

    assert tags(first_key) == []  # still in service (the reuse points at it)
    _upsert("proj-b", "u-3", "abc")
    third = scheduled_evaluation.evaluate_scheduled(scheduled_evaluation.DueShare.model_validate(item), "2026-11-28T18:30:00Z")
    # Then the record expires 90 days after its start
    row = EvaluationRow.get(f"C#acme#P#proj-b#X#{item['sharedSegmentId']}#G#{item['generation']}", f"E#{third['evaluationId']}")
    assert row.expires_at is not None
    assert abs(int(row.expires_at) - (row.started_at.timestamp() + 90 * 86400)) < 2
    # And the result that left service is tagged for the bucket's lifecycle rule, the new one is not
    assert tags(first_key) == [{"Key": "segshare-retired", "Value": "true"}]
    third_key = store_evaluations.result_key_of("acme", shared, third["evaluationId"])
    assert third_key is not None and third_key != first_key
    assert tags(third_key) == []
