"""Reads of a project's device index, the two ways an evaluation can take (see domain.match).

``probe`` BatchGets the entries of given tokens (the "probe" plan); ``query_all_shards``
Queries every shard partition to its end, in parallel (the "scan" plan: never a DynamoDB
Scan). Both return ``IndexEntry`` objects, skip entries whose profile set is empty (the
profile writes delete those in the same transaction; none should exist), and read
eventually consistently unless asked: the index is written in the same transaction as its
profile, and an evaluation that misses a write made a second earlier is as good as one
started a second earlier.

DynamoDB cannot count a partition's items cheaply, so choosing between the two is left to
the caller, who reads the target's index-entry count from its shard counters
(``store.profiles.counts``, then ``domain.match.choose_plan``).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from segshare_core import config
from segshare_core.domain.devices import PLATFORMS, Platform
from segshare_core.domain.match import IndexEntry, TargetIndex, hex_words
from segshare_core.store.keys import index_entry, index_pk
from segshare_core.store.models import DeviceIndexRow
from segshare_core.store.pages import partition_query, query_pages

#: Threads querying shards: requests wait on the network, so a few overlap well even on one vCPU;
#: botocore's connection pool holds 10.
MAX_QUERY_THREADS = 8

#: Only what an entry needs: the hash key is known, and less to parse is faster (read units
#: are charged on the whole item either way).
_ATTRIBUTES = ["sk", DeviceIndexRow.platform.attr_name, DeviceIndexRow.profiles.attr_name]

#: DynamoDB counts every attribute name of an item in its size.
_NAME_BYTES = sum(len(name) for name in ("pk", *_ATTRIBUTES))

_PLATFORMS: dict[str, Platform] = {"ios": "ios", "android": "android"}


def _entry(row: DeviceIndexRow) -> IndexEntry | None:
    if not row.profiles:
        return None
    return IndexEntry(token=row.sk, platform=_PLATFORMS[row.platform], profile_ids=tuple(sorted(row.profiles)))


def _entries(rows: Iterable[DeviceIndexRow]) -> list[IndexEntry]:
    return [entry for entry in map(_entry, rows) if entry is not None]


def probe(company_id: str, project_id: str, tokens: Iterable[str], *, consistent_read: bool = False) -> list[IndexEntry]:
    """The index entries of the given tokens that exist in the project, each once, in no particular order.

    One BatchGetItem per 100 distinct tokens (pynamodb sends the pages and resends
    unprocessed keys); a token absent from the index is simply not returned.
    """
    shards = config.DEVICE_INDEX_SHARDS
    keys = {index_entry(company_id, project_id, t, shards) for t in tokens}
    if not keys:
        return []
    rows = DeviceIndexRow.batch_get(keys, consistent_read=consistent_read, attributes_to_get=_ATTRIBUTES)
    return _entries(rows)


def _read_shard(pk: str, consistent_read: bool) -> list[IndexEntry]:
    return _entries(DeviceIndexRow.query(pk, consistent_read=consistent_read, attributes_to_get=_ATTRIBUTES))


def query_shard(company_id: str, project_id: str, shard: int, *, consistent_read: bool = False) -> list[IndexEntry]:
    """The entries of one index shard (0 to DEVICE_INDEX_SHARDS - 1) in token order: one Query per 1 MB page."""
    return _read_shard(index_pk(company_id, project_id, shard), consistent_read)


def query_shard_columns(company_id: str, project_id: str, shard: int) -> TargetIndex:
    """One index shard as the match core's columns (``domain.match.TargetIndex``): the workflow's match read.

    The same entries as ``query_shard`` (eventually consistent, entries without profiles
    skipped), read by a low-level Query whose pages are fetched ahead while the last one is
    turned into columns, with no ``IndexEntry`` object in between (issue 14: the conversion,
    not the join, is the cost of a shard).
    """
    row = DeviceIndexRow
    params, (token_name, platform_name, holders_name) = partition_query(
        row, index_pk(company_id, project_id, shard), [row.sk, row.platform, row.profiles]
    )
    codes = {platform: code for code, platform in enumerate(PLATFORMS)}
    tokens: list[str] = []
    platforms: list[int] = []
    holders: list[int] = []
    position: dict[str, int] = {}
    for items in query_pages(params):
        for item in items:
            held = item.get(holders_name, {}).get("SS", ())
            code = codes[item[platform_name]["S"]]
            token = item[token_name]["S"]
            # One row per (token, holder): the core counts a device once by its first row.
            for profile_id in held:
                tokens.append(token)
                platforms.append(code)
                holders.append(position.setdefault(profile_id, len(position)))
    hi, lo = hex_words(tokens)
    return TargetIndex.from_rows(hi, lo, np.array(platforms, dtype=np.uint8), np.array(holders, dtype=np.int32), list(position))


def query_all_shards(company_id: str, project_id: str, shards: int | None = None, *, consistent_read: bool = False) -> list[IndexEntry]:
    """Every entry of the project's index, each once: every shard partition queried to its end, in parallel.

    ``shards`` is the project's shard count (config.DEVICE_INDEX_SHARDS, read at the call, when
    None). One Query per 1 MB page of a shard, at least one per shard. Entries come shard by
    shard, each shard in token order. All threads have finished when this returns.
    """
    shards = config.DEVICE_INDEX_SHARDS if shards is None else shards
    pks = [index_pk(company_id, project_id, shard) for shard in range(shards)]
    # pynamodb builds its botocore client lazily and not thread-safely: build it here, once.
    _ = DeviceIndexRow._get_connection().connection.client
    pool = ThreadPoolExecutor(max_workers=min(MAX_QUERY_THREADS, shards), thread_name_prefix="index-query")
    try:
        parts = list(pool.map(_read_shard, pks, [consistent_read] * len(pks)))
    finally:
        # On a failure, shards not started yet are dropped rather than read for nothing.
        pool.shutdown(wait=True, cancel_futures=True)
    return [entry for part in parts for entry in part]


def item_bytes(company_id: str, project_id: str, entry: IndexEntry) -> int:
    """The entry's size as DynamoDB bills and pages it: attribute names plus UTF-8 values."""
    pk, token = index_entry(company_id, project_id, entry.token, config.DEVICE_INDEX_SHARDS)
    values = (pk, token, entry.platform, *entry.profile_ids)
    return _NAME_BYTES + sum(len(v.encode()) for v in values)
