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
from typing import Any

import pytest

from local import demo
from tests.support.http import fresh_id, ok, send_together, share_segment
from tests.support.stacks import LocalStack

pytestmark = pytest.mark.e2e

ROUNDS = 15
WRITERS = 6
#: Four IDFVs and four Android IDs no demo profile holds, and no other test.
POOL = [{"platform": "ios", "id": f"7e57a11e-0000-4000-8000-00000000000{n}"} for n in range(4)] + [
    {"platform": "android", "id": f"7e57a11e0000000{n}"} for n in range(4)
]


def _ids(devices: list[dict[str, str]]) -> frozenset[tuple[str, str]]:
    return frozenset((d["platform"], d["id"].lower()) for d in devices)


def test_concurrent_upserts_of_one_profile_leave_index_entries_for_exactly_its_devices(stack: LocalStack) -> None:
    company_admin, admin_b = demo.COMPANY_ADMIN.token(), demo.ADMIN_B.token()
    call = stack.call
    source_profile, target_profile, segment = fresh_id("race-source"), fresh_id("race-target"), fresh_id("s-race-profile")
    source = {"profileId": source_profile, "attributes": {}, "devices": POOL}
    assert ok(call("PUT", "/v1/projects/proj-a/profiles", company_admin, {"profiles": [source]}))["upserted"] == 1
    segment_body = {"id": segment, "name": segment, "profileIds": [source_profile]}
    shared_id = share_segment(stack, company_admin, "proj-a", segment_body, ["proj-b"])["proj-b"]
    rng = random.Random(20261129)

    def upsert(writer: int, devices: list[dict[str, str]]) -> tuple[str, str, str, Any]:
        body = {"profiles": [{"profileId": target_profile, "attributes": {"writer": str(writer)}, "devices": devices}]}
        return ("PUT", "/v1/projects/proj-b/profiles", admin_b, body)

    for round_no in range(ROUNDS):
        device_sets = [rng.sample(POOL, rng.randint(1, 4)) for _ in range(WRITERS)]
        answers = send_together(stack, [upsert(n, devices) for n, devices in enumerate(device_sets)])

        statuses = [a.status_code for a in answers]
        # Under contention a write may give up after its retries (503, nothing changed); it never half-lands.
        for answer in answers:
            if answer.status_code == 503:
                assert answer.json()["error"]["code"] == "RETRY_LATER", answer.text
            else:
                assert answer.status_code == 200 and answer.json() == {"upserted": 1, "rejected": []}, answer.text
        accepted = {_ids(devices) for devices, status in zip(device_sets, statuses, strict=True) if status == 200}
        assert accepted, (round_no, statuses)
        held = ok(call("GET", f"/v1/projects/proj-b/profiles/{target_profile}", admin_b))
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
