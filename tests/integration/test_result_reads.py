"""Members pages and audience previews read only what they show (issue 14 item 4).

B's share of A's segment is given a succeeded evaluation of 20,000 matched ids (written
through the results store, as the evaluation workflow does); 60 of them are B profiles.
What each request reads from S3 and DynamoDB is counted with botocore's ``after-call`` hooks
(``ReadProbe``) on the service's own clients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from segshare_core.domain import cursors
from segshare_core.domain.match_summary import MatchSummary
from segshare_core.store import directory, results, segments
from segshare_core.store import evaluations as evaluation_store
from tests.integration.conftest import ReadProbe, Response, handler_for
from tests.integration.test_evaluate import ADMIN, SHARED, VIP_SHARED, World, build

BIG = [f"m-{n:05d}" for n in range(20_000)]
#: Bytes of one block of BIG ("m-00000\n" is 8 bytes).
BLOCK_BYTES = results.BLOCK_IDS * 8
#: The 20k-id JSON object the results used to be: what reading it whole costs.
WHOLE = len(BIG) * 10


def _seed(shared_id: str, ids: list[str]) -> tuple[str, str]:
    """A SUCCEEDED evaluation of ``shared_id`` in proj-b whose result is ``ids``: (evaluation id, result key)."""
    shared = segments.get_shared_in("acme", "proj-b", shared_id)
    assert shared is not None
    running = evaluation_store.start("acme", shared, "manual")
    key = results.result_key("acme", "proj-b", shared_id, running.evaluation_id)
    results.put(key, ids)
    summary = MatchSummary(target_profiles=70, matched_profiles=len(ids), matched_devices=len(ids), matched_by_platform={"ios": len(ids)})
    evaluation_store.succeed("acme", shared, running, summary, key)
    return running.evaluation_id, key


@pytest.fixture(scope="module")
def evaluate_fn() -> Callable[[dict[str, Any]], Response]:
    return handler_for("EvaluateFunction")


@pytest.fixture(scope="module")
def share_fn() -> Callable[[dict[str, Any]], Response]:
    return handler_for("ShareFunction")


@pytest.fixture
def big(aws: None, evaluate_fn: Any, share_fn: Any, directory_fn: Any) -> Iterator[tuple[World, str, str]]:
    """The evaluate test world, B holding m-00000..m-00059 (level = n), SHARED's latest result the 20k ids."""
    world = build(World(evaluate_fn, share_fn, directory_fn))
    held = [{"profileId": f"m-{n:05d}", "attributes": {"first_name": f"M{n}", "level": n}, "devices": []} for n in range(60)]
    world.upsert("proj-b", held)
    evaluation_id, key = _seed(SHARED, BIG)
    yield world, evaluation_id, key


def _reading(world: World, call: Any) -> tuple[Any, ReadProbe]:
    probe = ReadProbe()
    with probe.active():
        response = call()
    assert response.status == 200, response.json
    return response, probe


def _cursor(offset: int, evaluation_id: str) -> str:
    shared = segments.get_shared_in("acme", "proj-b", SHARED)
    assert shared is not None
    return cursors.encode_in(
        directory.company_key("acme"), f"members:proj-b:{SHARED}", shared.generation, {"e": evaluation_id, "o": offset}
    )


def test_a_members_page_reads_its_block_and_its_profiles_only(big: tuple[World, str, str]) -> None:
    world, evaluation_id, key = big
    # When the first page of 50 members is read
    first, probe = _reading(world, lambda: world.members(limit="50"))
    # Then it is the first 50 ids, with B's attributes where B holds the profile
    assert first.json["evaluationId"] == evaluation_id
    assert [m["profileId"] for m in first.json["members"]] == BIG[:50]
    assert first.json["members"][7]["attributes"] == {"first_name": "M7", "level": 7}
    # And S3 gave one block of the result and a few index bytes: never the whole result
    assert probe.s3_bytes(key) <= BLOCK_BYTES + 1024, probe.s3
    assert probe.s3_bytes(key) < WHOLE / 20
    # And DynamoDB read the page's profiles in one BatchGet, no Query or Scan of profiles
    assert probe.dynamodb.count("BatchGetItem") == 1, probe.dynamodb
    assert "Scan" not in probe.dynamodb
    # When pages deep in the result and across a block boundary are read by cursor
    for offset in (results.BLOCK_IDS - 20, 15_000, 19_980):
        page, probe = _reading(world, lambda offset=offset: world.members(limit="50", cursor=_cursor(offset, evaluation_id)))
        # Then they hold the right ids (the profiles B lacks are left out) and read only their blocks
        assert page.json["members"] == [m for m in page.json["members"] if m["profileId"] in BIG[offset : offset + 50]]
        spanned = (offset + 49) // results.BLOCK_IDS - offset // results.BLOCK_IDS + 1
        assert probe.s3_bytes(key) <= spanned * BLOCK_BYTES + 1024, probe.s3
        assert (page.json["nextCursor"] is None) == (offset + 50 >= len(BIG))
    # And paging on from the first cursor continues where it stopped
    second = world.members(limit="50", cursor=first.json["nextCursor"])
    assert [m["profileId"] for m in second.json["members"]] == BIG[50:60]


def test_a_preview_sample_of_a_shared_segment_reads_its_block_only(big: tuple[World, str, str]) -> None:
    world, _evaluation_id, key = big
    # When B previews the shared segment alone with a sample of 20
    response, probe = _reading(world, lambda: world.preview({"segmentIds": [SHARED], "template": "Hi {{first_name}}", "limit": 20}))
    # Then S3 gave one block and a few index bytes; DynamoDB read no profile partition whole
    assert probe.s3_bytes(key) <= BLOCK_BYTES + 1024, probe.s3
    assert probe.dynamodb.count("BatchGetItem") <= 2, probe.dynamodb
    assert "Query" not in probe.dynamodb and "Scan" not in probe.dynamodb, probe.dynamodb
    # And the count is the result's (API.md: the members of its latest succeeded evaluation),
    # the sample its first 20 ids rendered from B
    assert response.json["count"] == len(BIG)
    assert [s["profileId"] for s in response.json["sample"]] == BIG[:20]
    assert response.json["sample"][3]["message"] == "Hi M3"


def test_an_audience_count_over_a_shared_segment_reads_its_result_at_most_once(big: tuple[World, str, str]) -> None:
    world, _evaluation_id, key = big
    ids_bytes = len(BIG) * 8
    # Given the VIP share's latest result: four of the 20k ids
    vip = ["m-00003", "m-00010", "m-10000", "m-19999"]
    _vip_evaluation, vip_key = _seed(VIP_SHARED, vip)
    # When both shares are combined by all
    both, probe = _reading(world, lambda: world.preview({"segmentIds": [SHARED, VIP_SHARED], "limit": 100}))
    # Then of the big result only its index and the blocks that can hold the four ids were read, each once
    blocks = len({BIG.index(i) // results.BLOCK_IDS for i in vip})
    index_bytes = (len(BIG) // results.BLOCK_IDS + 2) * results.ENTRY_BYTES
    assert probe.s3_bytes(key) <= blocks * BLOCK_BYTES + index_bytes, probe.s3
    assert probe.s3_bytes(vip_key) <= 4 * 8 + 2 * results.ENTRY_BYTES + 1024
    # And the count is the intersection of the two results, the sample the members B holds
    assert both.json["count"] == 4
    assert [s["profileId"] for s in both.json["sample"]] == ["m-00003", "m-00010"]
    # Given B's own segment "level >= 50" (m-00050..m-00059 and nothing else)
    rule = {"all": [{"attribute": "level", "op": "gte", "value": 50}]}
    own = world.share("create_segment", ADMIN, path={"projectId": "proj-b"}, body={"name": "high", "id": "s-b-high", "rule": rule})
    assert own.status == 201, own.json
    for body, count in (
        ({"segmentIds": [SHARED, "s-b-high"]}, 10),
        # "any" reads B's profiles once: the 60 m- profiles B holds are in the share, the tgt- ones in neither
        ({"segmentIds": ["s-b-high", SHARED], "match": "any"}, 60),
    ):
        # When it is combined with the big share
        response, probe = _reading(world, lambda body=body: world.preview({**body, "limit": 5}))
        # Then the count is right, and no byte of the big result was read twice
        assert response.json["count"] == count, response.json
        assert [s["profileId"] for s in response.json["sample"]] == (BIG[50:55] if count == 10 else BIG[:5])
        assert probe.s3_bytes(key) <= ids_bytes + index_bytes, probe.s3
