"""Clients upsert one profile at the same moment with different device sets, over HTTP, round after round.

Each round several clients replace the same profile of Beta Racer (B) at once, each with its
own choice of devices from a pool. A profile is replaced whole (API.md), so afterwards it
holds exactly one of the sets that were accepted, and B's device index holds that profile
for exactly those devices: no entry left for a device it no longer holds, none missing.

The index is read through the API: A's segment holds one profile with every device of the
pool, shared with B; an evaluation in B matches B's profile through each index entry of a
pool device, so ``matchedDevices`` is the number of entries, which must equal the number of
devices the profile holds. The local stack gives this as DynamoDB does (API.md, Local
stack); moto alone lost or mixed concurrent transactions and left stale entries.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local import demo
from tests.e2e.conftest import LocalStack, start_stack, stop_stack

pytestmark = pytest.mark.e2e

SEGMENT = "s-race-profile"  # no other e2e test uses it
SOURCE_PROFILE = "race-source"
PROFILE = "race-target"
ROUNDS = 15
WRITERS = 6
#: Four IDFVs and four Android IDs no demo profile holds.
POOL = [{"platform": "ios", "id": f"7e57a11e-0000-4000-8000-00000000000{n}"} for n in range(4)] + [
    {"platform": "android", "id": f"7e57a11e0000000{n}"} for n in range(4)
]


@pytest.fixture(scope="module")
def demo_stack() -> Iterator[LocalStack]:
    running = start_stack(demo=True)
    yield running
    assert stop_stack(running) == 0


def ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text[:500])
    return response.json()


def upsert_together(stack: LocalStack, token: str, device_sets: list[list[dict[str, str]]]) -> list[requests.Response]:
    """PUT the profile with each device set at the same moment, each from its own thread and connection."""
    barrier = threading.Barrier(len(device_sets))
    results: list[requests.Response | BaseException | None] = [None] * len(device_sets)

    def send(n: int, devices: list[dict[str, str]]) -> None:
        body = {"profiles": [{"profileId": PROFILE, "attributes": {"writer": str(n)}, "devices": devices}]}
        with requests.Session() as session:
            try:
                # Connect first (the stack keeps the connection open), so the saves are not
                # held up behind one another in the listening socket's short backlog.
                session.get(stack.base_url + "/v1/health", timeout=60).raise_for_status()
                barrier.wait(timeout=30)
                results[n] = session.put(
                    stack.base_url + "/v1/projects/proj-b/profiles", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60
                )
            except BaseException as exc:
                results[n] = exc

    threads = [threading.Thread(target=send, args=(n, devices)) for n, devices in enumerate(device_sets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    for result in results:
        assert isinstance(result, requests.Response), result
    return results  # type: ignore[return-value]


def _ids(devices: list[dict[str, str]]) -> frozenset[tuple[str, str]]:
    return frozenset((d["platform"], d["id"].lower()) for d in devices)


def test_concurrent_upserts_of_one_profile_leave_index_entries_for_exactly_its_devices(demo_stack: LocalStack) -> None:
    company_admin, admin_b = demo.COMPANY_ADMIN.token(), demo.ADMIN_B.token()
    call = demo_stack.call
    source = {"profileId": SOURCE_PROFILE, "attributes": {}, "devices": POOL}
    assert ok(call("PUT", "/v1/projects/proj-a/profiles", company_admin, {"profiles": [source]}))["upserted"] == 1
    segment = {"id": SEGMENT, "name": "Profile race", "profileIds": [SOURCE_PROFILE]}
    ok(call("POST", "/v1/projects/proj-a/segments", company_admin, segment), 201)
    ok(call("PUT", f"/v1/projects/proj-a/segments/{SEGMENT}/sharing", company_admin, {"projectIds": ["proj-b"]}))
    tab = ok(call("GET", "/v1/projects/proj-b/shared-segments", admin_b))["sharedSegments"]
    (shared_id,) = [s["sharedSegmentId"] for s in tab if s["sourceProjectId"] == "proj-a" and s["name"] == "Profile race"]
    rng = random.Random(20261129)

    for round_no in range(ROUNDS):
        device_sets = [rng.sample(POOL, rng.randint(1, 4)) for _ in range(WRITERS)]
        answers = upsert_together(demo_stack, admin_b, device_sets)

        statuses = [a.status_code for a in answers]
        # Under contention a write may give up after its retries (503, nothing changed); it never half-lands.
        for answer in answers:
            if answer.status_code == 503:
                assert answer.json()["error"]["code"] == "RETRY_LATER", answer.text
            else:
                assert answer.status_code == 200 and answer.json() == {"upserted": 1, "rejected": []}, answer.text
        accepted = {_ids(devices) for devices, status in zip(device_sets, statuses, strict=True) if status == 200}
        assert accepted, (round_no, statuses)
        held = ok(call("GET", f"/v1/projects/proj-b/profiles/{PROFILE}", admin_b))
        holds = _ids(held["devices"])
        context = (round_no, statuses, sorted(holds))
        assert holds in accepted, context
        evaluation = ok(call("POST", f"/v1/projects/proj-b/shared-segments/{shared_id}/evaluations", admin_b), 201)
        # One index entry per device the profile holds, each naming it: nothing stale, nothing missing.
        assert evaluation["matchedProfiles"] == 1, (context, evaluation)
        assert evaluation["matchedDevices"] == len(holds), (context, evaluation)
        assert evaluation["matchedByPlatform"] == {
            "ios": sum(1 for platform, _ in holds if platform == "ios"),
            "android": sum(1 for platform, _ in holds if platform == "android"),
        }, (context, evaluation)
