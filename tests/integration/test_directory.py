"""Directory and profile routes through lambda_handler inside moto, events from events/."""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

import pytest

from segshare_core import config
from segshare_core.domain.devices import normalise, shard_of, token
from segshare_core.domain.ids import ID_PATTERN
from segshare_core.domain.profiles import shard_of_profile
from segshare_core.store import directory
from segshare_core.store.keys import index_pk, profile_pk, project_pk
from segshare_core.store.models import DeviceIndexRow, ProfileRow
from tests.integration.conftest import OPERATOR, Response, assert_error, event, user

ADMIN = user("u-admin")
PA = user("u-pa")  # project admin of proj-a
OTHER_ADMIN = user("u-other")  # company admin of another company
NOBODY = user("u-nobody")  # authenticated, no grant

IDFV = "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"
IDFV_2 = "1B4E28BA-2FA1-11D2-883F-0016D3CCA427"
ANDROID = "9a3f5e2b7c1d4e60"
ANDROID_2 = "00c0ffee12345678"  # canonical: c0ffee12345678
HUGE_ID = "a" * 10_000

ACME = {"companyId": "acme", "name": "Acme Games", "sharedSegmentsEnabled": True}

ROUTES = [
    "me",
    "delete_user",
    "create_company",
    "get_company",
    "patch_company",
    "create_project",
    "list_projects",
    "put_user",
    "upsert_profiles",
    "get_profile",
    "delete_profile",
]


@pytest.fixture
def acme(aws: None, directory_fn: Any) -> Any:
    """Company acme (feature on) with proj-a and proj-b, a company admin and a project admin of proj-a;
    company globex with its admin and proj-x."""
    call = directory_fn
    assert call(event("create_company", claims=OPERATOR)).status == 201
    assert call(event("put_user", path={"userId": "u-admin"}, body={"role": "company_admin"}, claims=OPERATOR)).status == 200
    for pid, name in (("proj-a", "Alpha"), ("proj-b", "Beta")):
        assert call(event("create_project", body={"id": pid, "name": name}, claims=ADMIN)).status == 201
    assert call(event("put_user", claims=ADMIN)).status == 200
    assert call(event("create_company", body={"id": "globex", "name": "Globex"}, claims=OPERATOR)).status == 201
    assert (
        call(event("put_user", path={"companyId": "globex", "userId": "u-other"}, body={"role": "company_admin"}, claims=OPERATOR)).status
        == 200
    )
    assert call(event("create_project", path={"companyId": "globex"}, body={"id": "proj-x", "name": "X"}, claims=OTHER_ADMIN)).status == 201
    return call


# ------------------------------------------------------------------ helpers


class Case(NamedTuple):
    label: str
    name: str  # the event file
    claims: dict[str, Any] | None
    overrides: dict[str, Any]


def expect_errors(call: Any, cases: list[Case], status: int, code: str) -> None:
    """Send every case and report all that do not give this error, at once."""
    assert cases
    failures = []
    for case in cases:
        response = call(event(case.name, claims=case.claims, **case.overrides))
        try:
            assert_error(response, status, code)
        except AssertionError:
            failures.append(f"{case.label}: {response.status} {str(response.json)[:200]}")
    assert failures == []


def profile(profile_id: str, devices: list[tuple[str, str]] | None = None, **attributes: Any) -> dict[str, Any]:
    return {"profileId": profile_id, "attributes": attributes, "devices": [{"platform": p, "id": i} for p, i in devices or []]}


def upsert(call: Any, *profiles: Any, project: str = "proj-a", claims: dict[str, Any] = ADMIN) -> Response:
    return call(event("upsert_profiles", path={"projectId": project}, body={"profiles": list(profiles)}, claims=claims))


def get_profile(call: Any, profile_id: str, project: str = "proj-a", claims: dict[str, Any] = ADMIN) -> Response:
    return call(event("get_profile", path={"projectId": project, "profileId": profile_id}, claims=claims))


def get_company(call: Any, company_id: str = "acme") -> Response:
    return call(event("get_company", path={"companyId": company_id}, claims=OPERATOR))


def project_ids(call: Any, claims: dict[str, Any], company_id: str = "acme") -> list[str]:
    response = call(event("list_projects", path={"companyId": company_id}, claims=claims))
    assert response.status == 200, response.json
    return [p["projectId"] for p in response.json["projects"]]


def device_token(platform: str, raw: str, company_id: str = "acme") -> str:
    return token(directory.company_key(company_id), normalise(platform, raw))


def index(company_id: str = "acme", project_id: str = "proj-a") -> dict[str, set[str]]:
    """The project's device index as stored: token -> the profile ids holding it."""
    prefix = project_pk(company_id, project_id) + "#S#"
    entries: dict[str, set[str]] = {}
    for row in DeviceIndexRow.scan(consistent_read=True):
        if not row.pk.startswith(prefix):
            continue
        # Each entry sits in the shard its token hashes to, and is keyed by a token, never a raw id
        assert row.pk == index_pk(company_id, project_id, shard_of(row.sk, config.DEVICE_INDEX_SHARDS))
        assert re.fullmatch(r"[0-9a-f]{32}", row.sk)
        assert row.platform in {"ios", "android"}
        entries[row.sk] = set(row.profiles or ())
    return entries


def stored_row(profile_id: str, company_id: str = "acme", project_id: str = "proj-a") -> ProfileRow:
    shard = shard_of_profile(profile_id, config.DEVICE_INDEX_SHARDS)
    return ProfileRow.get(profile_pk(company_id, project_id, shard), profile_id, consistent_read=True)


def stored_profiles(company_id: str = "acme", project_id: str = "proj-a") -> int:
    """Profile rows stored in every shard of the project (a count of rows, for checking the counters against)."""
    return sum(ProfileRow.count(profile_pk(company_id, project_id, s)) for s in range(config.DEVICE_INDEX_SHARDS))


# ------------------------------------------------------------------ health and authentication


def test_health_needs_no_token(aws: None, directory_fn: Any) -> None:
    # Given no caller at all
    # When health is asked
    response = directory_fn(event("health"))
    # Then it answers ok
    assert response.status == 200
    assert response.json == {"status": "ok"}


def test_every_other_route_needs_claims(acme: Any) -> None:
    # Given requests to every authorised route without the authorizer's claims, or with claims naming no user
    cases = [Case(name, name, None, {}) for name in ROUTES]
    cases += [Case(f"{name} without sub", name, {"cognito:groups": ["operators"]}, {}) for name in ROUTES]
    # When they reach the handler
    # Then each is 401
    expect_errors(acme, cases, 401, "UNAUTHENTICATED")
    # And the writes among them changed nothing
    assert get_company(acme).json == ACME
    assert_error(get_profile(acme, "u-1"), 404, "NOT_FOUND")
    assert project_ids(acme, ADMIN) == ["proj-a", "proj-b"]


def test_unknown_user_is_forbidden_everywhere(acme: Any) -> None:
    # Given an authenticated user nobody granted anything, calling every route on existing objects or not
    cases = [
        Case("create company", "create_company", NOBODY, {"body": {"id": "mine", "name": "Mine"}}),
        Case("get company", "get_company", NOBODY, {}),
        Case("get absent company", "get_company", NOBODY, {"path": {"companyId": "no-such-co"}}),
        Case("patch company", "patch_company", NOBODY, {}),
        Case("create project", "create_project", NOBODY, {"body": {"id": "proj-n", "name": "N"}}),
        Case("list projects", "list_projects", NOBODY, {}),
        Case("grant itself", "put_user", NOBODY, {"path": {"userId": "u-nobody"}, "body": {"role": "company_admin"}}),
        Case("upsert profiles", "upsert_profiles", NOBODY, {}),
        Case("upsert profiles of absent project", "upsert_profiles", NOBODY, {"path": {"projectId": "no-such-project"}}),
        Case("get profile", "get_profile", NOBODY, {}),
        Case("delete profile", "delete_profile", NOBODY, {}),
    ]
    # When they are sent
    # Then each is 403, and the user still has no grant and created nothing
    expect_errors(acme, cases, 403, "FORBIDDEN")
    assert acme(event("me", claims=NOBODY)).json == {"userId": "u-nobody", "companyId": None, "role": None, "projects": []}
    assert_error(get_company(acme, "mine"), 404, "NOT_FOUND")
    assert get_company(acme).json == ACME
    assert_error(get_profile(acme, "u-1"), 404, "NOT_FOUND")


# ------------------------------------------------------------------ /v1/me


def test_me_for_each_role(acme: Any) -> None:
    # Given a caller of each role
    expected = {
        "operator": {"userId": "op-1", "companyId": None, "role": "operator", "projects": []},
        "company_admin": {
            "userId": "u-admin",
            "companyId": "acme",
            "role": "company_admin",
            "projects": [{"projectId": "proj-a", "name": "Alpha"}, {"projectId": "proj-b", "name": "Beta"}],
        },
        "project_admin": {
            "userId": "u-pa",
            "companyId": "acme",
            "role": "project_admin",
            "projects": [{"projectId": "proj-a", "name": "Alpha"}],
        },
        "other company admin": {
            "userId": "u-other",
            "companyId": "globex",
            "role": "company_admin",
            "projects": [{"projectId": "proj-x", "name": "X"}],
        },
    }
    callers = {"operator": OPERATOR, "company_admin": ADMIN, "project_admin": PA, "other company admin": OTHER_ADMIN}
    # When each asks who it is
    got = {role: acme(event("me", claims=claims)) for role, claims in callers.items()}
    # Then each sees its company, role and exactly the projects it can access
    assert {role: r.status for role, r in got.items()} == dict.fromkeys(callers, 200)
    assert {role: r.json for role, r in got.items()} == expected


def test_grant_change_applies_at_once(acme: Any) -> None:
    # Given the project admin of proj-a, with a profile in each of proj-a and proj-b
    assert upsert(acme, profile("u-1"), project="proj-a").status == 200
    assert upsert(acme, profile("u-2"), project="proj-b").status == 200
    assert get_profile(acme, "u-1", claims=PA).status == 200
    # When the company admin moves its grant to proj-b
    moved = acme(event("put_user", body={"role": "project_admin", "projectIds": ["proj-b"]}, claims=ADMIN))
    assert moved.status == 200
    # Then the next request already sees proj-b and not proj-a
    assert_error(get_profile(acme, "u-1", claims=PA), 404, "NOT_FOUND")
    assert get_profile(acme, "u-2", project="proj-b", claims=PA).status == 200
    assert acme(event("me", claims=PA)).json["projects"] == [{"projectId": "proj-b", "name": "Beta"}]


# ------------------------------------------------------------------ companies


def test_operator_creates_and_reads_a_company(aws: None, directory_fn: Any) -> None:
    # Given an operator
    # When it creates a company with the event's body, and one without an id
    created = directory_fn(event("create_company", claims=OPERATOR))
    generated = directory_fn(event("create_company", body={"name": "Initech"}, claims=OPERATOR))
    # Then the first is created as sent and reads back the same
    assert created.status == 201, created.json
    assert created.json == ACME
    assert get_company(directory_fn).json == ACME
    # And the second gets a valid generated id, with the feature off by default
    assert generated.status == 201, generated.json
    assert re.fullmatch(ID_PATTERN, generated.json["companyId"])
    assert generated.json == {"companyId": generated.json["companyId"], "name": "Initech", "sharedSegmentsEnabled": False}
    assert get_company(directory_fn, generated.json["companyId"]).json == generated.json


def test_company_id_twice_is_already_exists(acme: Any) -> None:
    # Given acme and its device-token key
    key = directory.company_key("acme")
    # When an operator creates acme again under another name
    response = acme(event("create_company", body={"id": "acme", "name": "Impostor", "sharedSegmentsEnabled": False}, claims=OPERATOR))
    # Then it is 409, and the first company and its key are untouched (tokens already in the index still match)
    assert_error(response, 409, "ALREADY_EXISTS")
    assert get_company(acme).json == ACME
    assert directory.company_key("acme") == key


def test_only_operators_create_companies(acme: Any) -> None:
    # Given callers outside the operators group, one claiming a look-alike group
    callers = [ADMIN, PA, OTHER_ADMIN, {"sub": "u-admin", "cognito:groups": ["operatorsx", "admins"]}]
    cases = [Case(str(c), "create_company", c, {"body": {"id": "newco", "name": "NewCo"}}) for c in callers]
    # When they create a company
    # Then each is 403 and nothing is created
    expect_errors(acme, cases, 403, "FORBIDDEN")
    assert_error(get_company(acme, "newco"), 404, "NOT_FOUND")


def test_get_company_by_role(acme: Any) -> None:
    # Given acme
    # When its operator and each of its users read it
    seen = [acme(event("get_company", claims=claims)) for claims in (OPERATOR, ADMIN, PA)]
    # Then they see it
    assert [(r.status, r.json) for r in seen] == [(200, ACME)] * 3
    # And another company's user is told it is absent, as it is told of a company that does not exist
    assert_error(acme(event("get_company", claims=OTHER_ADMIN)), 404, "NOT_FOUND")
    assert_error(acme(event("get_company", path={"companyId": "no-such-co"}, claims=ADMIN)), 404, "NOT_FOUND")


def test_absent_company_is_not_found(acme: Any) -> None:
    # Given a company id that does not exist
    absent = {"companyId": "no-such-co"}
    # When an operator or a company admin reads, patches, lists, gives it a project or a user
    cases = [
        Case(f"{name} by {claims['sub']}", name, claims, {"path": {**absent, **extra.pop("path", {})}, **extra})
        for claims in (OPERATOR, ADMIN)
        for name, extra in (
            ("get_company", {}),
            ("patch_company", {}),
            ("list_projects", {}),
            ("create_project", {"body": {"id": "proj-n", "name": "N"}}),
            ("put_user", {"path": {"userId": "u-new"}, "body": {"role": "company_admin"}}),
        )
    ]
    # Then each is 404
    expect_errors(acme, cases, 404, "NOT_FOUND")
    # And the project id was not reserved, nor the user granted, by the failed calls
    assert acme(event("create_project", body={"id": "proj-n", "name": "N"}, claims=ADMIN)).status == 201
    assert acme(event("me", claims=user("u-new"))).json == {"userId": "u-new", "companyId": None, "role": None, "projects": []}


def test_operator_patches_a_company(acme: Any) -> None:
    # Given acme with the feature on
    # When an operator turns it off (the event's body)
    response = acme(event("patch_company", claims=OPERATOR))
    # Then it is off, the name kept, and it reads back so
    assert response.status == 200, response.json
    assert response.json == {**ACME, "sharedSegmentsEnabled": False}
    assert acme(event("get_company", claims=ADMIN)).json == response.json
    # When it renames it only
    renamed = acme(event("patch_company", body={"name": "Acme Ltd"}, claims=OPERATOR))
    # Then the flag stays as it was
    assert renamed.json == {"companyId": "acme", "name": "Acme Ltd", "sharedSegmentsEnabled": False}
    # When it sends nothing to change
    same = acme(event("patch_company", body={}, claims=OPERATOR))
    # Then nothing changes
    assert same.status == 200
    assert same.json == renamed.json
    assert get_company(acme).json == renamed.json


def test_only_operators_patch_a_company(acme: Any) -> None:
    # Given acme with the feature on
    body = {"sharedSegmentsEnabled": False, "name": "Hijacked"}
    # When its admin or project admin turns it off
    expect_errors(acme, [Case(c["sub"], "patch_company", c, {"body": body}) for c in (ADMIN, PA)], 403, "FORBIDDEN")
    # Or another company's admin does
    assert_error(acme(event("patch_company", body=body, claims=OTHER_ADMIN)), 404, "NOT_FOUND")
    # Then it was refused each time (absent for the other company's user) and nothing changed
    assert get_company(acme).json == ACME


# ------------------------------------------------------------------ request validation


def _violations(cases: list[tuple[str, dict[str, Any]]]) -> list[Case]:
    """Cases sent by a caller who could otherwise make the request."""
    return [
        Case(f"{name} {str(overrides)[:80]}", name, OPERATOR if name in {"create_company", "patch_company"} else ADMIN, overrides)
        for name, overrides in cases
    ]


def test_mass_assignment_is_refused(acme: Any) -> None:
    # Given bodies carrying fields the caller may not set
    cases = _violations(
        [
            ("create_company", {"body": {"name": "X", "id": "xco", "companyId": "xco"}}),
            ("create_company", {"body": {"name": "X", "id": "xco", "version": 1}}),
            ("create_company", {"body": {"name": "X", "id": "xco", "deviceKey": "AAAA"}}),
            ("patch_company", {"body": {"companyId": "globex"}}),
            ("patch_company", {"body": {"sharedSegmentsEnabled": False, "version": 3}}),
            ("patch_company", {"body": {"id": "acme2"}}),
            ("create_project", {"body": {"name": "N", "id": "proj-n", "companyId": "globex"}}),
            ("create_project", {"body": {"name": "N", "id": "proj-n", "version": 1}}),
            ("put_user", {"body": {"role": "project_admin", "projectIds": ["proj-a"], "companyId": "globex"}}),
            ("put_user", {"body": {"role": "company_admin", "userId": "u-admin"}}),
            ("upsert_profiles", {"body": {"profiles": [], "version": 1}}),
            ("upsert_profiles", {"body": {"profiles": [], "projectId": "proj-b"}}),
        ]
    )
    # When they are sent
    # Then each is 422
    expect_errors(acme, cases, 422, "VALIDATION_ERROR")


def test_wrong_types_and_missing_fields_are_422(acme: Any) -> None:
    # Given bodies with a value of the wrong type, or without a required field
    cases = _violations(
        [
            ("create_company", {"body": {"name": 5, "id": "xco"}}),
            ("create_company", {"body": {"name": ["X"], "id": "xco"}}),
            ("create_company", {"body": {"name": "X", "id": 7}}),
            ("create_company", {"body": {"name": "X", "id": "xco", "sharedSegmentsEnabled": "yes"}}),
            ("create_company", {"body": {"name": "X", "id": "xco", "sharedSegmentsEnabled": 1}}),
            ("create_company", {"body": []}),
            ("create_company", {"body": "null"}),
            ("create_company", {"body": "42"}),
            ("patch_company", {"body": {"sharedSegmentsEnabled": "false"}}),
            ("patch_company", {"body": {"sharedSegmentsEnabled": 0}}),
            ("patch_company", {"body": {"name": 5}}),
            ("create_project", {"body": {"name": {"en": "N"}, "id": "proj-n"}}),
            ("put_user", {"body": {"role": "owner"}}),
            ("put_user", {"body": {"role": "operator"}}),
            ("put_user", {"body": {"role": 1}}),
            ("put_user", {"body": {"role": "project_admin", "projectIds": "proj-a"}}),
            ("upsert_profiles", {"body": {"profiles": "u-1"}}),
            ("upsert_profiles", {"body": {"profiles": {"profileId": "u-1"}}}),
            ("upsert_profiles", {"body": []}),
            ("create_company", {"body": {}}),
            ("create_company", {"body": {"name": ""}}),
            ("create_company", {"body": {"name": "bad\nname"}}),
            ("create_company", {"body": {"name": "x" * 201}}),
            ("create_project", {"body": {"id": "proj-n"}}),
            ("put_user", {"body": {}}),
            ("upsert_profiles", {"body": {}}),
        ]
    )
    # When they are sent
    # Then each is 422
    expect_errors(acme, cases, 422, "VALIDATION_ERROR")


def test_bad_ids_in_body_and_path_are_422(acme: Any) -> None:
    # Given ids that break ^[a-z0-9][a-z0-9-]{1,62}$, in bodies and in paths (up to 10,000 characters)
    cases = _violations(
        [
            ("create_company", {"body": {"name": "X", "id": "Acme"}}),
            ("create_company", {"body": {"name": "X", "id": "a"}}),
            ("create_company", {"body": {"name": "X", "id": "-acme"}}),
            ("create_company", {"body": {"name": "X", "id": "acme_games"}}),
            ("create_company", {"body": {"name": "X", "id": "a" * 64}}),
            ("create_company", {"body": {"name": "X", "id": HUGE_ID}}),
            ("create_project", {"body": {"name": "N", "id": "Proj A"}}),
            ("create_project", {"body": {"name": "N", "id": "proj-a\n"}}),
            ("put_user", {"body": {"role": "project_admin", "projectIds": ["PROJ-A"]}}),
            ("put_user", {"body": {"role": "project_admin", "projectIds": [HUGE_ID]}}),
            ("get_company", {"path": {"companyId": HUGE_ID}}),
            ("get_company", {"path": {"companyId": "ACME"}}),
            ("patch_company", {"path": {"companyId": HUGE_ID}}),
            ("create_project", {"path": {"companyId": HUGE_ID}, "body": {"name": "N"}}),
            ("list_projects", {"path": {"companyId": HUGE_ID}}),
            ("list_projects", {"path": {"companyId": "a"}}),
            ("put_user", {"path": {"userId": HUGE_ID}}),
            ("put_user", {"path": {"companyId": HUGE_ID}}),
            ("put_user", {"path": {"userId": "U_PA"}}),
            ("upsert_profiles", {"path": {"projectId": HUGE_ID}}),
            ("get_profile", {"path": {"projectId": HUGE_ID}}),
            ("get_profile", {"path": {"profileId": HUGE_ID}}),
            ("get_profile", {"path": {"profileId": "U-1"}}),
            ("delete_profile", {"path": {"projectId": HUGE_ID}}),
            ("delete_profile", {"path": {"profileId": HUGE_ID}}),
        ]
    )
    # When they are sent
    # Then each is 422
    expect_errors(acme, cases, 422, "VALIDATION_ERROR")


def test_rejected_bodies_change_nothing(acme: Any) -> None:
    # Given requests refused for extra fields
    assert acme(event("patch_company", body={"name": "Hijacked", "companyId": "globex"}, claims=OPERATOR)).status == 422
    assert acme(event("create_company", body={"name": "X", "id": "xco", "version": 1}, claims=OPERATOR)).status == 422
    assert acme(event("put_user", body={"role": "company_admin", "companyId": "globex"}, claims=ADMIN)).status == 422
    # When the objects are read back
    # Then nothing of them was applied
    assert acme(event("get_company", claims=OPERATOR)).json["name"] == "Acme Games"
    assert acme(event("get_company", path={"companyId": "globex"}, claims=OPERATOR)).json["name"] == "Globex"
    assert acme(event("get_company", path={"companyId": "xco"}, claims=OPERATOR)).status == 404
    assert acme(event("me", claims=PA)).json["role"] == "project_admin"


def test_non_json_body_is_malformed(acme: Any) -> None:
    # Given bodies that are not JSON, or JSON Python cannot parse (a 5,000-digit integer, arrays nested 100,000 deep),
    # on every route that takes a body
    names = ["create_company", "patch_company", "create_project", "put_user", "upsert_profiles"]
    unparseable = ("{not json", '{"name": "X",}', "name=X", '{"name": %s}' % ("1" * 5000), "[" * 100_000 + "]" * 100_000)
    cases = _violations([(name, {"body": body}) for name in names for body in unparseable])
    # When they are sent
    # Then each is 400 MALFORMED_JSON
    expect_errors(acme, cases, 400, "MALFORMED_JSON")


# ------------------------------------------------------------------ projects


def test_create_project_returns_it(acme: Any) -> None:
    # Given acme
    # When its admin creates a project without an id, and an operator one with an id
    generated = acme(event("create_project", body={"name": "Gamma"}, claims=ADMIN))
    by_operator = acme(event("create_project", body={"name": "Delta", "id": "proj-d"}, claims=OPERATOR))
    # Then both are created in acme, the first with a generated id
    assert generated.status == 201, generated.json
    assert re.fullmatch(ID_PATTERN, generated.json["projectId"])
    assert generated.json == {"projectId": generated.json["projectId"], "companyId": "acme", "name": "Gamma"}
    assert by_operator.status == 201, by_operator.json
    assert by_operator.json == {"projectId": "proj-d", "companyId": "acme", "name": "Delta"}
    assert set(project_ids(acme, ADMIN)) == {"proj-a", "proj-b", "proj-d", generated.json["projectId"]}


def test_create_project_needs_the_company_admin(acme: Any) -> None:
    # Given callers who are not acme's admin
    body = {"name": "Sneaky", "id": "proj-s"}
    # When the project admin creates a project in acme
    assert_error(acme(event("create_project", body=body, claims=PA)), 403, "FORBIDDEN")
    # Or another company's admin does
    assert_error(acme(event("create_project", body=body, claims=OTHER_ADMIN)), 404, "NOT_FOUND")
    # Then the project does not exist, nor is its id taken
    assert project_ids(acme, ADMIN) == ["proj-a", "proj-b"]
    assert acme(event("create_project", body=body, claims=ADMIN)).status == 201


def test_project_id_twice_is_already_exists(acme: Any) -> None:
    # Given proj-a in acme
    # When acme's admin creates proj-a again
    response = acme(event("create_project", body={"id": "proj-a", "name": "Again"}, claims=ADMIN))
    # Then it is 409 and proj-a keeps its name
    assert_error(response, 409, "ALREADY_EXISTS")
    assert {"projectId": "proj-a", "companyId": "acme", "name": "Alpha"} in acme(event("list_projects", claims=ADMIN)).json["projects"]


def test_project_id_is_unique_across_companies(acme: Any) -> None:
    # Given proj-a in acme
    # When globex's admin creates a project called proj-a
    response = acme(event("create_project", path={"companyId": "globex"}, body={"id": "proj-a", "name": "Mine"}, claims=OTHER_ADMIN))
    # Then it is 409, globex has no proj-a, and acme's proj-a is untouched
    assert_error(response, 409, "ALREADY_EXISTS")
    assert project_ids(acme, OTHER_ADMIN, "globex") == ["proj-x"]
    assert directory.project_company("proj-a") == "acme"
    # And globex's admin still cannot reach acme's proj-a
    assert_error(upsert(acme, profile("u-1"), claims=OTHER_ADMIN), 404, "NOT_FOUND")


def test_list_projects_shows_only_the_callers(acme: Any) -> None:
    # Given acme with proj-a and proj-b
    # When each kind of caller lists them
    listed = {role: project_ids(acme, claims) for role, claims in (("operator", OPERATOR), ("company_admin", ADMIN), ("project_admin", PA))}
    # Then it sees exactly the projects it can access
    assert listed == {"operator": ["proj-a", "proj-b"], "company_admin": ["proj-a", "proj-b"], "project_admin": ["proj-a"]}
    assert acme(event("list_projects", claims=PA)).json == {"projects": [{"projectId": "proj-a", "companyId": "acme", "name": "Alpha"}]}


def test_other_companys_directory_routes_are_not_found(acme: Any) -> None:
    # Given globex's admin
    # When it reads acme, lists its projects, creates one, grants a user or patches it
    cases = [
        Case("get company", "get_company", OTHER_ADMIN, {}),
        Case("list projects", "list_projects", OTHER_ADMIN, {}),
        Case("create project", "create_project", OTHER_ADMIN, {"body": {"id": "proj-g", "name": "G"}}),
        Case("grant a spy", "put_user", OTHER_ADMIN, {"path": {"userId": "u-spy"}, "body": {"role": "company_admin"}}),
        Case("change a grant", "put_user", OTHER_ADMIN, {"body": {"role": "company_admin"}}),
        Case("patch company", "patch_company", OTHER_ADMIN, {"body": {"sharedSegmentsEnabled": False}}),
    ]
    # Then acme is absent for it every time, and nothing changed
    expect_errors(acme, cases, 404, "NOT_FOUND")
    assert acme(event("me", claims=user("u-spy"))).json == {"userId": "u-spy", "companyId": None, "role": None, "projects": []}
    assert acme(event("me", claims=PA)).json["role"] == "project_admin"
    assert project_ids(acme, ADMIN) == ["proj-a", "proj-b"]
    assert get_company(acme).json == ACME


# ------------------------------------------------------------------ users


def test_put_user_returns_the_grant(acme: Any) -> None:
    # Given acme's admin
    # When it grants u-new proj-b and proj-a (listed twice)
    response = acme(
        event(
            "put_user", path={"userId": "u-new"}, body={"role": "project_admin", "projectIds": ["proj-b", "proj-a", "proj-b"]}, claims=ADMIN
        )
    )
    # Then the grant is stored once per project and u-new sees both
    assert response.status == 200, response.json
    assert response.json == {"userId": "u-new", "companyId": "acme", "role": "project_admin", "projectIds": ["proj-a", "proj-b"]}
    assert [p["projectId"] for p in acme(event("me", claims=user("u-new"))).json["projects"]] == ["proj-a", "proj-b"]


def test_company_admin_grant_ignores_project_ids(acme: Any) -> None:
    # Given an operator
    # When it makes u-new company admin with a project list
    response = acme(event("put_user", path={"userId": "u-new"}, body={"role": "company_admin", "projectIds": ["proj-a"]}, claims=OPERATOR))
    # Then the grant is company-wide
    assert response.status == 200, response.json
    assert response.json == {"userId": "u-new", "companyId": "acme", "role": "company_admin", "projectIds": []}
    assert project_ids(acme, user("u-new")) == ["proj-a", "proj-b"]


def test_put_user_needs_the_company_admin(acme: Any) -> None:
    # Given the project admin of proj-a
    # When it widens its own grant, to company admin or to proj-b
    refused = [
        acme(event("put_user", body={"role": "company_admin"}, claims=PA)),
        acme(event("put_user", body={"role": "project_admin", "projectIds": ["proj-a", "proj-b"]}, claims=PA)),
    ]
    # Or another company's admin widens it
    hidden = acme(event("put_user", body={"role": "company_admin"}, claims=OTHER_ADMIN))
    # Then it is refused (absent for the other company) and the grant is unchanged
    for response in refused:
        assert_error(response, 403, "FORBIDDEN")
    assert_error(hidden, 404, "NOT_FOUND")
    assert acme(event("me", claims=PA)).json["role"] == "project_admin"
    assert project_ids(acme, PA) == ["proj-a"]


def test_user_granted_in_another_company_is_already_exists(acme: Any) -> None:
    # Given u-other, globex's admin
    # When acme's admin grants u-other a role in acme
    response = acme(event("put_user", path={"userId": "u-other"}, body={"role": "company_admin"}, claims=ADMIN))
    # Then it is 409 and u-other still belongs to globex only
    assert_error(response, 409, "ALREADY_EXISTS")
    assert acme(event("me", claims=OTHER_ADMIN)).json == {
        "userId": "u-other",
        "companyId": "globex",
        "role": "company_admin",
        "projects": [{"projectId": "proj-x", "name": "X"}],
    }
    assert_error(acme(event("get_company", claims=OTHER_ADMIN)), 404, "NOT_FOUND")


def test_refused_grant_does_not_reveal_the_user_exists_elsewhere(acme: Any) -> None:
    # Given u-other, globex's admin, and u-free, whom nobody granted
    # When acme's admin grants each the same role
    held = acme(event("put_user", path={"userId": "u-other"}, body={"role": "project_admin", "projectIds": ["proj-a"]}, claims=ADMIN))
    # Then the refusal names neither globex nor "another company" (API.md, Directory)
    error = assert_error(held, 409, "ALREADY_EXISTS")
    assert "globex" not in held.raw["body"].lower()
    assert "another" not in error["message"].lower()
    assert "compan" not in error["message"].lower()
    assert acme(event("put_user", path={"userId": "u-free"}, body={"role": "company_admin"}, claims=ADMIN)).status == 200


def test_delete_user_removes_the_grant_at_once(acme: Any) -> None:
    # Given u-pa, project admin of proj-a, who can list acme's projects
    assert project_ids(acme, PA) == ["proj-a"]
    # When acme's admin deletes its grant
    response = acme(event("delete_user", claims=ADMIN))
    # Then it is 204 with no body, and u-pa's next request is refused: it has no grant any more
    assert response.status == 204, response.json
    assert not response.raw.get("body")
    assert_error(acme(event("list_projects", claims=PA)), 403, "FORBIDDEN")
    assert acme(event("me", claims=PA)).json == {"userId": "u-pa", "companyId": None, "role": None, "projects": []}
    # And deleting it again is 404
    assert_error(acme(event("delete_user", claims=ADMIN)), 404, "NOT_FOUND")


def test_operator_deletes_a_grant_and_the_user_can_be_granted_elsewhere(acme: Any) -> None:
    # Given u-other, globex's admin, whom acme could not grant
    assert acme(event("put_user", path={"userId": "u-other"}, body={"role": "company_admin"}, claims=ADMIN)).status == 409
    # When an operator deletes its grant in globex
    response = acme(event("delete_user", path={"companyId": "globex", "userId": "u-other"}, claims=OPERATOR))
    # Then it is 204, and acme's admin can now grant it
    assert response.status == 204, response.json
    assert acme(event("put_user", path={"userId": "u-other"}, body={"role": "company_admin"}, claims=ADMIN)).status == 200
    assert acme(event("me", claims=OTHER_ADMIN)).json["companyId"] == "acme"


def test_delete_user_needs_that_company_admin(acme: Any) -> None:
    # Given acme's project admin, globex's admin, and a user of globex
    cases = [
        Case("project admin deletes itself", "delete_user", PA, {}),
        Case("project admin deletes the admin", "delete_user", PA, {"path": {"userId": "u-admin"}}),
    ]
    expect_errors(acme, cases, 403, "FORBIDDEN")
    hidden = [
        # another company's admin: acme is absent for it
        Case("globex admin deletes acme's user", "delete_user", OTHER_ADMIN, {}),
        # acme's admin naming a user held by globex, or by nobody: absent alike, globex's grant untouched
        Case("acme admin deletes globex's user", "delete_user", ADMIN, {"path": {"userId": "u-other"}}),
        Case("acme admin deletes an unknown user", "delete_user", ADMIN, {"path": {"userId": "u-nobody"}}),
        Case("absent company", "delete_user", OPERATOR, {"path": {"companyId": "no-such-co"}}),
    ]
    expect_errors(acme, hidden, 404, "NOT_FOUND")
    # Then every grant is as it was
    assert acme(event("me", claims=PA)).json["role"] == "project_admin"
    assert acme(event("me", claims=OTHER_ADMIN)).json["companyId"] == "globex"
    assert project_ids(acme, PA) == ["proj-a"]


@pytest.mark.parametrize("groups", [["a,operators"], ['"operators"'], ["operators,a"], ["[operators"], ["operators]"]])
def test_a_group_named_like_operators_is_not_the_operators_group(acme: Any, groups: list[str]) -> None:
    # Given a caller whose token's only group is not exactly "operators" (passed on as API Gateway does: "[a,operators]")
    caller = {"sub": "u-mallory", "cognito:groups": groups}
    # When it does what only operators may
    created = acme(event("create_company", body={"id": "mallory", "name": "Mallory"}, claims=caller))
    peeked = acme(event("get_company", claims=caller))
    # Then it is no operator
    assert_error(created, 403, "FORBIDDEN")
    assert_error(peeked, 403, "FORBIDDEN")
    assert acme(event("me", claims=caller)).json == {"userId": "u-mallory", "companyId": None, "role": None, "projects": []}


def test_me_without_a_grant_is_200_with_no_company(aws: None, directory_fn: Any) -> None:
    # Given an authenticated user nobody granted anything
    # When it asks who it is
    response = directory_fn(event("me", claims=user("u-fresh")))
    # Then it is told: no company, no role, no projects (API.md, Directory)
    assert response.status == 200, response.json
    assert response.json == {"userId": "u-fresh", "companyId": None, "role": None, "projects": []}


def test_grant_of_a_project_outside_the_company_is_not_found(acme: Any) -> None:
    # Given projects that are not acme's: one absent, one of globex
    for project_id in ("proj-nope", "proj-x"):
        # When acme's admin grants it to the project admin
        response = acme(event("put_user", body={"role": "project_admin", "projectIds": ["proj-a", project_id]}, claims=ADMIN))
        # Then it is 404
        assert_error(response, 404, "NOT_FOUND")
    # And the grant is unchanged
    assert acme(event("me", claims=PA)).json["projects"] == [{"projectId": "proj-a", "name": "Alpha"}]
    assert_error(upsert(acme, profile("u-1"), project="proj-x", claims=PA), 404, "NOT_FOUND")


# ------------------------------------------------------------------ profiles: who may


def test_upsert_then_get_profile(acme: Any) -> None:
    # Given a profile upserted in proj-a
    response = acme(event("upsert_profiles", claims=ADMIN))
    # Then it is stored with normalised device ids
    assert response.status == 200, response.json
    assert response.json == {"upserted": 1, "rejected": []}
    got = acme(event("get_profile", claims=PA))
    assert got.status == 200
    assert got.json == {
        "profileId": "u-1",
        "attributes": {"first_name": "Ann", "country": "IE"},
        "devices": [
            {"platform": "ios", "id": "e621e1f8-c36c-495a-93fc-0c247a3e6e5f"},
            {"platform": "android", "id": "9a3f5e2b7c1d4e60"},
        ],
    }


def test_profile_routes_for_callers_who_may(acme: Any) -> None:
    for claims in (OPERATOR, ADMIN, PA):
        # Given a caller with access to proj-a
        # When it upserts, reads and deletes a profile there
        upserted = acme(event("upsert_profiles", claims=claims))
        got = acme(event("get_profile", claims=claims))
        deleted = acme(event("delete_profile", claims=claims))
        # Then each succeeds
        assert upserted.status == 200, (claims, upserted.json)
        assert upserted.json["upserted"] == 1
        assert got.status == 200, claims
        assert got.json["profileId"] == "u-1"
        assert deleted.status == 204, claims
        assert_error(acme(event("get_profile", claims=claims)), 404, "NOT_FOUND")


def test_profile_routes_of_an_invisible_project_are_not_found(acme: Any) -> None:
    # Given a profile stored in every real project
    owners = (("proj-a", ADMIN), ("proj-b", ADMIN), ("proj-x", OTHER_ADMIN))
    for pid, owner in owners:
        assert upsert(acme, profile("u-1", [("ios", IDFV)], v="orig"), project=pid, claims=owner).status == 200
    # When a caller upserts, reads or deletes in a project it cannot see
    invisible = [
        ("other company", OTHER_ADMIN, "proj-a"),
        ("not granted", PA, "proj-b"),
        ("other company, other side", ADMIN, "proj-x"),
        ("absent", ADMIN, "proj-nope"),
        ("absent, operator", OPERATOR, "proj-nope"),
    ]
    cases = [
        Case(f"{label} {name}", name, claims, {"path": {"projectId": project}, **extra})
        for label, claims, project in invisible
        for name, extra in (
            ("upsert_profiles", {"body": {"profiles": [profile("u-1", v="hacked")]}}),
            ("get_profile", {}),
            ("delete_profile", {}),
        )
    ]
    # Then the project is absent each time
    expect_errors(acme, cases, 404, "NOT_FOUND")
    # And the stored profiles are untouched
    for pid, owner in owners:
        got = get_profile(acme, "u-1", project=pid, claims=owner)
        assert got.status == 200
        assert got.json["attributes"] == {"v": "orig"}


def test_unknown_profile_is_not_found(acme: Any) -> None:
    # Given u-1 in proj-a only
    assert upsert(acme, profile("u-1")).status == 200
    # When u-404 is read or deleted there, or u-1 read in proj-b
    got = acme(event("get_profile", path={"profileId": "u-404"}, claims=ADMIN))
    deleted = acme(event("delete_profile", path={"profileId": "u-404"}, claims=ADMIN))
    elsewhere = get_profile(acme, "u-1", project="proj-b")
    # Then each is 404, naming the profile
    for response in (got, deleted, elsewhere):
        assert_error(response, 404, "NOT_FOUND")
    assert "u-404" in got.json["error"]["message"]


# ------------------------------------------------------------------ profiles: batches


def test_more_than_500_profiles_is_too_large(acme: Any) -> None:
    # Given 501 valid profiles
    batch = [profile(f"u-{n}", [("android", f"{n + 1:x}")]) for n in range(501)]
    # When they are upserted in one call
    response = upsert(acme, *batch)
    # Then it is 413 and nothing is stored
    assert_error(response, 413, "TOO_LARGE")
    assert_error(get_profile(acme, "u-0"), 404, "NOT_FOUND")
    assert stored_profiles() == 0
    assert index() == {}


def test_body_over_the_limit_is_too_large(acme: Any) -> None:
    # Given one profile whose body is over the request limit
    body = json.dumps({"profiles": [profile("u-1", bio="x" * config.MAX_BODY_BYTES)]})
    # When it is upserted
    response = acme(event("upsert_profiles", body=body, claims=ADMIN))
    # Then it is 413 and nothing is stored
    assert_error(response, 413, "TOO_LARGE")
    assert_error(get_profile(acme, "u-1"), 404, "NOT_FOUND")


def test_500_profiles_land(acme: Any) -> None:
    # Given exactly 500 profiles, every tenth with a device
    batch = [profile(f"u-{n}", [("android", f"{n + 1:x}")] if n % 10 == 0 else [], n=n) for n in range(500)]
    # When they are upserted in one call
    response = upsert(acme, *batch)
    # Then every one is stored, and every device indexed
    assert response.status == 200, response.json
    assert response.json == {"upserted": 500, "rejected": []}
    assert stored_profiles() == 500
    assert index() == {device_token("android", f"{n + 1:x}"): {f"u-{n}"} for n in range(0, 500, 10)}
    assert get_profile(acme, "u-499").json["attributes"] == {"n": 499}


def test_invalid_profile_is_rejected_and_the_rest_land(acme: Any) -> None:
    # Given u-2 stored with its devices
    assert upsert(acme, profile("u-2", [("ios", IDFV_2)], first_name="Bea")).status == 200
    before = get_profile(acme, "u-2").json
    row_before = stored_row("u-2")
    index_before = index()
    # When a batch replaces u-2 with a bad device id, between two valid profiles
    response = upsert(
        acme,
        profile("u-1", [("ios", IDFV)], first_name="Ann"),
        profile("u-2", [("android", ANDROID), ("android", "not-hex")], first_name="Changed"),
        profile("u-3", [("android", ANDROID_2)], first_name="Cat"),
    )
    # Then the call succeeds, naming the rejected profile by position, id and code
    assert response.status == 200, response.json
    assert response.json["upserted"] == 2
    [rejected] = response.json["rejected"]
    assert set(rejected) == {"index", "profileId", "code", "message"}
    assert rejected["index"] == 1
    assert rejected["profileId"] == "u-2"
    assert rejected["code"] == "INVALID_DEVICE_ID"
    assert rejected["message"]
    assert "not-hex" not in rejected["message"]
    # And the valid profiles landed
    assert get_profile(acme, "u-1").json["attributes"] == {"first_name": "Ann"}
    assert get_profile(acme, "u-3").json["devices"] == [{"platform": "android", "id": "c0ffee12345678"}]
    # And u-2 is exactly as it was, row and index alike
    assert get_profile(acme, "u-2").json == before
    row_after = stored_row("u-2")
    assert row_after.version == row_before.version
    assert row_after.updated_at == row_before.updated_at
    assert row_after.tokens == row_before.tokens
    # (the rejected device never reached the index)
    assert index_before == {device_token("ios", IDFV_2): {"u-2"}}
    assert index() == {**index_before, device_token("ios", IDFV): {"u-1"}, device_token("android", ANDROID_2): {"u-3"}}


def test_every_kind_of_bad_profile_is_rejected_at_its_index(acme: Any) -> None:
    # Given a batch of bad profiles of every kind, each between valid ones
    bad: list[tuple[Any, str, str | None]] = [
        (profile("u-b0", [("ios", "E621E1F8C36C495A93FC0C247A3E6E5F")]), "INVALID_DEVICE_ID", "u-b0"),
        (profile("u-b1", [("ios", IDFV + "\n")]), "INVALID_DEVICE_ID", "u-b1"),
        (profile("u-b2", [("android", "9a3f5e2b7c1d4e601")]), "INVALID_DEVICE_ID", "u-b2"),
        (profile("u-b3", [("blackberry", "abc")]), "INVALID_DEVICE_ID", "u-b3"),
        ({"profileId": "u-b4", "devices": [{"platform": "ios", "id": IDFV, "idfa": "x"}]}, "INVALID_DEVICE_ID", "u-b4"),
        (profile("u-b5", address={"city": "Cork"}), "INVALID_PROFILE", "u-b5"),
        (profile("u-b6", score=float("nan")), "INVALID_PROFILE", "u-b6"),
        (profile("u-b7", bio="x" * 2049), "INVALID_PROFILE", "u-b7"),
        ({"profileId": "u-b8", "version": 7}, "INVALID_PROFILE", "u-b8"),
        (profile("u-b9", [("android", f"{n + 1:x}") for n in range(21)]), "INVALID_PROFILE", "u-b9"),
        ({"profileId": "U B10"}, "INVALID_PROFILE", "U B10"),
        ({"profileId": HUGE_ID}, "INVALID_PROFILE", None),
        ({"profileId": 11}, "INVALID_PROFILE", None),
        ("u-b12", "INVALID_PROFILE", None),
        (None, "INVALID_PROFILE", None),
    ]
    batch: list[Any] = []
    for n, (raw, _code, _shown) in enumerate(bad):
        batch += [profile(f"u-ok{n}", [("android", f"{n + 1:x}")]), raw]
    # When it is upserted
    response = upsert(acme, *batch)
    # Then each bad profile is rejected at its position, with its code and a message, and every valid one lands
    assert response.status == 200, response.json
    assert response.json["upserted"] == len(bad)
    rejected = response.json["rejected"]
    assert [(r["index"], r["profileId"], r["code"]) for r in rejected] == [
        (2 * n + 1, shown, code) for n, (_, code, shown) in enumerate(bad)
    ]
    assert all(set(r) == {"index", "profileId", "code", "message"} and r["message"] for r in rejected)
    assert stored_profiles() == len(bad)
    entries = index()
    assert sorted(p for holders in entries.values() for p in holders) == sorted(f"u-ok{n}" for n in range(len(bad)))
    assert len(entries) == len(bad)


def test_profile_too_large_to_store_is_rejected_alone(acme: Any) -> None:
    # Given a profile within every per-field limit that is too large to store once escaped
    big = profile("u-big", **{f"a{n}": "é" * 2048 for n in range(100)})
    body = json.dumps({"profiles": [profile("u-1"), big, profile("u-2")]}, ensure_ascii=False)
    assert len(body) < config.MAX_BODY_BYTES
    # When it is upserted between two valid profiles (sent as UTF-8, well under the body limit)
    response = acme(event("upsert_profiles", body=body, claims=ADMIN))
    # Then it alone is rejected and the others land
    assert response.status == 200, response.json
    assert response.json["upserted"] == 2
    assert [(r["index"], r["profileId"], r["code"]) for r in response.json["rejected"]] == [(1, "u-big", "INVALID_PROFILE")]
    assert get_profile(acme, "u-1").status == 200
    assert get_profile(acme, "u-2").status == 200
    assert_error(get_profile(acme, "u-big"), 404, "NOT_FOUND")


def test_duplicate_profile_in_one_batch_is_rejected(acme: Any) -> None:
    # Given a batch naming u-1 twice
    # When it is upserted
    response = upsert(acme, profile("u-1", first="yes"), profile("u-1", first="no"))
    # Then the second is rejected and the first stored
    assert response.status == 200, response.json
    assert response.json["upserted"] == 1
    assert [(r["index"], r["profileId"], r["code"]) for r in response.json["rejected"]] == [(1, "u-1", "DUPLICATE_PROFILE")]
    assert get_profile(acme, "u-1").json["attributes"] == {"first": "yes"}


def test_empty_batch_upserts_nothing(acme: Any) -> None:
    # Given an empty batch
    # When it is upserted
    response = upsert(acme)
    # Then nothing happens
    assert response.status == 200
    assert response.json == {"upserted": 0, "rejected": []}
    assert stored_profiles() == 0


# ------------------------------------------------------------------ profiles: replacement and the device index


def test_reupsert_replaces_the_profile_whole_and_moves_its_index_entries(acme: Any) -> None:
    # Given u-1 with two devices and two attributes
    assert upsert(acme, profile("u-1", [("ios", IDFV), ("android", ANDROID)], first_name="Ann", country="IE")).status == 200
    old_ios, kept_android = device_token("ios", IDFV), device_token("android", ANDROID)
    assert index() == {old_ios: {"u-1"}, kept_android: {"u-1"}}
    # When it is upserted with one old device (spelt differently), one new device and other attributes
    response = upsert(acme, profile("u-1", [("android", ANDROID.upper()), ("ios", IDFV_2)], last_name="Smith"))
    # Then attributes and devices are exactly the new ones
    assert response.status == 200, response.json
    got = get_profile(acme, "u-1").json
    assert got["attributes"] == {"last_name": "Smith"}
    assert got["devices"] == [{"platform": "android", "id": ANDROID}, {"platform": "ios", "id": IDFV_2.lower()}]
    # And the index lost the old device's entry and gained the new one's
    new_ios = device_token("ios", IDFV_2)
    assert index() == {kept_android: {"u-1"}, new_ios: {"u-1"}}
    assert sorted(stored_row("u-1").tokens) == sorted([kept_android, new_ios])


def test_reupsert_without_devices_empties_the_index(acme: Any) -> None:
    # Given u-1 with devices
    assert upsert(acme, profile("u-1", [("ios", IDFV), ("android", ANDROID)])).status == 200
    # When it is upserted without devices (or attributes)
    assert upsert(acme, {"profileId": "u-1"}).status == 200
    # Then it has neither, and no index entry remains
    assert get_profile(acme, "u-1").json == {"profileId": "u-1", "attributes": {}, "devices": []}
    assert index() == {}


def test_shared_device_entry_holds_both_profiles_then_one(acme: Any) -> None:
    # Given u-1 and u-2 of proj-a sharing a device (spelt two ways), sent in one batch
    shared = device_token("android", ANDROID_2)
    response = upsert(acme, profile("u-1", [("android", ANDROID_2)]), profile("u-2", [("android", "C0FFEE12345678")]))
    assert response.status == 200, response.json
    # Then its entry holds both
    assert index() == {shared: {"u-1", "u-2"}}
    # When u-1 drops the device
    assert upsert(acme, profile("u-1", [("ios", IDFV)])).status == 200
    # Then the entry holds u-2 only
    assert index() == {shared: {"u-2"}, device_token("ios", IDFV): {"u-1"}}
    # When u-2 is deleted
    assert acme(event("delete_profile", path={"profileId": "u-2"}, claims=ADMIN)).status == 204
    # Then the entry is gone
    assert index() == {device_token("ios", IDFV): {"u-1"}}


def test_shared_device_across_projects_is_indexed_per_project(acme: Any) -> None:
    # Given the same device on a profile of proj-a and of proj-b
    assert upsert(acme, profile("u-1", [("ios", IDFV)]), project="proj-a").status == 200
    assert upsert(acme, profile("u-1", [("ios", IDFV)]), project="proj-b").status == 200
    # When proj-a's profile is deleted
    assert acme(event("delete_profile", claims=ADMIN)).status == 204
    # Then proj-b's profile and entry stay
    assert index(project_id="proj-a") == {}
    assert index(project_id="proj-b") == {device_token("ios", IDFV): {"u-1"}}
    assert get_profile(acme, "u-1", project="proj-b").status == 200


def test_delete_removes_the_profile_and_its_index_entries(acme: Any) -> None:
    # Given u-1 and u-2 with devices
    assert upsert(acme, profile("u-1", [("ios", IDFV), ("android", ANDROID)]), profile("u-2", [("android", ANDROID_2)])).status == 200
    # When u-1 is deleted (the event)
    response = acme(event("delete_profile", claims=ADMIN))
    # Then it is 204 with no content, u-1 is gone and only u-2's entry remains
    assert response.status == 204
    assert not response.raw.get("body")
    assert_error(get_profile(acme, "u-1"), 404, "NOT_FOUND")
    assert index() == {device_token("android", ANDROID_2): {"u-2"}}
    assert get_profile(acme, "u-2").status == 200
    # And deleting it again is 404
    assert_error(acme(event("delete_profile", claims=ADMIN)), 404, "NOT_FOUND")


def test_placeholders_are_stored_but_not_indexed(acme: Any) -> None:
    # Given a profile whose devices are placeholders but one
    devices = [
        ("ios", "00000000-0000-0000-0000-000000000000"),
        ("android", "9774D56D682E549C"),
        ("android", "000"),
        ("android", ANDROID),
    ]
    # When it is upserted
    assert upsert(acme, profile("u-1", devices)).status == 200
    # Then every device is stored, normalised
    assert get_profile(acme, "u-1").json["devices"] == [
        {"platform": "ios", "id": "00000000-0000-0000-0000-000000000000"},
        {"platform": "android", "id": "9774d56d682e549c"},
        {"platform": "android", "id": "0"},
        {"platform": "android", "id": ANDROID},
    ]
    # And only the real device has an index entry
    assert index() == {device_token("android", ANDROID): {"u-1"}}
    assert stored_row("u-1").tokens == [device_token("android", ANDROID)]


def test_index_holds_tokens_never_raw_ids(acme: Any) -> None:
    # Given a stored profile (the event's)
    assert acme(event("upsert_profiles", claims=ADMIN)).status == 200
    # When every index item is read raw
    raw = json.dumps([row.attribute_values for row in DeviceIndexRow.scan()], default=str).lower()
    # Then no raw device id appears in it, only tokens
    assert IDFV.lower() not in raw
    assert ANDROID not in raw
    assert index() == {device_token("ios", IDFV): {"u-1"}, device_token("android", ANDROID): {"u-1"}}


def test_tokens_differ_between_companies(acme: Any) -> None:
    # Given the same device on a profile of acme and of globex
    assert upsert(acme, profile("u-1", [("ios", IDFV)]), project="proj-a").status == 200
    assert upsert(acme, profile("u-1", [("ios", IDFV)]), project="proj-x", claims=OTHER_ADMIN).status == 200
    # When both indexes are read
    acme_tokens, globex_tokens = set(index("acme", "proj-a")), set(index("globex", "proj-x"))
    # Then the tokens are unrelated
    assert acme_tokens == {device_token("ios", IDFV, "acme")}
    assert globex_tokens == {device_token("ios", IDFV, "globex")}
    assert not acme_tokens & globex_tokens
