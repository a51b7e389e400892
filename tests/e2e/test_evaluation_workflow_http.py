"""POST evaluations over HTTP: 201 in the request, or 202 RUNNING and the workflow finishes it (issue 14)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.tokens import mint
from tests.support.http import fresh_id, ok, seed_irish_share
from tests.support.stacks import LocalStack, running_stack
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

ADMIN = mint("e2e-workflow-admin")
#: The target profiles holding a device of a source member (the brute force, worked by hand).
EXPECTED = ["b-1", "b-3"]


def _seed(stack: LocalStack) -> tuple[str, str]:
    """A company of its own whose source project's segment "country IE" is shared with its target; (target, shared segment id)."""
    company, source_project, target_project = fresh_id("wf"), fresh_id("wf-a"), fresh_id("wf-b")
    return seed_irish_share(stack, "e2e-workflow-admin", company, ((source_project, source_project), (target_project, target_project)))


@pytest.fixture(params=["201", "202"])
def seeded(request: pytest.FixtureRequest, stack: LocalStack) -> Iterator[tuple[str, LocalStack, str, str]]:
    """The shared stack, whose threshold (5 s) keeps this tiny evaluation in the request (201), or one of threshold 0 (202)."""
    if request.param == "201":
        yield request.param, stack, *_seed(stack)
        return
    with running_stack(demo=False, extra_env={"EVALUATION_INLINE_SECONDS": "0"}) as handing_off:
        yield request.param, handing_off, *_seed(handing_off)


def test_an_evaluation_answers_201_finished_or_202_running_and_ends_with_the_same_members(
    seeded: tuple[str, LocalStack, str, str],
) -> None:
    path, stack, target_project, shared_id = seeded
    base = f"/v1/projects/{target_project}/shared-segments/{shared_id}"
    # When B evaluates the shared segment
    answer = stack.call("POST", f"{base}/evaluations", ADMIN)
    # Then a small one is finished in the request (201); one handed off answers RUNNING at once (202)
    assert answer.status_code == int(path), (answer.status_code, answer.text[:500])
    created = answer.json()
    assert created["status"] == ("SUCCEEDED" if path == "201" else "RUNNING")
    assert created["trigger"] == "manual"
    # And polling it, it ends SUCCEEDED with the brute force's members and B's own counts
    found = wait_for(
        lambda: ok(stack.call("GET", f"{base}/evaluations/{created['evaluationId']}", ADMIN)),
        lambda evaluation: evaluation["status"] != "RUNNING",
        120,
        "the evaluation to finish",
    )
    assert found["status"] == "SUCCEEDED", found
    assert (found["targetProfiles"], found["matchedProfiles"], found["matchedDevices"]) == (3, 2, 2)
    assert found["matchedByPlatform"] == {"ios": 1, "android": 1}
    members = ok(stack.call("GET", f"{base}/members", ADMIN))
    assert members["evaluationId"] == created["evaluationId"]
    assert [m["profileId"] for m in members["members"]] == EXPECTED
