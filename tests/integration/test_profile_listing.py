"""GET /v1/projects/{projectId}/profiles: a stable order, signed cursors, total from the counters (issue 16 item 3)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from segshare_core.store import profiles
from tests.integration.conftest import OPERATOR, Response, assert_error, event, user

ADMIN = user("u-admin")
PA = user("u-pa")  # project admin of proj-a only
ANDROID = "9a3f5e2b7c1d4e6"


@pytest.fixture
def acme(aws: None, directory_fn: Any) -> Any:
    """Company acme with proj-a and proj-b, its company admin and a project admin of proj-a."""
    call = directory_fn
    assert call(event("create_company", claims=OPERATOR)).status == 201
    assert call(event("put_user", path={"userId": "u-admin"}, body={"role": "company_admin"}, claims=OPERATOR)).status == 200
    for pid in ("proj-a", "proj-b"):
        assert call(event("create_project", body={"id": pid, "name": pid}, claims=ADMIN)).status == 201
    assert call(event("put_user", claims=ADMIN)).status == 200
    return call


def upsert(call: Any, project: str, ids: list[str]) -> None:
    body = {"profiles": [{"profileId": i, "attributes": {"n": i}, "devices": [{"platform": "android", "id": ANDROID}]} for i in ids]}
    response = call(event("upsert_profiles", path={"projectId": project}, body=body, claims=ADMIN))
    assert response.status == 200, response.json
    assert response.json["rejected"] == []


def page(call: Any, project: str = "proj-a", claims: dict[str, Any] = ADMIN, **query: str) -> Response:
    return call(event("list_profiles", path={"projectId": project}, query=query or None, claims=claims))


def test_pages_through_every_profile_exactly_once_while_profiles_are_added(acme: Any) -> None:
    initial = [f"u-{n:03d}" for n in range(120)]
    for start in range(0, len(initial), 50):
        upsert(acme, "proj-a", initial[start : start + 50])
    upsert(acme, "proj-b", ["b-1"])  # another project's profile never appears
    seen: list[str] = []
    added: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        response = page(acme, limit="7", **({"cursor": cursor} if cursor else {}))
        assert response.status == 200, response.json
        body = response.json
        assert len(body["profiles"]) <= 7
        assert body["total"] == len(initial) + len(added)
        seen.extend(p["profileId"] for p in body["profiles"])
        pages += 1
        # Writers keep adding profiles between pages, some sorting before what was listed, some after.
        new = [f"a-{pages:03d}", f"z-{pages:03d}"]
        upsert(acme, "proj-a", new)
        added.extend(new)
        cursor = body["nextCursor"]
        if cursor is None:
            break
        assert pages < 100
    assert len(seen) == len(set(seen)), "a profile was listed twice"
    assert set(initial) <= set(seen)
    assert set(seen) <= set(initial) | set(added)
    assert "b-1" not in seen


def test_the_listing_shows_profiles_as_stored_with_the_default_limit(acme: Any) -> None:
    upsert(acme, "proj-a", [f"u-{n}" for n in range(60)])
    response = page(acme)
    assert response.status == 200, response.json
    assert len(response.json["profiles"]) == 50
    assert response.json["total"] == 60
    first = response.json["profiles"][0]
    assert first == {
        "profileId": first["profileId"],
        "attributes": {"n": first["profileId"]},
        "devices": [{"platform": "android", "id": ANDROID}],
    }
    rest = page(acme, cursor=response.json["nextCursor"], limit="1000")
    assert len(rest.json["profiles"]) == 10
    assert rest.json["nextCursor"] is None
    # The order is stable: the same walk again gives the same sequence.
    again = page(acme, limit="1000")
    assert [p["profileId"] for p in again.json["profiles"]] == [p["profileId"] for p in response.json["profiles"] + rest.json["profiles"]]


def test_total_comes_from_the_counters_not_a_count_of_rows(acme: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    upsert(acme, "proj-a", ["u-1", "u-2"])
    monkeypatch.setattr(profiles, "counts", lambda *a, **k: profiles.Counts(profiles=12345, index_entries=0, seq=0))
    assert page(acme).json["total"] == 12345


def test_an_empty_project_lists_nothing(acme: Any) -> None:
    response = page(acme)
    assert response.status == 200
    assert response.json == {"profiles": [], "nextCursor": None, "total": 0}


def test_bad_cursors_and_limits_are_refused(acme: Any) -> None:
    upsert(acme, "proj-a", [f"u-{n}" for n in range(3)])
    other = page(acme, "proj-b").json  # proj-b is empty; take a cursor of proj-a's listing instead
    assert other["nextCursor"] is None
    cursor = page(acme, limit="1").json["nextCursor"]
    assert cursor
    assert_error(page(acme, "proj-b", cursor=cursor), 400, "INVALID_CURSOR")  # issued for another listing
    assert_error(page(acme, cursor=cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")), 400, "INVALID_CURSOR")
    assert_error(page(acme, cursor="not-a-cursor"), 400, "INVALID_CURSOR")
    for bad in ("0", "1001", "x"):
        response = page(acme, limit=bad)
        assert response.status in (400, 422), (bad, response.json)


def test_the_listing_is_scoped_to_the_callers_projects(acme: Any) -> None:
    upsert(acme, "proj-b", ["b-1"])
    assert page(acme, "proj-a", claims=PA).status == 200
    assert_error(page(acme, "proj-b", claims=PA), 404, "NOT_FOUND")


def test_a_small_projects_page_reads_the_next_shards_side_by_side(acme: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a project of three profiles spread over 64 shards (most shards empty)
    upsert(acme, "proj-a", ["u-1", "u-2", "u-3"])
    # When a page is asked for, with two of the later shards' Queries each waiting for the other
    met = threading.Barrier(2, timeout=10)
    read = profiles._shard_page

    def waits_for_its_neighbour(company_id: str, project_id: str, shard: int, after_id: str, limit: int) -> list[Any]:
        if shard in (1, 2):
            met.wait()  # read one shard after another, this wait breaks (BrokenBarrierError)
        return read(company_id, project_id, shard, after_id, limit)

    monkeypatch.setattr(profiles, "_shard_page", waits_for_its_neighbour)
    response = page(acme, limit="100")
    # Then both were in flight at once, and the page is every profile, the last one
    assert response.status == 200, response.json
    assert sorted(p["profileId"] for p in response.json["profiles"]) == ["u-1", "u-2", "u-3"]
    assert response.json["nextCursor"] is None
