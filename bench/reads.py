"""(b) DynamoDB requests per evaluation, probe and scan, against the lower bound of each.

Counted with a botocore hook on moto in-process. The lower bounds: a probe needs one
BatchGetItem per 100 tokens; a scan needs, per shard, one Query per started 1 MB of the
shard's items (and one for an empty shard).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable

from bench.aws import count_requests, moto_tables
from bench.data import sides
from segshare_core import config
from segshare_core.domain.devices import shard_of
from segshare_core.domain.match import BATCH_GET_KEYS, PAGE_BYTES, Cost, IndexEntry, MatchResult, choose_plan, match
from segshare_core.store import device_index
from segshare_core.store.keys import index_pk
from segshare_core.store.models import DeviceIndexRow

SOURCE = 20_000
TARGET = 20_000
COMPANY, PROJECT, ONE_SHARD_PROJECT = "bench", "target", "target-one-shard"
TARGET_RATIO = 1.2


def write_index(project_id: str, entries: Iterable[IndexEntry], shard: Callable[[str], int]) -> None:
    """Index entries written directly (BatchWrite): upserting profiles costs transactions the reads do not care about."""
    with DeviceIndexRow.batch_write() as batch:
        for e in entries:
            pk = index_pk(COMPANY, project_id, shard(e.token))
            batch.save(DeviceIndexRow(pk, e.token, platform=e.platform, profiles=set(e.profile_ids)))


def scan_lower_bound(project_id: str, entries: Iterable[IndexEntry], shard: Callable[[str], int], shards: int) -> int:
    partition_bytes: dict[int, int] = defaultdict(int)
    for e in entries:
        partition_bytes[shard(e.token)] += device_index.item_bytes(COMPANY, project_id, e)
    return sum(max(1, math.ceil(partition_bytes[s] / PAGE_BYTES)) for s in range(shards))


def measured(read: Callable[[], list[IndexEntry]]) -> tuple[list[IndexEntry], int, float]:
    with count_requests(DeviceIndexRow) as sent:
        start = time.perf_counter()
        entries = read()
        seconds = time.perf_counter() - start
    return entries, sum(sent.values()), seconds


def line(name: str, requests: int, bound: int, seconds: float, estimate: Cost) -> str:
    return (
        f"    {name:28s} {requests:6,} requests  lower bound {bound:6,}  ratio {requests / bound:4.2f}"
        f"   model: {estimate.requests:5,} requests {estimate.read_units:8,.1f} read units   {seconds:5.1f} s on moto"
    )


def run() -> None:
    data = sides(SOURCE, TARGET, seed=20)
    shards = config.DEVICE_INDEX_SHARDS

    def sharded(t: str) -> int:
        return shard_of(t, shards)

    def one_shard(_t: str) -> int:
        return 0

    # One moto per layout: moto's Query walks the whole table, so each holds one index only.
    with moto_tables():
        write_index(PROJECT, data.target, sharded)
        probed, probe_requests, probe_seconds = measured(lambda: device_index.probe(COMPANY, PROJECT, data.source))
        scanned, scan_requests, scan_seconds = measured(lambda: device_index.query_all_shards(COMPANY, PROJECT))
    with moto_tables():
        write_index(ONE_SHARD_PROJECT, data.target, one_shard)
        one, one_requests, one_seconds = measured(lambda: device_index.query_all_shards(COMPANY, ONE_SHARD_PROJECT, shards=1))

    results: list[MatchResult] = [match(data.source, entries) for entries in (probed, scanned, one)]
    avg_bytes = round(sum(device_index.item_bytes(COMPANY, PROJECT, e) for e in data.target) / len(data.target))
    plan = choose_plan(len(data.source), len(data.target), avg_bytes, shards=shards)
    one_plan = choose_plan(len(data.source), len(data.target), avg_bytes, shards=1)
    print(f"(b) DynamoDB requests per evaluation, {SOURCE:,} source tokens x {TARGET:,} target entries ({avg_bytes} B each)")
    probe_bound = math.ceil(len(data.source) / BATCH_GET_KEYS)
    scan_bound = scan_lower_bound(PROJECT, data.target, sharded, shards)
    one_bound = scan_lower_bound(ONE_SHARD_PROJECT, data.target, one_shard, 1)
    print(line("probe (BatchGetItem)", probe_requests, probe_bound, probe_seconds, plan.probe))
    print(line(f"scan, {shards} shards (Query)", scan_requests, scan_bound, scan_seconds, plan.scan))
    print(line("scan, 1 shard (Query, 2 MB)", one_requests, one_bound, one_seconds, one_plan.scan))
    print(f"    target ratio <= {TARGET_RATIO}; the cost model picks {plan.name!r} for these sizes")
    same = "yes" if results[0] == results[1] == results[2] else "NO"
    print(f"    same match from every read: {same} ({len(results[0].matched_profiles):,} profiles, {results[0].matched_devices:,} devices)")
