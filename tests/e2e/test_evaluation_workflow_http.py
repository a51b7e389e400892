"""POST evaluations over HTTP: 201 in the request, or 202 RUNNING and the workflow finishes it (issue 14)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.tokens import mint
from tests.e2e.conftest import OPERATOR_TOKEN, LocalStack, start_stack, stop_stack

pytestmark = pytest.mark.e2e

ADMIN = mint("e2e-workflow-admin")
SHARED_IOS = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
#: The target profiles holding a device of a source member (the brute force, worked by hand).
EXPECTED = ["b-1", "b-3"]


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text[:500])
    return response.json()


def _seed(stack: LocalStack) -> str:
    """A company, proj-a's segment "country IE" shared with proj-b; the shared segment's id."""
    call = stack.call
    ok(call("POST", "/v1/companies", OPERATOR_TOKEN, {"id": "wf", "name": "Workflow", "sharedSegmentsEnabled": True}), 201)
    ok(call("PUT", "/v1/companies/wf/users/e2e-workflow-admin", OPERATOR_TOKEN, {"role": "company_admin"}))
    for pid in ("proj-a", "proj-b"):
        ok(call("POST", "/v1/companies/wf/projects", ADMIN, {"id": pid, "name": pid}), 201)
    source = [
        {"profileId": "a-1", "attributes": {"country": "IE"}, "devices": [{"platform": "ios", "id": SHARED_IOS}]},
        {"profileId": "a-2", "attributes": {"country": "IE"}, "devices": [{"platform": "android", "id": "abc1"}]},
        {"profileId": "a-3", "attributes": {"country": "FR"}, "devices": [{"platform": "android", "id": "f00d"}]},
    ]
    target = [
        {"profileId": "b-1", "attributes": {}, "devices": [{"platform": "ios", "id": SHARED_IOS.lower()}]},
        {"profileId": "b-2", "attributes": {}, "devices": [{"platform": "android", "id": "f00d"}]},
        {"profileId": "b-3", "attributes": {}, "devices": [{"platform": "android", "id": "ABC1"}, {"platform": "android", "id": "1"}]},
    ]
    ok(call("PUT", "/v1/projects/proj-a/profiles", ADMIN, {"profiles": source}))
    ok(call("PUT", "/v1/projects/proj-b/profiles", ADMIN, {"profiles": target}))
    rule = {"all": [{"attribute": "country", "op": "eq", "value": "IE"}]}
    ok(call("POST", "/v1/projects/proj-a/segments", ADMIN, {"id": "s-ie", "name": "Irish", "rule": rule}), 201)
    ok(call("PUT", "/v1/projects/proj-a/segments/s-ie/sharing", ADMIN, {"projectIds": ["proj-b"]}))
    return str(ok(call("GET", "/v1/projects/proj-b/shared-segments", ADMIN))["sharedSegments"][0]["sharedSegmentId"])


@pytest.fixture(params=["201", "202"])
def seeded(request: pytest.FixtureRequest) -> Iterator[tuple[str, LocalStack, str]]:
    """A stack whose cost-model threshold keeps this tiny evaluation in the request (201) or hands it off (202)."""
    threshold = "1000" if request.param == "201" else "0"
    stack = start_stack(demo=False, extra_env={"EVALUATION_INLINE_SECONDS": threshold})
    try:
        yield request.param, stack, _seed(stack)
    finally:
        assert stop_stack(stack) == 0


def test_an_evaluation_answers_201_finished_or_202_running_and_ends_with_the_same_members(seeded: tuple[str, LocalStack, str]) -> None:
    path, stack, shared_id = seeded
    base = f"/v1/projects/proj-b/shared-segments/{shared_id}"
    # When B evaluates the shared segment
    answer = stack.call("POST", f"{base}/evaluations", ADMIN)
    # Then a small one is finished in the request (201); one handed off answers RUNNING at once (202)
    assert answer.status_code == int(path), (answer.status_code, answer.text[:500])
    created = answer.json()
    assert created["status"] == ("SUCCEEDED" if path == "201" else "RUNNING")
    assert created["trigger"] == "manual"
    # And polling it, it ends SUCCEEDED with the brute force's members and B's own counts
    deadline = time.monotonic() + 120
    found = created
    while found["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.5)
        found = ok(stack.call("GET", f"{base}/evaluations/{created['evaluationId']}", ADMIN))
    assert found["status"] == "SUCCEEDED", found
    assert (found["targetProfiles"], found["matchedProfiles"], found["matchedDevices"]) == (3, 2, 2)
    assert found["matchedByPlatform"] == {"ios": 1, "android": 1}
    members = ok(stack.call("GET", f"{base}/members", ADMIN))
    assert members["evaluationId"] == created["evaluationId"]
    assert [m["profileId"] for m in members["members"]] == EXPECTED
