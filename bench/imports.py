"""`import:` bulk import: rows per second through the local stack, a batch worker's peak memory, and a 10M-row projection.

1. Through the local stack (``python -m local`` in a subprocess, empty, on a free port, started
   and stopped by ``tests/support/stacks.py`` as the e2e tests do): a
   100k-row JSONL and a 100k-row CSV file (1 iOS + 1 Android device, 5 attributes a row, all
   new profiles) are each POSTed as an import, PUT to the presigned URL and polled until
   SUCCEEDED; rows per second from the start of the PUT to the import's end (S3 event, split,
   Distributed Map of batch workers, finish: everything on moto, in one process, on this
   machine's 2 cores). ``SEGSHARE_BENCH_IMPORT_ROWS`` picks another size.
2. Against moto's server in another process (so tracemalloc counts our code only): one
   batch worker (``bulk_import.run_batch``) at two batch sizes (``SEGSHARE_BENCH_WORKER_ROWS``,
   1000 and 4000), its peak memory, extrapolated to a full ``bulk_import.BATCH_BYTES`` batch,
   and its DynamoDB requests (profiles and items per TransactWriteItems); and the split's
   peak memory at a tenth of the size and the full size (flat: rows go to files, not memory).
   The split's CPU seconds per row are measured too (untraced), for the projection.
3. The projection for 10M rows on AWS, from the measured requests of one batch worker and
   the split's CPU per row, and the stated assumptions (latency, concurrency, partition
   throughput, price); it is arithmetic, not a measurement.

``import-bounds:`` only the DynamoDB bounds of step 3 (the partition bound at the configured
DEVICE_INDEX_SHARDS against 16, and the table quota bound), which need no run: seconds.
"""

from __future__ import annotations

import json
import math
import os
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import requests

from bench.moto_server import WITH_FIXES, moto_endpoint
from local import template as tpl
from local.resources import create_all
from local.tokens import mint
from segshare_core import config
from segshare_core.domain.imports import Format, Row
from segshare_core.store import directory, imports
from segshare_core.store.models import ALL_MODELS, connection
from segshare_core.workflows import bulk_import
from tests.support.stacks import start_stack, stop_stack

ROWS = int(os.environ.get("SEGSHARE_BENCH_IMPORT_ROWS", "100000"))
OPERATOR = mint("bench-operator", groups=["operators"])
ADMIN = mint("bench-admin")

# ---- assumptions of the projection (not measured here)
#: Median TransactWriteItems latency from a Lambda in the same region, ~100 items (assumed).
TX_MS = 30.0
#: BatchGetItem / GetItem / Query latency (assumed).
BATCH_GET_MS = 10.0
#: The import Map's MaxConcurrency (statemachines/bulk_import.asl.json; ImportBatchFunction's reserved concurrency).
_MACHINE = json.loads((tpl.ROOT / "statemachines" / "bulk_import.asl.json").read_text())
CONCURRENCY = int(_MACHINE["States"]["UpsertBatches"]["MaxConcurrency"])
#: DynamoDB on-demand, us-east-1: USD per million write / read request units (AWS price list, 2025).
WRU_PRICE, RRU_PRICE = 0.625, 0.125
#: DynamoDB's documented per-partition ceiling: 1,000 WCU a second. A project's profiles and index
#: entries sit under DEVICE_INDEX_SHARDS partition keys each; DynamoDB may split a hot key range
#: further ("split for heat"), but does not promise when, so the bound below assumes no split.
PARTITION_WCU = 1000
#: DynamoDB's default table-level throughput quota for on-demand tables, write request units a
#: second (adjustable through Service Quotas).
TABLE_WRU_QUOTA = 40_000
#: The split's vCPU share: ImportSplitFunction has 1,769 MB, one full vCPU (Lambda documents CPU
#: in proportion to memory, a vCPU at 1,769 MB); assumed as fast as one core of this machine.
SPLIT_VCPU = 1.0
#: S3 throughput of the split's one stream (it reads the upload and writes the batch files in
#: series), MB a second from a Lambda in the bucket's region (assumed).
SPLIT_S3_MBPS = 75.0
#: Bytes a row of the benchmark's shape takes in the upload (measured below, JSONL).
TARGET_ROWS = 10_000_000


def _row(n: int) -> dict[str, Any]:
    return {
        "profileId": f"u-{n:08d}",
        "attributes": {"first_name": ("Ann", "Zoë", "Eve")[n % 3], "country": ("IE", "DE", "FR")[n % 3], "level": str(n % 60)},
        "devices": [{"platform": "ios", "id": f"{n:08x}-0000-4000-8000-{n:012x}"}, {"platform": "android", "id": f"{n + 1:x}"}],
    }


def jsonl_file(rows: int) -> bytes:
    return "".join(json.dumps(_row(n)) + "\n" for n in range(rows)).encode()


def csv_file(rows: int) -> bytes:
    lines = ["profileId,ios,android,first_name,country,level\r\n"]
    for n in range(rows):
        r = _row(n)
        a = r["attributes"]
        lines.append(f"{r['profileId']},{r['devices'][0]['id']},{r['devices'][1]['id']},{a['first_name']},{a['country']},{a['level']}\r\n")
    return "".join(lines).encode()


# ------------------------------------------------------------------ 1. through the local stack


def _call(base: str, method: str, path: str, token: str, body: Any = None) -> Any:
    response = requests.request(method, base + path, headers={"Authorization": f"Bearer {token}"}, json=body, timeout=120)
    assert response.status_code < 300, response.text
    return response.json()


def through_stack(base: str, project: str, fmt: str, body: bytes) -> tuple[float, dict[str, Any]]:
    """(seconds from the start of the PUT to SUCCEEDED, the import as read).

    A poll answered 500/503 is polled again: the local stack runs one DynamoDB request at a
    time, and under the import's load a read can pass botocore's timeout (README, Limitations).
    """
    started = _call(base, "POST", f"/v1/projects/{project}/imports", ADMIN, {"format": fmt})
    begin = time.perf_counter()
    assert requests.put(started["uploadUrl"], data=body, timeout=300).status_code == 200
    path = f"/v1/projects/{project}/imports/{started['importId']}"
    while True:
        response = requests.get(base + path, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=120)
        assert response.status_code in (200, 500, 503), response.text
        if response.status_code == 200 and response.json()["status"] in ("SUCCEEDED", "FAILED"):
            return time.perf_counter() - begin, response.json()
        time.sleep(0.5)


# ------------------------------------------------------------------ 2. in-process: memory and requests


def _count_requests() -> tuple[Counter[str], list[int]]:
    """DynamoDB requests by operation (every client the store uses) and the items of each TransactWriteItems."""
    sent: Counter[str] = Counter()
    items: list[int] = []

    def on_call(params: dict[str, Any], **_: Any) -> None:
        items.append(len(params.get("TransactItems", [])))

    def on_send(event_name: str, **_: Any) -> None:
        sent[event_name.rsplit(".", 1)[-1]] += 1

    clients = {id(c): c for c in [m._get_connection().connection.client for m in ALL_MODELS] + [connection().client]}
    for client in clients.values():
        client.meta.events.register("before-send.dynamodb", on_send, unique_id=f"bench-import-send-{id(sent)}")
        client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", on_call, unique_id=f"bench-import-tx-{id(sent)}")
    return sent, items


def _one_batch(project: str, rows: int, traced: bool) -> dict[str, float]:
    directory.create_project("bench", project, project)
    key = imports.work_prefix("bench", project, "i-bench") + "batch-00000.jsonl"
    body = "".join(Row(n + 1, _row(n)).to_json() for n in range(rows)).encode()
    imports.put_file(key, body, "application/x-ndjson")
    item = bulk_import.BatchItem(companyId="bench", projectId=project, importId="i-bench", batch=0, key=key)
    sent, items = _count_requests()
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    try:
        result = bulk_import.run_batch(item)
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
    finally:
        tracemalloc.stop()
    seconds = time.perf_counter() - start
    assert result["written"] == rows, result
    return {
        "peak": peak,
        "seconds": seconds,
        "transactions": sent["TransactWriteItems"],
        "items": sum(items),
        "items_per_tx": sum(items) / max(1, len(items)),
        "batch_gets": sent["BatchGetItem"],
        "other_reads": sent["GetItem"] + sent["Query"],
        "bytes": len(body),
    }


def batch_worker(sizes: list[int]) -> dict[int, dict[str, float]]:
    """One batch worker on each size of new profiles, against moto's server in another process.

    tracemalloc then counts the worker's allocations only (moto keeps the written items in
    its own process); a small untraced batch first builds the clients. Per size: peak bytes,
    seconds (traced, so slower than untraced), requests.
    """
    with moto_endpoint(WITH_FIXES, caches=(imports._s3.cache_clear,)):
        create_all(tpl.load())
        directory.create_company("bench", "Bench", False)
        _one_batch("warm-up", 50, traced=False)
        return {n: _one_batch(f"proj-{n}", n, traced=True) for n in sizes}


def split_peak(sizes: list[int], fmt: Format, cpu_out: dict[int, float]) -> dict[int, int]:
    """Peak bytes of the split over uploads of these row counts, against moto's server in another process.

    The rows go to batch files in /tmp, not memory; moto keeps the objects in its own process,
    so tracemalloc counts the split alone. A small untraced split first builds the client.
    ``cpu_out`` gets, per size, the CPU seconds of an untraced split of it (this process only:
    moto's work is in its own).
    """
    peaks: dict[int, int] = {}
    with moto_endpoint(WITH_FIXES, caches=(imports._s3.cache_clear,)):
        boto3.client("s3").create_bucket(Bucket=config.DATA_BUCKET)
        for n in [100, *sizes]:
            key = imports.upload_key("bench", "proj", f"i-split-{n}", fmt)
            imports.put_file(key, jsonl_file(n) if fmt == "jsonl" else csv_file(n), "text/plain")
            job = bulk_import.Job(
                companyId="bench", projectId="proj", importId=f"i-split-{n}", format=fmt, bucket=config.DATA_BUCKET, key=key
            )
            cpu = time.process_time()
            bulk_import.split(job)
            cpu_out[n] = time.process_time() - cpu
            tracemalloc.start()
            try:
                bulk_import.split(job)
                peaks[n] = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        return {n: peaks[n] for n in sizes}


#: Index entries a row of the benchmark's shape writes (1 iOS + 1 Android device): the busiest partitions.
ENTRIES_PER_ROW = 2


def partition_bound(shards: int, rows: int = TARGET_ROWS) -> tuple[float, float]:
    """(rows a second, minutes for ``rows``) that ``shards`` index partitions take, if DynamoDB does not split them for heat.

    Each partition takes PARTITION_WCU (1,000 WCU/s, DynamoDB's documented per-partition limit);
    a transactional write of an item up to 1 KB costs 2 WCU, and a row writes ENTRIES_PER_ROW
    entries spread evenly over the shards (a token's hash picks its shard).
    """
    per_second = shards * PARTITION_WCU / (2 * ENTRIES_PER_ROW)
    return per_second, rows / per_second / 60


def shards_needed(minutes: float = 15, rows: int = TARGET_ROWS) -> int:
    """The fewest index partitions that take ``rows`` within ``minutes`` (``partition_bound``'s inverse)."""
    return math.ceil(rows / (minutes * 60) * 2 * ENTRIES_PER_ROW / PARTITION_WCU)


#: A table quota a deployment can ask for through Service Quotas (an account setting, adjustable),
#: with the tables pre-warmed to it (template ``TableWarmWriteUnits``): what the README advises.
RAISED_WRU_QUOTA = 60_000
#: ``import-bounds`` runs nothing: the split's and the workers' minutes for 10M rows are taken
#: from the ``import:`` figure's projection (its last full run, README "Performance").
ASSUMED_SPLIT_MINUTES = 2.8
ASSUMED_BATCH_MINUTES = 7.4
#: What a new on-demand table serves before it scales (DynamoDB's documented warm throughput).
NEW_TABLE_WRU, NEW_TABLE_RRU = 4_000, 12_000
#: Reads a row costs the device-index table: the upsert's consistent BatchGet of its 2 entries.
INDEX_RRU_PER_ROW = 2


def quota_bound(rows: int = TARGET_ROWS, quota: int = TABLE_WRU_QUOTA) -> tuple[float, float]:
    """(rows a second, minutes for ``rows``) the device-index table takes at a table quota of ``quota`` WRU/s (default: DynamoDB's 40,000).

    Assumes the table is warm to that rate (pre-warmed, or an earlier peak): a new on-demand
    table serves NEW_TABLE_WRU at first and doubles its peak as traffic grows.
    """
    per_second = quota / (2 * ENTRIES_PER_ROW)
    return per_second, rows / per_second / 60


def end_to_end(split_minutes: float, batch_minutes: float, shards: int, quota: int = TABLE_WRU_QUOTA) -> float:
    """Minutes for TARGET_ROWS end to end: the split, then the batch stage at its slowest bound.

    The import state machine runs Split before the UpsertBatches Map, so the split adds; the
    Map takes the longest of its workers' time, the index partitions' bound and the table's.
    """
    return split_minutes + max(batch_minutes, partition_bound(shards)[1], quota_bound(quota=quota)[1])


def quota_needed(split_minutes: float, minutes: float = 15, rows: int = TARGET_ROWS) -> float:
    """The index table's WRU/s for ``rows`` within ``minutes`` end to end, the split's minutes spent first."""
    return rows / ((minutes - split_minutes) * 60) * 2 * ENTRIES_PER_ROW


def _end_to_end_lines(split_minutes: float, batch_minutes: float, shards: int) -> Iterator[str]:
    default, raised = end_to_end(split_minutes, batch_minutes, shards), end_to_end(split_minutes, batch_minutes, shards, RAISED_WRU_QUOTA)
    yield (
        f"    end to end: split {split_minutes:.1f} min, then the batches at their slowest bound (workers {batch_minutes:.1f},"
        f" {shards} partitions {partition_bound(shards)[1]:.1f}, table quota) -> {default:.1f} min at the default"
        f" {TABLE_WRU_QUOTA:,} WRU/s, {raised:.1f} min at {RAISED_WRU_QUOTA:,} WRU/s pre-warmed (TableWarmWriteUnits={RAISED_WRU_QUOTA});"
        f" 15 min needs a table quota >= {quota_needed(split_minutes):,.0f} WRU/s and >= {shards_needed(15 - split_minutes)} shards"
    )
    rate = quota_bound(quota=RAISED_WRU_QUOTA)[0]
    yield (
        f"    reads at that rate: the index table ~{rate * INDEX_RRU_PER_ROW:,.0f} RRU/s ({INDEX_RRU_PER_ROW} a row, each row's"
        f" entries read consistently); a new table serves {NEW_TABLE_RRU:,}: TableWarmReadUnits={rate * INDEX_RRU_PER_ROW:.0f}"
        " (under the default 40,000 RRU/s table quota)"
    )


def _bound_lines(shards: int) -> Iterator[str]:
    rate, minutes = partition_bound(shards)
    yield (
        f"    partition bound at {shards} shards ({PARTITION_WCU} WCU a partition, no split for heat):"
        f" ~{rate:,.0f} rows/s -> {minutes:.1f} min for the writes alone"
    )
    quota_rate, quota_minutes = quota_bound()
    yield (
        f"    table bound: the index table at the default {TABLE_WRU_QUOTA:,} WRU/s quota takes ~{quota_rate:,.0f} rows/s"
        f" -> {quota_minutes:.1f} min for the writes alone"
    )


def run_bounds() -> None:
    """``import-bounds:`` the DynamoDB bounds on a 10M-row import at the configured shard count and at 16 (before issue 16's raise)."""
    shards = config.DEVICE_INDEX_SHARDS
    print(f"import-bounds: 10M rows of {ENTRIES_PER_ROW} index entries, transactional (2 WCU an entry); arithmetic, not a run")
    for n in dict.fromkeys([16, shards]):
        partition_line, quota_line = _bound_lines(n)
        print(partition_line)
    print(quota_line)
    ours, before = partition_bound(shards)[1], partition_bound(16)[1]
    for line in _end_to_end_lines(ASSUMED_SPLIT_MINUTES, ASSUMED_BATCH_MINUTES, shards):
        print(line)
    print(
        f"    assumed: split {ASSUMED_SPLIT_MINUTES} min and workers {ASSUMED_BATCH_MINUTES} min (figure import:'s projection);"
        f" the tables warm to the quota (pre-warmed or an earlier peak): a new on-demand table serves {NEW_TABLE_WRU:,} WRU/s"
        " at first and doubles its peak as traffic grows"
    )
    default = end_to_end(ASSUMED_SPLIT_MINUTES, ASSUMED_BATCH_MINUTES, shards)
    raised = end_to_end(ASSUMED_SPLIT_MINUTES, ASSUMED_BATCH_MINUTES, shards, RAISED_WRU_QUOTA)
    print(
        f"import-bounds: partition bound {ours:.1f} min at {shards} shards vs {before:.1f} min at 16 ({before / ours:.1f}x faster);"
        f" end to end {default:.1f} min at the default table quota, {raised:.1f} min at {RAISED_WRU_QUOTA:,} WRU/s pre-warmed"
        f" (15 min needs >= {quota_needed(ASSUMED_SPLIT_MINUTES):,.0f} WRU/s and >= {shards_needed(15 - ASSUMED_SPLIT_MINUTES)} shards)"
    )


def _lines(
    stack_rates: dict[str, float],
    worker: dict[str, float],
    worker_rows: int,
    row_bytes: float,
    split_cpu_per_row: float,
    minutes_out: dict[str, float],
) -> Iterator[str]:
    batches = min(bulk_import.MAX_BATCHES, math.ceil(TARGET_ROWS * row_bytes / bulk_import.BATCH_BYTES))
    rows_per_batch = TARGET_ROWS / batches
    per_tx = worker_rows / max(1, worker["transactions"])
    # One worker sends its requests in series: the measured requests at the assumed latencies.
    worker_seconds = (worker["transactions"] * TX_MS + (worker["batch_gets"] + worker["other_reads"]) * BATCH_GET_MS) / 1000
    per_worker = worker_rows / worker_seconds
    # The Map runs CONCURRENCY batches at a time; a batch's profile transactions touch no counter
    # item (its moves are held in its own item), so workers do not wait on one another.
    rounds = math.ceil(batches / CONCURRENCY)
    batch_minutes = rounds * rows_per_batch / per_worker / 60
    # The split parses (CPU) and moves the file twice through S3 (read the upload, write the batches).
    split_minutes = (TARGET_ROWS * split_cpu_per_row / SPLIT_VCPU + 2 * TARGET_ROWS * row_bytes / 1e6 / SPLIT_S3_MBPS) / 60
    minutes_out["workers"] = split_minutes + batch_minutes
    minutes_out["split"], minutes_out["batches"] = split_minutes, batch_minutes
    # Writes: transactional, 2 WRU an item of up to 1 KB. Items a row: measured (rows, index entries, held moves).
    items_per_row = worker["items"] / worker_rows
    wru = TARGET_ROWS * 2 * items_per_row
    # Reads a row costs: the upsert's BatchGet of the rows (0.5 RRU, eventually consistent) and
    # the consistent BatchGet of its 2 index entries (1 RRU each).
    rru = TARGET_ROWS * 2.5
    size = TARGET_ROWS * row_bytes / 1e9
    yield f"    10M rows of this shape ({row_bytes:.0f} B a JSONL row, {size:.1f} GB): {batches} batches of ~{rows_per_batch:,.0f} rows"
    yield (
        f"    measured: {per_tx:.1f} profiles and {worker['items_per_tx']:.0f} items per TransactWriteItems,"
        f" {items_per_row:.2f} items written a row; 1 counter transaction a batch (its held moves)"
    )
    yield (
        f"    assumed: {TX_MS:.0f} ms a transaction, {BATCH_GET_MS:.0f} ms a read, Map MaxConcurrency {CONCURRENCY},"
        " on-demand tables warm enough for the rate (warm throughput or an earlier peak)"
    )
    yield (
        f"    split: {split_cpu_per_row * 1e6:.1f} us CPU a row here, the file read and written once at {SPLIT_S3_MBPS:.0f} MB/s"
        f" -> {split_minutes:.1f} min for 10M at {SPLIT_VCPU:g} vCPU"
    )
    yield (
        f"    batches: one worker ~{per_worker:,.0f} rows/s; {CONCURRENCY} at a time, {rounds} rounds"
        f" -> {batch_minutes:.1f} min; split + batches {minutes_out['workers']:.1f} min if DynamoDB took every write at once"
    )
    yield from _bound_lines(config.DEVICE_INDEX_SHARDS)
    yield from _end_to_end_lines(split_minutes, batch_minutes, config.DEVICE_INDEX_SHARDS)
    yield f"    DynamoDB: {wru / 1e6:.0f}M WRU + {rru / 1e6:.0f}M RRU = ${wru / 1e6 * WRU_PRICE + rru / 1e6 * RRU_PRICE:,.0f} per 10M rows"
    yield f"    local stack for reference: jsonl {stack_rates.get('jsonl', 0):,.0f} rows/s, csv {stack_rates.get('csv', 0):,.0f} rows/s"


def run() -> None:
    print(f"import: bulk import of {ROWS:,} new profiles (1 iOS + 1 Android device, 3 attributes a row)")
    files = {"jsonl": jsonl_file(ROWS), "csv": csv_file(ROWS)}
    rates: dict[str, float] = {}
    # The stack the e2e tests use (empty, free port): its stop also fails on a call a deployed role would deny.
    stack = start_stack(demo=False)
    base = stack.base_url
    try:
        _call(base, "POST", "/v1/companies", OPERATOR, {"id": "bench", "name": "Bench"})
        _call(base, "PUT", "/v1/companies/bench/users/bench-admin", OPERATOR, {"role": "company_admin"})
        for fmt, body in files.items():
            _call(base, "POST", "/v1/companies/bench/projects", ADMIN, {"id": f"bench-{fmt}", "name": fmt})
            seconds, record = through_stack(base, f"bench-{fmt}", fmt, body)
            assert record["status"] == "SUCCEEDED" and record["upserted"] == ROWS, record
            rates[fmt] = ROWS / seconds
            print(f"    local stack, {fmt:<5} {len(body) / 1e6:6.1f} MB: {seconds:7.1f} s, {rates[fmt]:8,.0f} rows/s (PUT to SUCCEEDED)")
    finally:
        stop_stack(stack)
    row_bytes = len(files["jsonl"]) / ROWS
    full_batch = int(bulk_import.BATCH_BYTES / row_bytes)
    # A full batch under tracemalloc takes many minutes on moto; two smaller ones show the slope.
    sizes = [int(x) for x in os.environ.get("SEGSHARE_BENCH_WORKER_ROWS", "1000,4000").split(",")]
    runs = batch_worker(sizes)
    for n, worker in runs.items():
        print(
            f"    batch worker, {n:,} rows ({worker['bytes'] / 1e6:.2f} MB batch file): peak {worker['peak'] / 2**20:.1f} MiB"
            f" ({worker['peak'] / n:,.0f} B/row), {worker['transactions']} TransactWriteItems, {worker['batch_gets']} BatchGetItem"
        )
    small_n, large_n = min(runs), max(runs)
    slope = (runs[large_n]["peak"] - runs[small_n]["peak"]) / (large_n - small_n)
    full_peak = runs[large_n]["peak"] + slope * (full_batch - large_n)
    print(
        f"    a full batch ({bulk_import.BATCH_BYTES / 2**20:.0f} MiB of upload, ~{full_batch:,} rows):"
        f" ~{full_peak / 2**20:.0f} MiB (extrapolated on that slope)"
    )
    worker = runs[large_n]
    worker_rows = large_n
    small, large = max(1000, ROWS // 10), ROWS
    split_cpu: dict[int, float] = {}
    peaks = split_peak([small, large], "csv", split_cpu)
    print(
        f"    split (csv): peak {peaks[small] / 2**20:.1f} MiB at {small:,} rows, {peaks[large] / 2**20:.1f} MiB at {large:,} rows;"
        f" {split_cpu[large]:.1f} s CPU at {large:,} rows"
    )
    minutes: dict[str, float] = {}
    for line in _lines(rates, worker, worker_rows, row_bytes, split_cpu[large] / large, minutes):
        print(line)
    print(
        f"import: jsonl {rates['jsonl']:,.0f} rows/s, csv {rates['csv']:,.0f} rows/s ({ROWS:,} rows, local stack);"
        f" batch worker peak ~{full_peak / 2**20:.0f} MiB a {bulk_import.BATCH_BYTES / 2**20:.0f} MiB batch;"
        f" 10M on AWS (projected, end to end, target 15 min):"
        f" {end_to_end(minutes['split'], minutes['batches'], config.DEVICE_INDEX_SHARDS):.1f} min at the default table quota,"
        f" {end_to_end(minutes['split'], minutes['batches'], config.DEVICE_INDEX_SHARDS, RAISED_WRU_QUOTA):.1f} min at"
        f" {RAISED_WRU_QUOTA:,} WRU/s pre-warmed; the workers alone {minutes['workers']:.1f} min at {CONCURRENCY} at a time"
    )
