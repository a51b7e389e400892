"""Which path an evaluation takes: inside the request (201) or handed to the workflow (202).

API.md: an evaluation too large to finish well inside API Gateway's 29 s is always handed
off. The prediction is made from the projects' shard counters (never from counting rows)
and the read plan ``domain.match.choose_plan`` would pick, with the configured shard count.
"""

from __future__ import annotations

from dataclasses import dataclass

from segshare_core.domain.match import choose_plan

#: DynamoDB items one in-request evaluation reads and parses a second. Parsing (botocore's
#: parser, then pynamodb) is the bottleneck, CPU-bound under the GIL whatever the threads:
#: bench `child:` measured about 11k profile rows and 23k index entries a CPU second.
ITEMS_PER_SECOND = 15_000
#: Round trip of one DynamoDB request from Lambda in the same region (order of magnitude).
REQUEST_SECONDS = 0.01
#: Requests the in-request path keeps in flight (store.profiles.MAX_READ_THREADS).
READ_THREADS = 8


@dataclass(frozen=True, slots=True)
class Prediction:
    """The predicted wall time of an in-request evaluation, and what it rests on."""

    seconds: float
    items_read: int
    requests: int
    plan: str


def predict_in_request(
    source_profiles: int, source_index_entries: int, target_index_entries: int, *, shards: int, items_per_second: int = ITEMS_PER_SECOND
) -> Prediction:
    """Seconds one in-request evaluation is predicted to take.

    The source segment is resolved by reading every source profile (a rule segment may hold
    any of them, so all ``source_profiles`` rows are read); its tokens are at most the
    source's ``source_index_entries``. The target is read by probe or scan, whichever
    ``choose_plan`` picks for those counts and ``shards`` (the configured DeviceIndexShards).
    Seconds = items read / ``items_per_second`` + requests x REQUEST_SECONDS / READ_THREADS;
    ``items_per_second`` is the engine's read rate (ITEMS_PER_SECOND on AWS; the local stack
    passes moto's, ``config.EVALUATION_ITEMS_PER_SECOND``). Counts are non-negative integers;
    ValueError for a shard count or a rate below 1.
    """
    if shards < 1:
        raise ValueError("a project has at least one shard")
    if items_per_second < 1:
        raise ValueError("the read rate is at least one item a second")
    plan = choose_plan(source_index_entries, target_index_entries, shards=shards)
    target_items = min(source_index_entries, target_index_entries) if plan.name == "probe" else target_index_entries
    items = max(source_profiles, 0) + max(target_items, 0)
    # The source's profile shards are read one 1 MB page (a few thousand rows) per request.
    requests = plan.chosen.requests + shards * max(1, -(-source_profiles // (2_000 * shards)))
    seconds = items / items_per_second + requests * REQUEST_SECONDS / READ_THREADS
    return Prediction(seconds=seconds, items_read=items, requests=requests, plan=plan.name)
