"""One truth per share (issue 12): the six ways the views of one shared segment used to disagree.

Each case runs the real handlers inside moto on test_evaluate's world: acme's A segment
s-irish (6 of B's profiles match) shared with B and C, s-vip with B. Everything derived from a
share belongs to its generation; a share that ends takes it all out of service (API.md
"Revoking and resharing"), the result in service is the succeeded evaluation that started last
(API.md "Evaluations"), and a RUNNING evaluation ends within 15 minutes of its start.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from local import template as tpl
from local.events import Pump
from local.lambdas import LambdaContext, load_module
from segshare_core.domain.clock import now
from segshare_core.domain.match_summary import MatchSummary
from segshare_core.store import evaluations as evaluation_store
from segshare_core.store import exports as export_store
from segshare_core.store import results as results_store
from segshare_core.store import segments as segment_store
from segshare_core.workflows import evaluate_inline
from tests.integration.conftest import Response, assert_error, event, handler_for
from tests.integration.test_evaluate import ADMIN, MATCHED, SEGMENT, SHARED, World, build, source_profiles

SCHEDULE_FN = next(f for f in tpl.load().functions() if f.logical_id == "ScheduledEvaluateFunction")


@pytest.fixture(scope="module")
def handlers() -> dict[str, Callable[[dict[str, Any]], Response]]:
    names = {"evaluate": "EvaluateFunction", "share": "ShareFunction", "directory": "DirectoryFunction", "export": "ExportFunction"}
    return {short: handler_for(logical_id) for short, logical_id in names.items()}


class TruthWorld(World):
    """test_evaluate's world plus exports (the Pump stands in for Lambda's pollers) and the schedule's task."""

    def __init__(self, handlers: dict[str, Callable[[dict[str, Any]], Response]]) -> None:
        super().__init__(handlers["evaluate"], handlers["share"], handlers["directory"])
        self._export = handlers["export"]
        self.pump: Pump | None = None
        self._schedule = load_module(SCHEDULE_FN)

    def sharing(self, targets: list[str], segment: str = SEGMENT) -> None:
        saved = self.share("put_sharing", ADMIN, path={"segmentId": segment}, body={"projectIds": targets})
        assert saved.status == 200, saved.json

    def unshare_and_reshare(self) -> None:
        self.sharing(["proj-c"])
        self.sharing(["proj-b", "proj-c"])

    def export_call(self, name: str, **overrides: Any) -> Response:
        return self._export(event(name, claims=ADMIN, **overrides))

    def start_export(self) -> str:
        created = self.export_call("create_export", path={"projectId": "proj-b", "sharedSegmentId": SHARED}, body={})
        assert created.status == 202, created.json
        return str(created.json["exportId"])

    def get_export(self, export_id: str) -> Response:
        return self.export_call("get_export", path={"projectId": "proj-b", "exportId": export_id})

    def list_exports(self, **query: str) -> Response:
        return self.export_call("list_exports", path={"projectId": "proj-b", "sharedSegmentId": SHARED}, query=query or None)

    def scheduled(self, tick: str) -> dict[str, Any]:
        """The state machine's Evaluate task for B's share and one tick, as Step Functions calls it."""
        listed = self._schedule.lambda_handler({"action": "list", "input": {"time": tick}}, LambdaContext(function_name="Schedule"))
        # The due list is in S3, where the Distributed Map's ItemReader reads it
        due = json.loads(boto3.client("s3").get_object(Bucket=listed["bucket"], Key=listed["key"])["Body"].read())
        item = next(i for i in due if i["sharedSegmentId"] == SHARED)
        result: dict[str, Any] = self._schedule.lambda_handler(
            {"action": "evaluate", "item": item, "tick": listed["tick"]}, LambdaContext(function_name="Schedule")
        )
        return result

    def assert_not_evaluated(self) -> None:
        """A share with no result in service: every view says so."""
        assert self.shared_tab()[SHARED]["lastEvaluation"] is None
        assert self.evaluations().json == {"evaluations": [], "nextCursor": None}
        assert_error(self.members(), 409, "NOT_EVALUATED")
        assert_error(self.preview({"segmentIds": [SHARED]}), 409, "NOT_EVALUATED")


@pytest.fixture
def world(aws: None, handlers: dict[str, Callable[[dict[str, Any]], Response]]) -> Iterator[TruthWorld]:
    w = TruthWorld(handlers)
    build(w)
    w.pump = Pump(tpl.load())
    yield w
    w.assert_nothing_of_source()


# ---------------------------------------------------------------- 1. reshare and recreate start afresh


def test_1_a_reshare_or_a_recreated_segment_shows_nothing_of_before(world: TruthWorld) -> None:
    # Given B's share evaluated (6 matched)
    done = world.succeeded()
    assert done["matchedProfiles"] == len(MATCHED) == 6
    # When it is unshared and shared again
    world.unshare_and_reshare()
    # Then the shared segment, its evaluations, members and preview all say "not evaluated"
    world.assert_not_evaluated()
    # And the old evaluation is gone from the target (404), as API.md says of an ended share
    assert_error(world.evaluation(done["evaluationId"]), 404, "NOT_FOUND")
    # When the segment is evaluated anew
    again = world.succeeded()
    # Then every view tells of that run only
    assert world.shared_tab()[SHARED]["lastEvaluation"] == again
    assert [e["evaluationId"] for e in world.evaluations().json["evaluations"]] == [again["evaluationId"]]
    assert world.all_members()[0] == again["evaluationId"]

    # Given A's segment force-deleted and a new segment created under the same id (its shared id is the same)
    deleted = world.share("delete_segment", ADMIN, query={"force": "true"})
    assert deleted.status == 204, deleted.json
    created = world.share("create_segment", ADMIN, body={"name": "Irish again", "id": SEGMENT, "rule": {"all": [{"platform": "ios"}]}})
    assert created.status == 201, created.json
    # When the new segment is shared with B
    world.sharing(["proj-b"])
    # Then B sees nothing of the deleted segment's runs
    world.assert_not_evaluated()
    assert_error(world.evaluation(again["evaluationId"]), 404, "NOT_FOUND")


# ---------------------------------------------------------------- 2. unshare while running


def test_2_a_run_whose_share_ended_meanwhile_fails_and_is_never_served(world: TruthWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an evaluation of B's share paused after its match, just before its results are written
    real_put = results_store.put
    paused, go_on = threading.Event(), threading.Event()

    def pausing_put(key: str, profile_ids: Any) -> None:
        paused.set()
        assert go_on.wait(60)
        real_put(key, profile_ids)

    monkeypatch.setattr(results_store, "put", pausing_put)
    other_container = handler_for("EvaluateFunction")  # as its own Lambda container would run it
    answers: list[Response] = []
    runner = threading.Thread(
        target=lambda: answers.append(
            other_container(event("create_evaluation", claims=ADMIN, path={"projectId": "proj-b", "sharedSegmentId": SHARED}))
        )
    )
    runner.start()
    assert paused.wait(60)
    # When the share is unshared and shared again while it runs, and only then it finishes
    world.unshare_and_reshare()
    go_on.set()
    runner.join(60)
    # Then the run answers FAILED, saying the share ended
    finished = answers[0]
    world.target_bodies.append(finished.raw["body"])
    assert finished.status == 201, finished.json
    assert finished.json["status"] == "FAILED", finished.json
    assert "share ended" in finished.json["error"]
    assert finished.json["matchedProfiles"] is None
    # And its result is served nowhere: members 409, preview 409, no lastEvaluation, not listed
    world.assert_not_evaluated()


# ---------------------------------------------------------------- 3. cursors of an ended share


def test_3_cursors_taken_before_an_unshare_serve_nothing_after_a_reshare(world: TruthWorld) -> None:
    # Given two evaluations of B's share and a cursor into its members, its evaluations and its exports
    world.succeeded()
    world.succeeded()
    members_cursor = world.members(limit="2").json["nextCursor"]
    evaluations_cursor = world.evaluations(limit="1").json["nextCursor"]
    for _ in range(2):
        world.start_export()
    exports_cursor = world.list_exports(limit="1").json["nextCursor"]
    assert members_cursor and evaluations_cursor and exports_cursor
    # When the share is unshared
    world.sharing(["proj-c"])
    # Then each cursor answers 404 with the shared segment
    assert_error(world.members(cursor=members_cursor), 404, "NOT_FOUND")
    assert_error(world.evaluations(cursor=evaluations_cursor), 404, "NOT_FOUND")
    assert_error(world.list_exports(cursor=exports_cursor), 404, "NOT_FOUND")
    # When it is shared again and evaluated anew (so members are served again)
    world.sharing(["proj-b", "proj-c"])
    fresh = world.succeeded()
    assert world.members().json["evaluationId"] == fresh["evaluationId"]
    # Then the old cursors still serve nothing of before: 404, as API.md says of an ended share's cursors
    assert_error(world.members(cursor=members_cursor), 404, "NOT_FOUND")
    assert_error(world.evaluations(cursor=evaluations_cursor), 404, "NOT_FOUND")
    assert_error(world.list_exports(cursor=exports_cursor), 404, "NOT_FOUND")


# ---------------------------------------------------------------- 4. order by startedAt, not by tick


def test_4_the_result_in_service_is_the_run_that_started_last_whatever_its_tick(world: TruthWorld) -> None:
    # Given a manual run, and then A's segment gaining src-eve (so a later run matches one more)
    manual = world.succeeded()
    eve = next(p for p in source_profiles() if p["profileId"] == "src-eve")
    world.upsert("proj-a", [{**eve, "attributes": {**eve["attributes"], "country": "IE"}}])
    # When a scheduled run for a tick an hour before the manual run starts after it
    tick = (now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    late = world.scheduled(tick)
    # Then it is the latest: listed first, its members served, the shared segment's lastEvaluation
    assert late["status"] == "SUCCEEDED", late
    listed = world.evaluations().json["evaluations"]
    assert [e["evaluationId"] for e in listed] == [late["evaluationId"], manual["evaluationId"]]
    assert listed[0]["startedAt"] >= manual["startedAt"]
    assert world.all_members()[0] == late["evaluationId"]
    assert "tgt-nonmember" in world.member_ids()
    assert world.shared_tab()[SHARED]["lastEvaluation"]["evaluationId"] == late["evaluationId"]
    # And the same tick again evaluates nothing more
    assert world.scheduled(tick)["status"] == "DUPLICATE"
    assert len(world.evaluations().json["evaluations"]) == 2

    # Given a run for a tick far in the future (a run started by hand with a wrong time)
    future = world.scheduled("2099-01-01T00:00:00Z")
    assert future["status"] == "SUCCEEDED", future
    # When src-eve leaves the segment again and a manual run starts after it
    world.upsert("proj-a", [eve])
    newest = world.succeeded()
    # Then the manual run is in service: the future tick pinned nothing
    assert world.all_members()[0] == newest["evaluationId"]
    assert "tgt-nonmember" not in world.member_ids()
    assert world.evaluations().json["evaluations"][0]["evaluationId"] == newest["evaluationId"]
    assert world.shared_tab()[SHARED]["lastEvaluation"] == newest


# ---------------------------------------------------------------- 5. exports of an ended share


def test_5_an_export_of_an_ended_share_is_404_and_gets_no_link(world: TruthWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    assert world.pump is not None
    # Given a READY export of B's share with a download link
    ready_id = world.start_export()
    world.pump.drain()
    ready = world.get_export(ready_id)
    assert (ready.json["status"], bool(ready.json["downloadUrl"])) == ("READY", True)
    # When the share is unshared and shared again
    world.unshare_and_reshare()
    # Then the export is 404 (no link issued) and not listed
    assert_error(world.get_export(ready_id), 404, "NOT_FOUND")
    assert world.list_exports().json == {"exports": [], "nextCursor": None}

    # Given an export whose file lands just as the share ends and is granted again
    racing_id = world.start_export()
    real_facts = export_store.object_facts

    def facts_after_a_reshare(key: str) -> Any:
        world.unshare_and_reshare()
        return real_facts(key)

    monkeypatch.setattr(export_store, "object_facts", facts_after_a_reshare)
    # When its S3 event is delivered
    world.pump.drain()
    monkeypatch.undo()
    # Then it never became READY: the READY write is conditioned on the share's generation
    record = export_store.get("acme", "proj-b", racing_id)
    assert record is not None
    assert record.status == "FAILED", record
    assert record.error and "share ended" in record.error
    assert_error(world.get_export(racing_id), 404, "NOT_FOUND")
    # And the reshared segment exports afresh as usual
    fresh_id = world.start_export()
    world.pump.drain()
    assert world.get_export(fresh_id).json["status"] == "READY"
    assert [e["exportId"] for e in world.list_exports().json["exports"]] == [fresh_id]


# ---------------------------------------------------------------- 6. RUNNING ends


class _Killed(BaseException):
    """What a Lambda timeout does to a run: it stops where it is; no handler of ours sees it."""


def test_6_a_run_killed_mid_way_reads_failed_after_its_deadline(world: TruthWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a succeeded evaluation in service
    before = world.succeeded()

    # And a run that started 16 minutes ago and was killed inside its match (nothing recorded its end)
    def killed(*_args: Any, **_kwargs: Any) -> Any:
        raise _Killed

    monkeypatch.setattr(evaluate_inline, "match_shared", killed)
    monkeypatch.setattr(evaluation_store, "now", lambda: now() - timedelta(minutes=16))
    with pytest.raises(_Killed):
        world.evaluate()
    monkeypatch.undo()
    # (it started before the run in service, so it lists second: the order is by startedAt)
    listed = world.evaluations().json["evaluations"]
    assert listed[0]["evaluationId"] == before["evaluationId"]
    stuck = listed[1]
    # When it is read, alone or in the list
    # Then it is FAILED, its error says it timed out, and it has a finish
    assert stuck["evaluationId"] != before["evaluationId"]
    assert stuck["status"] == "FAILED", stuck
    assert "timed out" in stuck["error"]
    assert stuck["finishedAt"] is not None
    assert world.evaluation(stuck["evaluationId"]).json == stuck
    # And the previous result stays in service
    assert world.all_members()[0] == before["evaluationId"]
    assert world.shared_tab()[SHARED]["lastEvaluation"] == before

    # Given a run 16 minutes old that is still going, and has not been read since it started
    monkeypatch.setattr(evaluation_store, "now", lambda: now() - timedelta(minutes=16))
    shared = segment_store.get_shared_in("acme", "proj-b", SHARED)
    assert shared is not None
    running = evaluation_store.start("acme", shared, "manual")
    monkeypatch.undo()
    # When it finishes and tries to commit
    summary = MatchSummary(target_profiles=1, matched_profiles=1, matched_devices=1, matched_by_platform={"ios": 1})
    late = evaluation_store.succeed("acme", shared, running, summary, "results/none.json")
    # Then the commit is refused (past its deadline): it is FAILED and the pointer did not move
    assert late.status == "FAILED", late
    assert world.all_members()[0] == before["evaluationId"]


def test_an_idempotency_key_repeated_after_a_reshare_does_new_work(world: TruthWorld) -> None:
    def evaluate_with_key() -> Response:
        ev = event("create_evaluation", claims=ADMIN, path={"projectId": "proj-b", "sharedSegmentId": SHARED})
        ev["headers"]["idempotency-key"] = "same-key"
        response = handler_for("EvaluateFunction")(ev)
        world.target_bodies.append(response.raw["body"])
        return response

    # Given an evaluation made with an Idempotency-Key, and its repeat answered from the first call
    first = evaluate_with_key()
    assert first.status == 201, first.json
    assert evaluate_with_key().json == first.json
    # When the share ends and is granted again, and the same key is sent
    world.unshare_and_reshare()
    again = evaluate_with_key()
    # Then it is a new evaluation of the new share, and it is the one in service
    assert again.status == 201, again.json
    assert again.json["evaluationId"] != first.json["evaluationId"]
    assert world.all_members()[0] == again.json["evaluationId"]
