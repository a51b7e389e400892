"""PATCH /v1/projects/{projectId}/segments/{segmentId} (API.md Segments, issue 16 item 2) inside moto.

Optimistic versions (a stale ``version`` is 409, none re-applies a lost race), the kind that
cannot change, shared-in ids refused, the same validation as create, and what the projects
the segment is shared with see: the new name at once, the new membership at their next
evaluation, their share, its history and their results in service untouched by the edit.
The company is the seed's (share_world): acme with projects A, B, C, D.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from segshare_core import config
from segshare_core.store import segments as segment_store
from tests.integration.conftest import Response, assert_error, event, handler_for
from tests.integration.share_world import ADMIN, PAB, PB, SEGMENT, World, seeded_world, sid, wipe_segments
from tests.integration.test_share import BAD_RULES, MASS_ASSIGNMENT

IRISH = {"all": [{"attribute": "country", "op": "eq", "value": "IE"}]}
GERMAN = {"all": [{"attribute": "country", "op": "eq", "value": "DE"}]}
OWN_KEYS = {"segmentId", "projectId", "name", "kind", "origin", "sharedWithCount", "createdAt", "version", "updatedAt"}


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[World, Callable[[dict[str, Any]], Response]]]:
    with seeded_world() as world:
        yield world, handler_for("EvaluateFunction")


@pytest.fixture
def world(seeded: tuple[World, Any]) -> Iterator[World]:
    """The seed's directory and s-irish (events/create_segment.json: country IE) in proj-a, unshared."""
    wipe_segments()
    created = seeded[0].create()
    assert created.status == 201, created.json
    yield seeded[0]
    wipe_segments()


@pytest.fixture
def evaluate_fn(seeded: tuple[World, Callable[[dict[str, Any]], Response]]) -> Callable[[dict[str, Any]], Response]:
    return seeded[1]


def edit(w: World, body: Any, who: dict[str, Any] = ADMIN, project: str = "proj-a", segment: str = SEGMENT) -> Response:
    return w.share("edit_segment", who, path={"projectId": project, "segmentId": segment}, body=body)


def own(w: World, segment: str = SEGMENT) -> dict[str, Any]:
    got = w.get_segment("proj-a", segment)
    assert got.status == 200, got.json
    return dict(got.json)


# ====================================================================== edits and versions


def test_an_edit_replaces_name_and_rule_and_moves_the_version(world: World) -> None:
    # Given s-irish at version 1
    before = own(world)
    assert before["version"] == 1
    assert before["updatedAt"] == before["createdAt"]
    # When the event's edit is sent (new name and rule, version 1)
    response = world.share("edit_segment", ADMIN)
    # Then 200 with the edited segment at version 2, and it reads back the same
    assert response.status == 200, response.json
    body = response.json
    assert set(body) == OWN_KEYS | {"rule"}
    assert body["name"] == "Irish and UK players"
    assert body["rule"] == {"any": [IRISH["all"][0], {"attribute": "country", "op": "eq", "value": "GB"}]}
    assert body["kind"] == "rule"
    assert body["version"] == 2
    assert body["createdAt"] == before["createdAt"]
    assert body["updatedAt"] >= before["createdAt"]
    assert own(world) == body


def test_a_name_only_edit_keeps_the_rule(world: World) -> None:
    # When only the name is sent
    response = edit(world, {"name": "Irish"})
    # Then the rule is as it was
    assert response.status == 200, response.json
    assert response.json["name"] == "Irish"
    assert response.json["rule"] == IRISH
    assert response.json["version"] == 2


def test_a_stale_version_is_409_version_conflict_and_changes_nothing(world: World) -> None:
    # Given one edit at version 1 landed (now version 2)
    assert edit(world, {"name": "First", "version": 1}).status == 200
    # When another editor who read version 1 saves
    stale = edit(world, {"name": "Second", "rule": GERMAN, "version": 1})
    # Then 409 VERSION_CONFLICT and the first edit stands
    assert_error(stale, 409, "VERSION_CONFLICT")
    after = own(world)
    assert (after["name"], after["rule"], after["version"]) == ("First", IRISH, 2)
    # And a version ahead of the segment's is stale too
    assert_error(edit(world, {"name": "Ahead", "version": 9}), 409, "VERSION_CONFLICT")


def test_an_edit_without_version_applies_on_the_latest(world: World) -> None:
    # Given an edit moved the version
    assert edit(world, {"name": "First", "version": 1}).status == 200
    # When an edit without version is sent
    response = edit(world, {"rule": GERMAN})
    # Then it applies on top (last write wins) and moves the version again
    assert response.status == 200, response.json
    assert (response.json["name"], response.json["rule"], response.json["version"]) == ("First", GERMAN, 3)


@pytest.fixture
def racing_edit(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Makes another editor's rename land between the handler's read and its first write; the names written."""
    written: list[str] = []
    real = segment_store.edit_segment

    def racing(company_id: str, segment: Any, **changes: Any) -> Any:
        if not written:
            written.append("Other editor")
            real(company_id, segment, name="Other editor", rule=None, profile_ids=None)
        written.append(changes["name"])
        return real(company_id, segment, **changes)

    monkeypatch.setattr(segment_store, "edit_segment", racing)
    return written


def test_an_edit_with_version_that_loses_a_race_is_409(world: World, racing_edit: list[str]) -> None:
    # When an edit at version 1 is written after another editor's landed (the conditioned write)
    response = edit(world, {"name": "Mine", "version": 1})
    # Then 409 VERSION_CONFLICT, and the other editor's name stands
    assert_error(response, 409, "VERSION_CONFLICT")
    assert (own(world)["name"], own(world)["version"]) == ("Other editor", 2)


def test_an_edit_without_version_that_loses_a_race_is_reapplied(world: World, racing_edit: list[str]) -> None:
    # When an edit without version loses the same race
    response = edit(world, {"name": "Mine"})
    # Then it is applied again on the fresh state: two edits, version 3
    assert response.status == 200, response.json
    assert racing_edit == ["Other editor", "Mine", "Mine"]
    assert (response.json["name"], response.json["version"]) == ("Mine", 3)


def test_a_segment_from_before_edits_reads_as_version_1_and_can_be_edited(world: World) -> None:
    # Given a segment stored before definition versions existed (no version, no updatedAt)
    table = boto3.resource("dynamodb").Table(config.SEGMENTS_TABLE)
    table.update_item(Key={"pk": "C#acme#P#proj-a", "sk": f"SEG#{SEGMENT}"}, UpdateExpression="REMOVE definition_version, updated_at")
    before = own(world)
    assert before["version"] == 1
    assert before["updatedAt"] == before["createdAt"]
    # When it is edited at version 1
    response = edit(world, {"name": "Legacy", "version": 1})
    # Then it is version 2, and version 1 is stale from now on
    assert response.status == 200, response.json
    assert response.json["version"] == 2
    assert_error(edit(world, {"name": "Again", "version": 1}), 409, "VERSION_CONFLICT")


def test_an_empty_edit_changes_nothing(world: World) -> None:
    # When a body names nothing to change
    response = edit(world, {"version": 1})
    # Then 200 with the segment as it is, version unmoved
    assert response.status == 200, response.json
    assert response.json == own(world)
    assert response.json["version"] == 1


def test_a_static_segments_list_is_replaced(world: World) -> None:
    # Given a static segment
    assert world.create(name="VIPs", id="s-vip", profileIds=["u-1", "u-2"]).status == 201
    # When its list is replaced (with a duplicate)
    response = edit(world, {"profileIds": ["u-3", "u-1", "u-3"], "version": 1}, segment="s-vip")
    # Then the new list, duplicates dropped, is stored
    assert response.status == 200, response.json
    assert response.json["profileIds"] == ["u-3", "u-1"]
    assert "rule" not in response.json
    assert own(world, "s-vip")["profileIds"] == ["u-3", "u-1"]


# ====================================================================== refusals


def test_the_kind_cannot_change(world: World) -> None:
    assert world.create(name="VIPs", id="s-vip", profileIds=["u-1"]).status == 201
    for segment, body, field in (("s-vip", {"rule": IRISH}, "rule"), (SEGMENT, {"profileIds": ["u-1"]}, "profileIds")):
        # When a static segment gets a rule, or a rule segment a list
        response = edit(world, {**body, "name": "changed"}, segment=segment)
        # Then 400 CANNOT_CHANGE_KIND naming the field, and nothing changed
        error = assert_error(response, 400, "CANNOT_CHANGE_KIND")
        assert error["message"].startswith(f"{field}:"), error
        assert own(world, segment)["version"] == 1
        assert own(world, segment)["name"] != "changed"


def test_a_shared_in_segment_is_409_cannot_edit_shared(world: World) -> None:
    # Given s-irish shared with proj-b
    assert world.put_sharing(ADMIN, ["proj-b"]).status == 200
    # When proj-b edits its shared segment
    response = edit(world, {"name": "Mine now"}, project="proj-b", segment=sid("proj-b"))
    # Then 409 CANNOT_EDIT_SHARED, and the source is untouched
    assert_error(response, 409, "CANNOT_EDIT_SHARED")
    assert own(world)["name"] == "Irish players"


def test_the_rule_is_validated_as_on_create(world: World) -> None:
    for case, rule, path in BAD_RULES:
        # When an edit carries a rule that is wrong at `path`
        response = edit(world, {"rule": rule, "version": 1})
        # Then 422 INVALID_RULE names the path, as create does
        error = assert_error(response, 422, "INVALID_RULE")
        assert error["message"].startswith(f"{path}:"), (case, error["message"])
    assert own(world)["rule"] == IRISH
    assert own(world)["version"] == 1


def test_names_lists_and_fields_are_validated_as_on_create(world: World) -> None:
    assert world.create(name="VIPs", id="s-vip", profileIds=["u-1"]).status == 201
    cases: list[tuple[str, dict[str, Any]]] = [
        (SEGMENT, {"name": ""}),
        (SEGMENT, {"name": "x" * 201}),
        (SEGMENT, {"name": "tab\tname"}),
        (SEGMENT, {"version": -1, "name": "x"}),
        (SEGMENT, {"version": "1", "name": "x"}),
        ("s-vip", {"profileIds": ["Bad Id"]}),
        ("s-vip", {"profileIds": [f"u-{n}" for n in range(5001)]}),
        *[(SEGMENT, {"name": "x", **extra}) for extra in MASS_ASSIGNMENT if "version" not in extra],
    ]
    for segment, body in cases:
        # When an edit breaks a rule of create's schema or limits
        response = edit(world, body, segment=segment)
        # Then 422 VALIDATION_ERROR and nothing changed
        assert_error(response, 422, "VALIDATION_ERROR")
    assert (own(world)["name"], own(world)["version"]) == ("Irish players", 1)
    assert (own(world, "s-vip")["profileIds"], own(world, "s-vip")["version"]) == (["u-1"], 1)
    # And a body that is not JSON is 400
    assert_error(edit(world, "{not json"), 400, "MALFORMED_JSON")


def test_access_is_as_for_create(world: World) -> None:
    # A project admin of proj-a may edit
    assert edit(world, {"name": "By PAB"}, who=PAB).status == 200
    # One of proj-b only gets 404 (never reveal the segment); an unknown id is 404 too
    assert_error(edit(world, {"name": "By PB"}, who=PB), 404, "NOT_FOUND")
    assert_error(edit(world, {"name": "x"}, segment="s-unknown"), 404, "NOT_FOUND")
    # proj-b has no such segment of its own either
    assert_error(edit(world, {"name": "x"}, project="proj-b"), 404, "NOT_FOUND")
    assert own(world)["name"] == "By PAB"


# ====================================================================== what the targets see


def test_targets_see_the_new_name_at_once_and_keep_their_share_and_history(world: World) -> None:
    # Given s-irish shared with B and C (two saves of history)
    assert world.put_sharing(ADMIN, ["proj-b"]).status == 200
    assert world.put_sharing(ADMIN, ["proj-b", "proj-c"]).status == 200
    sharing_before = world.get_sharing().json
    history_before = world.history().json
    shared_before = {p: world.shared_in(p) for p in ("proj-b", "proj-c")}
    # When the source renames it
    assert edit(world, {"name": "Irish fans", "version": 1}).status == 200
    # Then every target view shows the new name at once
    for target in ("proj-b", "proj-c"):
        (listed,) = world.shared_in(target)
        assert listed["name"] == "Irish fans"
        one = world.get_shared(target, sid(target))
        assert one.json["name"] == "Irish fans"
        ref = world.get_segment(target, sid(target))
        assert ref.json["name"] == "Irish fans"
        (in_list,) = [s for s in world.list_segments(target).json["segments"] if s["origin"] == "shared"]
        assert in_list["name"] == "Irish fans"
        # And nothing else of its share moved
        assert {**listed, "name": None} == {**shared_before[target][0], "name": None}
    # And the Sharing tab (version included) and its history are as they were
    assert world.get_sharing().json == sharing_before
    assert world.history().json == history_before
    assert own(world)["sharedWithCount"] == 2


def _profile(profile_id: str, country: str, device: str) -> dict[str, Any]:
    return {"profileId": profile_id, "attributes": {"country": country}, "devices": [{"platform": "ios", "id": device}]}


IE_DEVICE = "11111111-2222-4333-8444-000000000001"
DE_DEVICE = "11111111-2222-4333-8444-000000000002"


def test_targets_see_the_new_membership_from_their_next_evaluation(world: World, evaluate_fn: Callable[[dict[str, Any]], Response]) -> None:
    # Given an Irish and a German profile in A, each sharing a device with a profile of B
    for project, profiles in (
        ("proj-a", [_profile("edit-ie", "IE", IE_DEVICE), _profile("edit-de", "DE", DE_DEVICE)]),
        ("proj-b", [_profile("b-of-ie", "FR", IE_DEVICE), _profile("b-of-de", "FR", DE_DEVICE)]),
    ):
        stored = world.directory("upsert_profiles", ADMIN, path={"projectId": project}, body={"profiles": profiles})
        assert stored.status == 200 and stored.json["upserted"] == 2, stored.json
    # And s-irish shared with B and evaluated there: the Irish profile's twin
    assert world.put_sharing(ADMIN, ["proj-b"]).status == 200
    path = {"projectId": "proj-b", "sharedSegmentId": sid("proj-b")}

    def evaluate() -> dict[str, Any]:
        response = evaluate_fn(event("create_evaluation", claims=ADMIN, path=path))
        assert response.status == 201, response.json
        return dict(response.json)

    def members() -> list[str]:
        response = evaluate_fn(event("list_members", claims=ADMIN, path=path))
        assert response.status == 200, response.json
        return sorted(m["profileId"] for m in response.json["members"])

    first = evaluate()
    assert members() == ["b-of-ie"]
    # When the source changes the rule to Germans
    assert edit(world, {"rule": GERMAN, "version": 1}).status == 200
    # Then B still has its last result in service until it evaluates again
    assert members() == ["b-of-ie"]
    assert world.get_shared("proj-b", sid("proj-b")).json["lastEvaluation"]["evaluationId"] == first["evaluationId"]
    # And its next evaluation matches the German profile's twin
    second = evaluate()
    assert second["matchedProfiles"] == 1
    assert members() == ["b-of-de"]
