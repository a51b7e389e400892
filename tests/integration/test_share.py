"""Segments, the Sharing tab and shared segments through the share function's lambda_handler inside moto.

Every status and error code of API.md's Segments / Sharing / Shared segments sections. The
company is the seed's (see share_world): acme (feature on) with projects A, B, C, D, a company
admin, a project admin of A and B, one of B only; globex is another company.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from segshare_core.domain import sharing
from segshare_core.store import segments as segment_store
from tests.integration.conftest import OPERATOR, ReadProbe, Response, assert_error
from tests.integration.share_world import (
    ADMIN,
    GLOBEX_ADMIN,
    PAB,
    PB,
    PROJECTS,
    SEGMENT,
    STRANGER,
    World,
    seeded_world,
    sid,
    wipe_segments,
)

SHARED_REF_KEYS = {"segmentId", "projectId", "name", "origin", "sourceProjectId", "sourceProjectName", "sharedAt"}
SHARED_SEGMENT_KEYS = {"sharedSegmentId", "name", "sourceProjectId", "sourceProjectName", "sharedAt", "lastEvaluation"}
SHARING_KEYS = {"segmentId", "version", "projects", "hiddenSharedCount"}


@pytest.fixture(scope="module")
def seeded() -> Iterator[World]:
    with seeded_world() as world:
        yield world


@pytest.fixture
def world(seeded: World) -> Iterator[World]:
    """The seed's directory (see share_world) and no segment at all."""
    wipe_segments()
    yield seeded
    wipe_segments()


@pytest.fixture
def segment(world: World) -> World:
    """The seed's segment s-irish in proj-a, not shared yet."""
    created = world.create()
    assert created.status == 201, created.json
    return world


# ====================================================================== segments


def test_create_rule_segment(world: World) -> None:
    # Given a project admin of proj-a
    # When it creates the rule segment of events/create_segment.json
    response = world.create(PAB)
    # Then it is 201 with the segment, own and not shared
    assert response.status == 201, response.json
    body = response.json
    assert body["segmentId"] == SEGMENT
    assert body["projectId"] == "proj-a"
    assert body["name"] == "Irish players"
    assert body["kind"] == "rule"
    assert body["origin"] == "own"
    assert body["sharedWithCount"] == 0
    assert body["rule"] == {"all": [{"attribute": "country", "op": "eq", "value": "IE"}]}
    assert "profileIds" not in body
    # And it reads back the same
    got = world.get_segment("proj-a", SEGMENT, PAB)
    assert got.status == 200
    assert got.json == body


def test_create_static_segment(world: World) -> None:
    # Given a static list with a duplicate
    # When it is created
    response = world.create(name="VIPs", id="s-vip", profileIds=["u-2", "u-1", "u-2"])
    # Then it is 201, kind static, duplicates dropped, no rule
    assert response.status == 201, response.json
    assert response.json["kind"] == "static"
    assert response.json["origin"] == "own"
    assert response.json["profileIds"] == ["u-2", "u-1"]
    assert "rule" not in response.json


def test_create_without_id_generates_one(world: World) -> None:
    # Given a body without id
    # When created
    response = world.create(name="Everyone Irish", rule={"any": [{"attribute": "country", "op": "eq", "value": "IE"}]})
    # Then the server chose a valid id that reads back
    assert response.status == 201, response.json
    new_id = response.json["segmentId"]
    assert new_id and not new_id.startswith("shared-")
    assert world.get_segment("proj-a", new_id).status == 200


def test_create_existing_id_is_409_already_exists(segment: World) -> None:
    # Given s-irish exists
    # When it is created again (even as a static segment)
    again = segment.create(name="other", id=SEGMENT, profileIds=["u-1"])
    # Then 409 ALREADY_EXISTS and the first one is untouched
    assert_error(again, 409, "ALREADY_EXISTS")
    assert segment.get_segment("proj-a", SEGMENT).json["kind"] == "rule"


BAD_RULES: list[tuple[str, dict[str, Any], str]] = [
    (
        "wrong value type",
        {"all": [{"attribute": "country", "op": "eq", "value": "IE"}, {"any": [{"attribute": "age", "op": "gt", "value": [1]}]}]},
        "rule.all[1].any[0].value",
    ),
    ("unknown op", {"all": [{"attribute": "country", "op": "like", "value": "IE"}]}, "rule.all[0].op"),
    ("op not a string", {"all": [{"attribute": "country", "op": ["eq"], "value": "IE"}]}, "rule.all[0].op"),
    ("empty group", {"all": []}, "rule.all"),
    ("group with two keys", {"all": [{"attribute": "x", "op": "exists"}], "any": [{"attribute": "x", "op": "exists"}]}, "rule"),
    ("top-level condition", {"attribute": "country", "op": "eq", "value": "IE"}, "rule"),
    ("bad platform", {"all": [{"platform": "windows"}]}, "rule.all[0]"),
]


def test_create_with_bad_rule_is_422_naming_the_path(world: World) -> None:
    for case, rule, path in BAD_RULES:
        # Given a rule that is wrong at `path`
        # When a segment is created with it
        response = world.create(name="bad", id="s-bad", rule=rule)
        # Then 422 names the path
        error = assert_error(response, 422, "INVALID_RULE")
        assert error["message"].startswith(f"{path}:"), (case, error["message"])
    # And nothing was created
    assert world.list_segments("proj-a").json == {"segments": []}


def test_create_with_too_deep_or_too_many_conditions_is_422(world: World) -> None:
    # Given a rule nested 9 groups deep and one with 201 conditions
    deep: dict[str, Any] = {"all": [{"attribute": "x", "op": "exists"}]}
    for _ in range(8):
        deep = {"all": [deep]}
    many = {"any": [{"attribute": "x", "op": "exists"}] * 201}
    # When created
    # Then both are 422 naming the path of the bad part
    assert assert_error(world.create(name="deep", rule=deep), 422, "INVALID_RULE")["message"].startswith("rule" + ".all[0]" * 8 + ":")
    assert assert_error(world.create(name="many", rule=many), 422, "INVALID_RULE")["message"].startswith("rule.any[200]:")


def test_create_with_a_huge_integer_is_accepted(world: World) -> None:
    # Given a rule comparing with an integer too large for a float (JSON allows it)
    rule = {"all": [{"attribute": "spend", "op": "gt", "value": 10**30}]}
    # When created, Then it is stored as given rather than crashing
    response = world.create(name="whales", id="s-whales", rule=rule)
    assert response.status == 201, response.json
    assert response.json["rule"] == rule


def test_create_needs_exactly_one_of_rule_and_profile_ids(world: World) -> None:
    rule = {"all": [{"attribute": "a", "op": "exists"}]}
    for body in (
        {"name": "x", "id": "s-x"},
        {"name": "x", "id": "s-x", "rule": rule, "profileIds": ["u-1"]},
        {"name": "x", "id": "s-x", "rule": None, "profileIds": None},
    ):
        # Given a body with both or neither of rule and profileIds
        # When created
        response = world.create(**body)
        # Then 422 naming both fields
        error = assert_error(response, 422, "VALIDATION_ERROR")
        assert "rule" in error["message"]
        assert "profileIds" in error["message"]
    # And nothing was created
    assert world.list_segments("proj-a").json == {"segments": []}


def test_create_with_shared_prefix_is_422(world: World) -> None:
    for segment_id in ("shared-1", "shared-0123456789abcdef01234567"):
        # Given an own id with the prefix reserved for shared segments
        # When created
        response = world.create(name="x", id=segment_id, profileIds=["u-1"])
        # Then 422 naming the id
        error = assert_error(response, 422, "VALIDATION_ERROR")
        assert error["message"].startswith("id"), error["message"]
    assert world.list_segments("proj-a").json == {"segments": []}


MASS_ASSIGNMENT = [
    {"companyId": "globex"},
    {"projectId": "proj-b"},
    {"sharedWith": ["proj-b"]},
    {"version": 7},
    {"shareVersion": 7},
    {"origin": "shared"},
    {"kind": "static"},
    {"sharedWithCount": 3},
    {"createdBy": "u-other"},
]


def test_create_refuses_extra_fields(world: World) -> None:
    for extra in MASS_ASSIGNMENT:
        # Given a create body carrying a field the client may not set (mass assignment)
        body = {"name": "x", "id": "s-x", "rule": {"all": [{"attribute": "a", "op": "exists"}]}, **extra}
        # When created
        response = world.create(**body)
        # Then 422 naming the field
        error = assert_error(response, 422, "VALIDATION_ERROR")
        assert next(iter(extra)) in error["message"], error["message"]
    # And nothing was created anywhere
    assert world.list_segments("proj-a").json == {"segments": []}
    assert world.list_segments("proj-b").json == {"segments": []}


def test_create_with_malformed_body(world: World) -> None:
    for body, status, code in (
        ("{not json", 400, "MALFORMED_JSON"),
        (json.dumps({"name": "", "rule": {"all": [{"attribute": "a", "op": "exists"}]}}), 422, "VALIDATION_ERROR"),
        (json.dumps({"name": "x", "id": "Not An Id", "profileIds": []}), 422, "VALIDATION_ERROR"),
        (json.dumps({"name": "x", "profileIds": ["Bad Id"]}), 422, "VALIDATION_ERROR"),
        ("[]", 422, "VALIDATION_ERROR"),
    ):
        # Given a body that is not JSON, or breaks the schema
        # When created
        response = world.share("create_segment", ADMIN, body=body)
        # Then 400/422 with the error body
        assert_error(response, status, code)
    assert world.list_segments("proj-a").json == {"segments": []}


def test_list_and_get_own_and_shared_segments(segment: World) -> None:
    # Given s-irish of proj-a shared with proj-b, a static segment of proj-a shared too, and an own segment of proj-b
    w = segment
    assert w.create(name="VIPs", id="s-vip", profileIds=["u-1", "u-2"]).status == 201
    assert w.put_sharing(ADMIN, ["proj-b"]).status == 200
    assert w.put_sharing(ADMIN, ["proj-b"], segment="s-vip").status == 200
    assert (
        w.create(project="proj-b", name="Beta own", id="s-beta", rule={"all": [{"attribute": "level", "op": "gt", "value": 3}]}).status
        == 201
    )

    # When the source lists its segments
    source = w.list_segments("proj-a", PAB)
    # Then they are its own, with sharedWithCount and their rule / profile ids
    assert source.status == 200
    by_id = {s["segmentId"]: s for s in source.json["segments"]}
    assert set(by_id) == {SEGMENT, "s-vip"}
    assert by_id[SEGMENT]["origin"] == "own"
    assert by_id[SEGMENT]["sharedWithCount"] == 1
    assert by_id[SEGMENT]["rule"]["all"][0]["attribute"] == "country"
    assert by_id["s-vip"]["profileIds"] == ["u-1", "u-2"]

    # When the target lists its segments (as its own project admin)
    target = w.list_segments("proj-b", PB)
    # Then its own segment and both shared-in ones are there
    assert target.status == 200
    listed = {s["segmentId"]: s for s in target.json["segments"]}
    assert set(listed) == {"s-beta", sid("proj-b"), sid("proj-b", "s-vip")}
    assert listed["s-beta"]["origin"] == "own"
    # And the shared ones carry the source's id and name and the segment's name, nothing more
    for shared_id, name in ((sid("proj-b"), "Irish players"), (sid("proj-b", "s-vip"), "VIPs")):
        ref = listed[shared_id]
        assert set(ref) == SHARED_REF_KEYS, ref
        assert ref["origin"] == "shared"
        assert ref["projectId"] == "proj-b"
        assert ref["name"] == name
        assert ref["sourceProjectId"] == "proj-a"
        assert ref["sourceProjectName"] == "A"
        # When one is read by id, Then it is the same reference
        got = w.get_segment("proj-b", shared_id, PB)
        assert got.status == 200, got.json
        assert got.json == ref

    # When the target's Shared Segments tab is read
    tab = w.list_shared("proj-b", PB)
    # Then it lists exactly the two shares with the exact key set
    assert tab.status == 200
    assert {s["sharedSegmentId"] for s in tab.json["sharedSegments"]} == {sid("proj-b"), sid("proj-b", "s-vip")}
    for item in tab.json["sharedSegments"]:
        assert set(item) == SHARED_SEGMENT_KEYS, item
        assert item["sourceProjectId"] == "proj-a"
        assert item["sourceProjectName"] == "A"
        assert item["lastEvaluation"] is None
        one = w.get_shared("proj-b", item["sharedSegmentId"], PB)
        assert one.status == 200
        assert one.json == item

    # And nothing target-side carries the source's rule, kind, profile ids or share count
    target_side = json.dumps([listed[sid("proj-b")], listed[sid("proj-b", "s-vip")], tab.json])
    for secret in ("country", "IE", "u-1", "u-2", "static", "rule", "kind", "profileIds", "sharedWith"):
        assert secret not in target_side, secret


def test_shared_segment_id_never_equals_an_own_id(segment: World) -> None:
    # Given s-irish shared with proj-b
    assert segment.put_sharing(ADMIN, ["proj-b"]).status == 200
    shared_id = sid("proj-b")
    # When proj-b tries to create an own segment with that id
    response = segment.create(project="proj-b", name="clash", id=shared_id, profileIds=["u-1"])
    # Then it is refused, and the shared one still resolves
    assert_error(response, 422, "VALIDATION_ERROR")
    assert segment.get_segment("proj-b", shared_id).json["origin"] == "shared"


# ====================================================================== delete


def test_delete_unshared_segment_is_204(segment: World) -> None:
    # Given s-irish, not shared
    # When a project admin of proj-a deletes it
    response = segment.delete(PAB)
    # Then 204 with no body, and it is gone
    assert response.status == 204
    assert not response.raw.get("body")
    assert_error(segment.get_segment("proj-a", SEGMENT), 404, "NOT_FOUND")
    assert_error(segment.delete(PAB), 404, "NOT_FOUND")


def test_delete_shared_segment_is_409_counting_hidden_targets(segment: World) -> None:
    # Given s-irish shared with C and D (by the company admin) and B (by the project admin of A and B)
    w = segment
    assert w.put_sharing(ADMIN, ["proj-c", "proj-d"]).status == 200
    assert w.put_sharing(PAB, ["proj-b"]).status == 200
    # When either admin deletes it without force
    for who in (PAB, ADMIN):
        response = w.delete(who)
        # Then 409 SEGMENT_SHARED counting every target, also those hidden from the caller
        error = assert_error(response, 409, "SEGMENT_SHARED")
        assert error["sharedWithCount"] == 3
    # And nothing changed
    assert w.truth() == ({"proj-b", "proj-c", "proj-d"}, 2)


def test_force_delete_by_company_admin_revokes_every_share_at_once(segment: World) -> None:
    # Given s-irish shared with B, C and D
    w = segment
    assert w.put_sharing(ADMIN, ["proj-b", "proj-c", "proj-d"]).status == 200
    assert all(len(w.shared_in(p)) == 1 for p in ("proj-b", "proj-c", "proj-d"))
    # When the company admin deletes it with force=true
    response = w.delete(ADMIN, force=True)
    # Then 204, and every target's lists are empty at once
    assert response.status == 204, response.json
    for target in ("proj-b", "proj-c", "proj-d"):
        assert w.shared_in(target) == []
        assert w.list_segments(target).json == {"segments": []}
        assert_error(w.get_shared(target, sid(target)), 404, "NOT_FOUND")
        assert_error(w.get_segment(target, sid(target)), 404, "NOT_FOUND")
    assert_error(w.get_segment("proj-a", SEGMENT), 404, "NOT_FOUND")


def test_force_delete_by_project_admin_who_cannot_see_every_target_is_403(segment: World) -> None:
    # Given s-irish shared with B (visible to the project admin of A and B) and C (hidden from it)
    w = segment
    assert w.put_sharing(ADMIN, ["proj-b", "proj-c"]).status == 200
    # When that project admin force-deletes it
    response = w.delete(PAB, force=True)
    # Then 403, and nothing changed: the segment and both shares remain
    assert_error(response, 403, "FORBIDDEN")
    assert w.truth() == ({"proj-b", "proj-c"}, 1)
    assert w.get_segment("proj-a", SEGMENT, PAB).status == 200
    assert [s["sharedSegmentId"] for s in w.shared_in("proj-b")] == [sid("proj-b")]
    assert [s["sharedSegmentId"] for s in w.shared_in("proj-c")] == [sid("proj-c")]


def test_force_delete_by_project_admin_who_sees_every_target_is_204(segment: World) -> None:
    # Given s-irish shared with B only
    w = segment
    assert w.put_sharing(PAB, ["proj-b"]).status == 200
    # When the project admin of A and B force-deletes it
    response = w.delete(PAB, force=True)
    # Then 204 and B no longer lists it
    assert response.status == 204, response.json
    assert w.shared_in("proj-b") == []


def test_force_delete_of_an_unshared_segment_is_204(segment: World) -> None:
    # Given s-irish, not shared
    # When a project admin outside proj-a force-deletes it, Then 404 and it stays
    assert_error(segment.delete(PB, force=True), 404, "NOT_FOUND")
    assert segment.get_segment("proj-a", SEGMENT).status == 200
    # When a project admin of proj-a force-deletes it, Then 204
    assert segment.delete(PAB, force=True).status == 204
    assert_error(segment.get_segment("proj-a", SEGMENT), 404, "NOT_FOUND")


# ====================================================================== sharing tab


def test_seed_story(segment: World) -> None:
    w = segment
    # Given the company admin shares s-irish with C and D
    saved = w.put_sharing(ADMIN, ["proj-c", "proj-d"])
    assert saved.status == 200, saved.json
    assert set(saved.json) == SHARING_KEYS
    assert saved.json == {
        "segmentId": SEGMENT,
        "version": 1,
        "projects": [
            {"projectId": "proj-b", "name": "B", "shared": False},
            {"projectId": "proj-c", "name": "C", "shared": True},
            {"projectId": "proj-d", "name": "D", "shared": True},
        ],
        "hiddenSharedCount": 0,
    }
    # When the project admin of A and B opens the Sharing tab
    tab = w.get_sharing(PAB)
    # Then it sees only B, unticked, and that two other projects have it
    assert tab.status == 200, tab.json
    assert tab.json == {
        "segmentId": SEGMENT,
        "version": 1,
        "projects": [{"projectId": "proj-b", "name": "B", "shared": False}],
        "hiddenSharedCount": 2,
    }
    # When it ticks B and saves
    mine = w.put_sharing(PAB, ["proj-b"])
    # Then B is shared and the two hidden shares are still counted
    assert mine.status == 200, mine.json
    assert mine.json == {
        "segmentId": SEGMENT,
        "version": 2,
        "projects": [{"projectId": "proj-b", "name": "B", "shared": True}],
        "hiddenSharedCount": 2,
    }
    # And the company admin now sees B, C and D all shared
    assert w.ticked(ADMIN) == {"proj-b": True, "proj-c": True, "proj-d": True}
    # And each target lists it
    for target in ("proj-b", "proj-c", "proj-d"):
        assert [s["sharedSegmentId"] for s in w.shared_in(target)] == [sid(target)]


def test_operator_sees_every_project_of_the_company(segment: World) -> None:
    # Given s-irish shared with C
    assert segment.put_sharing(ADMIN, ["proj-c"]).status == 200
    # When an operator opens the Sharing tab, Then it sees B, C, D and no hidden share
    response = segment.get_sharing(OPERATOR)
    assert response.status == 200
    assert [p["projectId"] for p in response.json["projects"]] == ["proj-b", "proj-c", "proj-d"]
    assert response.json["hiddenSharedCount"] == 0


def test_empty_save_unshares_only_what_the_caller_sees(segment: World) -> None:
    # Given shares with B, C and D
    w = segment
    assert w.put_sharing(ADMIN, ["proj-b", "proj-c", "proj-d"]).status == 200
    # When the project admin of A and B saves with nothing ticked
    response = w.put_sharing(PAB, [])
    # Then only B is unshared
    assert response.status == 200
    assert response.json["projects"] == [{"projectId": "proj-b", "name": "B", "shared": False}]
    assert response.json["hiddenSharedCount"] == 2
    assert w.truth() == ({"proj-c", "proj-d"}, 2)
    assert w.shared_in("proj-b") == []


def test_a_save_that_changes_no_share_still_moves_the_version_and_is_recorded(segment: World) -> None:
    # Given shares with C and D at version 1
    w = segment
    assert w.put_sharing(ADMIN, ["proj-c", "proj-d"]).status == 200
    # When the project admin of A and B saves with nothing ticked (it sees no share to change)
    response = w.put_sharing(PAB, [], version=1)
    # Then 200: the shares are as they were, the version moved (API.md: every accepted save), one more history line
    assert response.status == 200
    assert response.json["version"] == 2
    assert w.truth() == ({"proj-c", "proj-d"}, 2)
    history = w.history(PAB).json["history"]
    assert len(history) == 2
    assert (history[0]["added"], history[0]["removed"], history[0]["hiddenAdded"], history[0]["hiddenRemoved"]) == ([], [], 0, 0)


def test_save_with_a_project_the_caller_cannot_access_is_403_and_changes_nothing(segment: World) -> None:
    # Given s-irish shared with D at version 1
    w = segment
    assert w.put_sharing(ADMIN, ["proj-d"]).status == 200
    before_history = w.history().json
    for who, requested in (
        (PAB, ["proj-b", "proj-c"]),  # an existing project hidden from the caller
        (PAB, ["proj-zz"]),  # a project that does not exist
        (PAB, ["proj-d"]),  # a hidden project that already has it
        (ADMIN, ["proj-b", "proj-nope"]),  # the company admin naming a project that does not exist
        (ADMIN, ["proj-x"]),  # another company's project
    ):
        # When a save lists a project the caller cannot access (whether or not it exists)
        response = w.put_sharing(who, requested)
        # Then 403 naming it
        error = assert_error(response, 403, "FORBIDDEN")
        assert requested[-1] in error["message"]
    # And nothing changed: shares, version, history, targets
    assert w.truth() == ({"proj-d"}, 1)
    assert w.history().json == before_history
    assert w.shared_in("proj-b") == []
    assert w.shared_in("proj-c") == []
    assert len(w.shared_in("proj-d")) == 1


def test_save_listing_the_source_itself_is_400(segment: World) -> None:
    # Given s-irish shared with C
    w = segment
    assert w.put_sharing(ADMIN, ["proj-c"]).status == 200
    for requested in (["proj-a"], ["proj-b", "proj-a"]):
        # When a save lists the source project
        response = w.put_sharing(ADMIN, requested)
        # Then 400 naming the source
        error = assert_error(response, 400, "INVALID_TARGET")
        assert "proj-a" in error["message"]
    # And nothing changed
    assert w.truth() == ({"proj-c"}, 1)
    assert w.shared_in("proj-b") == []


def test_stale_version_is_409_version_conflict(segment: World) -> None:
    # Given two admins who opened the tab at version 0, and the company admin saved first
    w = segment
    assert w.get_sharing(PAB).json["version"] == 0
    assert w.put_sharing(ADMIN, ["proj-c"], version=0).json["version"] == 1
    # When the project admin saves with the version it read
    response = w.put_sharing(PAB, ["proj-b"], version=0)
    # Then 409 VERSION_CONFLICT, and its change was not applied
    assert_error(response, 409, "VERSION_CONFLICT")
    assert w.truth() == ({"proj-c"}, 1)
    # And a save with the fresh version goes through, keeping the hidden share
    fresh = w.put_sharing(PAB, ["proj-b"], version=1)
    assert fresh.status == 200
    assert fresh.json["version"] == 2
    assert w.truth() == ({"proj-b", "proj-c"}, 2)
    # And a version from the future is stale too
    assert_error(w.put_sharing(ADMIN, [], version=99), 409, "VERSION_CONFLICT")


def test_save_without_version_after_another_save_applies_on_fresh_state(segment: World) -> None:
    # Given the company admin shared with C and D after the project admin opened the tab
    w = segment
    assert w.get_sharing(PAB).json == {
        "segmentId": SEGMENT,
        "version": 0,
        "projects": [{"projectId": "proj-b", "name": "B", "shared": False}],
        "hiddenSharedCount": 0,
    }
    assert w.put_sharing(ADMIN, ["proj-c", "proj-d"]).status == 200
    # When the project admin saves its tab without a version
    response = w.put_sharing(PAB, ["proj-b"])
    # Then its change lands on top of the other save: nothing is lost
    assert response.status == 200
    assert response.json["hiddenSharedCount"] == 2
    assert w.truth() == ({"proj-b", "proj-c", "proj-d"}, 2)


@pytest.fixture
def concurrent_save(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[str]], list[int]]:
    """Make the next save lose a race: just before it writes, the company admin's save of `ticked` lands."""

    real = segment_store.save_sharing
    calls: list[int] = []

    def arm(ticked: list[str]) -> list[int]:
        def racing(company_id: str, segment: Any, plan: sharing.SavePlan, user_id: str) -> Any:
            calls.append(segment.share_version)
            if len(calls) == 1:
                fresh = segment_store.get_segment(company_id, segment.project_id, segment.segment_id)
                assert fresh is not None
                everyone = frozenset(PROJECTS)
                real(company_id, fresh, sharing.plan_save(fresh.shared_with, everyone, ticked, fresh.project_id), "u-admin")
            return real(company_id, segment, plan, user_id)

        monkeypatch.setattr(segment_store, "save_sharing", racing)
        return calls

    return arm


def test_save_without_version_that_loses_a_race_is_reapplied(segment: World, concurrent_save: Any) -> None:
    # Given the company admin's save of C lands between the project admin's read and write
    attempts = concurrent_save(["proj-c"])
    # When the project admin saves B without a version
    response = segment.put_sharing(PAB, ["proj-b"])
    # Then its write was retried on the fresh state: both shares are there, at version 2
    assert response.status == 200, response.json
    assert attempts == [0, 1]
    assert response.json["version"] == 2
    assert response.json["hiddenSharedCount"] == 1
    assert segment.truth() == ({"proj-b", "proj-c"}, 2)
    assert len(segment.shared_in("proj-b")) == 1
    assert len(segment.shared_in("proj-c")) == 1
    assert len(segment.history().json["history"]) == 2


def test_save_with_version_that_loses_a_race_is_409(segment: World, concurrent_save: Any) -> None:
    # Given the company admin's save of C lands between the project admin's read and write
    concurrent_save(["proj-c"])
    # When the project admin saves B with the version it read
    response = segment.put_sharing(PAB, ["proj-b"], version=0)
    # Then 409 VERSION_CONFLICT and only the other save landed
    assert_error(response, 409, "VERSION_CONFLICT")
    assert segment.truth() == ({"proj-c"}, 1)
    assert segment.shared_in("proj-b") == []


def test_shared_in_segment_cannot_be_shared_on(segment: World) -> None:
    # Given s-irish shared into B
    w = segment
    assert w.put_sharing(ADMIN, ["proj-b"]).status == 200
    # When B's admin tries to share the shared-in segment with C
    response = w.put_sharing(ADMIN, ["proj-c"], project="proj-b", segment=sid("proj-b"))
    # Then 409 CANNOT_RESHARE and C has nothing
    assert_error(response, 409, "CANNOT_RESHARE")
    assert w.shared_in("proj-c") == []
    assert_error(w.put_sharing(PB, [], project="proj-b", segment=sid("proj-b")), 409, "CANNOT_RESHARE")


def test_malformed_sharing_body_is_422(segment: World) -> None:
    for body in (
        {},
        {"projectIds": "proj-b"},
        {"projectIds": [7]},
        {"projectIds": ["proj-b"], "version": -1},
        {"projectIds": ["proj-b"], "version": "one"},
        {"projectIds": ["proj-b"], "hiddenSharedCount": 0},
        {"projectIds": ["proj-b"], "sharedWith": ["proj-c"]},
        {"projectIds": ["proj-b"] * 201},
    ):
        # Given a Sharing save with a missing, mistyped or unknown field
        response = segment.share("put_sharing", ADMIN, body=body)
        # Then 422
        assert_error(response, 422, "VALIDATION_ERROR")
    # And nothing changed
    assert segment.truth() == (set(), 0)


# ====================================================================== feature flag


@pytest.fixture
def feature_restored(segment: World) -> Iterator[World]:
    """The directory is shared by the module's tests: whatever happens, the feature ends up on."""
    yield segment
    segment.set_feature(True)


def test_feature_off_answers_403_and_shares_come_back_when_on(feature_restored: World) -> None:
    # Given s-irish shared with B
    w = feature_restored
    assert w.put_sharing(ADMIN, ["proj-b"]).status == 200
    # When an operator turns the feature off
    w.set_feature(False)
    # Then every sharing and shared-segment route answers 403 FEATURE_DISABLED
    shared_id = sid("proj-b")
    refused = {
        "get sharing": w.get_sharing(ADMIN),
        "put sharing": w.put_sharing(ADMIN, ["proj-b", "proj-c"]),
        "put sharing (project admin)": w.put_sharing(PAB, []),
        "history": w.history(ADMIN),
        "list shared": w.list_shared("proj-b", PB),
        "get shared": w.get_shared("proj-b", shared_id, PB),
        "get shared via segments": w.get_segment("proj-b", shared_id, PB),
    }
    for route, response in refused.items():
        assert response.status == 403, route
        assert_error(response, 403, "FEATURE_DISABLED")
    # And the shared segment is not offered in the target's segment list
    assert w.list_segments("proj-b", PB).json == {"segments": []}
    # And the own segment itself is still there
    assert w.get_segment("proj-a", SEGMENT).status == 200
    # When the feature is turned on again
    w.set_feature(True)
    # Then the share is back exactly as it was (the refused saves changed nothing)
    assert w.truth() == ({"proj-b"}, 1)
    assert [s["sharedSegmentId"] for s in w.shared_in("proj-b")] == [shared_id]
    assert [s["segmentId"] for s in w.list_segments("proj-b", PB).json["segments"]] == [shared_id]
    assert w.get_shared("proj-b", shared_id, PB).status == 200
    assert w.shared_in("proj-c") == []


# ====================================================================== history


def _three_saves(w: World) -> None:
    assert w.put_sharing(ADMIN, ["proj-c", "proj-d"]).status == 200  # 1: +C +D
    assert w.put_sharing(PAB, ["proj-b"]).status == 200  # 2: +B
    assert w.put_sharing(ADMIN, ["proj-b"]).status == 200  # 3: -C -D


def test_history_is_newest_first_and_paged(segment: World) -> None:
    # Given three accepted saves (and one refused)
    w = segment
    _three_saves(w)
    assert w.put_sharing(ADMIN, ["proj-a"]).status == 400
    # When the company admin reads the history two at a time
    first = w.history(ADMIN, limit="2")
    # Then the newest two come first, with a cursor to the rest
    assert first.status == 200, first.json
    assert first.json["nextCursor"]
    page1 = first.json["history"]
    assert [(e["userId"], e["added"], e["removed"]) for e in page1] == [
        ("u-admin", [], ["proj-c", "proj-d"]),
        ("u-pab", ["proj-b"], []),
    ]
    second = w.history(ADMIN, limit="2", cursor=first.json["nextCursor"])
    assert second.status == 200, second.json
    page2 = second.json["history"]
    assert [(e["userId"], e["added"], e["removed"]) for e in page2] == [("u-admin", ["proj-c", "proj-d"], [])]
    assert second.json["nextCursor"] is None
    # And every line has the documented fields, all named for the company admin
    lines = page1 + page2
    for line in lines:
        assert set(line) == {"at", "userId", "added", "removed", "hiddenAdded", "hiddenRemoved"}
        assert line["hiddenAdded"] == 0
        assert line["hiddenRemoved"] == 0
        assert line["at"].endswith("Z")
    assert [line["at"] for line in lines] == sorted((line["at"] for line in lines), reverse=True)
    # And the default page holds them all
    assert w.history(ADMIN).json["history"] == lines


def test_history_never_names_projects_hidden_from_the_reader(segment: World) -> None:
    # Given three saves touching B (visible to the project admin of A and B) and C, D (hidden from it)
    w = segment
    _three_saves(w)
    # When that project admin reads the history
    response = w.history(PAB)
    # Then hidden projects are only counted
    assert response.status == 200
    assert [(e["added"], e["removed"], e["hiddenAdded"], e["hiddenRemoved"]) for e in response.json["history"]] == [
        ([], [], 0, 2),
        (["proj-b"], [], 0, 0),
        ([], [], 2, 0),
    ]
    assert "proj-c" not in response.raw["body"]
    assert "proj-d" not in response.raw["body"]


def test_history_cursor_must_be_ours_and_of_this_listing(segment: World) -> None:
    # Given two segments with some history each
    w = segment
    _three_saves(w)
    assert w.create(name="VIPs", id="s-vip", profileIds=["u-1"]).status == 201
    assert w.put_sharing(ADMIN, ["proj-b"], segment="s-vip").status == 200
    assert w.put_sharing(ADMIN, ["proj-c"], segment="s-vip").status == 200
    other = w.history(ADMIN, segment="s-vip", limit="1").json["nextCursor"]
    mine = w.history(ADMIN, limit="1").json["nextCursor"]
    assert other
    assert mine
    # When s-irish's history is read with the other segment's cursor, a forged one, a mangled one or an over-long one
    for cursor in (other, "forged-cursor", mine[:-2] + ("AA" if mine[-2:] != "AA" else "BB"), "A" * 3000):
        response = w.history(ADMIN, limit="1", cursor=cursor)
        # Then 400 INVALID_CURSOR
        assert_error(response, 400, "INVALID_CURSOR")
    # And a cursor is bound to the segment, not to the reader: the project admin may continue the listing
    assert w.history(PAB, limit="1", cursor=mine).status == 200


def test_history_limit_is_bounded(segment: World) -> None:
    for limit in ("0", "101", "ten"):
        assert_error(segment.history(ADMIN, limit=limit), 422, "VALIDATION_ERROR")


@contextmanager
def _company_row_reads() -> Iterator[list[str]]:
    """The GetItems of a company's row (its feature flag and device-token key) made inside the block."""
    reads: list[str] = []

    def on_read(params: dict[str, Any], **_: Any) -> None:
        if (params.get("Key") or {}).get("sk", {}).get("S") == "COMPANY":
            reads.append(str((params["Key"].get("pk") or {}).get("S")))

    emitters = ReadProbe._emitters()
    for events in emitters:
        events.register("before-parameter-build.dynamodb.GetItem", on_read, unique_id="company-row-reads")
    try:
        yield reads
    finally:
        for events in emitters:
            events.unregister("before-parameter-build.dynamodb.GetItem", unique_id="company-row-reads")


def test_a_history_page_reads_the_company_row_once(segment: World) -> None:
    # Given a segment with history (the route needs the company's feature flag and, for its cursor, its key)
    w = segment
    _three_saves(w)
    first = w.history(PAB, limit="1")
    # When a later page is read
    with _company_row_reads() as reads:
        response = w.history(PAB, limit="1", cursor=first.json["nextCursor"])
    # Then the company row was read once for both (issue 13: resolved once a request)
    assert response.status == 200, response.json
    assert reads == ["C#acme"]


# ====================================================================== who sees what (404 / 403 / 401)


def _every_route(w: World, project: str, segment_id: str, shared_id: str, who: dict[str, Any] | None) -> dict[str, Response]:
    path = {"projectId": project, "segmentId": segment_id}
    return {
        "create": w.share("create_segment", who, path={"projectId": project}, body={"name": "x", "id": "s-new", "profileIds": ["u-1"]}),
        "list": w.share("list_segments", who, path={"projectId": project}),
        "get": w.share("get_segment", who, path=path),
        "delete": w.share("delete_segment", who, path=path),
        "force delete": w.share("delete_segment", who, path=path, query={"force": "true"}),
        "get sharing": w.share("get_sharing", who, path=path),
        "put sharing": w.share("put_sharing", who, path=path, body={"projectIds": []}),
        "history": w.share("get_sharing_history", who, path=path),
        "list shared": w.share("list_shared_segments", who, path={"projectId": project}),
        "get shared": w.share("get_shared_segment", who, path={"projectId": project, "sharedSegmentId": shared_id}),
    }


def _all(responses: dict[str, Response], status: int, code: str) -> None:
    for route, response in responses.items():
        assert response.status == status, (route, response.json)
        assert_error(response, status, code)


def test_other_companys_projects_are_404(segment: World) -> None:
    # Given globex's admin, and acme's segment shared with B
    w = segment
    assert w.put_sharing(ADMIN, ["proj-b"]).status == 200
    # When globex's admin names acme's projects, and acme's admin names globex's project
    # Then every route answers 404 (existence never leaks)
    _all(_every_route(w, "proj-a", SEGMENT, sid("proj-b"), GLOBEX_ADMIN), 404, "NOT_FOUND")
    _all(_every_route(w, "proj-b", sid("proj-b"), sid("proj-b"), GLOBEX_ADMIN), 404, "NOT_FOUND")
    _all(_every_route(w, "proj-x", SEGMENT, sid("proj-b"), ADMIN), 404, "NOT_FOUND")
    # And nothing changed in acme
    assert w.truth() == ({"proj-b"}, 1)
    assert w.get_segment("proj-a", "s-new").status == 404


def test_project_admin_outside_the_source_project_gets_404(segment: World) -> None:
    # Given s-irish of proj-a shared with B, and a project admin of B only
    w = segment
    assert w.put_sharing(ADMIN, ["proj-b"]).status == 200
    # When it uses proj-a's routes
    responses = _every_route(w, "proj-a", SEGMENT, sid("proj-b"), PB)
    # Then every one is 404, and nothing changed
    _all(responses, 404, "NOT_FOUND")
    assert w.truth() == ({"proj-b"}, 1)


def test_project_admin_outside_the_target_project_gets_404(segment: World) -> None:
    # Given s-irish shared with C, and the project admin of A and B (source yes, target no)
    w = segment
    assert w.put_sharing(ADMIN, ["proj-c"]).status == 200
    # When it reads C's shared segments and segments
    responses = {
        "list shared": w.list_shared("proj-c", PAB),
        "get shared": w.get_shared("proj-c", sid("proj-c"), PAB),
        "list": w.list_segments("proj-c", PAB),
        "get via segments": w.get_segment("proj-c", sid("proj-c"), PAB),
    }
    # Then 404 everywhere
    _all(responses, 404, "NOT_FOUND")


def test_unknown_ids_are_404(segment: World) -> None:
    # Given a company admin and ids that do not exist
    w = segment
    # When it names an unknown segment in a known project, or an unknown project
    unknown_segment = _every_route(w, "proj-a", "s-nope", "shared-0123456789abcdef01234567", ADMIN)
    unknown_segment.pop("create")
    unknown_segment.pop("list")
    unknown_segment.pop("list shared")
    unknown_project = _every_route(w, "proj-zz", SEGMENT, "shared-0123456789abcdef01234567", ADMIN)
    # Then 404
    _all(unknown_segment, 404, "NOT_FOUND")
    _all(unknown_project, 404, "NOT_FOUND")
    # And an unknown shared id in the segments route is 404 too, so is an own id in the shared-segments route
    assert_error(w.get_segment("proj-b", "shared-0123456789abcdef01234567"), 404, "NOT_FOUND")
    assert_error(w.get_shared("proj-a", SEGMENT), 404, "NOT_FOUND")
    # And a shared segment is not reachable from the source project's segment routes
    assert w.put_sharing(ADMIN, ["proj-b"]).status == 200
    assert_error(w.get_segment("proj-a", sid("proj-b")), 404, "NOT_FOUND")
    assert_error(w.get_sharing(ADMIN, segment=sid("proj-b")), 404, "NOT_FOUND")


def test_user_without_grant_is_403_and_missing_token_is_401(segment: World) -> None:
    w = segment
    _all(_every_route(w, "proj-a", SEGMENT, sid("proj-b"), STRANGER), 403, "FORBIDDEN")
    _all(_every_route(w, "proj-a", SEGMENT, sid("proj-b"), None), 401, "UNAUTHENTICATED")
    assert w.get_segment("proj-a", SEGMENT).status == 200


# ====================================================================== shared segment ids


def test_shared_segment_id_is_stable_across_unshare_and_reshare(segment: World) -> None:
    # Given s-irish shared with B
    w = segment
    assert w.put_sharing(ADMIN, ["proj-b"]).status == 200
    first = w.shared_in("proj-b")[0]["sharedSegmentId"]
    # When it is unshared
    assert w.put_sharing(ADMIN, []).status == 200
    # Then B no longer lists it and its id is gone
    assert w.shared_in("proj-b") == []
    assert_error(w.get_shared("proj-b", first), 404, "NOT_FOUND")
    # When it is shared again (by another admin)
    assert w.put_sharing(PAB, ["proj-b"]).status == 200
    # Then it comes back under the same id
    assert [s["sharedSegmentId"] for s in w.shared_in("proj-b")] == [first]
    assert w.get_shared("proj-b", first).status == 200
    # And the id differs per target
    assert w.put_sharing(ADMIN, ["proj-b", "proj-c"]).status == 200
    assert w.shared_in("proj-c")[0]["sharedSegmentId"] not in {first, SEGMENT}
