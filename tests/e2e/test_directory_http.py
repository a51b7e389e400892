"""The directory and profile routes over real HTTP against the local stack."""

from __future__ import annotations

import jwt
import pytest

from local import demo
from local.tokens import mint
from tests.support.http import OPERATOR_TOKEN, fresh_id
from tests.support.stacks import LocalStack

pytestmark = pytest.mark.e2e

ADMIN = mint("e2e-admin")
PROJECT_ADMIN = mint("e2e-pa")
OTHER_ADMIN = mint("e2e-other-admin")


def test_health_needs_no_token(stack: LocalStack) -> None:
    response = stack.call("GET", "/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "token",
    [
        None,
        "not-a-jwt",
        mint("e2e-admin", key="another-secret-of-sufficient-length"),
        mint("e2e-admin", ttl_seconds=-60),
        jwt.encode({"iss": "x"}, "segshare-local-dev-secret", algorithm="HS256"),
    ],
    ids=["missing", "malformed", "badly-signed", "expired", "no-sub"],
)
def test_bad_tokens_get_401(stack: LocalStack, token: str | None) -> None:
    response = stack.call("GET", "/v1/me", token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


def test_operator_to_profiles_walkthrough(stack: LocalStack) -> None:
    # Given an operator who creates a company with two projects and grants
    co, pa, pb = fresh_id("e2e-co"), fresh_id("e2e-a"), fresh_id("e2e-b")
    assert stack.call("POST", "/v1/companies", OPERATOR_TOKEN, {"id": co, "name": "E2E Co"}).status_code == 201
    assert stack.call("PUT", f"/v1/companies/{co}/users/e2e-admin", OPERATOR_TOKEN, {"role": "company_admin"}).status_code == 200
    for pid in (pa, pb):
        created = stack.call("POST", f"/v1/companies/{co}/projects", ADMIN, {"id": pid, "name": pid.upper()})
        assert created.status_code == 201, created.text
        assert created.json() == {"projectId": pid, "companyId": co, "name": pid.upper()}
    granted = stack.call("PUT", f"/v1/companies/{co}/users/e2e-pa", ADMIN, {"role": "project_admin", "projectIds": [pa]})
    assert granted.json() == {"userId": "e2e-pa", "companyId": co, "role": "project_admin", "projectIds": [pa]}

    # When the project admin looks around
    me = stack.call("GET", "/v1/me", PROJECT_ADMIN).json()
    listed = stack.call("GET", f"/v1/companies/{co}/projects", PROJECT_ADMIN).json()

    # Then it sees only its own project
    assert me == {"userId": "e2e-pa", "companyId": co, "role": "project_admin", "projects": [{"projectId": pa, "name": pa.upper()}]}
    assert [p["projectId"] for p in listed["projects"]] == [pa]

    # When it upserts profiles, one of them with a bad device id
    body = {
        "profiles": [
            {
                "profileId": "u-1",
                "attributes": {"first_name": "Ann"},
                "devices": [{"platform": "ios", "id": "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"}],
            },
            {"profileId": "u-2", "devices": [{"platform": "android", "id": "not-hex"}]},
        ]
    }
    upserted = stack.call("PUT", f"/v1/projects/{pa}/profiles", PROJECT_ADMIN, body)

    # Then the good one lands and the bad one is named
    assert upserted.status_code == 200
    assert upserted.json()["upserted"] == 1
    assert upserted.json()["rejected"][0]["index"] == 1
    assert upserted.json()["rejected"][0]["code"] == "INVALID_DEVICE_ID"
    profile = stack.call("GET", f"/v1/projects/{pa}/profiles/u-1", PROJECT_ADMIN).json()
    assert profile["devices"] == [{"platform": "ios", "id": "e621e1f8-c36c-495a-93fc-0c247a3e6e5f"}]
    assert stack.call("GET", f"/v1/projects/{pa}/profiles/u-2", PROJECT_ADMIN).status_code == 404

    # And a project outside its grant does not exist for it
    assert stack.call("GET", f"/v1/projects/{pb}/profiles/u-1", PROJECT_ADMIN).status_code == 404
    assert stack.call("DELETE", f"/v1/projects/{pa}/profiles/u-1", PROJECT_ADMIN).status_code == 204
    assert stack.call("GET", f"/v1/projects/{pa}/profiles/u-1", PROJECT_ADMIN).status_code == 404


def test_cross_company_reads_are_404(stack: LocalStack) -> None:
    # Given two companies
    x1, x2, x2_project = fresh_id("e2e-x1"), fresh_id("e2e-x2"), fresh_id("e2e-x2-p")
    assert stack.call("POST", "/v1/companies", OPERATOR_TOKEN, {"id": x1, "name": "X1"}).status_code == 201
    assert stack.call("POST", "/v1/companies", OPERATOR_TOKEN, {"id": x2, "name": "X2"}).status_code == 201
    assert stack.call("PUT", f"/v1/companies/{x1}/users/e2e-other-admin", OPERATOR_TOKEN, {"role": "company_admin"}).status_code == 200
    assert stack.call("POST", f"/v1/companies/{x2}/projects", OPERATOR_TOKEN, {"id": x2_project, "name": "P"}).status_code == 201

    # When an admin of X1 reads X2's company, projects and a project route
    reads = [
        stack.call("GET", f"/v1/companies/{x2}", OTHER_ADMIN),
        stack.call("GET", f"/v1/companies/{x2}/projects", OTHER_ADMIN),
        stack.call("GET", f"/v1/projects/{x2_project}/profiles/anyone", OTHER_ADMIN),
    ]

    # Then each is 404, the same answer as for something that does not exist
    assert [r.status_code for r in reads] == [404, 404, 404]
    assert all(r.json()["error"]["code"] == "NOT_FOUND" for r in reads)


def test_docs_and_openapi_are_served(stack: LocalStack) -> None:
    spec = stack.call("GET", "/openapi.json").json()
    assert "/v1/projects/{projectId}/profiles" in spec["paths"]
    assert "swagger" in stack.call("GET", "/docs").text.lower()


def test_the_shared_stack_starts_with_the_demo_data(stack: LocalStack) -> None:
    # Given the session's stack, started with demo data (its clean stop on SIGTERM is checked when the session ends)
    token = demo.COMPANY_ADMIN.token()
    # Then the demo company admin sees the four demo projects and their profiles
    projects = stack.call("GET", f"/v1/companies/{demo.COMPANY}/projects", token).json()["projects"]
    assert [p["projectId"] for p in projects] == ["proj-a", "proj-b", "proj-c", "proj-d"]
    assert stack.call("GET", "/v1/projects/proj-b/profiles/b-user-0000", token).status_code == 200
