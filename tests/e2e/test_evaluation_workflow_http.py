"""POST evaluations over HTTP: 201 in the request, or 202 RUNNING and the workflow finishes it (issue 14)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local import template as tpl
from local.stack import MOTO_ITEMS_PER_SECOND
from local.tokens import mint
from segshare_core.domain import scale
from tests.support.http import fresh_id, new_company, ok, seed_irish_share, share_segment
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


def test_the_local_stack_predicts_at_motos_speed_and_hands_off_what_moto_would_not_finish() -> None:
    # Given a threshold between what the cost model predicts for a 200 x 200 share at AWS's read
    # rate and at moto's (the stack's MOTO_ITEMS_PER_SECOND): AWS would keep it in the request
    shards = int(tpl.environment(tpl.load())["DEVICE_INDEX_SHARDS"])
    aws = scale.predict_in_request(200, 200, 200, shards=shards)
    on_moto = scale.predict_in_request(200, 200, 200, shards=shards, items_per_second=MOTO_ITEMS_PER_SECOND)
    threshold = (aws.seconds + on_moto.seconds) / 2
    assert aws.seconds < threshold < on_moto.seconds
    with running_stack(demo=False, extra_env={"EVALUATION_INLINE_SECONDS": f"{threshold:.6f}"}) as stack:
        company, source, target = fresh_id("rate"), fresh_id("rate-a"), fresh_id("rate-b")
        admin = new_company(stack, "e2e-rate-admin", company, [(source, source), (target, target)])
        for project in (source, target):
            # 200 profiles of one Android device each, the same devices on both sides: 200 index entries a project
            people = [
                {"profileId": f"p-{n:03d}", "attributes": {"level": n}, "devices": [{"platform": "android", "id": f"a{n:015x}"}]}
                for n in range(200)
            ]
            ok(stack.call("PUT", f"/v1/projects/{project}/profiles", admin, {"profiles": people}))
        segment = {"id": "s-all", "name": "Everyone", "rule": {"all": [{"attribute": "level", "op": "gte", "value": 0}]}}
        shared_id = share_segment(stack, admin, source, segment, [target])[target]
        base = f"/v1/projects/{target}/shared-segments/{shared_id}"
        # When the target evaluates it on the local stack
        answer = stack.call("POST", f"{base}/evaluations", admin)
        # Then the stack's own (slower) rate hands it to the workflow, which finishes it with every profile
        assert answer.status_code == 202, (answer.status_code, answer.text[:300])
        found = wait_for(
            lambda: ok(stack.call("GET", f"{base}/evaluations/{answer.json()['evaluationId']}", admin)),
            lambda evaluation: evaluation["status"] != "RUNNING",
            120,
            "the evaluation to finish",
        )
        assert (found["status"], found["matchedProfiles"]) == ("SUCCEEDED", 200), found
