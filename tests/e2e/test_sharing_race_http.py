"""Two admins with different reach save the Sharing tab at the same moment, over HTTP, round after round.

The company admin sees B, C and D; the project admin of A and B sees only B, so C and D are
hidden from it. Each round both save at once (released together by a barrier, each on its
own connection): the company admin ticks a fresh choice of B, C and D, the project admin
ticks B or nothing. A save replaces the shares the caller can see and keeps the ones it
cannot, so whichever order the two land in:

- C and D are exactly what the company admin chose (the project admin's save never loses them);
- B is one of the two choices;
- the targets' Shared Segments tabs agree with the source; and
- the version moved by exactly one per accepted save (API.md: every accepted save, even one
  that changes no share), with one history line each.

Each save goes from several clients at once. Half the rounds send the version each read; then
exactly one save wins, every other is 409 VERSION_CONFLICT, and the state is exactly the winner's. The local stack gives
this as DynamoDB does (API.md, Local stack); moto alone lost answered saves and let two
conditioned saves both win.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from local import demo
from tests.support.http import fresh_id, send_together
from tests.support.stacks import LocalStack

pytestmark = pytest.mark.e2e

ROUNDS = 30
#: Segments beside the raced one, as a busy project has: moto copied the whole table for each
#: transaction, and the longer that copy, the wider the window in which it lost a save.
OTHER_SEGMENTS = 300
#: Clients (company admin's, project admin's) sending the same save in a versioned round: a
#: version conflict is final, so the crowd costs no retries.
VERSIONED_COPIES = (10, 10)
#: The same for a round without version. A save that lost a race is retried on fresh state,
#: and it can lose only to each other save's commit once, so with at most SAVE_ATTEMPTS (5)
#: savers every one of them lands on a stack that is as serialisable as DynamoDB.
UNVERSIONED_COPIES = (3, 2)
CA_REACH = ("proj-b", "proj-c", "proj-d")


def shared_set(view: dict[str, Any]) -> set[str]:
    return {p["projectId"] for p in view["projects"] if p["shared"]}


def shared_in(stack: LocalStack, token: str, project: str, name: str) -> bool:
    """Whether the target's Shared Segments tab lists A's segment `name`."""
    listed = stack.call("GET", f"/v1/projects/{project}/shared-segments", token)
    assert listed.status_code == 200, listed.text
    return any(s["sourceProjectId"] == "proj-a" and s["name"] == name for s in listed.json()["sharedSegments"])


def test_concurrent_saves_by_admins_of_different_reach_never_lose_a_hidden_share(stack: LocalStack) -> None:
    company_admin, admin_ab = demo.COMPANY_ADMIN.token(), demo.ADMIN_AB.token()
    call = stack.call
    segment = fresh_id("s-race-sharing")
    sharing = f"/v1/projects/proj-a/segments/{segment}/sharing"
    created = call("POST", "/v1/projects/proj-a/segments", company_admin, {"id": segment, "name": segment, "profileIds": ["a-user-0001"]})
    assert created.status_code == 201, created.text
    others = fresh_id("s-race-other")
    for n in range(OTHER_SEGMENTS):
        other = {"id": f"{others}-{n:03d}", "name": f"Other {n}", "profileIds": [f"a-user-{m:04d}" for m in range(1, 21)]}
        assert call("POST", "/v1/projects/proj-a/segments", company_admin, other).status_code == 201
    rng = random.Random(20261128)
    state: set[str] = set()
    version = 0
    accepted_saves = 0

    for round_no in range(ROUNDS):
        versioned = round_no % 2 == 1
        # The company admin always changes C or D, so a save built on a stale read would show.
        while True:
            ca_wants = {p for p in CA_REACH if rng.random() < 0.5}
            if ca_wants & {"proj-c", "proj-d"} != state & {"proj-c", "proj-d"}:
                break
        ab_wants = {"proj-b"} if rng.random() < 0.5 else set()
        ca_body: dict[str, Any] = {"projectIds": sorted(ca_wants)}
        ab_body: dict[str, Any] = {"projectIds": sorted(ab_wants)}
        if versioned:
            ca_body["version"] = ab_body["version"] = version

        # Each save goes from several clients at once: more transactions cancelled by a
        # concurrent one, more chances for moto to lose a save or let two conditioned saves win.
        ca_copies, ab_copies = VERSIONED_COPIES if versioned else UNVERSIONED_COPIES
        saves = [("PUT", sharing, company_admin, ca_body)] * ca_copies + [("PUT", sharing, admin_ab, ab_body)] * ab_copies
        answers = send_together(stack, saves)
        ca_statuses = [r.status_code for r in answers[:ca_copies]]
        ab_statuses = [r.status_code for r in answers[ca_copies:]]

        # What each save would make of the state it applied to.
        ca_result = set(ca_wants)
        after_ca_then_ab = (ca_result - {"proj-b"}) | ab_wants
        after_ab_then_ca = ca_result
        ab_alone = (state - {"proj-b"}) | ab_wants
        view = call("GET", sharing, company_admin).json()
        now = shared_set(view)
        context = (round_no, versioned, sorted(state), sorted(ca_wants), sorted(ab_wants), ca_statuses, ab_statuses, sorted(now))
        accepted = (ca_statuses + ab_statuses).count(200)
        if versioned:
            # All read the same version, so exactly one save wins and every other is a conflict.
            assert accepted == 1, (context, [r.text for r in answers])
            for loser in answers:
                if loser.status_code != 200:
                    assert loser.status_code == 409, (context, loser.text)
                    assert loser.json()["error"]["code"] == "VERSION_CONFLICT", loser.text
            assert now == (ca_result if 200 in ca_statuses else ab_alone), context
        else:
            assert ca_statuses + ab_statuses == [200] * (ca_copies + ab_copies), (context, [r.text for r in answers])
            assert now in (after_ca_then_ab, after_ab_then_ca), context

        # No hidden share is ever lost: C and D are the company admin's choice whenever its save landed.
        if 200 in ca_statuses:
            assert now & {"proj-c", "proj-d"} == ca_wants & {"proj-c", "proj-d"}, context
        # The project admin's own view agrees and counts what it cannot see.
        ab_view = call("GET", sharing, admin_ab).json()
        assert shared_set(ab_view) == now & {"proj-b"}, context
        assert ab_view["hiddenSharedCount"] == len(now - {"proj-b"}), context
        # Every target agrees with the source.
        for project in CA_REACH:
            assert shared_in(stack, company_admin, project, segment) == (project in now), (context, project)
        # Every accepted save moves the version by one (API.md; even one that changes no share).
        assert view["version"] == version + accepted, context
        version = view["version"]
        accepted_saves += accepted
        state = now

    history: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = call("GET", f"{sharing}/history?limit=100" + (f"&cursor={cursor}" if cursor else ""), company_admin).json()
        history.extend(page["history"])
        cursor = page["nextCursor"]
        if not cursor:
            break
    # One history line per accepted save, and the version counts them from 0.
    assert len(history) == accepted_saves == version
    # Replaying the history from nothing gives the final state: no save went unrecorded.
    replayed: set[str] = set()
    for line in reversed(history):
        assert line["hiddenAdded"] == line["hiddenRemoved"] == 0  # the company admin sees every project
        replayed = (replayed - set(line["removed"])) | set(line["added"])
    assert replayed == state
