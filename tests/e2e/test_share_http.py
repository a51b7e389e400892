"""The seed's sharing story over HTTP against the local stack with its demo data."""

from __future__ import annotations

import pytest

from local import demo
from tests.support.http import fresh_id
from tests.support.stacks import LocalStack

pytestmark = pytest.mark.e2e


def ticked(sharing: dict[str, object]) -> dict[str, bool]:
    return {p["projectId"]: p["shared"] for p in sharing["projects"]}  # type: ignore[attr-defined, index]


def test_seed_story_sharing_tab(stack: LocalStack) -> None:
    company_admin, admin_ab = demo.COMPANY_ADMIN.token(), demo.ADMIN_AB.token()
    segment = fresh_id("s-high-level")
    sharing = f"/v1/projects/proj-a/segments/{segment}/sharing"

    # Given a segment of Alpha Quest (A) that the company admin shares with C and D
    created = stack.call(
        "POST",
        "/v1/projects/proj-a/segments",
        company_admin,
        {"id": segment, "name": segment, "rule": {"all": [{"attribute": "level", "op": "gte", "value": 40}]}},
    )
    assert created.status_code == 201, created.text
    saved = stack.call("PUT", sharing, company_admin, {"projectIds": ["proj-c", "proj-d"]})
    assert saved.status_code == 200
    assert ticked(saved.json()) == {"proj-b": False, "proj-c": True, "proj-d": True}

    # When the project admin of A and B opens the Sharing tab
    tab = stack.call("GET", sharing, admin_ab).json()

    # Then it sees only B, unticked, and that 2 other projects have the segment
    assert ticked(tab) == {"proj-b": False}
    assert tab["hiddenSharedCount"] == 2

    # When it ticks B and saves
    mine = stack.call("PUT", sharing, admin_ab, {"projectIds": ["proj-b"], "version": tab["version"]})
    assert mine.status_code == 200, mine.text

    # Then the company admin sees B, C and D all shared: the hidden shares were kept
    everything = stack.call("GET", sharing, company_admin).json()
    assert ticked(everything) == {"proj-b": True, "proj-c": True, "proj-d": True}
    assert everything["hiddenSharedCount"] == 0

    # And B lists the shared segment once, with only its name and source, nothing of A's data
    b_segments = stack.call("GET", "/v1/projects/proj-b/segments", demo.ADMIN_B.token()).json()["segments"]
    shared = [s for s in b_segments if s["origin"] == "shared" and s["name"] == segment]
    assert len(shared) == 1
    assert set(shared[0]) == {"segmentId", "projectId", "name", "origin", "sourceProjectId", "sourceProjectName", "sharedAt"}
    assert shared[0]["sourceProjectName"] == "Alpha Quest"

    # And the history shows the project admin's save without naming what it cannot see
    history = stack.call("GET", f"{sharing}/history", admin_ab).json()["history"]
    assert [(h["added"], h["hiddenAdded"]) for h in history] == [(["proj-b"], 0), ([], 2)]
