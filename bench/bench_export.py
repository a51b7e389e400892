"""(e) Export: rows per second and peak memory writing 10k, 50k and 100k rows, to show memory flat in the row count.

Two figures per size, both through the production writer ``domain.exports.csv_lines``:

- writer: ``csv_lines`` alone into a sink that only counts bytes (the writer's own cost);
- worker path: what the export worker does after reading the profiles: each row spooled as a
  JSON line to a ``SpooledTemporaryFile`` (``export_file.SPOOL_IN_MEMORY_BYTES`` in memory, then
  disk), read back with ``export_file._rows``, written by ``csv_lines`` and streamed by
  ``store.exports.upload`` (the real multipart upload, production ``PART_BYTES``) to moto's
  S3 server running in a separate process, so tracemalloc counts this process only and not
  moto's copy of the object. DynamoDB reads are left out (see figure b for those).

Rows per second come from an untraced run; peak memory from a second run under tracemalloc
(which slows Python down, so its time is not used).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any

import boto3

from bench.moto_server import moto_endpoint
from local import template as tpl
from local.resources import table_definitions
from segshare_core import config
from segshare_core.domain.exports import CONTENT_TYPES, columns, csv_lines
from segshare_core.domain.profiles import shard_of_profile
from segshare_core.store import exports, profiles, results
from segshare_core.store.keys import profile_pk
from segshare_core.store.models import ProfileRow
from segshare_core.workflows import export_file

SIZES = (10_000, 50_000, 100_000)
FIRST_NAMES = ("Ann", "Zoë", "Ciarán", "=Dara", "Eve", "Finn")
COUNTRIES = ("IE", "DE", "FR", "ES", "US", "JP")


def rows(count: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """Demo-like profiles of the target project, made one at a time (the generator holds none)."""
    for n in range(count):
        yield (
            f"b-user-{n:07d}",
            {
                "first_name": FIRST_NAMES[n % 6],
                "country": COUNTRIES[n % 6],
                "level": n % 60,
                "email": f"player{n}@example.com",
                "last_seen": "2026-11-28T17:00:00Z",
                "vip": n % 7 == 0,
                "balance": -(n % 100) / 4,
                "note": 'likes puzzles, "hard" ones',
                "city": "Dún Laoghaire",
                "signed_up": "2025-01-01T00:00:00Z",
                "favourite_game": "Alpha Quest: Return of the Beta",
            },
        )


def writer_only(count: int) -> int:
    attribute_columns = columns(None, next(rows(1))[1])
    return sum(len(line.encode()) for line in csv_lines(attribute_columns, rows(count)))


def worker_path(count: int) -> int:
    key = exports.object_key("bench", "target", f"x-bench-{count}", "csv")
    with tempfile.SpooledTemporaryFile(max_size=export_file.SPOOL_IN_MEMORY_BYTES, mode="w+", encoding="utf-8") as spool:
        keys: set[str] = set()
        for profile_id, attributes in rows(count):  # as export_file._spool writes it
            spool.write(json.dumps([profile_id, attributes]) + "\n")
            keys.update(attributes)
        lines = csv_lines(columns(None, keys), export_file._rows(spool))
        return exports.upload(key, lines, CONTENT_TYPES["csv"], {"row-count": str(count)})


def measure(step: Callable[[int], int], count: int) -> tuple[float, int, int]:
    """(rows per second untraced, bytes written, peak bytes allocated while writing)."""
    start = time.perf_counter()
    size = step(count)
    seconds = time.perf_counter() - start
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        step(count)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count / seconds, size, peak - base


#: Rows of the read-stage figure: every profile is written to moto's DynamoDB first (batch writes).
READ_SIZES = (25_000, 100_000)
_COMPANY, _PROJECT = "bench", "target"
_UPDATED = datetime(2026, 11, 28, 17, tzinfo=UTC)


def _profiles_table() -> dict[str, Any]:
    """The template's profiles table, as local.resources creates it."""
    template = tpl.load()
    return next(args for args in table_definitions(template).values() if args["TableName"] == config.PROFILES_TABLE)


def _seed_profiles(count: int) -> str:
    """``count`` profiles written straight to the profiles table (BatchWriteItem) and a result of their ids; its key."""
    client = boto3.client("dynamodb")
    shards = config.DEVICE_INDEX_SHARDS
    ids = [row_id for row_id, _attributes in rows(count)]
    items = []
    for profile_id, attributes in rows(count):
        pk = profile_pk(_COMPANY, _PROJECT, shard_of_profile(profile_id, shards))
        # The store's own item layout (stored names and types), as its writes leave it.
        row = ProfileRow(pk, profile_id, attributes=attributes, devices=[], tokens=[], updated_at=_UPDATED, version=1)
        items.append(row.serialize())
        if len(items) == 25:
            client.batch_write_item(RequestItems={config.PROFILES_TABLE: [{"PutRequest": {"Item": i}} for i in items]})
            items = []
    if items:
        client.batch_write_item(RequestItems={config.PROFILES_TABLE: [{"PutRequest": {"Item": i}} for i in items]})
    key = results.result_key(_COMPANY, _PROJECT, "x-bench", f"e-{count}")
    results.put(key, iter(ids))
    return key


def _spool_one_batch_after_another(key: str, spool: Any) -> tuple[int, set[str]]:
    """The worker's read stage as it was: the whole result in one list, then one BatchGet of 100 after another."""
    matched = results.get(key)
    written, keys = 0, set[str]()
    for start in range(0, len(matched), 100):
        chunk = matched[start : start + 100]
        found = profiles.get_profiles(_COMPANY, _PROJECT, chunk)
        for profile_id in chunk:
            if profile_id in found:
                spool.write(json.dumps([profile_id, dict(found[profile_id].attributes)]) + "\n")
                keys.update(found[profile_id].attributes)
                written += 1
    return written, keys


class _Sink:
    """Stands in for the spool and only counts characters: the spool's own memory is the figure above."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)


def _read_stage(key: str, spool_rows: Callable[[str, Any], tuple[int, set[str]]]) -> int:
    written, _keys = spool_rows(key, _Sink())
    return written


def _read_stage_of(key: str, spool_rows: Callable[[str, Any], tuple[int, set[str]]], _count: int) -> int:
    """`_read_stage` as `measure` calls a step (with the row count, which the seeded key already fixes)."""
    return _read_stage(key, spool_rows)


def _spool_concurrent(key: str, spool: Any) -> tuple[int, set[str]]:
    """The worker's read stage now (``export_file._spool``): ids streamed from the result, concurrent BatchGets."""
    return export_file._spool(_COMPANY, _PROJECT, results.open(key).iter_ids(), spool)


def read_stage() -> None:
    """(e) read stage: result ids from S3 and profiles from DynamoDB into the spool, concurrent vs one batch after another."""
    print("(e) export read stage: result ids streamed from S3, profiles by BatchGet (100 keys), rows to a counting sink,")
    print(f"    concurrent ({profiles.MAX_READ_THREADS} in flight, export_file._spool) vs one after another (the worker before),")
    print("    moto's S3 and DynamoDB in another process on this machine (no network latency: a real round trip")
    print("    of a few ms favours the concurrent reads more)")
    print(f"    {'rows':>8}  {'figure':<22} {'rows/s':>9} {'speed-up':>8} {'peak KB':>8} {'peak B/row':>10}")
    for count in READ_SIZES:
        key = _seed_profiles(count)
        baseline = 0.0
        for name, spool_rows in (("one after another", _spool_one_batch_after_another), ("concurrent", _spool_concurrent)):
            rate, written, peak = measure(partial(_read_stage_of, key, spool_rows), count)
            assert written == count, (name, written)
            baseline = baseline or rate
            print(f"    {count:>8,}  {name:<22} {rate:>9,.0f} {rate / baseline:>7.2f}x {peak / 1024:>8,.0f} {peak / count:>10.1f}")
    print("    the concurrent path holds at most 16 batches of 100 profiles and a 64 KiB read of the ids; the path")
    print("    before held the whole id list, so its peak grows with the row count")


def run() -> None:
    with moto_endpoint(caches=(exports._s3.cache_clear, results._s3.cache_clear)):
        boto3.client("dynamodb").create_table(**_profiles_table())
        boto3.client("s3").create_bucket(Bucket=config.DATA_BUCKET)
        worker_path(100)  # warm up: the client and the server's first requests
        print("(e) export: 10k / 50k / 100k rows through domain.exports.csv_lines (peak by tracemalloc)")
        print(f"    worker path = JSON spool ({export_file.SPOOL_IN_MEMORY_BYTES / 2**20:.0f} MiB in memory, then disk) -> csv_lines ->")
        print(f"    store.exports.upload, multipart in {exports.PART_BYTES / 2**20:.0f} MiB parts to moto S3 in another process")
        print(
            f"    {'rows':>8}  {'figure':<12} {'rows/s':>9} {'bytes/row':>9} {'file MB':>8} {'parts':>5} {'peak KB':>8} {'peak B/row':>10}"
        )
        for count in SIZES:
            for name, step in (("writer", writer_only), ("worker path", worker_path)):
                rate, size, peak = measure(step, count)
                parts = str(max(1, math.ceil(size / exports.PART_BYTES))) if step is worker_path else "-"
                print(
                    f"    {count:>8,}  {name:<12} {rate:>9,.0f} {size / count:>9.1f} {size / 1e6:>8.2f} {parts:>5}"
                    f" {peak / 1024:>8,.0f} {peak / count:>10.1f}"
                )
        print("    memory is bounded by the spool threshold plus the part buffer (and its copy for the request),")
        print("    not by the row count: the worker path's peak stops growing once a file passes one part")
        read_stage()
