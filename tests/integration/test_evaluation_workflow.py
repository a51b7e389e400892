"""The evaluation workflow (statemachines/evaluation.asl.json) in moto's Step Functions interpreter, tasks bridged to the real handlers."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import template as tpl
from local.lambdas import bridge_lambda_invoke
from local.resources import create_all
from local.schedule import create_state_machines
from segshare_core import config
from tests.integration.conftest import OPERATOR, event, handler_for, user
from tests.support.waiting import finished_execution

ADMIN = user("u-admin")
INTERPRETER = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
COMPANY = "acme"
#: Several shards, few enough that moto's interpreter runs a workflow in seconds.
SHARDS = 4


@dataclass
class World:
    arn: str
    shared_id: str
    sources: dict[str, list[dict[str, str]]]  # proj-a profile id -> devices
    targets: dict[str, list[dict[str, str]]]  # proj-b profile id -> devices
    irish: set[str]  # proj-a profiles in the segment (country IE)


def _profile(profile_id: str, country: str, devices: list[dict[str, str]]) -> dict[str, Any]:
    return {"profileId": profile_id, "attributes": {"country": country}, "devices": devices}


def _upsert(directory: Any, project_id: str, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 50):
        body = {"profiles": rows[start : start + 50]}
        assert directory(event("upsert_profiles", path={"projectId": project_id}, body=body, claims=ADMIN)).status == 200


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """proj-a (source, segment "country IE") shared with proj-b (target), random overlapping devices; SHARDS shards."""
    yield from _world(monkeypatch, SHARDS)


@pytest.fixture
def grouped_world(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[World]:
    """The same world with ``request.param`` = (shards, children): EVALUATION_CHILDREN apart from DEVICE_INDEX_SHARDS."""
    shards, children = request.param
    monkeypatch.setattr(config, "EVALUATION_CHILDREN", children)
    yield from _world(monkeypatch, shards)


def _world(monkeypatch: pytest.MonkeyPatch, shards: int) -> Iterator[World]:
    monkeypatch.setattr(config, "DEVICE_INDEX_SHARDS", shards)
    with mock_aws(config=INTERPRETER):  # type: ignore[arg-type]
        template = tpl.load()
        create_all(template)
        bridge_lambda_invoke(template.functions())
        arn = create_state_machines(template)["EvaluationStateMachine"]
        directory, share = handler_for("DirectoryFunction"), handler_for("ShareFunction")
        assert directory(event("create_company", claims=OPERATOR)).status == 201
        assert directory(event("put_user", path={"userId": "u-admin"}, body={"role": "company_admin"}, claims=OPERATOR)).status == 200
        for pid in ("proj-a", "proj-b"):
            assert directory(event("create_project", body={"id": pid, "name": pid}, claims=ADMIN)).status == 201
        rng = random.Random(14)

        def devices() -> list[dict[str, str]]:
            found = []
            for _ in range(rng.randint(0, 3)):
                n = rng.randrange(300)
                ios = {"platform": "ios", "id": f"00000000-0000-4000-8000-{n:012x}"}
                found.append({"platform": "android", "id": f"{n:x}"} if n % 2 else ios)
            return found

        sources = {f"a-{i}": devices() for i in range(80)}
        targets = {f"b-{i}": devices() for i in range(80)}
        countries = {pid: rng.choice(["IE", "FR"]) for pid in sources}
        _upsert(directory, "proj-a", [_profile(pid, countries[pid], d) for pid, d in sources.items()])
        _upsert(directory, "proj-b", [_profile(pid, "IE", d) for pid, d in targets.items()])
        assert share(event("create_segment", claims=ADMIN)).status == 201
        assert share(event("put_sharing", body={"projectIds": ["proj-b"]}, claims=ADMIN)).status == 200
        listed = share(event("list_shared_segments", path={"projectId": "proj-b"}, claims=ADMIN))
        shared_id = listed.json["sharedSegments"][0]["sharedSegmentId"]
        yield World(arn, shared_id, sources, targets, {pid for pid, c in countries.items() if c == "IE"})


def _brute_force(w: World) -> set[str]:
    """Target profiles holding ANY device of ANY member of the segment, compared as normalised ids."""
    source_devices = {(d["platform"], d["id"]) for pid in w.irish for d in w.sources[pid]}
    return {pid for pid, devices in w.targets.items() if any((d["platform"], d["id"]) in source_devices for d in devices)}


def _run(w: World) -> tuple[dict[str, Any], Any]:
    """Record a RUNNING manual evaluation, run the workflow on it to its end: (execution, evaluation)."""
    from segshare_core.store import evaluations, segments
    from segshare_core.workflows import evaluate_sharded, handoff

    shared = segments.get_shared_in(COMPANY, "proj-b", w.shared_id)
    assert shared is not None
    running = evaluations.start(COMPANY, shared, "manual")
    run = evaluate_sharded.Run(
        companyId=COMPANY, projectId="proj-b", sharedSegmentId=w.shared_id, evaluationId=running.evaluation_id, generation=shared.generation
    )
    described = finished_execution(handoff.start(run))
    return described, evaluations.get(COMPANY, shared, running.evaluation_id)


def _members(w: World) -> tuple[str, list[str]] | None:
    from segshare_core.store import segments
    from segshare_core.workflows import evaluate_inline

    shared = segments.get_shared_in(COMPANY, "proj-b", w.shared_id)
    assert shared is not None
    return evaluate_inline.members_of_latest(COMPANY, shared)


def _fail_target_shard_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workflow's match child 1 (target shard 1 among others) raises; every other child works."""
    from segshare_core.workflows import evaluate_sharded

    real = evaluate_sharded.match_child

    def failing(item: evaluate_sharded.ChildItem) -> dict[str, int]:
        if item.child == 1:
            raise RuntimeError("injected failure")
        return real(item)

    monkeypatch.setattr(evaluate_sharded, "match_child", failing)


def test_the_workflow_finds_what_a_brute_force_finds(world: World) -> None:
    # Given a target with some profiles sharing devices with the segment's members
    expected = _brute_force(world)
    assert 0 < len(expected) < len(world.targets)
    # When the workflow evaluates the share
    execution, done = _run(world)
    # Then it succeeded with exactly the brute force's profiles, recorded and in service
    assert execution["status"] == "SUCCEEDED", execution
    assert done.status == "SUCCEEDED"
    assert done.matched_profiles == len(expected)
    assert done.target_profiles == len(world.targets)
    latest = _members(world)
    assert latest is not None
    assert latest == (done.evaluation_id, sorted(expected))
    # And its device counts are those of the in-request path
    from segshare_core.store import segments
    from segshare_core.workflows import evaluate_inline

    summary, matched = evaluate_inline.match_shared(COMPANY, segments.get_shared_in(COMPANY, "proj-b", world.shared_id))  # type: ignore[arg-type]
    assert matched == sorted(expected)
    assert (done.matched_devices, done.matched_by_platform) == (summary.matched_devices, summary.matched_by_platform)


def test_a_profile_with_matched_devices_in_two_shards_counts_once(world: World) -> None:
    from segshare_core.domain.devices import normalise, shard_of, token
    from segshare_core.store import directory

    # Given a target profile whose two devices, both in the segment, live in different index shards
    key = directory.company_key(COMPANY)
    member = sorted(world.irish)[0]
    candidates = [{"platform": "android", "id": f"{n:x}"} for n in range(1000, 1100)]
    by_shard: dict[int, dict[str, str]] = {}
    for d in candidates:
        by_shard.setdefault(shard_of(token(key, normalise(d["platform"], d["id"])), SHARDS), d)
    two = [by_shard[0], by_shard[1]]
    world.sources[member] = world.sources[member] + two
    world.targets["b-both"] = two
    _upsert(handler_for("DirectoryFunction"), "proj-a", [_profile(member, "IE", world.sources[member])])
    _upsert(handler_for("DirectoryFunction"), "proj-b", [_profile("b-both", "IE", two)])
    # When the workflow evaluates the share
    execution, done = _run(world)
    # Then the profile is matched once, its two devices both count, and the total is the brute force's
    assert execution["status"] == "SUCCEEDED", execution
    latest = _members(world)
    assert latest is not None
    assert latest[1].count("b-both") == 1
    assert latest[1] == sorted(_brute_force(world))
    assert done.matched_profiles == len(_brute_force(world))
    assert done.matched_by_platform["android"] >= 2


def _work_objects(evaluation_id: str) -> dict[str, int]:
    """Objects of one run's work prefix by kind (``tokens``, ``matched``, ``children.json``): how many children each Map ran."""
    s3 = boto3.client("s3")
    found: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=config.DATA_BUCKET, Prefix="work/"):
        for obj in page.get("Contents", []):
            parts = obj["Key"].split("/")
            if evaluation_id in parts:
                kind = parts[parts.index(evaluation_id) + 1]
                found[kind] = found.get(kind, 0) + 1
    return found


@pytest.mark.parametrize("grouped_world", [(7, 3)], indirect=True, ids=["7 shards, 3 children"])
def test_shards_grouped_into_fewer_children_find_what_a_brute_force_finds(grouped_world: World) -> None:
    from segshare_core.domain.devices import normalise, shard_of, token
    from segshare_core.store import directory

    w = grouped_world
    # Given a target profile whose two devices, both in the segment, live in shards 0 and 3: both read by child 0
    key = directory.company_key(COMPANY)
    member = sorted(w.irish)[0]
    by_shard: dict[int, dict[str, str]] = {}
    for n in range(2000, 2200):
        d = {"platform": "android", "id": f"{n:x}"}
        by_shard.setdefault(shard_of(token(key, normalise(d["platform"], d["id"])), 7), d)
    two = [by_shard[0], by_shard[3]]
    w.sources[member] = w.sources[member] + two
    w.targets["b-both"] = two
    _upsert(handler_for("DirectoryFunction"), "proj-a", [_profile(member, "IE", w.sources[member])])
    _upsert(handler_for("DirectoryFunction"), "proj-b", [_profile("b-both", "IE", two)])
    expected = _brute_force(w)
    assert 0 < len(expected) < len(w.targets)
    # When the workflow evaluates the share
    execution, done = _run(w)
    # Then it succeeded with exactly the brute force's profiles, the one with two shards' devices once
    assert execution["status"] == "SUCCEEDED", execution
    assert done.matched_profiles == len(expected)
    assert _members(w) == (done.evaluation_id, sorted(expected))
    # And its device counts are those of the in-request path (7 shards read whole)
    from segshare_core.store import segments
    from segshare_core.workflows import evaluate_inline

    summary, matched = evaluate_inline.match_shared(COMPANY, segments.get_shared_in(COMPANY, "proj-b", w.shared_id))  # type: ignore[arg-type]
    assert matched == sorted(expected)
    assert (done.matched_devices, done.matched_by_platform) == (summary.matched_devices, summary.matched_by_platform)
    # And each Map ran 3 children, not 7: one token object and one result a child
    assert _work_objects(done.evaluation_id) == {"children.json": 1, "tokens": 3, "matched": 3}


@pytest.mark.parametrize("grouped_world", [(3, 5)], indirect=True, ids=["3 shards, 5 children asked for"])
def test_more_children_than_shards_run_one_child_a_shard(grouped_world: World) -> None:
    # Given more children asked for than there are shards
    expected = _brute_force(grouped_world)
    # When the workflow evaluates the share
    execution, done = _run(grouped_world)
    # Then it succeeded with the brute force's profiles, and each Map ran one child a shard (none idle)
    assert execution["status"] == "SUCCEEDED", execution
    assert _members(grouped_world) == (done.evaluation_id, sorted(expected))
    assert _work_objects(done.evaluation_id) == {"children.json": 1, "tokens": 3, "matched": 3}


def test_one_failing_child_fails_the_evaluation_and_keeps_the_previous_result(world: World, monkeypatch: pytest.MonkeyPatch) -> None:

    # Given a succeeded evaluation in service
    first, previous = _run(world)
    assert first["status"] == "SUCCEEDED"
    in_service = _members(world)
    assert in_service is not None
    assert in_service[0] == previous.evaluation_id
    _fail_target_shard_one(monkeypatch)
    # When one target shard's child fails in the next run
    execution, done = _run(world)
    # Then the run fails, the evaluation is FAILED with a message, and the previous result stays in service
    assert execution["status"] == "FAILED", execution
    assert done.status == "FAILED"
    assert done.error == "a shard of the evaluation failed; the previous result stays in service", done.error
    assert _members(world) == in_service


@pytest.mark.parametrize("grouped_world", [(SHARDS, SHARDS), (7, 3)], indirect=True, ids=["a child a shard", "7 shards, 3 children"])
def test_a_static_segment_is_resolved_shard_by_shard_to_the_brute_force(grouped_world: World) -> None:
    world = grouped_world
    share = handler_for("ShareFunction")
    # Given a static segment of a few source profiles (some of them unknown ids), shared with proj-b
    members = sorted(world.sources)[::7]
    body = {"id": "s-few", "name": "A few", "profileIds": [*members, "a-missing"]}
    assert share(event("create_segment", body=body, claims=ADMIN)).status == 201
    sharing = event("put_sharing", path={"segmentId": "s-few"}, body={"projectIds": ["proj-b"]}, claims=ADMIN)
    assert share(sharing).status == 200
    listed = share(event("list_shared_segments", path={"projectId": "proj-b"}, claims=ADMIN)).json["sharedSegments"]
    shared_id = next(s["sharedSegmentId"] for s in listed if s["name"] == "A few")
    static = World(world.arn, shared_id, world.sources, world.targets, set(members))
    expected = _brute_force(static)
    assert expected
    # When the workflow evaluates it
    execution, done = _run(static)
    # Then it matched exactly the targets holding a device of those members
    assert execution["status"] == "SUCCEEDED", execution
    assert done.matched_profiles == len(expected)
    assert _members(static) == (done.evaluation_id, sorted(expected))


# ---------------------------------------------------------------- export and schedule at any size (issue 14 leftovers)


def _executions(w: World) -> dict[str, dict[str, Any]]:
    """Execution name (the evaluation id) -> its description, of every run of the evaluation workflow."""
    sfn = boto3.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=w.arn)["executions"]
    return {e["name"]: sfn.describe_execution(executionArn=e["executionArn"]) for e in listed}


def _wait_for_executions(w: World, timeout: float = 120) -> dict[str, dict[str, Any]]:
    """Every run of the evaluation workflow once all have ended (status and output or error both there)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _executions(w)
        if found and all(d["status"] != "RUNNING" and ("output" in d or "error" in d) for d in found.values()):
            return found
        time.sleep(0.2)
    raise AssertionError(f"the evaluation workflow did not end in {timeout} s")


def test_a_large_export_is_evaluated_by_the_workflow_and_its_file_is_the_brute_force(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    from local.events import Pump

    # Given the cost model calls every evaluation large (the template's EVALUATION_INLINE_SECONDS, forced down)
    monkeypatch.setattr(config, "EVALUATION_INLINE_SECONDS", -1.0)
    pump = Pump(tpl.load())  # subscribes the bucket's ObjectCreated events before any export object lands
    export_fn, evaluate_fn = handler_for("ExportFunction"), handler_for("EvaluateFunction")
    path = {"projectId": "proj-b", "sharedSegmentId": world.shared_id}
    created = export_fn(event("create_export", path=path, body={"format": "jsonl", "attributes": ["country"]}, claims=ADMIN))
    assert created.status == 202, created.json
    export_id = created.json["exportId"]
    # When the queue hands the export to the worker, the workflow runs, and the queue delivers what it sends at its end
    pump.drain()
    executions = _wait_for_executions(world)
    pump.drain()
    # Then the export's evaluation ran on the workflow (an execution named after it) and SUCCEEDED with trigger export
    evaluations = evaluate_fn(event("list_evaluations", path=path, claims=ADMIN)).json["evaluations"]
    assert [(e["trigger"], e["status"]) for e in evaluations] == [("export", "SUCCEEDED")]
    assert executions[evaluations[0]["evaluationId"]]["status"] == "SUCCEEDED"
    # And the export is READY with one row per brute-force match, in id order, the target's own attributes only
    got = export_fn(event("get_export", path={"projectId": "proj-b", "exportId": export_id}, claims=ADMIN))
    assert got.json["status"] == "READY", got.json
    lines = requests.get(got.json["downloadUrl"], timeout=10).content.decode().splitlines()
    rows = [json.loads(line) for line in lines]
    expected = sorted(_brute_force(world))
    assert [r["profileId"] for r in rows] == expected
    assert all(r["attributes"] == {"country": "IE"} for r in rows)
    assert got.json["rowCount"] == len(expected)


def test_a_large_export_whose_workflow_fails_is_failed_with_the_evaluations_error(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from local.events import Pump

    # Given the cost model calls every evaluation large, and one target shard's child fails
    monkeypatch.setattr(config, "EVALUATION_INLINE_SECONDS", -1.0)
    _fail_target_shard_one(monkeypatch)
    pump = Pump(tpl.load())
    export_fn = handler_for("ExportFunction")
    path = {"projectId": "proj-b", "sharedSegmentId": world.shared_id}
    export_id = export_fn(event("create_export", path=path, body={"format": "csv"}, claims=ADMIN)).json["exportId"]
    # When the worker hands it to the workflow, the workflow fails, and the queue delivers what it sends at its end
    pump.drain()
    executions = _wait_for_executions(world)
    pump.drain()
    # Then the workflow failed, and the export is FAILED with the evaluation's error and no object
    assert [d["status"] for d in executions.values()] == ["FAILED"]
    got = export_fn(event("get_export", path={"projectId": "proj-b", "exportId": export_id}, claims=ADMIN)).json
    assert (got["status"], got["downloadUrl"]) == ("FAILED", None), got
    from segshare_core.store import exports

    record = exports.get(COMPANY, "proj-b", export_id)
    assert record is not None
    assert record.error == "the evaluation failed: a shard of the evaluation failed; the previous result stays in service"
    s3 = boto3.client("s3")
    assert s3.list_objects_v2(Bucket=config.DATA_BUCKET, Prefix="exports/").get("KeyCount", 0) == 0


def test_a_large_share_in_a_scheduled_tick_starts_the_workflow_and_is_recorded_succeeded(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from local.schedule import create_state_machines, start_tick

    # Given the cost model calls every evaluation large, and the scheduled state machine
    monkeypatch.setattr(config, "EVALUATION_INLINE_SECONDS", -1.0)
    schedule_arn = create_state_machines(tpl.load())["ScheduledEvaluationStateMachine"]
    path = {"projectId": "proj-b", "sharedSegmentId": world.shared_id}
    evaluate_fn = handler_for("EvaluateFunction")

    def tick(moment: str) -> dict[str, Any]:
        return finished_execution(start_tick(schedule_arn, moment))

    # When a tick runs: it starts the workflow on the share and does not wait for it
    assert tick("2026-11-29T10:00:00Z")["status"] == "SUCCEEDED"
    executions = _wait_for_executions(world)
    # Then the workflow evaluated it: SUCCEEDED with trigger schedule and the brute force's members, in service
    listed = evaluate_fn(event("list_evaluations", path=path, claims=ADMIN)).json["evaluations"]
    assert [(e["trigger"], e["status"]) for e in listed] == [("schedule", "SUCCEEDED")], listed
    first = listed[0]
    assert executions[first["evaluationId"]]["status"] == "SUCCEEDED"
    assert first["matchedProfiles"] == len(_brute_force(world))
    assert _members(world) == (first["evaluationId"], sorted(_brute_force(world)))
    # And it was recorded as a scheduled run is: the next unchanged tick reuses it (its inputs were stored, its lease freed)
    assert tick("2026-11-29T10:15:00Z")["status"] == "SUCCEEDED"
    listed = evaluate_fn(event("list_evaluations", path=path, claims=ADMIN)).json["evaluations"]
    assert [(e["trigger"], e["status"], e.get("reused")) for e in listed] == [
        ("schedule", "SUCCEEDED", True),
        ("schedule", "SUCCEEDED", None),
    ]
    assert listed[0]["matchedProfiles"] == first["matchedProfiles"]


def test_the_workflows_fast_reads_give_what_the_store_reads_give(world: World) -> None:
    from segshare_core.domain import match as matching
    from segshare_core.domain.devices import token
    from segshare_core.store import device_index, directory, profiles

    key = directory.company_key(COMPANY)
    for shard in range(SHARDS):
        # When one profile shard is read for a resolve (low-level Query, items decoded by json, stored tokens)
        fast = list(profiles.iter_profile_shard_tokens(COMPANY, "proj-a", shard))
        # Then it holds the shard's profiles as the pynamodb read gives them, each with its matchable devices' tokens
        assert [p for p, _tokens in fast] == list(profiles.iter_profile_shard(COMPANY, "proj-a", shard))
        for profile, tokens in fast:
            stored = [tokens[i : i + 16].hex() for i in range(0, len(tokens), 16)]
            assert sorted(stored) == sorted(token(key, d) for d in profile.matchable_devices())
        # And one index shard read into columns is the index the entries give
        columns = device_index.query_shard_columns(COMPANY, "proj-b", shard)
        expected = matching.TargetIndex.from_entries(device_index.query_shard(COMPANY, "proj-b", shard))
        assert len(columns) == len(expected) > 0

        def rows(index: matching.TargetIndex) -> list[tuple[int, int, int, str]]:
            """(token words, platform, holder id) of every row, in token order; a token's holders in any order."""
            ids = index.ids(index.profile.astype("intp"))
            return sorted(zip(index.hi.tolist(), index.lo.tolist(), index.platform.tolist(), ids, strict=True))

        assert rows(columns) == rows(expected)
        assert int(columns.first.sum()) == int(expected.first.sum())  # each device counts once


def test_a_large_export_whose_workflow_died_unseen_is_failed_once_its_evaluation_times_out(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from local.events import Pump
    from segshare_core.store import evaluations as evaluation_store
    from segshare_core.workflows import handoff

    # Given a large export whose workflow died before its last state (its execution never ran,
    # so nothing queues the export again): it started 16 minutes ago
    monkeypatch.setattr(config, "EVALUATION_INLINE_SECONDS", -1.0)
    monkeypatch.setattr(handoff, "start", lambda run: "arn:aws:states:us-east-1:123456789012:execution:died:" + run.evaluationId)
    pump = Pump(tpl.load())
    export_fn = handler_for("ExportFunction")
    path = {"projectId": "proj-b", "sharedSegmentId": world.shared_id}
    started_at = evaluation_store.now
    monkeypatch.setattr(evaluation_store, "now", lambda: started_at() - timedelta(minutes=16))
    export_id = export_fn(event("create_export", path=path, body={"format": "csv"}, claims=ADMIN)).json["exportId"]
    pump.drain()
    monkeypatch.setattr(evaluation_store, "now", started_at)
    # When its owner reads it
    got = export_fn(event("get_export", path={"projectId": "proj-b", "exportId": export_id}, claims=ADMIN)).json
    # Then it is FAILED with its evaluation's error (the evaluation timed out), not RUNNING until the 4-hour rule
    assert (got["status"], got["downloadUrl"]) == ("FAILED", None), got
    assert got["error"].startswith("the evaluation failed: ") and "timed out" in got["error"], got
