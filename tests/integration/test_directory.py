"""Directory and profile routes through lambda_handler inside moto, events from events/."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import OPERATOR, event, user

ADMIN = user("u-admin")
PA = user("u-pa")  # project admin of proj-a
OTHER_ADMIN = user("u-other")  # company admin of another company


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


def test_upsert_then_get_profile(acme: Any) -> None:
    # Given a profile upserted in proj-a
    response = acme(event("upsert_profiles", claims=ADMIN))
    # Then it is stored with normalised device ids
    assert response.status == 200, response.json
    assert response.json == {"upserted": 1, "rejected": []}
    got = acme(event("get_profile", claims=PA))
    assert got.status == 200
    assert got.json["devices"] == [
        {"platform": "ios", "id": "e621e1f8-c36c-495a-93fc-0c247a3e6e5f"},
        {"platform": "android", "id": "9a3f5e2b7c1d4e60"},
    ]
