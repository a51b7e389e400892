"""(c) One whole evaluation on moto, 20k source x 20k target devices, against a naive baseline.

Ours: ``evaluate_inline.match_shared`` as the evaluate function runs it (resolve the source
segment over the source project's profiles now, count the target's profiles, pick a plan,
read the target's index, match). The naive baseline resolves the source the same way, then
asks the target's index for each source device with one GetItem. Requests are counted with
a botocore hook on every model's client; time is wall clock on moto, which serves roughly
1k GetItem, 4k BatchGet items and 2-3k Query items a second here, so the time ratio
understates what the request ratio means on DynamoDB.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from contextlib import ExitStack

from pynamodb.exceptions import DoesNotExist

from bench.aws import count_requests, moto_tables
from segshare_core import config
from segshare_core.domain.clock import now
from segshare_core.domain.devices import Device, shard_of, token
from segshare_core.domain.match import IndexEntry, match
from segshare_core.domain.profiles import shard_of_profile
from segshare_core.domain.segments import SharedSegment
from segshare_core.domain.sharing import SavePlan
from segshare_core.store import directory, segments
from segshare_core.store.keys import INDEX_COUNTER, PROFILE_COUNTER, counter, index_pk, profile_pk
from segshare_core.store.models import ALL_MODELS, CounterRow, DeviceIndexRow, ProfileRow
from segshare_core.workflows import evaluate_inline

SOURCE, TARGET, OVERLAP = 20_000, 20_000, 0.3
COMPANY, SOURCE_PROJECT, TARGET_PROJECT = "bench", "source", "target"


def _load(key: bytes) -> None:
    """Profiles of both projects, their indexes and shard counters, written directly (BatchWrite, not the write transactions)."""
    rng = random.Random(7)
    source_ids = [f"{rng.getrandbits(64):016x}" for _ in range(SOURCE)]
    common = int(TARGET * OVERLAP)
    target_ids = source_ids[:common] + [f"{rng.getrandbits(64):016x}" for _ in range(TARGET - common)]
    shards = config.DEVICE_INDEX_SHARDS
    for project, ids in ((SOURCE_PROJECT, source_ids), (TARGET_PROJECT, target_ids)):
        # What the write transactions would have added to the shard counters: (kind, shard) -> total.
        totals: Counter[tuple[str, int]] = Counter()
        with ProfileRow.batch_write() as profiles, DeviceIndexRow.batch_write() as index:
            for n, raw in enumerate(ids):
                device = Device("android", raw.lstrip("0") or "0")
                device_token = token(key, device)
                profile_id = f"p-{n:06d}"
                totals[(PROFILE_COUNTER, shard_of_profile(profile_id, shards))] += 1
                totals[(INDEX_COUNTER, shard_of(device_token, shards))] += 1
                profiles.save(
                    ProfileRow(
                        profile_pk(COMPANY, project, shard_of_profile(profile_id, shards)),
                        profile_id,
                        attributes={"country": "IE"},
                        devices=[[device.platform, device.id]],
                        tokens=[device_token],
                        updated_at=now(),
                    )
                )
                pk = index_pk(COMPANY, project, shard_of(device_token, config.DEVICE_INDEX_SHARDS))
                index.save(DeviceIndexRow(pk, device_token, platform="android", profiles={profile_id}))
        with CounterRow.batch_write() as counters:
            for (kind, shard), total in totals.items():
                counters.save(CounterRow(*counter(COMPANY, project, kind, shard), total=total, seq=total))


def _naive(shared: SharedSegment) -> int:
    """Source resolved as ours does it, then one GetItem per source device on the target's index."""
    segment = segments.get_segment(COMPANY, shared.source_project_id, shared.segment_id)
    assert segment is not None
    tokens = evaluate_inline.source_tokens(COMPANY, segment, directory.company_key(COMPANY))
    entries = []
    for device_token in tokens:
        pk = index_pk(COMPANY, TARGET_PROJECT, shard_of(device_token, config.DEVICE_INDEX_SHARDS))
        try:
            row = DeviceIndexRow.get(pk, device_token)
        except DoesNotExist:
            continue
        entries.append(IndexEntry(row.sk, row.platform, tuple(row.profiles or ())))  # type: ignore[arg-type]
    return len(match(tokens, entries).matched_profiles)


def _counted(run: object) -> tuple[int, int, float]:
    with ExitStack() as stack:
        counters: list[Counter[str]] = [stack.enter_context(count_requests(model)) for model in ALL_MODELS]
        start = time.perf_counter()
        matched = run()  # type: ignore[operator]
        seconds = time.perf_counter() - start
    return int(matched), sum(sum(c.values()) for c in counters), seconds


def seed_share() -> SharedSegment:
    """The bench company, both projects loaded (``_load``), and its segment of Irish profiles shared from source to target."""
    directory.create_company(COMPANY, "Bench", True)
    for project in (SOURCE_PROJECT, TARGET_PROJECT):
        directory.create_project(COMPANY, project, project)
    _load(directory.company_key(COMPANY))
    segment = segments.create_segment(
        COMPANY,
        SOURCE_PROJECT,
        "s-all",
        "all",
        rule={"all": [{"attribute": "country", "op": "eq", "value": "IE"}]},
        profile_ids=None,
        user_id="bench",
    )
    segments.save_sharing(COMPANY, segment, SavePlan(frozenset({TARGET_PROJECT}), frozenset({TARGET_PROJECT}), frozenset()), "bench")
    return segments.list_shared_in(COMPANY, TARGET_PROJECT)[0]


def run() -> None:
    with moto_tables():
        shared = seed_share()

        ours_matched, ours_requests, ours_seconds = _counted(lambda: len(evaluate_inline.match_shared(COMPANY, shared)[1]))
        naive_matched, naive_requests, naive_seconds = _counted(lambda: _naive(shared))

    print(f"(c) one evaluation end to end on moto, {SOURCE:,} source x {TARGET:,} target devices ({OVERLAP:.0%} shared)")
    print(f"    ours:  {ours_requests:7,} DynamoDB requests  {ours_seconds:6.1f} s   matched {ours_matched:,}")
    print(
        f"    naive: {naive_requests:7,} DynamoDB requests  {naive_seconds:6.1f} s   matched {naive_matched:,}  (GetItem per source device)"
    )
    print(
        f"    naive/ours: {naive_requests / ours_requests:5.1f}x requests (target >= 50x), "
        f"{naive_seconds / ours_seconds:4.1f}x time (target > 1x)   same matches: {'yes' if ours_matched == naive_matched else 'NO'}"
    )
