"""Requests the e2e tests make again and again: a checked answer, requests sent at once, a segment shared.

They all take a running `LocalStack` (tests/support/stacks.py) and tokens minted for its users.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from typing import Any

import requests

from local.tokens import mint
from tests.support.stacks import LocalStack

#: An operator (the `operators` group): creates companies and grants their admins.
OPERATOR_TOKEN = mint("e2e-operator", groups=["operators"])

_serial = itertools.count(1)


def fresh_id(prefix: str) -> str:
    """An id nothing else in this session uses: "<prefix>-<n>" (keep `prefix` under 56 characters: API.md's ids are 2-63)."""
    return f"{prefix}-{next(_serial)}"


def ok(response: requests.Response, status: int = 200) -> Any:
    """The JSON body of `response`; AssertionError (status and the body's start) when its status is not `status`."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    return response.json()


def share_segment(stack: LocalStack, token: str, project: str, segment: dict[str, Any], targets: list[str]) -> dict[str, str]:
    """Create `segment` (POST body) in `project` and share it with `targets` as `token`; each target's shared segment id.

    The ids are read from each target's Shared Segments tab by the segment's name (unique per
    test: several tests share one stack), as the target's admin sees them.
    """
    ok(stack.call("POST", f"/v1/projects/{project}/segments", token, segment), 201)
    ok(stack.call("PUT", f"/v1/projects/{project}/segments/{segment['id']}/sharing", token, {"projectIds": targets}))
    shared: dict[str, str] = {}
    for target in targets:
        tab = ok(stack.call("GET", f"/v1/projects/{target}/shared-segments", token))["sharedSegments"]
        (found,) = [s["sharedSegmentId"] for s in tab if s["sourceProjectId"] == project and s["name"] == segment["name"]]
        shared[target] = str(found)
    return shared


#: The iOS IDFV a source and a target profile of ``seed_irish_share`` both hold (upper case in one, lower in the other).
SHARED_IOS = "6F9619FF-8B86-D011-B42D-00C04FC964FF"


def new_company(
    stack: LocalStack, admin_user: str, company: str, projects: Sequence[tuple[str, str]], *, name: str = "", shared_segments: bool = True
) -> str:
    """A company (named ``name``, else its id) with ``admin_user`` its company admin and ``projects`` ((id, name) each); the admin's token.

    Created through the API as an operator would (API.md, Directory); shared segments are
    turned on unless ``shared_segments`` is False.
    """
    admin = mint(admin_user)
    body = {"id": company, "name": name or company, **({"sharedSegmentsEnabled": True} if shared_segments else {})}
    ok(stack.call("POST", "/v1/companies", OPERATOR_TOKEN, body), 201)
    ok(stack.call("PUT", f"/v1/companies/{company}/users/{admin_user}", OPERATOR_TOKEN, {"role": "company_admin"}))
    for project_id, project_name in projects:
        ok(stack.call("POST", f"/v1/companies/{company}/projects", admin, {"id": project_id, "name": project_name}), 201)
    return admin


def seed_irish_share(
    stack: LocalStack, admin_user: str, company: str, projects: tuple[tuple[str, str], tuple[str, str]], segment_name: str = "Irish"
) -> tuple[str, str]:
    """A company of its own, ``admin_user`` its company admin, with ``projects`` ((id, name) source, then target).

    The source's segment "country IE" (id ``s-ie``, named ``segment_name``) is shared with the
    target. Source: a-1 IE (iOS ``SHARED_IOS``), a-2 IE (Android abc1), a-3 FR (Android f00d).
    Target: b-1 (the IDFV in lower case), b-2 (f00d, held by the FR profile only), b-3 (ABC1 and
    another Android device): b-1 and b-3 are members, 2 of 3. Returns (target project, shared segment id).
    """
    admin = new_company(stack, admin_user, company, projects)
    (source_project, _), (target_project, _) = projects
    source = [
        {"profileId": "a-1", "attributes": {"country": "IE"}, "devices": [{"platform": "ios", "id": SHARED_IOS}]},
        {"profileId": "a-2", "attributes": {"country": "IE"}, "devices": [{"platform": "android", "id": "abc1"}]},
        {"profileId": "a-3", "attributes": {"country": "FR"}, "devices": [{"platform": "android", "id": "f00d"}]},
    ]
    target = [
        {"profileId": "b-1", "attributes": {}, "devices": [{"platform": "ios", "id": SHARED_IOS.lower()}]},
        {"profileId": "b-2", "attributes": {}, "devices": [{"platform": "android", "id": "f00d"}]},
        {"profileId": "b-3", "attributes": {}, "devices": [{"platform": "android", "id": "ABC1"}, {"platform": "android", "id": "1"}]},
    ]
    ok(stack.call("PUT", f"/v1/projects/{source_project}/profiles", admin, {"profiles": source}))
    ok(stack.call("PUT", f"/v1/projects/{target_project}/profiles", admin, {"profiles": target}))
    segment = {"id": "s-ie", "name": segment_name, "rule": {"all": [{"attribute": "country", "op": "eq", "value": "IE"}]}}
    return target_project, share_segment(stack, admin, source_project, segment, [target_project])[target_project]


def profile_ids(stack: LocalStack, token: str, project: str) -> set[str]:
    """Every profile id of `project`, paged through `GET /v1/projects/{projectId}/profiles` (API.md) 1,000 at a time."""
    ids: set[str] = set()
    params: dict[str, str] = {"limit": "1000"}
    while True:
        page = ok(stack.call("GET", f"/v1/projects/{project}/profiles", token, params=params))
        ids.update(p["profileId"] for p in page["profiles"])
        if not page["nextCursor"]:
            return ids
        params["cursor"] = page["nextCursor"]


def send_together(stack: LocalStack, calls: list[tuple[str, str, str, Any]]) -> list[requests.Response]:
    """Send every (method, path, token, JSON body) at the same moment, each from its own thread and connection.

    Each client connects first (the stack keeps the connection open), so the requests are not
    held up behind one another in the listening socket's short backlog, then one barrier
    releases them all. Returns the responses in the order of `calls`; raises AssertionError if
    a client got no response (its exception is the message).
    """
    barrier = threading.Barrier(len(calls))
    results: list[requests.Response | BaseException | None] = [None] * len(calls)

    def send(n: int, method: str, path: str, token: str, body: Any) -> None:
        with requests.Session() as session:
            try:
                session.get(stack.base_url + "/v1/health", timeout=60).raise_for_status()
                barrier.wait(timeout=30)
                headers = {"Authorization": f"Bearer {token}"}
                results[n] = session.request(method, stack.base_url + path, json=body, headers=headers, timeout=60)
            except BaseException as exc:
                results[n] = exc

    threads = [threading.Thread(target=send, args=(n, *call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    responses = []
    for result in results:
        assert isinstance(result, requests.Response), result
        responses.append(result)
    return responses
