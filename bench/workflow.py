"""``child:`` one Map child's work in the evaluation workflow, and ``projection:`` a whole evaluation on AWS.

``child:`` runs the workflow's real step functions (``segshare_core.workflows.evaluate_sharded``) as
child 0 at the 10M x 10M shape with the configured shard and children counts (DEVICE_INDEX_SHARDS,
EVALUATION_CHILDREN): child 0 takes shards/children shards (``shards_of_child``), read one after another.

- resolve: the child's source profile shards (10M / shards profiles each) read from DynamoDB
  Query pages in DynamoDB's JSON wire form (only the attributes the store projects; pages and
  read units counted on whole items), served to the store's own client by a before-send hook,
  so botocore, the store's before-parse decoding and the conversion run as deployed; the
  segment's rule, the stored tokens partitioned by match child and sorted, one token object
  written to S3;
- match: the child's target index shards (10M x 4/3 devices / shards entries each) read the
  same way into columns, its part of every resolve child's object read by ranged GETs, the
  numpy join a shard at a time, the result written to S3;
- merge: every child's result read, the union, the result written.

The pages are generated beforehand in the parent and read one by one from a file in the
child (a separate process, so its peak RSS is its own); S3 is moto in-process. Only the
DynamoDB network wait is absent: ``projection:`` adds it from the page count.

``projection:`` measures the same children at 1M x 1M and 10M x 10M and adds Step Functions'
and Lambda's overheads and DynamoDB's page latency and partition throughput, each printed as
an assumption; requests, read units and the price of one evaluation come from the counts. It
does so for the configured (shards, children) and, in the same run, for 16 shards / 16 children
(the layout before issue 16) and 64 / 64 (one child a shard at 64), every one measured; then it
prints what the shard count costs the in-request path (``domain.scale``'s prediction).
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


def _layout() -> tuple[int, int]:
    """(shards, children) as configured: DEVICE_INDEX_SHARDS, and the children a Map runs for it."""
    from segshare_core import config
    from segshare_core.workflows.evaluate_sharded import plan_children

    return config.DEVICE_INDEX_SHARDS, plan_children(config.DEVICE_INDEX_SHARDS, config.EVALUATION_CHILDREN)


def _counter_items(shards: int) -> int:
    """Counter items a count reads (both kinds): 2 x min(shards, COUNTER_SLOTS)."""
    from segshare_core.store.profiles import COUNTER_SLOTS

    return 2 * min(shards, COUNTER_SLOTS)


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


def _write_pages(path: Path, partitions: list[Iterator[dict[str, Any]]], projected: set[str]) -> tuple[int, int, int]:
    """Each partition's items into Query pages of at most 1 MB of item bytes, length-prefixed in a file: (items, pages, bytes).

    The partitions' pages follow one another, each partition's last page without a
    LastEvaluatedKey, as the Queries of a child reading its shards one after another get them.
    Pages and read units are counted on whole items (DynamoDB bills and pages them so); a page
    holds only the ``projected`` attributes, as the store's ProjectionExpression returns them.
    """
    count = pages = total = 0
    with path.open("ab") as fh:
        for items in partitions:
            counted = _write_partition(fh, items, projected)
            count, pages, total = count + counted[0], pages + counted[1], total + counted[2]
    return count, pages, total


def _write_partition(fh: Any, items: Iterator[dict[str, Any]], projected: set[str]) -> tuple[int, int, int]:
    """One partition's pages appended to ``fh``: (items, pages, bytes)."""
    count = pages = total = 0
    page: list[dict[str, Any]] = []
    size = 0
    last_key: dict[str, Any] = {}

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


def _index_items(tokens: np.ndarray, rng: random.Random, shard: int = 0, first_owner: int = 0) -> Iterator[dict[str, Any]]:
    """One index shard's entries in token order; holders ``u-<n>`` from ``first_owner`` on (distinct across a child's shards)."""
    from segshare_core.store.models import DeviceIndexRow

    pk = f"C#{COMPANY}#P#{TARGET}#S#{shard:03d}"
    order = np.argsort(tokens.view("S16").ravel())  # a Query returns a shard in token order
    for n, i in enumerate(order.tolist()):
        owner = first_owner + i * 3 // 4
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


def _child(stage: str, work: str, shards: int, children: int) -> dict[str, Any]:
    """Runs in the child process: the step function of ``stage`` as Map child 0, timed; what it measured."""
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
            children=children,
            targetProfiles=0,
            bucket=config.DATA_BUCKET,
            prefix=evaluate_sharded.work_prefix(run),
            childrenKey="-",
        )
        extra: dict[str, Any] = {}
        if stage == "match":
            for c in range(children):
                # Each resolve child's object holds the part for match child 0 (the one measured) and empty others.
                part = Path(work, f"tokens-{c:03d}.bin").read_bytes()
                body = evaluate_sharded.pack_parts([part] + [b""] * (children - 1))
                s3.put_object(Bucket=config.DATA_BUCKET, Key=evaluate_sharded.tokens_key(context, c), Body=body)

            def call() -> Any:
                return evaluate_sharded.match_child(evaluate_sharded.ChildItem(context=context, child=0, stage="match"))
        elif stage == "resolve":

            def call() -> Any:
                return evaluate_sharded.resolve_child(evaluate_sharded.ChildItem(context=context, child=0, stage="resolve"))
        else:
            for c in range(children):
                body = Path(work, f"matched-{c:03d}.json").read_bytes()
                s3.put_object(Bucket=config.DATA_BUCKET, Key=evaluate_sharded.matched_key(context, c), Body=body)
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


def _spawn(stage: str, work: str, shards: int, children: int) -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": f"{root / 'layers' / 'segshare_core'}:{root}"}
    done = subprocess.run(  # noqa: S603 - our own interpreter and module, arguments we built
        [sys.executable, "-m", "bench.workflow", stage, work, str(shards), str(children)],
        env=env, capture_output=True, text=True, check=False, cwd=root,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"the {stage} child failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@cache
def measure(stage: str, profiles: int, shards: int, children: int) -> Measured:
    """Map child 0 of ``stage`` ("resolve", "match" or "merge") at ``profiles`` x ``profiles``, ``shards`` over ``children``."""
    from segshare_core.workflows.evaluate_sharded import shards_of_child

    rng = random.Random(14)
    mine = list(shards_of_child(0, children, shards))
    per_shard = profiles // shards
    with tempfile.TemporaryDirectory(prefix="segshare-bench-") as work:
        items = pages = item_bytes = 0
        if stage == "resolve":
            partitions = [_profile_items(per_shard, s, rng) for s in mine]
            items, pages, item_bytes = _write_pages(Path(work, "pages.bin"), partitions, _profile_projection())
        elif stage == "match":
            entries = round(profiles * DEVICES_PER_PROFILE / shards)
            gen = np.random.default_rng(14)
            targets = [gen.integers(0, 2**63, size=(entries, 2), dtype=np.uint64).astype(">u8") for _ in mine]
            # OVERLAP of every target shard's tokens are source tokens; the source is as large as the target.
            common = [t[: int(entries * OVERLAP)] for t in targets]
            others = gen.integers(0, 2**63, size=(entries * len(mine) - sum(map(len, common)), 2), dtype=np.uint64)
            source = np.concatenate([*common, others.astype(">u8")]).astype(">u8")  # concatenate returns native byte order
            for c, part in enumerate(np.array_split(source, children)):
                ordered = part[np.lexsort((part[:, 1], part[:, 0]))]
                Path(work, f"tokens-{c:03d}.bin").write_bytes(ordered.astype(">u8").tobytes())
            partitions = [_index_items(t, rng, s, first_owner=n * per_shard) for n, (s, t) in enumerate(zip(mine, targets, strict=True))]
            items, pages, item_bytes = _write_pages(Path(work, "pages.bin"), partitions, _index_projection())
        else:
            # Each match child's matched ids: about 1 - (1 - OVERLAP)^(4/3) of its profiles.
            per_child = round(profiles / children * (1 - (1 - OVERLAP) ** DEVICES_PER_PROFILE))
            for c in range(children):
                ids = sorted(f"u-{rng.randrange(profiles):09d}" for _ in range(per_child))
                body = {"profiles": ids, "matchedDevices": per_child, "matchedByPlatform": {"ios": per_child, "android": 0}}
                Path(work, f"matched-{c:03d}.json").write_text(json.dumps(body, separators=(",", ":")))
            items = per_child * children
        found = _spawn(stage, work, shards, children)
    return Measured(stage, found["wall"], found["cpu"], found["peak_mb"], found["base_mb"], items, pages, item_bytes, found["extra"])


def _line(m: Measured) -> str:
    return (
        f"    {m.stage:<8} {m.items:>9,} items {m.pages:>4} pages {m.item_bytes / 1e6:>7.1f} MB of items: "
        f"{m.wall:6.2f} s wall, {m.cpu:6.2f} s CPU, peak RSS {m.peak_mb:6.0f} MB (of which {m.base_mb:.0f} MB before the work)"
    )


def run_child() -> None:
    shards, children = _layout()
    profiles = SHAPES["10M x 10M"]
    print(
        f"child: one Map child's work at 10M x 10M with {shards} shards over {children} children "
        f"({len(range(0, shards, children))} shards for child 0; pages decoded as the store decodes them, S3 moto in-process)"
    )
    found = [measure(stage, profiles, shards, children) for stage in ("resolve", "match")]
    for m in found:
        print(_line(m))
    resolve, match = found
    print(
        f"child: resolve {resolve.wall:.1f} s / {resolve.peak_mb:.0f} MB, match {match.wall:.1f} s / {match.peak_mb:.0f} MB "
        f"per child at 10M x 10M, {shards} shards / {children} children (local CPU, no network wait)"
    )


#: The layouts the projection compares with the configured one, in the same run: before issue 16
#: (16 shards, a child a shard) and 64 shards with a child a shard (what raising the shards alone gives).
COMPARED_LAYOUTS = ((16, 16), (64, 64))


@dataclass(frozen=True)
class Projected:
    """One evaluation on AWS at one shape and layout: wall seconds and dollars."""

    wall: float
    price: float


def project(name: str, profiles: int, shards: int, children: int) -> Projected:
    """Measure the three stages' child 0 at this shape and layout, print the projection of one evaluation; its figures."""
    resolve, match, merge = (measure(stage, profiles, shards, children) for stage in ("resolve", "match", "merge"))

    def child_wall(m: Measured, s3_requests: int) -> float:
        # CPU time, not wall: this machine's cores are shared, a Lambda's vCPU is its own. Pages
        # are fetched ahead (store.pages), so the network wait overlaps the work on the page before;
        # a child reads its shards one after another, so their pages and bytes add up.
        network = max(m.pages * PAGE_SECONDS, m.item_bytes / PARTITION_BYTES_PER_SECOND)
        return max(m.cpu, network) + s3_requests * S3_SECONDS

    # S3 requests one after another: resolve its one PUT; match its two ranged GETs per resolve
    # child, S3_THREADS at a time, and its PUT; merge every child's result, S3_THREADS at a time.
    resolve_wall = child_wall(resolve, 1)
    match_wall = child_wall(match, math.ceil(2 * children / S3_THREADS) + 1)
    merge_wall = merge.cpu + math.ceil(children / S3_THREADS) * S3_SECONDS + merge.extra["resultBytes"] / S3_BYTES_PER_SECOND
    plan_wall = 0.3
    transitions_parent = 6
    # Cold starts: the plan, the resolve stage and the merge; the match stage runs on the
    # containers the resolve stage warmed (one function for both Maps, EvaluationShardFunction).
    fixed = transitions_parent * TRANSITION_SECONDS + 3 * COLD_START_SECONDS + plan_wall + 2 * MAP_START_SECONDS
    wall = fixed + resolve_wall + match_wall + merge_wall
    # Requests and units: every child's pages, both sides; the counters by BatchGet, three times
    # (the request's prediction reads both projects', the plan the target's), 0.5 unit an item.
    counters = _counter_items(shards)
    pages = children * (resolve.pages + match.pages)
    source_units = children * resolve.item_bytes / 4096 * 0.5
    target_units = children * match.item_bytes / 4096 * 0.5
    read_units = source_units + target_units + 3 * counters * 0.5
    dynamo_requests = pages + 3 * math.ceil(counters / 100) + 4
    # PUTs: the children list, a token object and a result a child, the result's two objects.
    s3_puts = 1 + 2 * children + 2
    # GETs: the list by both Maps' ItemReaders, two ranged GETs a (resolve, match) pair of children, the results.
    s3_gets = 2 + 2 * children * children + children
    transitions = transitions_parent + 2 * children * 2
    gb_seconds = (
        children * (resolve_wall + match_wall + COLD_START_SECONDS) * CHILD_MEMORY_GB
        + (plan_wall + COLD_START_SECONDS) * PLAN_MEMORY_GB
        + (merge_wall + COLD_START_SECONDS) * MERGE_MEMORY_GB
    )
    invocations = 2 * children + 2
    price = {
        "Lambda": gb_seconds * PRICE_LAMBDA_GB_SECOND + invocations * PRICE_LAMBDA_REQUEST,
        "Step Functions": transitions * PRICE_TRANSITION,
        "DynamoDB": read_units * PRICE_READ_UNIT,
        "S3": s3_puts * PRICE_S3_PUT + s3_gets * PRICE_S3_GET,
    }
    total = sum(price.values())
    per_child = len(range(0, shards, children))
    print(f"  {name}, {shards} shards over {children} children ({per_child} shard{'s' if per_child > 1 else ''} a child):")
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
        f"{children * (resolve_wall + COLD_START_SECONDS) * CHILD_MEMORY_GB:.0f} GB-s resolve, "
        f"{children * match_wall * CHILD_MEMORY_GB:.0f} GB-s match"
    )
    return Projected(wall, total)


#: Project sizes (profiles a project, as many devices as bench.data's shape) the in-request lines show.
REQUEST_SIZES = (1_000, 10_000, 50_000, 100_000, 200_000)


def _in_request(shards: tuple[int, ...]) -> None:
    """What the shard count costs the in-request path: domain.scale's prediction at each size, for each count."""
    from segshare_core import config
    from segshare_core.domain.scale import predict_in_request

    print(
        f"  in request (domain.scale, a source and a target of n profiles, {DEVICES_PER_PROFILE:.2f} devices each; "
        f"EVALUATION_INLINE_SECONDS {config.EVALUATION_INLINE_SECONDS:g} s):"
    )
    for n in REQUEST_SIZES:
        entries = round(n * DEVICES_PER_PROFILE)
        found = {s: predict_in_request(n, entries, entries, shards=s) for s in shards}
        cells = ", ".join(f"{s} shards {p.seconds:.2f} s ({p.requests} requests, {p.plan})" for s, p in found.items())
        ratio = found[shards[-1]].seconds / found[shards[0]].seconds
        print(f"    {n:>7,} x {n:<7,}: {cells}; {ratio:.2f}x")
    for s in shards:
        # The largest n x n still answered inside the request (201) at this shard count.
        low, high = 1, 10_000_000
        while low < high:
            mid = (low + high + 1) // 2
            entries = round(mid * DEVICES_PER_PROFILE)
            if predict_in_request(mid, entries, entries, shards=s).seconds <= config.EVALUATION_INLINE_SECONDS:
                low = mid
            else:
                high = mid - 1
        print(f"    {s} shards: evaluated inside the request up to {low:,} x {low:,} profiles")


def run_projection() -> None:
    shards, children = _layout()
    print(
        f"projection: one evaluation on AWS from measured children, {shards} shards over {children} children "
        "(and the compared layouts), all of a stage's children in parallel"
    )
    print(
        f"    assumptions: cold start {COLD_START_SECONDS} s (plan, resolve stage, merge; match reuses resolve's warm containers), "
        f"Map run start {MAP_START_SECONDS} s, transition "
        f"{TRANSITION_SECONDS} s, Query page {PAGE_SECONDS} s, S3 request {S3_SECONDS} s, S3 stream {S3_BYTES_PER_SECOND / 1e6:.0f} MB/s,"
    )
    per_partition = PARTITION_BYTES_PER_SECOND / 1e6
    print(
        f"    a partition serves {per_partition:.1f} MB/s eventually consistent (3,000 RCU), a child reads its shards one after "
        "another, a 1,769 MB Lambda = one local core"
    )
    print(
        f"    prices (us-east-1): Lambda arm64 ${PRICE_LAMBDA_GB_SECOND}/GB-s + $0.20/M requests, Step Functions Standard $0.025/1,000 "
        f"transitions, DynamoDB on-demand $0.125/M read units, S3 PUT $0.005/1,000, GET $0.0004/1,000"
    )
    layouts = list(dict.fromkeys([(shards, children), *COMPARED_LAYOUTS]))
    found: dict[tuple[str, int, int], Projected] = {}
    for name, profiles in SHAPES.items():
        for s, c in layouts:
            found[(name, s, c)] = project(name, profiles, s, c)
    _in_request(tuple(sorted({shards, *(s for s, _ in COMPARED_LAYOUTS)})))
    summary = []
    for name in SHAPES:
        mine = found[(name, shards, children)]
        others = [
            f"{s}/{c} {p.wall:.1f} s ${p.price:.4f} (ours {mine.wall / p.wall:.2f}x the time, {mine.price / p.price:.2f}x the price)"
            for (n, s, c), p in found.items()
            if n == name and (s, c) != (shards, children)
        ]
        summary.append(f"{name} at {shards}/{children} {mine.wall:.1f} s ${mine.price:.4f}; vs " + ", ".join(others))
    targets = f"targets: 1M x 1M 10 s, 10M x 10M 60 s and ${TARGET_PRICE}"
    print("projection: " + "; ".join(summary) + f" (shards/children; {targets}; projected from local CPU times, not measured on AWS)")


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
