"""``child:`` one shard's work in the evaluation workflow, and ``projection:`` a whole evaluation on AWS.

``child:`` runs the workflow's real step functions (``segshare_core.workflows.evaluate_sharded``) on
one shard at the 10M x 10M shape with the configured shard count (DEVICE_INDEX_SHARDS):

- resolve: one source profile shard (10M / shards profiles) read from DynamoDB Query pages
  in DynamoDB's JSON wire form (only the attributes the store projects; pages and read units
  counted on whole items), served to the store's own client by a before-send hook, so
  botocore, the store's before-parse decoding and the conversion run as deployed; the
  segment's rule, the stored tokens partitioned and sorted, one token object written to S3;
- match: one target index shard (10M x 4/3 devices / shards entries) read the same way into
  columns, its part of every source shard's object read by ranged GETs, the numpy join, the
  result written to S3;
- merge: every shard's result read, the union, the result written.

The pages are generated beforehand in the parent and read one by one from a file in the
child (a separate process, so its peak RSS is its own); S3 is moto in-process. Only the
DynamoDB network wait is absent: ``projection:`` adds it from the page count.

``projection:`` measures the same children at 1M x 1M and 10M x 10M and adds Step Functions'
and Lambda's overheads and DynamoDB's page latency and partition throughput, each printed as
an assumption; requests, read units and the price of one evaluation come from the counts.
"""

from __future__ import annotations

import base64
import json
import math
import os
import random
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

SHAPES = {"1M x 1M": 1_000_000, "10M x 10M": 10_000_000}
#: Target profiles hold four devices per three profiles (bench.data's shape); so do source profiles.
DEVICES_PER_PROFILE = 4 / 3
#: Share of a target shard's tokens that are also source tokens (bench core's 30% overlap).
OVERLAP = 0.3
COMPANY, SOURCE, TARGET = "bench", "source", "target"
PAGE_BYTES = 1_000_000  # a Query page holds at most 1 MB of items (DynamoDB's documented limit)

# --- assumptions of the projection (printed) ---------------------------------------------
#: Round trip of one 1 MB Query page from Lambda in-region (service time included).
PAGE_SECONDS = 0.05
#: One S3 GET or PUT of a small object from Lambda in-region.
S3_SECONDS = 0.03
#: S3 throughput of one stream for the large result object.
S3_BYTES_PER_SECOND = 80e6
#: A partition serves 3,000 read units a second (DynamoDB's documented per-partition limit);
#: eventually consistent reads cost half a unit per 4 KB, so 6,000 x 4 KB a second.
PARTITION_BYTES_PER_SECOND = 6_000 * 4096
#: Lambda cold start with numpy, pydantic, pynamodb and Powertools imported: the plan, the resolve
#: stage's children and the merge start cold; the match stage's children reuse the resolve stage's
#: warm containers (the same function), so they do not.
COLD_START_SECONDS = 1.5
#: A Distributed Map run starting its child executions, and a state transition.
MAP_START_SECONDS = 1.0
TRANSITION_SECONDS = 0.05
#: S3 requests a match or merge child keeps in flight (evaluate_sharded.S3_THREADS).
S3_THREADS = 8
#: A 1,769 MB Lambda has one full vCPU; one arm64 vCPU is taken as fast as one core here.
CHILD_MEMORY_GB = 1.769
MERGE_MEMORY_GB = 2.048
PLAN_MEMORY_GB = 0.512

# --- prices, us-east-1, public price pages (2026) -------------------------------------------
PRICE_LAMBDA_GB_SECOND = 0.0000133334  # arm64
PRICE_LAMBDA_REQUEST = 0.20 / 1e6
PRICE_TRANSITION = 0.025 / 1000  # Step Functions Standard, child executions of a Distributed Map included
PRICE_READ_UNIT = 0.125 / 1e6  # DynamoDB on-demand read request unit
PRICE_S3_PUT = 0.005 / 1000
PRICE_S3_GET = 0.0004 / 1000

TARGET_WALL = {"1M x 1M": 10.0, "10M x 10M": 60.0}
TARGET_PRICE = 0.05


def _shards() -> int:
    from segshare_core import config

    return config.DEVICE_INDEX_SHARDS


# ------------------------------------------------------------------ generated pages


def _item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it: attribute names plus values (sets and lists summed)."""
    total = 0
    for name, value in item.items():
        ((kind, v),) = value.items()
        total += len(name)
        if kind in ("S", "N"):
            total += len(str(v).encode())
        elif kind == "B":
            total += len(base64.b64decode(v))
        elif kind == "SS":
            total += sum(len(s.encode()) for s in v)
        elif kind == "L":
            total += sum(len(str(next(iter(e.values()))).encode()) + 1 for e in v) + 3
    return total


def _write_pages(path: Path, items: Iterator[dict[str, Any]], projected: set[str]) -> tuple[int, int, int]:
    """Items into Query pages of at most 1 MB of item bytes, length-prefixed in a file: (items, pages, bytes).

    Pages and read units are counted on whole items (DynamoDB bills and pages them so); a page
    holds only the ``projected`` attributes, as the store's ProjectionExpression returns them.
    """
    count = pages = total = 0
    page: list[dict[str, Any]] = []
    size = 0
    last_key: dict[str, Any] = {}
    with path.open("wb") as fh:

        def flush(more: bool) -> None:
            nonlocal pages
            body: dict[str, Any] = {"Items": page, "Count": len(page), "ScannedCount": len(page)}
            if more:  # as DynamoDB pages a partition: every page but the last names where to go on
                body["LastEvaluatedKey"] = last_key
            encoded = json.dumps(body, separators=(",", ":")).encode()
            fh.write(struct.pack(">I", len(encoded)) + encoded)
            pages += 1

        for item in items:
            b = _item_bytes(item)
            if page and size + b > PAGE_BYTES:
                flush(more=True)
                page, size = [], 0
            page.append({k: v for k, v in item.items() if k in projected})
            last_key = {"pk": item["pk"], "sk": item["sk"]}
            size += b
            count += 1
            total += b
        if page or not pages:
            flush(more=False)
    return count, pages, total


def _pages(path: str) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while head := fh.read(4):
            yield fh.read(struct.unpack(">I", head)[0])


def _wire(row: Any) -> dict[str, Any]:
    """A pynamodb row as DynamoDB's JSON wire form has it: the store's own layout (names, types), binary as base64."""
    item: dict[str, Any] = row.serialize()
    for value in item.values():
        if "B" in value:
            value["B"] = base64.b64encode(value["B"]).decode()
    return item


def _profile_items(profiles: int, shard: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    from segshare_core.store.models import ProfileRow

    pk = f"C#{COMPANY}#P#{SOURCE}#S#{shard:03d}"
    updated = datetime(2026, 11, 29, 10, tzinfo=UTC)
    for i in range(profiles):
        devices = []
        for _ in range(2 if i % 3 == 0 else 1):  # four devices per three profiles
            if rng.random() < 0.6:
                devices.append(["ios", str(rng.randbytes(16).hex()[:8] + "-0000-4000-8000-" + rng.randbytes(6).hex())])
            else:
                devices.append(["android", rng.randbytes(8).hex().lstrip("0") or "0"])
        row = ProfileRow(
            pk,
            f"u-{shard:03d}-{i:09d}",
            attributes={"country": "IE", "level": rng.randrange(60)},
            devices=devices,
            tokens=sorted(rng.randbytes(16).hex() for _ in devices),
            updated_at=updated,
            version=1,
        )
        yield _wire(row)


def _index_items(tokens: np.ndarray, rng: random.Random) -> Iterator[dict[str, Any]]:
    from segshare_core.store.models import DeviceIndexRow

    pk = f"C#{COMPANY}#P#{TARGET}#S#000"
    order = np.argsort(tokens.view("S16").ravel())  # a Query returns a shard in token order
    for n, i in enumerate(order.tolist()):
        owner = i * 3 // 4
        holders = {f"u-{owner:09d}", f"u-{owner + 1:09d}"} if n % 100 == 0 else {f"u-{owner:09d}"}
        platform = "ios" if rng.random() < 0.6 else "android"
        yield _wire(DeviceIndexRow(pk, tokens[i].tobytes().hex(), platform=platform, profiles=holders))


def _profile_projection() -> set[str]:
    """The stored names of what ``store.profiles.iter_profile_shard_tokens`` projects."""
    from segshare_core.store.models import ProfileRow

    return {ProfileRow.sk.attr_name, ProfileRow.attributes.attr_name, ProfileRow.devices.attr_name, ProfileRow.tokens.attr_name}


def _index_projection() -> set[str]:
    """The stored names of what ``store.device_index.query_shard_columns`` projects."""
    from segshare_core.store.models import DeviceIndexRow

    return {DeviceIndexRow.sk.attr_name, DeviceIndexRow.platform.attr_name, DeviceIndexRow.profiles.attr_name}


# ------------------------------------------------------------------ one child, in its own process


@dataclass(frozen=True)
class Measured:
    stage: str
    wall: float
    cpu: float
    peak_mb: float
    base_mb: float
    items: int
    pages: int
    item_bytes: int
    extra: dict[str, Any]


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(stage: str, work: str, shards: int) -> dict[str, Any]:
    """Runs in the child process: the step function of ``stage`` on shard 0, timed; what it measured."""
    import time

    from local import in_process

    in_process.prepare("bench-workflow")
    import boto3
    from moto import mock_aws

    from segshare_core import config
    from segshare_core.domain.evaluations import Evaluation
    from segshare_core.domain.segments import Segment
    from segshare_core.store import directory, evaluations, results
    from segshare_core.workflows import evaluate_sharded

    pages_path = os.path.join(work, "pages.bin")

    from botocore.awsrequest import AWSResponse

    from segshare_core.store import pages as store_pages

    class _Body:
        def __init__(self, body: bytes) -> None:
            self.body = body

        def stream(self, **_: Any) -> Iterator[bytes]:
            yield self.body

    served = _pages(pages_path)

    def serve_page(**_: Any) -> AWSResponse:
        # DynamoDB's answer to the store's next Query, from the file: everything after the
        # network (botocore, the store's before-parse decoding, the conversion) runs as deployed.
        return AWSResponse("https://dynamodb.local/", 200, {}, _Body(next(served)))

    store_pages.client().meta.events.register_first("before-send.dynamodb.Query", serve_page)

    rule = {"all": [{"attribute": "country", "op": "eq", "value": "IE"}]}
    segment = Segment("s-all", SOURCE, "everyone", "rule", rule, (), frozenset({TARGET}), 1, "2026-11-29T00:00:00Z")
    directory.company_key = lambda company_id: b"k" * 32  # type: ignore[assignment]
    evaluate_sharded._segment = lambda *_: (SOURCE, segment)  # type: ignore[assignment]
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=config.DATA_BUCKET)
        run = evaluate_sharded.Run(
            companyId=COMPANY, projectId=TARGET, sharedSegmentId="x-bench", evaluationId="e-bench", generation="g-bench"
        )
        context = evaluate_sharded.Context(
            **run.model_dump(),
            sourceProjectId=SOURCE,
            segmentId="s-all",
            shards=shards,
            targetProfiles=0,
            bucket=config.DATA_BUCKET,
            prefix=evaluate_sharded.work_prefix(run),
            sourceShardsKey="-",
            targetShardsKey="-",
        )
        extra: dict[str, Any] = {}
        if stage == "match":
            for s in range(shards):
                # Each source shard's object holds the part for target shard 0 (the one matched) and empty others.
                part = Path(work, f"tokens-{s:03d}.bin").read_bytes()
                body = evaluate_sharded.pack_parts([part] + [b""] * (shards - 1))
                s3.put_object(Bucket=config.DATA_BUCKET, Key=evaluate_sharded.tokens_key(context, s), Body=body)

            def call() -> Any:
                return evaluate_sharded.match_shard(evaluate_sharded.ShardItem(context=context, shard=0, stage="match"))
        elif stage == "resolve":

            def call() -> Any:
                return evaluate_sharded.resolve_shard(evaluate_sharded.ShardItem(context=context, shard=0, stage="resolve"))
        else:
            for s in range(shards):
                body = Path(work, f"matched-{s:03d}.json").read_bytes()
                s3.put_object(Bucket=config.DATA_BUCKET, Key=evaluate_sharded.matched_key(context, s), Body=body)
            running = Evaluation("e-bench", "x-bench", "manual", "RUNNING", "2026-11-29T00:00:00Z", None, None, None, None, None, {})
            evaluations.get = lambda *_: running  # type: ignore[assignment]
            evaluations.succeed = lambda *_, **__: running  # type: ignore[assignment]

            def call() -> Any:
                return evaluate_sharded.merge(context)

        base = _rss_mb()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        result = call()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        if stage == "merge":
            ids_key, _index = results.object_keys(results.result_key(COMPANY, TARGET, "x-bench", "e-bench"))
            extra["resultBytes"] = s3.head_object(Bucket=config.DATA_BUCKET, Key=ids_key)["ContentLength"]
        extra["result"] = result
    return {"wall": wall, "cpu": cpu, "peak_mb": _rss_mb(), "base_mb": base, "extra": extra}


def _spawn(stage: str, work: str, shards: int) -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": f"{root / 'layers' / 'segshare_core'}:{root}"}
    done = subprocess.run(  # noqa: S603 - our own interpreter and module, arguments we built
        [sys.executable, "-m", "bench.workflow", stage, work, str(shards)], env=env, capture_output=True, text=True, check=False, cwd=root
    )
    if done.returncode:
        raise RuntimeError(f"the {stage} child failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@cache
def measure(stage: str, profiles: int, shards: int) -> Measured:
    """One shard's child of ``stage`` ("resolve", "match" or "merge") at ``profiles`` x ``profiles``."""
    rng = random.Random(14)
    with tempfile.TemporaryDirectory(prefix="segshare-bench-") as work:
        items = pages = item_bytes = 0
        if stage == "resolve":
            items, pages, item_bytes = _write_pages(
                Path(work, "pages.bin"), _profile_items(profiles // shards, 0, rng), _profile_projection()
            )
        elif stage == "match":
            entries = round(profiles * DEVICE_PER_SHARD_FACTOR / shards)
            gen = np.random.default_rng(14)
            target = gen.integers(0, 2**63, size=(entries, 2), dtype=np.uint64).astype(">u8")
            common = target[: int(entries * OVERLAP)]
            others = gen.integers(0, 2**63, size=(entries - len(common), 2), dtype=np.uint64).astype(">u8")
            source = np.concatenate([common, others]).astype(">u8")  # concatenate returns native byte order
            for s, part in enumerate(np.array_split(source, shards)):
                ordered = part[np.lexsort((part[:, 1], part[:, 0]))]
                Path(work, f"tokens-{s:03d}.bin").write_bytes(ordered.astype(">u8").tobytes())
            items, pages, item_bytes = _write_pages(Path(work, "pages.bin"), _index_items(target, rng), _index_projection())
        else:
            # Each target shard's matched ids: about 1 - (1 - OVERLAP)^(4/3) of its profiles.
            per_shard = round(profiles / shards * (1 - (1 - OVERLAP) ** DEVICES_PER_PROFILE))
            for s in range(shards):
                ids = sorted(f"u-{rng.randrange(profiles):09d}" for _ in range(per_shard))
                body = {"profiles": ids, "matchedDevices": per_shard, "matchedByPlatform": {"ios": per_shard, "android": 0}}
                Path(work, f"matched-{s:03d}.json").write_text(json.dumps(body, separators=(",", ":")))
            items = per_shard * shards
        found = _spawn(stage, work, shards)
    return Measured(stage, found["wall"], found["cpu"], found["peak_mb"], found["base_mb"], items, pages, item_bytes, found["extra"])


DEVICE_PER_SHARD_FACTOR = DEVICES_PER_PROFILE


def _line(m: Measured) -> str:
    return (
        f"    {m.stage:<8} {m.items:>9,} items {m.pages:>4} pages {m.item_bytes / 1e6:>7.1f} MB of items: "
        f"{m.wall:6.2f} s wall, {m.cpu:6.2f} s CPU, peak RSS {m.peak_mb:6.0f} MB (of which {m.base_mb:.0f} MB before the work)"
    )


def run_child() -> None:
    shards = _shards()
    profiles = SHAPES["10M x 10M"]
    print(f"child: one shard's work at 10M x 10M with {shards} shards (pages decoded as the store decodes them, S3 moto in-process)")
    found = [measure(stage, profiles, shards) for stage in ("resolve", "match")]
    for m in found:
        print(_line(m))
    resolve, match = found
    print(
        f"child: resolve {resolve.wall:.1f} s / {resolve.peak_mb:.0f} MB, match {match.wall:.1f} s / {match.peak_mb:.0f} MB "
        f"per shard at 10M x 10M, {shards} shards (local CPU, no network wait)"
    )


#: A larger DeviceIndexShards the projection also shows (children scaled from the measured ones).
SCALED_SHARDS = 64


def _scaled(m: Measured, factor: float) -> Measured:
    """A child's figures with ``factor`` times more shards: its items, pages, bytes and times divided by it."""
    return Measured(
        m.stage, m.wall / factor, m.cpu / factor, m.peak_mb, m.base_mb, round(m.items / factor),
        math.ceil(m.pages / factor), round(m.item_bytes / factor), m.extra,
    )  # fmt: skip


def run_projection() -> None:
    shards = _shards()
    print(f"projection: one evaluation on AWS from measured children, {shards} shards, all of a stage's children in parallel")
    print(
        f"    assumptions: cold start {COLD_START_SECONDS} s (plan, resolve stage, merge; match reuses resolve's warm containers), "
        f"Map run start {MAP_START_SECONDS} s, transition "
        f"{TRANSITION_SECONDS} s, Query page {PAGE_SECONDS} s, S3 request {S3_SECONDS} s, S3 stream {S3_BYTES_PER_SECOND / 1e6:.0f} MB/s,"
    )
    per_partition = PARTITION_BYTES_PER_SECOND / 1e6
    print(f"    a partition serves {per_partition:.1f} MB/s eventually consistent (3,000 RCU), a 1,769 MB Lambda = one local core")
    print(
        f"    prices (us-east-1): Lambda arm64 ${PRICE_LAMBDA_GB_SECOND}/GB-s + $0.20/M requests, Step Functions Standard $0.025/1,000 "
        f"transitions, DynamoDB on-demand $0.125/M read units, S3 PUT $0.005/1,000, GET $0.0004/1,000"
    )
    summary = []
    cases = [(name, profiles, shards, shards) for name, profiles in SHAPES.items()]
    cases.append(("10M x 10M", SHAPES["10M x 10M"], shards, SCALED_SHARDS))
    for name, profiles, measured_at, shards in cases:
        resolve, match, merge = (measure(stage, profiles, measured_at) for stage in ("resolve", "match", "merge"))
        if shards != measured_at:
            # Each child's items, pages, bytes and CPU shrink with its shard: scaled, not measured.
            resolve, match = _scaled(resolve, shards / measured_at), _scaled(match, shards / measured_at)

        def child_wall(m: Measured, s3_requests: int) -> float:
            # CPU time, not wall: this machine's cores are shared, a Lambda's vCPU is its own. Pages
            # are fetched ahead (store.pages), so the network wait overlaps the work on the page before.
            network = max(m.pages * PAGE_SECONDS, m.item_bytes / PARTITION_BYTES_PER_SECOND)
            return max(m.cpu, network) + s3_requests * S3_SECONDS

        # S3 requests one after another: resolve its one PUT; match its two ranged GETs per source
        # shard, S3_THREADS at a time, and its PUT; merge every shard's result, S3_THREADS at a time.
        resolve_wall = child_wall(resolve, 1)
        match_wall = child_wall(match, math.ceil(2 * shards / S3_THREADS) + 1)
        merge_wall = merge.cpu + math.ceil(shards / S3_THREADS) * S3_SECONDS + merge.extra["resultBytes"] / S3_BYTES_PER_SECOND
        plan_wall = 0.3
        transitions_parent = 6
        # Cold starts: the plan, the resolve stage and the merge; the match stage runs on the
        # containers the resolve stage warmed (one function for both Maps, EvaluationShardFunction).
        fixed = transitions_parent * TRANSITION_SECONDS + 3 * COLD_START_SECONDS + plan_wall + 2 * MAP_START_SECONDS
        wall = fixed + resolve_wall + match_wall + merge_wall
        # Requests and units: every shard's pages, both sides; counters (2 x shards items, twice) by BatchGet.
        pages = shards * (resolve.pages + match.pages)
        source_units = shards * resolve.item_bytes / 4096 * 0.5
        target_units = shards * match.item_bytes / 4096 * 0.5
        read_units = source_units + target_units + 4 * shards * 0.5
        dynamo_requests = pages + 4 * math.ceil(2 * shards / 100) + 4
        s3_puts = 2 + shards + shards + 2
        s3_gets = 2 + 2 * shards * shards + shards
        transitions = transitions_parent + 2 * shards * 2
        gb_seconds = (
            shards * (resolve_wall + match_wall + COLD_START_SECONDS) * CHILD_MEMORY_GB
            + (plan_wall + COLD_START_SECONDS) * PLAN_MEMORY_GB
            + (merge_wall + COLD_START_SECONDS) * MERGE_MEMORY_GB
        )
        invocations = 2 * shards + 2
        price = {
            "Lambda": gb_seconds * PRICE_LAMBDA_GB_SECOND + invocations * PRICE_LAMBDA_REQUEST,
            "Step Functions": transitions * PRICE_TRANSITION,
            "DynamoDB": read_units * PRICE_READ_UNIT,
            "S3": s3_puts * PRICE_S3_PUT + s3_gets * PRICE_S3_GET,
        }
        total = sum(price.values())
        scaled = f", children scaled from {measured_at} shards" if shards != measured_at else ""
        print(f"  {name}, {shards} shards{scaled}:")
        for m, projected in ((resolve, resolve_wall), (match, match_wall), (merge, merge_wall)):
            print(_line(m))
            print(f"             -> {projected:.2f} s on AWS with its network wait")
        print(f"    wall {wall:.1f} s (target {TARGET_WALL[name]:.0f} s)")
        print(
            f"    where the time goes: fixed {fixed:.1f} s (3 cold starts {3 * COLD_START_SECONDS:.1f}, 2 Map starts "
            f"{2 * MAP_START_SECONDS:.1f}, plan and transitions {plan_wall + transitions_parent * TRANSITION_SECONDS:.1f}), "
            f"resolve {resolve_wall:.1f} s, match {match_wall:.1f} s, merge {merge_wall:.1f} s"
        )
        print(f"    DynamoDB {dynamo_requests:,} requests, {read_units:,.0f} read units; S3 {s3_puts} PUT + {s3_gets} GET")
        prices = ", ".join(f"{k} ${v:.4f}" for k, v in price.items())
        print(f"    {transitions} transitions, {gb_seconds:.0f} GB-s; price ${total:.4f} ({prices})")
        profile_bytes = resolve.item_bytes / max(resolve.items, 1)
        entry_bytes = match.item_bytes / max(match.items, 1)
        print(
            f"    where the money goes: DynamoDB source rows ${source_units * PRICE_READ_UNIT:.4f} ({profile_bytes:.0f} B an item), "
            f"target index ${target_units * PRICE_READ_UNIT:.4f} ({entry_bytes:.0f} B an entry); Lambda "
            f"{shards * (resolve_wall + COLD_START_SECONDS) * CHILD_MEMORY_GB:.0f} GB-s resolve, "
            f"{shards * match_wall * CHILD_MEMORY_GB:.0f} GB-s match"
        )
        summary.append(f"{name} ({shards} shards{', scaled' if scaled else ''}) {wall:.0f} s ${total:.3f}")
    targets = f"targets: 1M x 1M 10 s, 10M x 10M 60 s and ${TARGET_PRICE}"
    print("projection: " + "; ".join(summary) + f" ({targets}; projected from local CPU times, not measured on AWS)")


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
