"""Evaluations, members and audience previews through the evaluate function's lambda_handler inside moto.

Every status and error code of API.md's Evaluations and Audiences sections. The company is
acme (feature on) with projects A (source), B (target) and C; globex is another company.
A's segment s-irish (events/create_segment.json: country IE) is shared with B and C; A's
static segment s-vip with B. Profiles in A and B overlap by device in the ways the rule
cares about: a B profile with two devices of which one is in the segment, the same id in
another case or with leading zeros, an IDFV against the same hex as an Android ID,
placeholders on both sides, one device held by three B profiles, and the device of an A
profile outside the segment.

Each test builds its own world (moto is slow at transactions), so tests are few and
each walks through one concern.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from segshare_core.domain.segments import shared_segment_id
from segshare_core.store import evaluations as evaluation_store
from segshare_core.store import results as results_store
from segshare_core.store import segments as segment_store
from segshare_core.workflows import evaluate_inline
from tests.integration.conftest import OPERATOR, Response, assert_error, event, handler_for, user

ADMIN = user("u-admin")  # company admin of acme
PA = user("u-pa")  # project admin of proj-a only
PB = user("u-pb")  # project admin of proj-b only
PC = user("u-pc")  # project admin of proj-c only
STRANGER = user("u-nobody")  # no grant at all
GLOBEX_ADMIN = user("u-globex")  # company admin of globex

SEGMENT = "s-irish"  # events/create_segment.json, in proj-a: country eq IE
SHARED = shared_segment_id("acme", "proj-a", SEGMENT, "proj-b")
SHARED_IN_C = shared_segment_id("acme", "proj-a", SEGMENT, "proj-c")
VIP_SHARED = shared_segment_id("acme", "proj-a", "s-vip", "proj-b")
GLOBEX_SHARED = shared_segment_id("globex", "proj-x", "s-globex", "proj-y")
UNKNOWN_SHARED = "shared-000000000000000000000000"

EVALUATION_KEYS = {
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

ANN_IDFV = "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"
BOTH_IDFV = "7d444840-9dc0-11d1-b245-5ffdce74fad2"
ZERO_IDFV = "00000000-0000-0000-0000-000000000000"
TWO_IOS = "11111111-2222-4333-8444-555555555555"


def _secret(profile_id: str) -> str:
    """An attribute value only the source project holds; it must never reach B."""
    return f"SRC-ONLY-{profile_id}"


def _src(profile_id: str, devices: list[tuple[str, str]], country: str = "IE") -> dict[str, Any]:
    return {
        "profileId": profile_id,
        "attributes": {"country": country, "first_name": _secret(profile_id), "email": f"{profile_id}@source.example"},
        "devices": [{"platform": p, "id": i} for p, i in devices],
    }


def _tgt(profile_id: str, devices: list[tuple[str, str]], **attributes: Any) -> dict[str, Any]:
    return {"profileId": profile_id, "attributes": attributes, "devices": [{"platform": p, "id": i} for p, i in devices]}


def _bulk_device(n: int, side: str) -> tuple[str, str]:
    """Even: an IDFV, lower case in A and upper case in B; odd: an Android ID with leading zeros in A only."""
    if n % 2 == 0:
        idfv = f"b0000000-0000-4000-8000-{n:012x}"
        return ("ios", idfv if side == "a" else idfv.upper())
    return ("android", f"000b{n:04x}" if side == "a" else f"B{n:04X}")


def source_profiles(bulk: int = 0) -> list[dict[str, Any]]:
    return [
        _src("src-ann", [("ios", ANN_IDFV)]),
        _src("src-two", [("android", "5555aaaa")]),
        _src("src-zeros", [("android", "00ab12")]),
        _src("src-both", [("ios", BOTH_IDFV), ("android", "c0ffee")]),
        # IDFVs whose hex digits are B's Android IDs: an IDFV never matches an Android ID.
        _src("src-cross", [("ios", "00000000-0000-0000-0000-00000000abcd"), ("ios", "abcdef01-2345-6789-abcd-ef0123456789")]),
        _src("src-placeholder", [("ios", ZERO_IDFV), ("android", "9774D56D682E549C"), ("android", "0")]),
        # Not in the segment (country FR): its device in B must not match.
        _src("src-eve", [("android", "e5e5e5")], country="FR"),
        *[_src(f"src-lonely-{n}", [("android", f"f00d{n:04x}")]) for n in range(7)],
        *[_src(f"src-bulk-{n:02d}", [_bulk_device(n, "a")]) for n in range(bulk)],
    ]


def target_profiles(bulk: int = 0) -> list[dict[str, Any]]:
    return [
        _tgt("tgt-ann", [("ios", ANN_IDFV.lower())], country="DE"),  # first_name only in A: renders blank in B
        _tgt("tgt-ann-twin", [("ios", ANN_IDFV)], first_name="Twin"),
        _tgt("tgt-ann-triplet", [("ios", ANN_IDFV.lower())], first_name="Trip"),
        _tgt("tgt-two", [("ios", TWO_IOS), ("android", "5555AAAA")], first_name="Bea", vip=True),  # 1 of 2 devices matches
        _tgt("tgt-zeros", [("android", "AB12")], first_name="Zed", level=7),
        _tgt("tgt-both", [("ios", BOTH_IDFV.upper()), ("android", "00C0FFEE")], first_name="Bo"),
        _tgt("tgt-cross", [("android", "abcd"), ("android", "abcdef0123456789")], first_name="Cross"),
        _tgt("tgt-placeholder", [("ios", ZERO_IDFV), ("android", "9774d56d682e549c"), ("android", "0000")], first_name="Pla"),
        _tgt("tgt-nonmember", [("android", "E5E5E5")], first_name="Non"),
        _tgt("tgt-nodevice", [], first_name="Nod"),
        *[_tgt(f"tgt-bulk-{n:02d}", [_bulk_device(n, "b")], first_name=f"Bulk{n}", n=n) for n in range(bulk)],
    ]


def matched(bulk: int = 0) -> list[str]:
    named = ["tgt-ann", "tgt-ann-twin", "tgt-ann-triplet", "tgt-two", "tgt-zeros", "tgt-both"]
    return sorted([*named, *[f"tgt-bulk-{n:02d}" for n in range(bulk)]])


def expected(bulk: int = 0) -> dict[str, Any]:
    """B's counts: ANN_IDFV counts once though three profiles hold it; tgt-both brings two devices."""
    by_platform = {"ios": 2 + (bulk + 1) // 2, "android": 3 + bulk // 2}
    return {
        "targetProfiles": len(target_profiles(bulk)),
        "matchedProfiles": len(matched(bulk)),
        "matchedDevices": sum(by_platform.values()),
        "matchedByPlatform": by_platform,
    }


MATCHED = matched()
TARGET_ATTRIBUTES = {p["profileId"]: p["attributes"] for p in target_profiles(60)}


def _numbers(node: Any) -> Iterator[int]:
    """Every integer in a body except durations (a run of 13 ms says nothing of A)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "durationMs":
                yield from _numbers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _numbers(value)
    elif isinstance(node, int) and not isinstance(node, bool):
        yield node


class World:
    """Calls the real handlers with events from events/; remembers every target-side body it saw."""

    def __init__(self, evaluate_fn: Callable[..., Response], share_fn: Callable[..., Response], directory_fn: Callable[..., Response]):
        self._evaluate = evaluate_fn
        self._share = share_fn
        self._directory = directory_fn
        self.target_bodies: list[str] = []
        self.source: list[dict[str, Any]] = []

    def directory(self, name: str, who: dict[str, Any], **overrides: Any) -> Response:
        return self._directory(event(name, claims=who, **overrides))

    def share(self, name: str, who: dict[str, Any], **overrides: Any) -> Response:
        return self._share(event(name, claims=who, **overrides))

    def call(self, name: str, who: dict[str, Any] | None = ADMIN, **overrides: Any) -> Response:
        response = self._evaluate(event(name, claims=who, **overrides))
        self.target_bodies.append(response.raw.get("body") or "")
        return response

    # -- the evaluate function's routes

    def evaluate(self, who: dict[str, Any] | None = ADMIN, project: str = "proj-b", shared: str = SHARED) -> Response:
        return self.call("create_evaluation", who, path={"projectId": project, "sharedSegmentId": shared})

    def evaluations(self, who: dict[str, Any] | None = ADMIN, project: str = "proj-b", shared: str = SHARED, **query: str) -> Response:
        return self.call("list_evaluations", who, path={"projectId": project, "sharedSegmentId": shared}, query=query or None)

    def evaluation(self, evaluation_id: str, who: dict[str, Any] | None = ADMIN, project: str = "proj-b", shared: str = SHARED) -> Response:
        path = {"projectId": project, "sharedSegmentId": shared, "evaluationId": evaluation_id}
        return self.call("get_evaluation", who, path=path)

    def members(self, who: dict[str, Any] | None = ADMIN, project: str = "proj-b", shared: str = SHARED, **query: str) -> Response:
        return self.call("list_members", who, path={"projectId": project, "sharedSegmentId": shared}, query=query or None)

    def preview(self, body: Any, who: dict[str, Any] | None = ADMIN, project: str = "proj-b") -> Response:
        return self.call("preview_audience", who, path={"projectId": project}, body=body)

    # -- setup and views

    def upsert(self, project: str, profiles: list[dict[str, Any]]) -> None:
        response = self.directory("upsert_profiles", ADMIN, path={"projectId": project}, body={"profiles": profiles})
        assert response.status == 200, response.json
        assert response.json["rejected"] == [], response.json
        if project == "proj-a":
            self.source = [p for p in self.source if p["profileId"] not in {q["profileId"] for q in profiles}] + profiles

    def set_feature(self, enabled: bool) -> None:
        response = self.directory("patch_company", OPERATOR, body={"sharedSegmentsEnabled": enabled})
        assert response.status == 200, response.json

    def shared_tab(self, project: str = "proj-b") -> dict[str, dict[str, Any]]:
        response = self.share("list_shared_segments", ADMIN, path={"projectId": project})
        assert response.status == 200, response.json
        self.target_bodies.append(response.raw["body"])
        return {s["sharedSegmentId"]: s for s in response.json["sharedSegments"]}

    def succeeded(self, shared: str = SHARED, project: str = "proj-b") -> dict[str, Any]:
        response = self.evaluate(project=project, shared=shared)
        assert response.status == 201, response.json
        assert response.json["status"] == "SUCCEEDED", response.json
        return dict(response.json)

    def all_members(self, shared: str = SHARED, limit: int | None = 1000) -> tuple[str, list[dict[str, Any]]]:
        """Page through members with nextCursor: (evaluationId, members)."""
        evaluation_ids, out = set(), []
        query: dict[str, str] = {"limit": str(limit)} if limit else {}
        while True:
            response = self.members(shared=shared, **query)
            assert response.status == 200, response.json
            assert set(response.json) == {"evaluationId", "members", "nextCursor"}
            evaluation_ids.add(response.json["evaluationId"])
            out.extend(response.json["members"])
            if response.json["nextCursor"] is None:
                break
            query["cursor"] = response.json["nextCursor"]
        assert len(evaluation_ids) == 1
        return evaluation_ids.pop(), out

    def member_ids(self, shared: str = SHARED) -> list[str]:
        return [m["profileId"] for m in self.all_members(shared)[1]]

    def assert_nothing_of_source(self) -> None:
        """API.md: target-side bodies carry nothing of A beyond its id and name and the segment's name."""
        values = {v for p in self.source for k, v in p["attributes"].items() if k != "country"}
        members = [p for p in self.source if p["attributes"]["country"] == "IE"]
        sizes = {len(self.source), len(members), sum(len(p["devices"]) for p in members)}
        for body in self.target_bodies:
            assert "src-" not in body, body[:500]  # every A profile id starts so
            for value in values:
                assert value not in body, (value, body[:500])
            assert not sizes & set(_numbers(json.loads(body) if body else None)), (sizes, body[:500])


@pytest.fixture(scope="module")
def evaluate_fn() -> Callable[[dict[str, Any]], Response]:
    return handler_for("EvaluateFunction")


@pytest.fixture(scope="module")
def share_fn() -> Callable[[dict[str, Any]], Response]:
    return handler_for("ShareFunction")


def build(w: World, bulk: int = 0) -> World:
    """acme (feature on): A's s-irish shared with B and C, s-vip with B; nothing evaluated; globex beside it."""
    assert w.directory("create_company", OPERATOR).status == 201
    assert w.directory("put_user", OPERATOR, path={"userId": "u-admin"}, body={"role": "company_admin"}).status == 200
    for project_id, name in (("proj-a", "Alpha"), ("proj-b", "Beta"), ("proj-c", "Gamma")):
        assert w.directory("create_project", ADMIN, body={"id": project_id, "name": name}).status == 201
    for sub, project_id in (("u-pa", "proj-a"), ("u-pb", "proj-b"), ("u-pc", "proj-c")):
        grant = w.directory("put_user", ADMIN, path={"userId": sub}, body={"role": "project_admin", "projectIds": [project_id]})
        assert grant.status == 200, grant.json
    w.upsert("proj-a", source_profiles(bulk))
    w.upsert("proj-b", target_profiles(bulk))
    w.upsert("proj-c", [_tgt("c-1", [("ios", ANN_IDFV)], first_name="Cee"), _tgt("c-2", [("android", "c0ffee")])])
    assert w.share("create_segment", ADMIN).status == 201
    vip = w.share("create_segment", ADMIN, body={"name": "VIP", "id": "s-vip", "profileIds": ["src-two", "src-eve"]})
    assert vip.status == 201, vip.json
    for segment, targets in ((SEGMENT, ["proj-b", "proj-c"]), ("s-vip", ["proj-b"])):
        saved = w.share("put_sharing", ADMIN, path={"segmentId": segment}, body={"projectIds": targets})
        assert saved.status == 200, saved.json
    # globex: another company, feature on, x's segment shared with y
    body = {"id": "globex", "name": "Globex", "sharedSegmentsEnabled": True}
    assert w.directory("create_company", OPERATOR, body=body).status == 201
    grant = w.directory("put_user", OPERATOR, path={"companyId": "globex", "userId": "u-globex"}, body={"role": "company_admin"})
    assert grant.status == 200
    for project_id in ("proj-x", "proj-y"):
        created = w.directory("create_project", GLOBEX_ADMIN, path={"companyId": "globex"}, body={"id": project_id, "name": project_id})
        assert created.status == 201
    segment_body = {"name": "G", "id": "s-globex", "profileIds": ["g-1"]}
    assert w.share("create_segment", GLOBEX_ADMIN, path={"projectId": "proj-x"}, body=segment_body).status == 201
    shared = w.share("put_sharing", GLOBEX_ADMIN, path={"projectId": "proj-x", "segmentId": "s-globex"}, body={"projectIds": ["proj-y"]})
    assert shared.status == 200, shared.json
    return w


@pytest.fixture
def world(aws: None, evaluate_fn: Any, share_fn: Any, directory_fn: Any) -> Iterator[World]:
    w = build(World(evaluate_fn, share_fn, directory_fn))
    yield w
    w.assert_nothing_of_source()


@pytest.fixture
def bulk_world(aws: None, evaluate_fn: Any, share_fn: Any, directory_fn: Any) -> Iterator[World]:
    """The same, with 60 more matching pairs: enough to page past the default limit of 50."""
    w = build(World(evaluate_fn, share_fn, directory_fn), bulk=60)
    yield w
    w.assert_nothing_of_source()


# ====================================================================== evaluations


def test_manual_evaluation_201_members_and_last_evaluation(world: World) -> None:
    # Given B's share of A's segment, not evaluated yet
    assert world.shared_tab()[SHARED]["lastEvaluation"] is None
    # When the company admin evaluates it
    response = world.evaluate()
    # Then it is 201 with exactly API.md's fields and B's own counts
    assert response.status == 201, response.json
    done = response.json
    assert set(done) == EVALUATION_KEYS
    assert done["evaluationId"].startswith("e-")
    assert done["sharedSegmentId"] == SHARED
    assert done["trigger"] == "manual"
    assert done["status"] == "SUCCEEDED"
    assert done["startedAt"].endswith("Z") and done["finishedAt"].endswith("Z")
    assert done["startedAt"] <= done["finishedAt"]
    assert isinstance(done["durationMs"], int) and done["durationMs"] >= 0
    assert {k: done[k] for k in expected()} == expected()
    # And GET reads the same evaluation back
    got = world.evaluation(done["evaluationId"])
    assert got.status == 200
    assert got.json == done
    # And the members are the B profiles with ANY device in the segment: case and leading zeros
    # ignored, never placeholders, never an IDFV against an Android ID, never a non-member's device
    evaluation_id, members = world.all_members()
    assert evaluation_id == done["evaluationId"]
    assert sorted(m["profileId"] for m in members) == MATCHED
    # And each carries B's own attributes only
    for member in members:
        assert set(member) == {"profileId", "attributes"}
        assert member["attributes"] == TARGET_ATTRIBUTES[member["profileId"]]
    assert {m["profileId"]: m["attributes"] for m in members}["tgt-ann"] == {"country": "DE"}
    # And B's Shared Segments tab (list and one) shows it as the last evaluation
    assert world.shared_tab()[SHARED]["lastEvaluation"] == done
    # When it is evaluated again
    newer = world.succeeded()
    # Then the tab moves to the newest
    assert world.shared_tab()[SHARED]["lastEvaluation"] == newer
    one = world.share("get_shared_segment", ADMIN, path={"projectId": "proj-b", "sharedSegmentId": SHARED})
    assert one.status == 200
    assert one.json["lastEvaluation"] == newer
    assert world.shared_tab()[VIP_SHARED]["lastEvaluation"] is None


def test_static_source_segment_and_project_admin_of_b(world: World) -> None:
    # Given A's static segment [src-two, src-eve] shared with B, and B's project admin (it cannot see A)
    # When it evaluates the share
    response = world.evaluate(PB, shared=VIP_SHARED)
    # Then B's profiles holding those two profiles' devices match, whatever their country in A
    assert response.status == 201, response.json
    assert response.json["matchedProfiles"] == 2
    assert response.json["matchedByPlatform"] == {"ios": 0, "android": 2}
    members = world.members(PB, shared=VIP_SHARED)
    assert members.status == 200
    assert [m["profileId"] for m in members.json["members"]] == ["tgt-nonmember", "tgt-two"]
    # And C's share of s-irish matches C's own profiles only
    in_c = world.succeeded(SHARED_IN_C, project="proj-c")
    assert (in_c["targetProfiles"], in_c["matchedProfiles"], in_c["matchedDevices"]) == (2, 2, 2)


def test_list_get_and_limits_of_evaluations(world: World) -> None:
    # Given no evaluation yet
    # Then the list is empty
    empty = world.evaluations()
    assert empty.status == 200
    assert empty.json == {"evaluations": [], "nextCursor": None}
    # Given three evaluations
    made = [world.succeeded()["evaluationId"] for _ in range(3)]
    # When listed with the default limit
    listed = world.evaluations()
    # Then newest first, all of them, no next page, each with the contract's fields
    assert listed.status == 200
    assert [e["evaluationId"] for e in listed.json["evaluations"]] == made[::-1]
    assert listed.json["nextCursor"] is None
    for item in listed.json["evaluations"]:
        assert set(item) == EVALUATION_KEYS
        assert {k: item[k] for k in expected()} == expected()
    # When paged two at a time
    first = world.evaluations(limit="2")
    assert [e["evaluationId"] for e in first.json["evaluations"]] == made[:0:-1]
    assert isinstance(first.json["nextCursor"], str)
    second = world.evaluations(limit="2", cursor=first.json["nextCursor"])
    # Then the second page holds the oldest and ends the list
    assert second.status == 200
    assert [e["evaluationId"] for e in second.json["evaluations"]] == made[:1]
    assert second.json["nextCursor"] is None
    # And limit is 1 to 100
    assert world.evaluations(limit="100").status == 200
    assert world.evaluations(limit="1").json["nextCursor"] is not None
    for limit in ("0", "101", "-1", "ten"):
        assert_error(world.evaluations(limit=limit), 422, "VALIDATION_ERROR")
    # And one evaluation is read by id; unknown ids are 404, malformed ones 422
    assert world.evaluation(made[1]).json["evaluationId"] == made[1]
    for unknown in ("e-19a0f0c8e0012345678", "e-nope"):
        assert_error(world.evaluation(unknown), 404, "NOT_FOUND")
    assert_error(world.evaluation("E_1"), 422, "VALIDATION_ERROR")
    # And an evaluation of B's share is absent under B's other share and under C's share
    assert_error(world.evaluation(made[0], shared=VIP_SHARED), 404, "NOT_FOUND")
    assert_error(world.evaluation(made[0], project="proj-c", shared=SHARED_IN_C), 404, "NOT_FOUND")
    # And those other shares list nothing of it
    assert world.evaluations(shared=VIP_SHARED).json["evaluations"] == []


def _flip(cursor: str) -> str:
    return cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]


def test_cursors_forged_or_foreign_400(world: World) -> None:
    # Given two evaluations of each of B's shares and of C's share
    for shared, project in ((SHARED, "proj-b"), (VIP_SHARED, "proj-b"), (SHARED_IN_C, "proj-c")):
        for _ in range(2):
            world.succeeded(shared, project)
    cursors = {
        "evaluations": world.evaluations(limit="1").json["nextCursor"],
        "evaluations of B's other share": world.evaluations(limit="1", shared=VIP_SHARED).json["nextCursor"],
        "evaluations of C": world.evaluations(limit="1", project="proj-c", shared=SHARED_IN_C).json["nextCursor"],
        "members": world.members(limit="1").json["nextCursor"],
        "members of B's other share": world.members(limit="1", shared=VIP_SHARED).json["nextCursor"],
        "members of C": world.members(limit="1", project="proj-c", shared=SHARED_IN_C).json["nextCursor"],
    }
    assert all(cursors.values()), cursors
    hand_made = base64.urlsafe_b64encode(b"\x00" * 16 + json.dumps({"e": "e-0", "o": 1}).encode()).decode().rstrip("=")
    forged = ["not-a-cursor", "AAAA", "%%%", "x" * 2048, hand_made]
    # When the evaluations of B's share are asked with anything but their own cursor
    for name, cursor in [*[(f, f) for f in forged], *cursors.items()]:
        if name == "evaluations":
            bad = [_flip(cursor), cursor + "x", cursor[:10]]
            for variant in bad:
                assert_error(world.evaluations(limit="1", cursor=variant), 400, "INVALID_CURSOR")
            continue
        # Then 400 INVALID_CURSOR
        assert_error(world.evaluations(limit="1", cursor=cursor), 400, "INVALID_CURSOR")
    # When B's members are asked with anything but their own cursor
    for name, cursor in [*[(f, f) for f in forged], *cursors.items()]:
        if name == "members":
            for variant in (_flip(cursor), cursor + "x", cursor[:10]):
                assert_error(world.members(limit="1", cursor=variant), 400, "INVALID_CURSOR")
            continue
        # Then 400 INVALID_CURSOR
        assert_error(world.members(limit="1", cursor=cursor), 400, "INVALID_CURSOR")
    # And a cursor of acme is refused by globex's own share before anything is read
    assert_error(world.members(GLOBEX_ADMIN, project="proj-y", shared=GLOBEX_SHARED, cursor=cursors["members"]), 400, "INVALID_CURSOR")
    assert_error(
        world.evaluations(GLOBEX_ADMIN, project="proj-y", shared=GLOBEX_SHARED, cursor=cursors["evaluations"]), 400, "INVALID_CURSOR"
    )
    # And the real cursors still work
    assert world.evaluations(limit="1", cursor=cursors["evaluations"]).status == 200
    assert world.members(limit="1", cursor=cursors["members"]).status == 200


# ====================================================================== members


def test_members_not_evaluated_limits_and_paging(bulk_world: World) -> None:
    world = bulk_world
    everyone = matched(60)
    # Given no evaluation yet
    # Then members are 409 NOT_EVALUATED
    assert_error(world.members(), 409, "NOT_EVALUATED")
    # Given an evaluation with 66 matched profiles
    done = world.succeeded()
    assert {k: done[k] for k in expected(60)} == expected(60)
    # When members are read without a limit
    first = world.members()
    # Then 50 come back with a cursor, from the latest evaluation
    assert first.status == 200
    assert first.json["evaluationId"] == done["evaluationId"]
    assert len(first.json["members"]) == 50
    assert isinstance(first.json["nextCursor"], str)
    # And the next page has the rest and ends
    second = world.members(cursor=first.json["nextCursor"])
    assert second.status == 200
    assert len(second.json["members"]) == len(everyone) - 50
    assert second.json["nextCursor"] is None
    assert [m["profileId"] for m in first.json["members"] + second.json["members"]] == everyone
    # And small pages cover everything once, with B's attributes
    _evaluation_id, members = world.all_members(limit=7)
    assert [m["profileId"] for m in members] == everyone
    assert all(m["attributes"] == TARGET_ATTRIBUTES[m["profileId"]] for m in members)
    # And the limit is 1 to 1000
    assert len(world.members(limit="1000").json["members"]) == len(everyone)
    assert len(world.members(limit="1").json["members"]) == 1
    for limit in ("0", "1001", "-5", "many"):
        assert_error(world.members(limit=limit), 422, "VALIDATION_ERROR")
    # When a newer evaluation lands while a client is paging
    page = world.members(limit="10")
    newer = world.succeeded()
    following = world.members(limit="10", cursor=page.json["nextCursor"])
    # Then the cursor keeps to the evaluation it started on, and a fresh read starts on the newer one
    assert following.json["evaluationId"] == done["evaluationId"]
    assert [m["profileId"] for m in page.json["members"] + following.json["members"]] == everyone[:20]
    assert world.members().json["evaluationId"] == newer["evaluationId"]


def test_source_and_target_changes_are_picked_up_by_a_new_evaluation(world: World) -> None:
    first = world.succeeded()
    # Given src-eve moves to IE (joins), src-two to FR (leaves), and src-zeros is deleted
    source = {p["profileId"]: p for p in source_profiles()}
    world.upsert("proj-a", [{**source["src-eve"], "attributes": {**source["src-eve"]["attributes"], "country": "IE"}}])
    world.upsert("proj-a", [{**source["src-two"], "attributes": {**source["src-two"]["attributes"], "country": "FR"}}])
    assert world.directory("delete_profile", ADMIN, path={"projectId": "proj-a", "profileId": "src-zeros"}).status == 204
    # And in B, tgt-both drops its matching IDFV (its Android ID still matches) and tgt-new takes it
    world.upsert("proj-b", [_tgt("tgt-both", [("android", "c0ffee")], first_name="Bo")])
    world.upsert("proj-b", [_tgt("tgt-new", [("ios", BOTH_IDFV)], first_name="New")])
    # Then the members served are still those of the evaluation made before
    evaluation_id, members = world.all_members()
    assert evaluation_id == first["evaluationId"]
    assert [m["profileId"] for m in members] == MATCHED
    # When B evaluates again
    again = world.succeeded()
    # Then the members follow A's segment and B's profiles as they stand now
    now = sorted({*MATCHED, "tgt-nonmember", "tgt-new"} - {"tgt-two", "tgt-zeros"})
    assert world.member_ids() == now
    assert again["targetProfiles"] == len(target_profiles()) + 1
    assert again["matchedProfiles"] == len(now)
    assert again["matchedByPlatform"] == {"ios": 2, "android": 2}  # ANN, BOTH; c0ffee, e5e5e5


def test_force_deleted_source_segment_makes_the_shared_segment_404(world: World) -> None:
    done = world.succeeded()
    # Given A's segment is deleted with force, revoking its shares
    deleted = world.share("delete_segment", ADMIN, query={"force": "true"})
    assert deleted.status == 204, deleted.json
    # Then every route of B's shared segment answers 404, and a preview naming it too
    assert_error(world.evaluate(), 404, "NOT_FOUND")
    assert_error(world.evaluations(), 404, "NOT_FOUND")
    assert_error(world.evaluation(done["evaluationId"]), 404, "NOT_FOUND")
    assert_error(world.members(), 404, "NOT_FOUND")
    assert_error(world.preview({"segmentIds": [SHARED]}), 404, "NOT_FOUND")
    assert SHARED not in world.shared_tab()
    # And B's other share is untouched
    assert world.succeeded(VIP_SHARED)["matchedProfiles"] == 2


def test_a_reshare_after_revoke_serves_nothing_until_evaluated_again(world: World) -> None:
    # Given B's shared segment evaluated, then unshared and shared again (the same shared id)
    world.succeeded()
    assert world.share("put_sharing", ADMIN, body={"projectIds": []}).status == 200
    assert world.share("put_sharing", ADMIN, body={"projectIds": ["proj-b"]}).status == 200
    # Then the old result is not served: members answer 409 NOT_EVALUATED until a new evaluation
    assert_error(world.members(), 409, "NOT_EVALUATED")
    assert world.succeeded()["status"] == "SUCCEEDED"
    assert world.members().status == 200


# ====================================================================== failures


def _assert_failed(world: World, evaluation_id: str) -> dict[str, Any]:
    failed = world.evaluation(evaluation_id).json
    assert set(failed) == EVALUATION_KEYS | {"error"}
    assert failed["status"] == "FAILED"
    assert failed["trigger"] == "manual"
    assert isinstance(failed["error"], str) and failed["error"]
    assert "injected" not in failed["error"]
    assert failed["finishedAt"] is not None
    assert failed["matchedProfiles"] is None
    assert failed["matchedByPlatform"] is None
    return dict(failed)


def _failing_transaction(code: str) -> type[TransactWrite]:
    class FailingTransaction(TransactWrite):
        def _commit(self) -> Any:
            cause = ClientError({"Error": {"Code": code, "Message": "injected"}}, "TransactWriteItems")
            raise TransactWriteError("Failed to write transaction items", cause)

    return FailingTransaction


def test_failure_between_results_and_pointer_keeps_previous_members(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a succeeded evaluation, then A's segment gaining src-eve
    before = world.succeeded()
    eve = next(p for p in source_profiles() if p["profileId"] == "src-eve")
    world.upsert("proj-a", [{**eve, "attributes": {**eve["attributes"], "country": "IE"}}])
    # And the switch to SUCCEEDED failing after the results were written to S3
    written: list[str] = []
    real_succeed = evaluation_store.succeed

    def broken_succeed(*args: Any, **kwargs: Any) -> Any:
        written.append(args[4])  # succeed(company_id, shared, evaluation, summary, result_key)
        raise RuntimeError("injected: lost the pointer switch")

    monkeypatch.setattr(evaluation_store, "succeed", broken_succeed)
    # When B evaluates
    response = world.evaluate()
    # Then the run is recorded FAILED with an error that says nothing internal
    assert response.status == 201, response.json
    assert response.json["status"] == "FAILED"
    failed = _assert_failed(world, response.json["evaluationId"])
    assert response.json == failed
    # And its results did land in S3 first, under the failed run's own id
    assert len(written) == 1 and response.json["evaluationId"] in written[0]
    assert "tgt-nonmember" in results_store.get(written[0])
    # And the members served are still the previous evaluation's
    evaluation_id, members = world.all_members()
    assert evaluation_id == before["evaluationId"]
    assert [m["profileId"] for m in members] == MATCHED
    # And a preview over the share still uses them
    assert world.preview({"segmentIds": [SHARED]}).json["count"] == len(MATCHED)
    # And the failed run is the newest in the list, while the Shared Segments tab shows the result
    # in service (API.md: lastEvaluation is the succeeded evaluation that started last)
    assert world.evaluations().json["evaluations"][0]["evaluationId"] == response.json["evaluationId"]
    assert world.shared_tab()[SHARED]["lastEvaluation"] == world.evaluation(before["evaluationId"]).json
    # When the switch works again
    monkeypatch.setattr(evaluation_store, "succeed", real_succeed)
    after = world.succeeded()
    # Then the new evaluation takes over
    assert world.all_members()[0] == after["evaluationId"]
    assert "tgt-nonmember" in world.member_ids()


def test_failed_or_throttled_pointer_transaction_keeps_previous_members(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a succeeded evaluation, and the transaction that switches the pointer being cancelled
    before = world.succeeded()
    monkeypatch.setattr(evaluation_store, "TransactWrite", _failing_transaction("TransactionCanceledException"))
    # When B evaluates
    cancelled = world.evaluate()
    # Then it is FAILED and the previous members are still served
    assert cancelled.status == 201, cancelled.json
    assert cancelled.json["status"] == "FAILED"
    _assert_failed(world, cancelled.json["evaluationId"])
    assert world.all_members()[0] == before["evaluationId"]
    # When DynamoDB throttles the switch instead
    monkeypatch.setattr(evaluation_store, "TransactWrite", _failing_transaction("ProvisionedThroughputExceededException"))
    throttled = world.evaluate()
    # Then it is 503 RETRY_LATER with Retry-After, the run is recorded FAILED, and the previous members stay
    assert_error(throttled, 503, "RETRY_LATER")
    assert throttled.headers.get("retry-after", "").isdigit()
    newest = world.evaluations().json["evaluations"]
    assert [e["status"] for e in newest] == ["FAILED", "FAILED", "SUCCEEDED"]
    _assert_failed(world, newest[0]["evaluationId"])
    evaluation_id, members = world.all_members()
    assert evaluation_id == before["evaluationId"]
    assert [m["profileId"] for m in members] == MATCHED


def test_failure_inside_the_match_keeps_previous_members(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_match(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("injected: match crashed")

    # Given the very first evaluation failing inside the match
    monkeypatch.setattr(evaluate_inline, "match_shared", broken_match)
    first = world.evaluate()
    # Then it is recorded FAILED, and members and previews of the share are still 409 NOT_EVALUATED
    assert first.status == 201, first.json
    _assert_failed(world, first.json["evaluationId"])
    assert_error(world.members(), 409, "NOT_EVALUATED")
    assert_error(world.preview({"segmentIds": [SHARED]}), 409, "NOT_EVALUATED")
    # Given a succeeded evaluation after it, and the match failing again
    monkeypatch.undo()
    before = world.succeeded()
    monkeypatch.setattr(evaluate_inline, "match_shared", broken_match)
    again = world.evaluate()
    # Then it is FAILED and the succeeded one is still served
    assert again.json["status"] == "FAILED"
    _assert_failed(world, again.json["evaluationId"])
    evaluation_id, members = world.all_members()
    assert evaluation_id == before["evaluationId"]
    assert [m["profileId"] for m in members] == MATCHED


def test_source_gone_during_an_evaluation_is_recorded_failed(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a succeeded evaluation, then A's segment vanishing between B's lookup and the match
    before = world.succeeded()
    monkeypatch.setattr(segment_store, "get_segment", lambda *_args, **_kwargs: None)
    # When B evaluates
    response = world.evaluate()
    # Then the run is recorded FAILED with a clear error, and the earlier members stay in service
    assert response.status == 201, response.json
    assert response.json["status"] == "FAILED"
    assert "source segment" in _assert_failed(world, response.json["evaluationId"])["error"]
    monkeypatch.undo()
    assert world.all_members()[0] == before["evaluationId"]


def test_overlapping_evaluations_never_move_members_back_to_an_older_run(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a succeeded evaluation, and a second one that stalls just before writing its results
    first = world.succeeded()
    real_put = results_store.put
    stalled, go_on = threading.Event(), threading.Event()

    def stalling_put(key: str, profile_ids: Any) -> None:
        if not stalled.is_set():
            stalled.set()
            assert go_on.wait(60)
        real_put(key, profile_ids)

    monkeypatch.setattr(results_store, "put", stalling_put)
    # Its own copy of the function, as its own Lambda container would be
    other_container = handler_for("EvaluateFunction")
    slow: list[Response] = []

    def evaluate_in_other_container() -> None:
        slow.append(other_container(event("create_evaluation", claims=ADMIN, path={"projectId": "proj-b", "sharedSegmentId": SHARED})))
        world.target_bodies.append(slow[0].raw["body"])

    runner = threading.Thread(target=evaluate_in_other_container)
    runner.start()
    assert stalled.wait(60)
    # When, meanwhile, A's segment gains src-eve and a third evaluation (another container: a
    # schedule tick racing the manual run) starts and finishes
    eve = next(p for p in source_profiles() if p["profileId"] == "src-eve")
    world.upsert("proj-a", [{**eve, "attributes": {**eve["attributes"], "country": "IE"}}])
    newer = world.succeeded()
    # And only then the stalled one finishes
    go_on.set()
    runner.join(60)
    older = slow[0].json
    # Then both succeeded, the stalled one being the older
    assert (older["status"], newer["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert first["evaluationId"] < older["evaluationId"] < newer["evaluationId"]
    # And members are served from the newest run, the one the list and the tab show first
    evaluation_id, members = world.all_members()
    assert evaluation_id == newer["evaluationId"]
    assert "tgt-nonmember" in [m["profileId"] for m in members]
    listed = [e["evaluationId"] for e in world.evaluations().json["evaluations"]]
    assert listed == [newer["evaluationId"], older["evaluationId"], first["evaluationId"]]
    assert world.shared_tab()[SHARED]["lastEvaluation"]["evaluationId"] == newer["evaluationId"]
    assert world.preview({"segmentIds": [SHARED]}).json["count"] == len(MATCHED) + 1


# ====================================================================== access


def _every_route(world: World, who: dict[str, Any] | None, project: str, shared: str, evaluation_id: str) -> list[Response]:
    return [
        world.evaluate(who, project, shared),
        world.evaluations(who, project, shared),
        world.evaluation(evaluation_id, who, project, shared),
        world.members(who, project, shared),
    ]


def test_feature_disabled_403(world: World) -> None:
    done = world.succeeded()
    # Given acme's feature turned off by an operator
    world.set_feature(False)
    # When B's shared segment is used through any route, or by a preview
    # Then 403 FEATURE_DISABLED
    for response in _every_route(world, ADMIN, "proj-b", SHARED, done["evaluationId"]):
        assert_error(response, 403, "FEATURE_DISABLED")
    assert_error(world.preview({"segmentIds": [SHARED]}), 403, "FEATURE_DISABLED")
    # And a preview of the full broadcast still works: audiences are not the shared-segments feature
    broadcast = world.preview({})
    assert broadcast.status == 200
    assert broadcast.json["count"] == len(target_profiles())
    # And the feature off in acme leaves globex alone
    assert world.evaluate(GLOBEX_ADMIN, "proj-y", GLOBEX_SHARED).status == 201
    # When the feature is turned on again
    world.set_feature(True)
    # Then the share is back with its members
    assert world.all_members()[0] == done["evaluationId"]


def test_outside_the_callers_reach_404(world: World) -> None:
    done = world.succeeded()
    cases = [
        (PA, "proj-b", SHARED),  # project admin of A: B is not its project
        (PC, "proj-b", SHARED),  # project admin of C
        (PB, "proj-a", SHARED),  # B's admin on the source project
        (GLOBEX_ADMIN, "proj-b", SHARED),  # another company's admin
        (ADMIN, "proj-y", GLOBEX_SHARED),  # acme's admin on globex's project
        (ADMIN, "proj-b", GLOBEX_SHARED),  # globex's shared id under acme's project
        (ADMIN, "proj-c", SHARED),  # B's shared id under C
        (ADMIN, "proj-b", SHARED_IN_C),  # C's shared id under B
        (ADMIN, "proj-a", SHARED),  # the source project
        (ADMIN, "proj-b", UNKNOWN_SHARED),
        (ADMIN, "proj-nope", SHARED),
    ]
    for who, project, shared in cases:
        # When someone asks outside its reach
        # Then 404 on every route: existence never leaks
        for response in _every_route(world, who, project, shared, done["evaluationId"]):
            assert_error(response, 404, "NOT_FOUND")
    # And a user with no grant is 403, a request without a token 401
    for response in _every_route(world, STRANGER, "proj-b", SHARED, done["evaluationId"]):
        assert_error(response, 403, "FORBIDDEN")
    for response in _every_route(world, None, "proj-b", SHARED, done["evaluationId"]):
        assert_error(response, 401, "UNAUTHENTICATED")
    # And previews follow the same rules
    assert_error(world.preview({}, PA), 404, "NOT_FOUND")
    assert_error(world.preview({}, GLOBEX_ADMIN), 404, "NOT_FOUND")
    assert_error(world.preview({}, ADMIN, project="proj-y"), 404, "NOT_FOUND")
    assert_error(world.preview({}, STRANGER), 403, "FORBIDDEN")
    assert_error(world.preview({}, None), 401, "UNAUTHENTICATED")
    # And nothing of it changed what B sees
    assert world.evaluations().json["evaluations"] == [done]


# ====================================================================== audiences


def _sample(response: Response) -> dict[str, str]:
    assert response.status == 200, response.json
    assert set(response.json) == {"count", "sample"}
    for item in response.json["sample"]:
        assert set(item) == {"profileId", "message"}
    return {s["profileId"]: s["message"] for s in response.json["sample"]}


def test_preview_broadcast_limits_and_errors(world: World) -> None:
    everyone = len(target_profiles())
    # When B previews with no segment ids
    broadcast = world.preview({"template": "Hi {{first_name}}"})
    # Then every B profile counts, and the sample is the default 20 or fewer
    assert set(_sample(broadcast)) == {p["profileId"] for p in target_profiles()}
    assert broadcast.json["count"] == everyone
    assert _sample(world.preview({"segmentIds": []}))["tgt-zeros"] == ""
    # And limit is 1 to 100
    one = world.preview({"limit": 1})
    assert len(_sample(one)) == 1
    assert one.json["count"] == everyone
    assert len(_sample(world.preview({"limit": 100}))) == everyone
    for limit in (0, 101, -1, "x", 1.5):
        assert_error(world.preview({"limit": limit}), 422, "VALIDATION_ERROR")
    # And a shared segment with no succeeded evaluation is 409 NOT_EVALUATED
    assert_error(world.preview({"segmentIds": [SHARED]}), 409, "NOT_EVALUATED")
    world.succeeded()
    assert_error(world.preview({"segmentIds": [SHARED, VIP_SHARED], "match": "any"}), 409, "NOT_EVALUATED")
    # And an id that is none of B's segments is 404, naming it
    for segment_id in ("s-unknown", UNKNOWN_SHARED, SEGMENT, SHARED_IN_C, GLOBEX_SHARED):
        error = assert_error(world.preview({"segmentIds": [SHARED, segment_id]}), 404, "NOT_FOUND")
        assert segment_id in error["message"]
    # And extra or ill-typed fields are 422, never applied
    for body in (
        {"segmentIds": [], "companyId": "acme"},
        {"segmentIds": [], "projectId": "proj-a"},
        {"segmentIds": [SHARED], "sourceAttributes": True},
        {"match": "some"},
        {"segmentIds": "s-1"},
        {"segmentIds": ["Bad Id"]},
        {"template": 5},
        {"template": "x" * 2001},
        {"segmentIds": [f"s-{n}" for n in range(21)]},
    ):
        assert_error(world.preview(body), 422, "VALIDATION_ERROR")
    # And malformed JSON is 400
    for raw in ("{not json", "[1, 2"):
        assert_error(world.preview(raw), 400, "MALFORMED_JSON")


def test_preview_renders_from_b_only_with_own_and_shared_segments(world: World) -> None:
    # Given B's evaluated share, where tgt-ann's first_name exists only in A
    world.succeeded()
    # When B previews "Hi {{first_name}}!" over the share (the seed's example)
    response = world.preview({"segmentIds": [SHARED], "template": "Hi {{first_name}}!"})
    # Then the audience is the members, and first_name comes from B: blank for tgt-ann
    sample = _sample(response)
    assert response.json["count"] == len(MATCHED)
    assert sorted(sample) == MATCHED
    assert sample["tgt-ann"] == "Hi !"
    assert sample["tgt-two"] == "Hi Bea!"
    assert sample["tgt-ann-twin"] == "Hi Twin!"
    # And numbers, booleans and missing attributes render from B's values
    typed = _sample(world.preview({"segmentIds": [SHARED], "template": "{{ first_name }}|{{level}}|{{vip}}|{{email}}"}))
    assert typed["tgt-zeros"] == "Zed|7||"
    assert typed["tgt-two"] == "Bea||true|"
    assert typed["tgt-ann"] == "|||"
    # Given B's own rule segment, evaluated as it stands
    rule = {"any": [{"attribute": "first_name", "op": "in", "value": ["Non", "Bea"]}, {"attribute": "level", "op": "gte", "value": 5}]}
    own = world.share("create_segment", ADMIN, path={"projectId": "proj-b"}, body={"name": "named", "id": "s-b-named", "rule": rule})
    assert own.status == 201, own.json
    own_members = {"tgt-nonmember", "tgt-two", "tgt-zeros"}
    alone = world.preview({"segmentIds": ["s-b-named"]})
    assert set(_sample(alone)) == own_members
    assert alone.json["count"] == len(own_members)
    # When combined with the share by all (the default) and by any
    both = world.preview({"segmentIds": ["s-b-named", SHARED]})
    either = world.preview({"segmentIds": [SHARED, "s-b-named"], "match": "any"})
    # Then the intersection and the union
    assert set(_sample(both)) == own_members & set(MATCHED)
    assert both.json["count"] == 2
    assert set(_sample(either)) == own_members | set(MATCHED)
    assert either.json["count"] == len(MATCHED) + 1
    # And a repeated id counts once
    assert world.preview({"segmentIds": [SHARED, SHARED]}).json["count"] == len(MATCHED)
    # And two shared segments combine the same way
    world.succeeded(VIP_SHARED)
    assert set(_sample(world.preview({"segmentIds": [SHARED, VIP_SHARED]}))) == {"tgt-two"}
    assert set(_sample(world.preview({"segmentIds": [SHARED, VIP_SHARED], "match": "any"}))) == {*MATCHED, "tgt-nonmember"}
    # And B's own segment is 404 from C
    assert_error(world.preview({"segmentIds": ["s-b-named"]}, project="proj-c"), 404, "NOT_FOUND")


def test_no_target_side_body_carries_anything_of_the_source(bulk_world: World) -> None:
    world = bulk_world
    # Given every target-side route used with the shares evaluated
    done = world.succeeded()
    world.succeeded(VIP_SHARED)
    world.evaluations()
    world.evaluation(done["evaluationId"])
    world.all_members(limit=9)
    world.preview({"segmentIds": [SHARED], "template": "{{first_name}} {{email}} {{country}}", "limit": 100})
    world.preview({"segmentIds": [VIP_SHARED], "template": "{{first_name}} {{email}}", "limit": 100})
    world.preview({"template": "{{first_name}} {{email}}", "limit": 100})
    world.shared_tab()
    # And a broadcast preview samples the default 20
    broadcast = world.preview({"template": "{{first_name}}"})
    assert len(_sample(broadcast)) == 20
    assert broadcast.json["count"] == len(target_profiles(60))
    # Then none of A's profile ids, attribute values or sizes appears in any body
    assert len(world.target_bodies) >= 10
    world.assert_nothing_of_source()
