"""The local stack starts the scheduled state machine on its timer; its runs show up as evaluations.

Its own stack: a 2 s timer on the shared stack would add scheduled evaluations to every other
test's shared segments.
"""

from __future__ import annotations

from typing import Any

import pytest

from local import demo
from tests.support.http import ok, share_segment
from tests.support.stacks import running_stack
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


def test_timer_runs_record_schedule_evaluations_for_every_live_share() -> None:
    with running_stack(demo=True, extra_env={"SEGSHARE_SCHEDULE_SECONDS": "2"}) as stack:
        admin = demo.COMPANY_ADMIN.token()
        # Given a segment of A shared with B and D
        segment = {"id": "s-sched", "name": "Scheduled", "rule": {"any": [{"platform": "ios"}]}}
        shared = share_segment(stack, admin, "proj-a", segment, ["proj-b", "proj-d"])

        def evaluations() -> dict[str, list[dict[str, Any]]]:
            return {
                pid: ok(stack.call("GET", f"/v1/projects/{pid}/shared-segments/{sid}/evaluations", admin))["evaluations"]
                for pid, sid in shared.items()
            }

        def scheduled(evaluations: list[dict[str, Any]]) -> bool:
            return any(e["trigger"] == "schedule" and e["status"] == "SUCCEEDED" for e in evaluations)

        # Then, once the timer has fired a few times, each live share has a succeeded evaluation with trigger "schedule"
        wait_for(evaluations, lambda found: all(map(scheduled, found.values())), 90, "a scheduled evaluation of each share", every=1)
