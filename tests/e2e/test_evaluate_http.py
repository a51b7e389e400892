"""The seed's shared-segment story over HTTP, from A's segment to B's evaluation, members and message preview.

Against the local stack with its demo data: the company admin shares a segment of Alpha Quest
(A) with Beta Racer (B); B's project admin evaluates it, reads its members and previews
"Hi {{first_name}}". A pair of profiles made here, one in A with a first_name and one in B
without, sharing one device, is the seed's example: the B profile renders "Hi ".
"""

from __future__ import annotations

from typing import Any

import pytest

from local import demo
from tests.support.http import fresh_id, ok, profile_ids
from tests.support.stacks import LocalStack

pytestmark = pytest.mark.e2e

SHARED_DEVICE = "5D2C0A51-7B19-4E0B-9C7E-3F6A2B8D1E04"
A_FIRST_NAME = "Alphonsine"


def test_seed_story_evaluate_members_and_preview(stack: LocalStack) -> None:
    company_admin, admin_b, admin_ab = demo.COMPANY_ADMIN.token(), demo.ADMIN_B.token(), demo.ADMIN_AB.token()
    call = stack.call
    segment, cohort, a_profile_id = fresh_id("s-eval-seed"), fresh_id("seed"), fresh_id("e2e-seed-alpha")
    b_profile_id = fresh_id("aa-e2e-seed-beta")  # sorts before the demo's b-user-NNNN, so it is in the first sample page

    # Given a profile in A with a first_name and one in B without, holding the same IDFV (other case in B)
    a_profile = {
        "profileId": a_profile_id,
        "attributes": {"first_name": A_FIRST_NAME, "cohort": cohort},
        "devices": [{"platform": "ios", "id": SHARED_DEVICE}],
    }
    b_profile = {
        "profileId": b_profile_id,
        "attributes": {"country": "IE"},
        "devices": [{"platform": "ios", "id": SHARED_DEVICE.lower()}, {"platform": "android", "id": "00fe11ed5eed"}],
    }
    assert ok(call("PUT", "/v1/projects/proj-a/profiles", company_admin, {"profiles": [a_profile]}))["upserted"] == 1
    assert ok(call("PUT", "/v1/projects/proj-b/profiles", admin_b, {"profiles": [b_profile]}))["upserted"] == 1
    # And A's segment (that profile, and the demo's high-level players) shared with B by the company admin
    rule = {"any": [{"attribute": "cohort", "op": "eq", "value": cohort}, {"attribute": "level", "op": "gte", "value": 45}]}
    ok(call("POST", "/v1/projects/proj-a/segments", company_admin, {"id": segment, "name": segment, "rule": rule}), 201)
    ok(call("PUT", f"/v1/projects/proj-a/segments/{segment}/sharing", company_admin, {"projectIds": ["proj-b"]}))
    # And B's profiles as they are now (other tests on this stack add some): the evaluation's target
    b_profiles = profile_ids(stack, admin_b, "proj-b")

    # When B's project admin opens its Shared Segments tab
    tab = ok(call("GET", "/v1/projects/proj-b/shared-segments", admin_b))["sharedSegments"]
    mine = [s for s in tab if s["sourceProjectId"] == "proj-a" and s["name"] == segment]
    assert len(mine) == 1, tab
    shared_id = mine[0]["sharedSegmentId"]
    base = f"/v1/projects/proj-b/shared-segments/{shared_id}"
    # Then it is not evaluated yet: no last evaluation, members 409
    assert mine[0]["lastEvaluation"] is None
    not_yet = call("GET", f"{base}/members", admin_b)
    assert not_yet.status_code == 409
    assert not_yet.json()["error"]["code"] == "NOT_EVALUATED"

    # When it evaluates the shared segment
    done = ok(call("POST", f"{base}/evaluations", admin_b), 201)
    # Then the evaluation is finished, manual, with B's own counts only
    assert set(done) == {
        "evaluationId",
        "sharedSegmentId",
        "trigger",
        "status",
        "startedAt",
        "finishedAt",
        "durationMs",
        "targetProfiles",
        "matchedProfiles",
        "matchedDevices",
        "matchedByPlatform",
    }
    assert (done["sharedSegmentId"], done["trigger"], done["status"]) == (shared_id, "manual", "SUCCEEDED")
    assert done["targetProfiles"] == len(b_profiles)
    assert 1 <= done["matchedProfiles"] <= done["targetProfiles"]
    assert done["matchedDevices"] == sum(done["matchedByPlatform"].values())
    assert set(done["matchedByPlatform"]) == {"ios", "android"}
    # And it reads back, lists first, and shows as the tab's last evaluation
    assert ok(call("GET", f"{base}/evaluations/{done['evaluationId']}", admin_b)) == done
    listed = ok(call("GET", f"{base}/evaluations", admin_b))
    assert [e["evaluationId"] for e in listed["evaluations"]] == [done["evaluationId"]]
    assert ok(call("GET", f"/v1/projects/proj-b/shared-segments/{shared_id}", admin_b))["lastEvaluation"] == done

    # When it pages through the members
    members: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = ok(call("GET", f"{base}/members", admin_b, params={"limit": 25, **({"cursor": cursor} if cursor else {})}))
        assert page["evaluationId"] == done["evaluationId"]
        members.extend(page["members"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    # Then they are the matched B profiles, once each, with B's own attributes
    ids = [m["profileId"] for m in members]
    assert len(ids) == len(set(ids)) == done["matchedProfiles"]
    assert set(ids) <= b_profiles
    by_id = {m["profileId"]: m["attributes"] for m in members}
    assert by_id[b_profile_id] == {"country": "IE"}
    # And a forged cursor is refused
    forged = call("GET", f"{base}/members", admin_b, params={"cursor": "bm90LWEtY3Vyc29y"})
    assert forged.status_code == 400
    assert forged.json()["error"]["code"] == "INVALID_CURSOR"

    # When it previews "Hi {{first_name}}" over the shared segment
    preview = ok(
        call(
            "POST",
            "/v1/projects/proj-b/audiences/preview",
            admin_b,
            {"segmentIds": [shared_id], "match": "all", "template": "Hi {{first_name}}", "limit": 100},
        )
    )
    # Then the audience is the members, and the pair's B profile renders blank: A's first_name does not cross
    assert preview["count"] == done["matchedProfiles"]
    sample = {s["profileId"]: s["message"] for s in preview["sample"]}
    assert len(sample) == min(100, done["matchedProfiles"])
    assert sample[b_profile_id] == "Hi "
    assert all(message == f"Hi {by_id[pid].get('first_name', '')}" for pid, message in sample.items())
    assert any(message == "Hi " for pid, message in sample.items() if pid != b_profile_id), "a demo profile without first_name"

    # And the A side is as it was: the project admin of A and B sees A's first name there, B's admin cannot see A
    assert ok(call("GET", f"/v1/projects/proj-a/profiles/{a_profile_id}", admin_ab))["attributes"]["first_name"] == A_FIRST_NAME
    hidden = call("GET", f"/v1/projects/proj-a/profiles/{a_profile_id}", admin_b)
    assert hidden.status_code == 404
    assert set(hidden.json()) == {"error"}

    # And no target-side body carried anything of A's profiles
    bodies = [str(x) for x in (tab, done, listed, members, preview)]
    for body in bodies:
        assert A_FIRST_NAME not in body
        assert a_profile_id not in body
        assert "a-user-" not in body
