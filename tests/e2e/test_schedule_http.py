"""The local stack starts the scheduled state machine on its timer; its runs show up as evaluations."""

from __future__ import annotations

import time

import pytest

from local import demo
from tests.e2e.conftest import start_stack, stop_stack

pytestmark = pytest.mark.e2e


def test_timer_runs_record_schedule_evaluations_for_every_live_share() -> None:
    stack = start_stack(demo=True, extra_env={"SEGSHARE_SCHEDULE_SECONDS": "2"})
    try:
        admin = demo.COMPANY_ADMIN.token()
        # Given a segment of A shared with B and D
        body = {"id": "s-sched", "name": "Scheduled", "rule": {"any": [{"platform": "ios"}]}}
        assert stack.call("POST", "/v1/projects/proj-a/segments", admin, body).status_code == 201
        assert (
            stack.call("PUT", "/v1/projects/proj-a/segments/s-sched/sharing", admin, {"projectIds": ["proj-b", "proj-d"]}).status_code
            == 200
        )
        shared = {
            pid: stack.call("GET", f"/v1/projects/{pid}/shared-segments", admin).json()["sharedSegments"][0]["sharedSegmentId"]
            for pid in ("proj-b", "proj-d")
        }

        # When the timer has fired a few times
        found: dict[str, list[dict[str, object]]] = {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            found = {
                pid: stack.call("GET", f"/v1/projects/{pid}/shared-segments/{sid}/evaluations", admin).json()["evaluations"]
                for pid, sid in shared.items()
            }
            if all(any(e["trigger"] == "schedule" and e["status"] == "SUCCEEDED" for e in evs) for evs in found.values()):
                break
            time.sleep(1)

        # Then each live share has a succeeded evaluation with trigger "schedule"
        for pid, evaluations in found.items():
            assert any(e["trigger"] == "schedule" and e["status"] == "SUCCEEDED" for e in evaluations), (pid, evaluations)
    finally:
        assert stop_stack(stack) == 0
