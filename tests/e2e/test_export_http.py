"""Exports over HTTP against the local stack with demo data: request, poll until READY, download, check the rows.

The local stack's event pump delivers the export queue's message to the worker and the
bucket's ObjectCreated event (moto notifies an SQS queue) to the finaliser, as Lambda's
pollers would deployed. The download goes to moto's server through the presigned URL.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from local import demo
from tests.support.http import fresh_id, ok, profile_ids, share_segment
from tests.support.stacks import LocalStack
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

RULE = {"any": [{"attribute": "country", "op": "in", "value": ["IE", "DE"]}, {"platform": "ios"}]}


@pytest.fixture(scope="module")
def shared_id(stack: LocalStack) -> str:
    """A segment of proj-a, created and shared with proj-b by the company admin; its id as B sees it."""
    segment = fresh_id("s-export")
    return share_segment(stack, demo.COMPANY_ADMIN.token(), "proj-a", {"id": segment, "name": segment, "rule": RULE}, ["proj-b"])["proj-b"]


def _export(stack: LocalStack, shared_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST the export as B's project admin and poll it until READY (60 s); never FAILED, no link before READY."""
    token = demo.ADMIN_B.token()
    created = ok(stack.call("POST", f"/v1/projects/proj-b/shared-segments/{shared_id}/exports", token, body), 202)
    assert created["status"] == "PENDING"

    def read() -> dict[str, Any]:
        record: dict[str, Any] = ok(stack.call("GET", f"/v1/projects/proj-b/exports/{created['exportId']}", token))
        assert record["status"] != "FAILED", record
        assert record["status"] == "READY" or record["downloadUrl"] is None, record
        return record

    return wait_for(read, lambda record: record["status"] == "READY", 60, f"export {created['exportId']} READY")


def _latest_members(stack: LocalStack, shared_id: str) -> tuple[str, list[dict[str, Any]]]:
    """Every member of the latest succeeded evaluation, paging with nextCursor."""
    token = demo.ADMIN_B.token()
    members: list[dict[str, Any]] = []
    evaluation_ids = set()
    params: dict[str, str] = {"limit": "100"}
    while True:
        page = stack.call("GET", f"/v1/projects/proj-b/shared-segments/{shared_id}/members", token, params=params)
        assert page.status_code == 200, page.text
        evaluation_ids.add(page.json()["evaluationId"])
        members.extend(page.json()["members"])
        if page.json()["nextCursor"] is None:
            break
        params["cursor"] = page.json()["nextCursor"]
    assert len(evaluation_ids) == 1
    return evaluation_ids.pop(), members


def _latest_evaluation(stack: LocalStack, shared_id: str) -> dict[str, Any]:
    listed = stack.call("GET", f"/v1/projects/proj-b/shared-segments/{shared_id}/evaluations", demo.ADMIN_B.token())
    assert listed.status_code == 200, listed.text
    return dict(listed.json()["evaluations"][0])


def _cell(value: Any) -> str:
    text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _download(url: str) -> bytes:
    query = parse_qs(urlparse(url).query)
    assert 0 < int(query["X-Amz-Expires"][0]) <= 900
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, response.text[:300]
    return response.content


def test_csv_export_holds_exactly_the_latest_evaluations_members(stack: LocalStack, shared_id: str) -> None:
    # When B's project admin exports the shared segment and waits for READY
    ready = _export(stack, shared_id, {})
    # Then the export evaluated afresh, and its file downloads through the presigned URL
    latest = _latest_evaluation(stack, shared_id)
    assert (latest["trigger"], latest["status"]) == ("export", "SUCCEEDED")
    data = _download(ready["downloadUrl"])
    assert len(data) == ready["bytes"]
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))

    # And its rows are exactly the members of that evaluation, with B's attributes, header profileId + every key present
    evaluation_id, members = _latest_members(stack, shared_id)
    assert evaluation_id == latest["evaluationId"]
    assert len(members) == latest["matchedProfiles"] == ready["rowCount"] == len(rows) - 1 > 0
    keys = sorted({k for m in members for k in m["attributes"]})
    assert rows[0] == ["profileId", *keys]
    expected = {m["profileId"]: [m["profileId"], *(_cell(m["attributes"].get(k)) for k in keys)] for m in members}
    assert sorted(rows[1:]) == sorted(expected.values())
    assert {r[0] for r in rows[1:]} <= profile_ids(stack, demo.ADMIN_B.token(), "proj-b")


def test_jsonl_export_of_chosen_attributes(stack: LocalStack, shared_id: str) -> None:
    # When B's project admin exports two attributes as JSONL
    ready = _export(stack, shared_id, {"format": "jsonl", "attributes": ["first_name", "country"]})
    # Then each line is one member of the latest evaluation with those attributes, values as stored
    data = _download(ready["downloadUrl"])
    objects = [json.loads(line) for line in data.decode("utf-8").split("\n") if line]
    _evaluation_id, members = _latest_members(stack, shared_id)
    expected = {
        m["profileId"]: {"first_name": m["attributes"].get("first_name"), "country": m["attributes"].get("country")} for m in members
    }
    assert ready["rowCount"] == len(objects) == len(members)
    assert {o["profileId"]: o["attributes"] for o in objects} == expected


def test_exports_are_listed_newest_first_and_hidden_from_other_projects(stack: LocalStack, shared_id: str) -> None:
    token = demo.ADMIN_B.token()
    listed = stack.call("GET", f"/v1/projects/proj-b/shared-segments/{shared_id}/exports", token)
    assert listed.status_code == 200, listed.text
    exports = listed.json()["exports"]
    assert len(exports) >= 2
    assert [e["createdAt"] for e in exports] == sorted((e["createdAt"] for e in exports), reverse=True)
    # A project admin of A alone cannot see B's exports (404, existence not revealed)
    outsider = demo.DemoUser("e2e-admin-a", "project admin of A")
    granted = stack.call(
        "PUT",
        f"/v1/companies/{demo.COMPANY}/users/{outsider.user_id}",
        demo.COMPANY_ADMIN.token(),
        {"role": "project_admin", "projectIds": ["proj-a"]},
    )
    assert granted.status_code == 200, granted.text
    other = stack.call("GET", f"/v1/projects/proj-b/exports/{exports[0]['exportId']}", outsider.token())
    assert other.status_code == 404, other.text
    assert other.json()["error"]["code"] == "NOT_FOUND"
