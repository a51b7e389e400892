"""One truth per share, as a state machine: every view of B's shared segment tells the same story.

Share, unshare, reshare, force delete and recreate A's segment; evaluate B's share by hand
(through the handler) or as the schedule would (any tick, past or future), or split a run
into a start and a finish step that hypothesis interleaves with everything else; export it
(the worker, then the S3 event); take paging cursors. A small model keeps, for the current
share generation, the runs started (ordered by their start) and how each ended, the exports,
and the cursors held. After every step: the Shared Segments tab's lastEvaluation, the
evaluations list and each evaluation, members (and every held cursor), the audience preview
and the exports (list and each one) all agree with the model (API.md "Evaluations",
"Revoking and resharing", "Exports").

Seeding moto costs more than a step, so one seeded world serves every example and each example
starts from empty segments, evaluations and exports tables. SEGSHARE_STATEFUL_EXAMPLES /
_STEPS run it longer (with ``--timeout=0``: pytest-timeout's 300 s cuts a long run); a failure
is reported unshrunk (as in test_sharing_stateful.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import boto3
import pytest
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from moto import mock_aws

from local import template as tpl
from local.events import Pump
from local.resources import create_all
from segshare_core import config
from segshare_core.domain.errors import AlreadyExists, InFlight
from segshare_core.domain.evaluations import Evaluation
from segshare_core.domain.segments import SharedSegment
from segshare_core.store import segments as segment_store
from segshare_core.workflows import evaluate_inline
from tests.integration.conftest import Response, handler_for
from tests.integration.test_evaluate import ADMIN, MATCHED, SEGMENT, SHARED, build
from tests.integration.test_truth import TruthWorld

#: Ticks in the past, now-ish and far in the future: none of them may order or pin anything.
TICKS = ["2020-01-01T00:00:00Z", "2026-11-28T18:00:00Z", "2099-01-01T00:00:00Z"]
RULE = {"all": [{"attribute": "country", "op": "eq", "value": "IE"}]}


@dataclass
class Run:
    evaluation_id: str
    status: str  # RUNNING, SUCCEEDED, FAILED


@dataclass
class Generation:
    """What the model expects of one grant of B's share."""

    runs: list[Run] = field(default_factory=list)  # in the order they started
    ticks: set[str] = field(default_factory=set)
    #: A tick's run holds the share's lease (issue 15 item 3): nothing here releases it (only the
    #: schedule's own steps do), so every later tick of this grant finds it held.
    leased: bool = False
    exports: list[str] = field(default_factory=list)  # oldest first

    def in_service(self) -> str | None:
        succeeded = [r.evaluation_id for r in self.runs if r.status == "SUCCEEDED"]
        return succeeded[-1] if succeeded else None


@dataclass
class Pending:
    """A run started and not finished yet: the share as its Lambda read it, and its record."""

    shared: SharedSegment
    running: Evaluation
    generation: Generation


@dataclass
class Held:
    """A paging cursor a client holds: its route, its generation, and (members) its evaluation."""

    route: str
    cursor: str
    generation: Generation
    evaluation_id: str | None


class TruthMachine(RuleBasedStateMachine):
    world: ClassVar[TruthWorld]

    def __init__(self) -> None:
        super().__init__()
        _wipe()
        self.current: Generation | None = None  # None while B's share does not exist
        self.ended: list[Generation] = []
        self.pending: list[Pending] = []
        self.held: list[Held] = []
        self._create_segment()
        # Each example starts shared, so its steps go to runs, exports and paging from the first.
        self.world.sharing(["proj-b"])
        self.current = Generation()

    # ------------------------------------------------------------------ helpers

    def _create_segment(self) -> None:
        created = self.world.share("create_segment", ADMIN, body={"name": "Irish players", "id": SEGMENT, "rule": RULE})
        assert created.status == 201, created.json

    def _end(self) -> None:
        if self.current is not None:
            self.ended.append(self.current)
            self.current = None

    def _record_new_runs(self, before: set[str], finished_status: str | None = None) -> None:
        """Runs that appeared in the list since ``before`` (e.g. an export's own evaluation)."""
        assert self.current is not None
        listed = self.world.evaluations(limit="100").json["evaluations"]
        for item in reversed(listed):
            if item["evaluationId"] not in before:
                self.current.runs.append(Run(item["evaluationId"], finished_status or item["status"]))

    def _known(self) -> set[str]:
        return {r.evaluation_id for r in self.current.runs} if self.current else set()

    # ------------------------------------------------------------------ the source side

    @rule()
    def share(self) -> None:
        """Share with B; a grant after a revoke (or on a new segment) starts a new generation."""
        self.world.sharing(["proj-b"])
        if self.current is None:
            self.current = Generation()

    @rule()
    def unshare(self) -> None:
        self.world.sharing([])
        self._end()

    @precondition(lambda self: self.current is not None)
    @rule()
    def reshare(self) -> None:
        """Unshare and share again at once: the same shared segment id, a new generation."""
        self.unshare()
        self.share()

    @rule()
    def force_delete_and_recreate(self) -> None:
        """Delete A's segment with force (revoking the share) and create a new one under the same id."""
        deleted = self.world.share("delete_segment", ADMIN, query={"force": "true"})
        assert deleted.status == 204, deleted.json
        self._end()
        self._create_segment()

    # ------------------------------------------------------------------ evaluations

    @precondition(lambda self: self.current is not None)
    @rule()
    def evaluate_now(self) -> None:
        """A manual evaluation through the handler: it starts after every run before it."""
        assert self.current is not None
        done = self.world.evaluate()
        assert done.status == 201, done.json
        assert done.json["status"] == "SUCCEEDED", done.json
        self._started(done.json["evaluationId"])
        self.current.runs.append(Run(done.json["evaluationId"], "SUCCEEDED"))

    def _started(self, evaluation_id: str) -> None:
        # API.md: evaluations are ordered by startedAt; a run started now sorts after every earlier one.
        assert self.current is not None
        assert all(evaluation_id > r.evaluation_id for r in self.current.runs), (evaluation_id, self.current.runs)

    @precondition(lambda self: self.current is not None and len(self.pending) < 3)
    @rule(tick=st.one_of(st.none(), st.sampled_from(TICKS)))
    def start_a_run(self, tick: str | None) -> None:
        """A run begins (by hand, or for a schedule tick) and is left running."""
        assert self.current is not None
        shared = segment_store.get_shared_in("acme", "proj-b", SHARED)
        assert shared is not None
        try:
            running = evaluate_inline.begin("acme", shared, "manual" if tick is None else "schedule", tick=tick)
        except AlreadyExists:
            # A tick evaluates a share (generation) once.
            assert tick in self.current.ticks
            return
        except InFlight:
            # Another tick's run of this grant still holds the lease: ticks never overlap on a share.
            assert tick not in self.current.ticks
            assert self.current.leased
            return
        assert tick not in self.current.ticks
        if tick is not None:
            assert not self.current.leased, "a second tick ran while an earlier tick's run held the lease"
            self.current.ticks.add(tick)
            self.current.leased = True
        self._started(running.evaluation_id)
        self.current.runs.append(Run(running.evaluation_id, "RUNNING"))
        self.pending.append(Pending(shared, running, self.current))

    @precondition(lambda self: self.pending)
    @rule(data=st.data())
    def finish_a_run(self, data: st.DataObject) -> None:
        """One of the started runs finishes, in any order: it commits only while its share is current."""
        run = self.pending.pop(data.draw(st.integers(0, len(self.pending) - 1), label="which run"))
        done = evaluate_inline.finish("acme", run.shared, run.running)
        model = next(r for r in run.generation.runs if r.evaluation_id == run.running.evaluation_id)
        if run.generation is self.current:
            assert done.status == "SUCCEEDED", done
        else:
            assert done.status == "FAILED", done
        model.status = done.status

    # ------------------------------------------------------------------ exports

    @precondition(lambda self: self.current is not None)
    @rule()
    def export(self) -> None:
        """An export: the worker evaluates afresh (trigger export), the S3 event makes it READY."""
        assert self.current is not None and self.world.pump is not None
        before = self._known()
        export_id = self.world.start_export()
        self.world.pump.drain()
        self.current.exports.append(export_id)
        self._record_new_runs(before)
        assert self.current.runs[-1].status == "SUCCEEDED"

    # ------------------------------------------------------------------ paging

    @precondition(lambda self: self.current is not None and self.current.in_service() is not None)
    @rule()
    def take_a_members_cursor(self) -> None:
        assert self.current is not None
        page = self.world.members(limit="1")
        assert page.status == 200, page.json
        self.held.append(Held("members", page.json["nextCursor"], self.current, page.json["evaluationId"]))

    @precondition(lambda self: self.current is not None and len(self.current.runs) >= 2)
    @rule()
    def take_an_evaluations_cursor(self) -> None:
        assert self.current is not None
        page = self.world.evaluations(limit="1")
        assert page.status == 200, page.json
        self.held.append(Held("evaluations", page.json["nextCursor"], self.current, None))

    # ------------------------------------------------------------------ invariants

    @invariant()
    def every_view_tells_the_same_story(self) -> None:
        w = self.world
        tab = w.shared_tab()
        current = self.current
        if current is None:
            # The share ended: everything derived from it answers 404 in the target (API.md)
            assert SHARED not in tab
            for response in (w.evaluations(), w.members(), w.preview({"segmentIds": [SHARED]}), w.list_exports()):
                assert _code(response) == (404, "NOT_FOUND"), response.json
        else:
            serving = current.in_service()
            # The shared segment's lastEvaluation is the result in service
            last = tab[SHARED]["lastEvaluation"]
            assert (last["evaluationId"] if last else None) == serving
            if last:
                assert last["status"] == "SUCCEEDED"
            # The evaluations list is this generation's runs, latest start first, each as the model says
            listed = w.evaluations(limit="100").json["evaluations"]
            assert [(e["evaluationId"], e["status"]) for e in listed] == [(r.evaluation_id, r.status) for r in reversed(current.runs)]
            started = [e["startedAt"] for e in listed]
            assert started == sorted(started, reverse=True)
            # Members and the preview come from the result in service, or say there is none
            members, preview = w.members(limit="1000"), w.preview({"segmentIds": [SHARED]})
            if serving is None:
                assert _code(members) == (409, "NOT_EVALUATED")
                assert _code(preview) == (409, "NOT_EVALUATED")
            else:
                assert members.status == 200, members.json
                assert members.json["evaluationId"] == serving
                assert [m["profileId"] for m in members.json["members"]] == MATCHED
                assert preview.json["count"] == len(MATCHED)
            # The exports are this generation's, newest first, READY with a link
            exports = w.list_exports(limit="100").json["exports"]
            assert [e["exportId"] for e in exports] == current.exports[::-1]
            assert all(e["status"] == "READY" for e in exports)
            for export_id in current.exports[-1:]:
                one = w.get_export(export_id)
                assert one.status == 200 and one.json["downloadUrl"], one.json
        # Nothing of an ended generation is served: its evaluations and exports are 404, no link issued
        for gone in self.ended[-2:]:
            for run in gone.runs[-1:]:
                if current is not None:
                    assert _code(w.evaluation(run.evaluation_id)) == (404, "NOT_FOUND")
            for export_id in gone.exports[-1:]:
                assert _code(w.get_export(export_id)) == (404, "NOT_FOUND")

    @invariant()
    def held_cursors_page_only_within_their_generation(self) -> None:
        for held in self.held[-3:]:
            if held.route == "members":
                response = self.world.members(limit="1", cursor=held.cursor)
            else:
                response = self.world.evaluations(limit="1", cursor=held.cursor)
            if held.generation is self.current:
                assert response.status == 200, response.json
                if held.evaluation_id is not None:
                    assert response.json["evaluationId"] == held.evaluation_id
            else:
                assert _code(response) == (404, "NOT_FOUND")


def _code(response: Response) -> tuple[int, str | None]:
    return response.status, response.code


def _wipe() -> None:
    """Empty the segments, evaluations and exports tables; the directory and profiles stay."""
    client = boto3.client("dynamodb")
    for table in (config.SEGMENTS_TABLE, config.EVALUATIONS_TABLE, config.EXPORTS_TABLE):
        pages = client.get_paginator("scan").paginate(TableName=table, ProjectionExpression="pk, sk")
        keys = [item for page in pages for item in page["Items"]]
        for start in range(0, len(keys), 25):
            client.batch_write_item(RequestItems={table: [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]})


@pytest.fixture(scope="module")
def seeded() -> Iterator[TruthWorld]:
    names = {"evaluate": "EvaluateFunction", "share": "ShareFunction", "directory": "DirectoryFunction", "export": "ExportFunction"}
    with mock_aws():
        create_all(tpl.load())
        handlers: dict[str, Callable[[dict[str, Any]], Response]] = {short: handler_for(n) for short, n in names.items()}
        world = TruthWorld(handlers)
        build(world)
        world.pump = Pump(tpl.load())
        yield world


def test_truth_state_machine(seeded: TruthWorld) -> None:
    TruthMachine.world = seeded
    run_state_machine_as_test(
        TruthMachine,
        settings=settings(
            max_examples=int(os.environ.get("SEGSHARE_STATEFUL_EXAMPLES", "6")),
            stateful_step_count=int(os.environ.get("SEGSHARE_STATEFUL_STEPS", "15")),
            deadline=None,
            # A replay costs seconds here, so shrinking would outlast the test timeout; a failure
            # reports the sequence as found (at most stateful_step_count steps).
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
        ),
    )
